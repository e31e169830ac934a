"""A model as written, read by `torch.fx`: its forward traced into a graph (`symbolic_trace`),
shapes propagated (`ShapeProp`), and each node of a chain-shaped graph turned into one
template table (`torch_module` builds the network from them).

Nodes drawn: ``call_module`` (any module `torch_module` supports); ``call_function``
(``F.relu``/``torch.relu``, ``torch.sigmoid``, ``torch.tanh``, ``F.leaky_relu``,
``F.relu6``, ``F.silu``, ``F.gelu``, ``F.hardtanh``, ``F.hardsigmoid``, ``F.hardswish``,
``F.elu``, ``F.softplus``, ``F.softmax``/``torch.softmax``, ``F.log_softmax``,
``F.interpolate`` (nearest, nearest-exact, bilinear),
``torch.flatten``, ``F.max_pool2d``, ``F.avg_pool2d``, ``F.adaptive_avg_pool2d``,
``F.adaptive_max_pool2d``, ``F.dropout`` in evaluation); ``call_method`` (``relu``,
``sigmoid``, ``tanh``, ``softmax``, ``log_softmax``, ``flatten``, ``view``/``reshape`` to
(batch, features) as a flatten).
Shape-only nodes (``x.size(0)``, ``x.shape``, ``x.dim()``) are read, not drawn;
``contiguous`` passes its input on. Nodes that join paths (a graph, not a chain): ``a + b``,
``out += identity``, ``torch.add(a, b, alpha=...)``, ``a * b``, ``torch.mul``,
``torch.cat([a, b], dim=1)``; each table records what it reads (``_reads``: indices of earlier
tables, -1 the input). Everything else is refused in one line naming the node.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import WeightsError, one_line

Table = dict[str, object]


def traced_layers(module: Any, image: np.ndarray,
                  layer: Callable[[str, Any], Table]) -> list[tuple[str, str, Table]]:
    """(module's qualified name, or "" for a functional node; how messages name the node;
    its template table) of every node of `module`'s traced forward, in order. `layer` makes
    the table of one supported module (`torch_module._layer`)."""
    import torch
    import torch.nn.functional as F
    from torch.fx import symbolic_trace
    from torch.fx.passes.shape_prop import ShapeProp

    name = type(module).__name__
    try:
        graph_module = symbolic_trace(module)
    except Exception as exc:  # noqa: BLE001 - any tracing failure is the model's, said once
        raise WeightsError(f"module {name}: torch.fx cannot trace its forward "
                           f"({one_line(str(exc))[:300]}); convsheets reads a forward without "
                           "data-dependent control flow") from None
    dtype = next((p.dtype for p in module.parameters() if p.is_floating_point()),
                 torch.float32)
    try:
        with torch.no_grad():
            ShapeProp(graph_module).propagate(torch.as_tensor(image, dtype=dtype)[None])
    except Exception as exc:  # noqa: BLE001
        raise WeightsError(f"module {name}: running it on x failed "
                           f"({one_line(str(exc))[:300]})") from None

    def is_tensor(node: Any) -> bool:
        return isinstance(node, torch.fx.Node) and "tensor_meta" in node.meta and \
            isinstance(node.meta["tensor_meta"], torch.fx.passes.shape_prop.TensorMetadata)

    def shape(node: Any) -> tuple[int, ...]:
        return tuple(node.meta["tensor_meta"].shape)

    def where(node: Any) -> str:
        return f"module {name}: node {node.name} ({node.op} {_target(node)})"

    functions: dict[Any, str] = {F.relu: "relu", torch.relu: "relu", torch.sigmoid: "sigmoid",
                                 F.sigmoid: "sigmoid", torch.tanh: "tanh", F.tanh: "tanh",
                                 F.leaky_relu: "leaky_relu", torch.flatten: "flatten",
                                 F.max_pool2d: "max_pool2d", F.avg_pool2d: "avg_pool2d",
                                 F.dropout: "dropout",
                                 F.adaptive_avg_pool2d: "adaptive_avg_pool2d",
                                 F.adaptive_max_pool2d: "adaptive_max_pool2d",
                                 F.max_pool1d: "max_pool1d", F.avg_pool1d: "avg_pool1d",
                                 F.conv1d: "conv1d", F.pad: "pad",
                                 F.relu6: "relu6", F.silu: "silu", F.gelu: "gelu",
                                 F.hardtanh: "hardtanh", F.hardsigmoid: "hardsigmoid",
                                 F.hardswish: "hardswish", F.elu: "elu", F.softplus: "softplus",
                                 F.softmax: "softmax", torch.softmax: "softmax",
                                 F.log_softmax: "log_softmax", torch.log_softmax: "log_softmax",
                                 F.interpolate: "upsample"}
    parameters = {F.conv1d}  # functions whose weight and bias are the module's parameters

    def parameter_of(node: Any) -> bool:
        """A get_attr read only as the weight or bias of F.conv1d."""
        return node.op == "get_attr" and all(
            u.op == "call_function" and u.target in parameters and node not in u.args[:1]
            for u in node.users)
    shape_only = {"size", "dim"}
    _check_in_place(graph_module, where)
    out: list[tuple[str, str, Table]] = []
    made: dict[Any, int] = {}  # node -> the index of its layer in `out` (-1: the input)
    placeholder = None
    pads: dict[Any, tuple[tuple[int, int], str]] = {}  # an F.pad node waiting for its conv1d
    for node in graph_module.graph.nodes:
        if node.op == "placeholder":
            if placeholder is not None:
                raise WeightsError(f"{where(node)}: a second input; convsheets draws a model "
                                   "of one input")
            placeholder = node
            made[node] = -1
            continue
        if node.op == "output":
            (result,) = node.args
            if made.get(result, -2) != len(out) - 1 or not out:
                raise WeightsError(f"{where(node)}: the model returns {_target_of(result)}, "
                                   "not the last layer's output; convsheets draws a network "
                                   "with one output, its last layer")
            break
        if node.op == "get_attr":
            if parameter_of(node):
                continue
            if any(is_tensor(u) for u in node.users) and is_tensor(node):
                raise WeightsError(f"{where(node)}: a tensor used directly in forward; "
                                   "convsheets draws modules and functions of the input")
            continue
        if not is_tensor(node):  # shape-only: x.size(0), x.shape, x.dim(), getitem on those
            if node.op == "call_method" and node.target in shape_only or \
                    node.op == "call_function" and node.target in (getattr, operator.getitem):
                continue
            raise WeightsError(f"{where(node)}: not supported (its result is not a tensor)")
        inputs = [a for a in node.all_input_nodes if is_tensor(a) and not parameter_of(a)]
        unknown = [a for a in inputs if a not in made]
        if unknown or not inputs:
            raise WeightsError(f"{where(node)}: reads "
                               f"{', '.join(a.name for a in unknown) or 'no layer output'}, "
                               "which is not a layer convsheets draws")
        merge = _merge(node, where(node), is_tensor)
        if merge is not None and any(a in pads for a in inputs):
            raise WeightsError(f"{where(node)}: reads an F.pad; F.pad is drawn only right "
                               "before a conv1d (a causal convolution)")
        if merge is not None:
            table, read = merge
            table["_reads"] = [made[a] for a in read]
            out.append(("", where(node), table))
            made[node] = len(out) - 1
            continue
        if len(inputs) != 1:
            raise WeightsError(f"{where(node)}: reads {', '.join(a.name for a in inputs)}; "
                               "convsheets draws layers of one input, and add, mul and cat")
        table: Table | None
        if node.op == "call_module":
            submodule = graph_module.get_submodule(node.target)
            qualified = str(node.target)
            table = layer(qualified, submodule)
            if inputs[0] in pads:
                table = _padded(table, *pads.pop(inputs[0]))
            table["_reads"] = [made[inputs[0]]]
            out.append((qualified, f"module {qualified} ({type(submodule).__name__})", table))
            made[node] = len(out) - 1
            continue
        if node.op == "call_function" and node.target is F.pad:
            readers = [u for u in node.users if is_tensor(u) or u.op == "output"]
            if len(readers) != 1:
                raise WeightsError(f"{where(node)}: F.pad is drawn only right before one "
                                   "conv1d (a causal convolution), read by nothing else")
            pads[node] = (_pad(node, where(node)), where(node))
            made[node] = made[inputs[0]]
            continue
        if node.op == "call_function" and node.target is F.conv1d:
            table = _conv1d(node, where(node), graph_module)
        elif node.op == "call_function" and node.target in functions:
            table = _function(functions[node.target], node, where(node), shape)
        elif node.op == "call_method":
            table = _method(node, where(node), shape)
        else:
            raise WeightsError(f"{where(node)}: not supported; convsheets draws modules and "
                               "F.relu, F.leaky_relu, torch.flatten, F.max_pool2d, F.avg_pool2d, "
                               "F.adaptive_avg_pool2d, F.adaptive_max_pool2d, F.dropout, "
                               "the activations and softmax of torch.nn.functional, "
                               "F.interpolate, x.relu(), x.flatten(1), x.view(N, -1), +, *, "
                               "torch.add, torch.mul, torch.cat(dim=1)")
        if inputs[0] in pads:
            if table is None:
                raise WeightsError(f"{pads[inputs[0]][1]}: F.pad is drawn only right before "
                                   "a conv1d (a causal convolution)")
            table = _padded(table, *pads.pop(inputs[0]))
        if table is not None:
            table["_reads"] = [made[inputs[0]]]
            out.append(("", where(node), table))
            made[node] = len(out) - 1
        else:  # (contiguous: the same values)
            made[node] = made[inputs[0]]
    if pads:
        raise WeightsError(f"{next(iter(pads.values()))[1]}: F.pad is drawn only right before a "
                           "conv1d (a causal convolution: F.pad(x, (dilation*(k-1), 0)) then "
                           "conv1d)")
    if not out:
        raise WeightsError(f"module {name}: its forward has no layers")
    return out


def _check_in_place(graph_module: Any, where: Callable[[Any], str]) -> None:
    """An in-place node (``out += identity``, ``nn.ReLU(inplace=True)``, ``x.relu_()``)
    changes the tensor it reads: a later node that reads the same tensor sees the changed
    values in PyTorch, while a graph of values would give it the old ones. Refused then, in
    one line (torchvision's blocks never do it: they modify tensors nobody reads again)."""
    order = {node: n for n, node in enumerate(graph_module.graph.nodes)}
    for node in graph_module.graph.nodes:
        in_place = (node.op == "call_function" and (
            node.target in (operator.iadd, operator.imul)
            or node.kwargs.get("inplace") is True
            or getattr(node.target, "__name__", "").endswith("_"))) or \
            (node.op == "call_method" and str(node.target).endswith("_")) or \
            (node.op == "call_module" and getattr(
                graph_module.get_submodule(node.target), "inplace", False) is True)
        if not in_place or not node.args or not hasattr(node.args[0], "users"):
            continue
        changed = node.args[0]
        later = [u for u in changed.users if u is not node and order[u] > order[node]]
        if later:
            raise WeightsError(f"{where(node)}: changes {changed.name} in place, and "
                               f"{', '.join(u.name for u in later)} reads {changed.name} "
                               "afterwards (PyTorch gives it the changed values); convsheets "
                               "draws values: make the operation out of place")


ADDS = {operator.add, operator.iadd}
MULS = {operator.mul, operator.imul}


def _merge(node: Any, where: str, is_tensor: Callable[[Any], bool],
           ) -> tuple[Table, list[Any]] | None:
    """The table of a node that joins two paths (``a + b``, ``out += identity``,
    ``torch.add(a, b, alpha=2)``, ``a * b``, ``torch.cat([a, b], dim=1)``) and the nodes it
    reads in order; None for any other node."""
    import torch

    target, kind = node.target, node.op
    is_add = kind == "call_function" and (target in ADDS or target is torch.add) or \
        kind == "call_method" and target in ("add", "add_")
    is_mul = kind == "call_function" and (target in MULS or target is torch.mul) or \
        kind == "call_method" and target in ("mul", "mul_")
    if is_add or is_mul:
        operands = list(node.args[:2])
        if len(operands) != 2 or not all(is_tensor(a) for a in operands):
            raise WeightsError(f"{where}: not supported: {'adds' if is_add else 'multiplies'} "
                               "a number, not two layer outputs (convsheets draws add and mul "
                               "of two layers)")
        table: Table = {"op": "add" if is_add else "mul"}
        alpha = node.kwargs.get("alpha", node.args[2] if len(node.args) > 2 else 1)
        if is_add and alpha != 1:
            table["alpha"] = float(alpha)
        return table, operands
    if kind == "call_function" and target is torch.cat:
        parts = node.args[0] if node.args else node.kwargs.get("tensors")
        dim = _argument(node, 1, "dim", 0)
        if dim not in (1, -3) or not isinstance(parts, (list, tuple)) or \
                not all(is_tensor(a) for a in parts):
            raise WeightsError(f"{where}: torch.cat along dim={dim}; convsheets draws "
                               "torch.cat of layer outputs along the channels (dim=1)")
        return {"op": "cat"}, list(parts)
    return None


def _target(node: Any) -> str:
    target = node.target
    return target if isinstance(target, str) else getattr(target, "__name__", str(target))


def _target_of(value: Any) -> str:
    return getattr(value, "name", type(value).__name__)


def _argument(node: Any, index: int, key: str, default: object) -> object:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(key, default)


def _function(op: str, node: Any, where: str, shape: Callable[[Any], tuple[int, ...]],
              ) -> Table | None:
    """A table from a torch.nn.functional call, its arguments as PyTorch names them."""
    if op in ("relu", "sigmoid", "tanh", "relu6", "silu", "hardsigmoid", "hardswish"):
        return {"op": op}
    if op in FLOAT_OPTIONS:  # F.elu(x, alpha), F.hardtanh(x, min_val, max_val), ...
        table: Table = {"op": op}
        for i, (key, default) in enumerate(FLOAT_OPTIONS[op], start=1):
            table[key] = float(_argument(node, i, key, default))  # type: ignore[arg-type]
        return table
    if op == "gelu":
        return {"op": "gelu", "approximate": _argument(node, 1, "approximate", "none")}
    if op in ("softmax", "log_softmax"):
        return _softmax(op, node, where)
    if op == "upsample":  # F.interpolate(x, size, scale_factor, mode, align_corners, ...)
        if _argument(node, 6, "antialias", False):
            raise WeightsError(f"{where}: antialias=True is not supported; only PyTorch's "
                               "default (False) is drawn")
        table = {"op": "upsample"}
        for i, key in enumerate(("size", "scale_factor", "mode", "align_corners",
                                 "recompute_scale_factor"), start=1):
            value = _argument(node, i, key, None)
            if value is not None:
                table[key] = list(value) if isinstance(value, tuple) else value
        return table
    if op == "leaky_relu":
        return {"op": "leaky_relu",
                "negative_slope": float(_argument(node, 1, "negative_slope", 0.01))}  # type: ignore[arg-type]
    if op == "dropout":
        if _argument(node, 2, "training", True):
            raise WeightsError(f"{where}: dropout with training=True changes the values; "
                               "trace the model in eval mode (F.dropout(x, p, self.training) "
                               "after model.eval())")
        return {"op": "dropout", "p": float(_argument(node, 1, "p", 0.5))}  # type: ignore[arg-type]
    if op == "flatten":
        return {"op": "flatten", "start_dim": _argument(node, 1, "start_dim", 0),
                "end_dim": _argument(node, 2, "end_dim", -1)}
    if op.startswith("adaptive"):
        size = _argument(node, 1, "output_size", None)
        table: Table = {"op": op, "output_size": list(size) if isinstance(size, tuple) else size}
        if op == "adaptive_max_pool2d":
            table["return_indices"] = _argument(node, 2, "return_indices", False)
        return table
    names = (("kernel_size", None), ("stride", None), ("padding", 0))
    names += (("dilation", 1), ("ceil_mode", False), ("return_indices", False)) \
        if op.startswith("max_pool") else (("ceil_mode", False), ("count_include_pad", True),
                                    ("divisor_override", None))
    if op == "avg_pool1d":  # F.avg_pool1d has no divisor_override
        names = names[:-1]
    table = {"op": op}
    for i, (key, default) in enumerate(names, start=1):
        value = _argument(node, i, key, default)
        if key == "stride" and value in (None, [], ()):
            continue
        table[key] = list(value) if isinstance(value, tuple) else value
    return table


def _pad(node: Any, where: str) -> tuple[int, int]:
    """F.pad(x, (left, right)) with zeros: the amounts along a sequence's length."""
    pad = _argument(node, 1, "pad", None)
    mode = _argument(node, 2, "mode", "constant")
    value = _argument(node, 3, "value", None)
    if mode != "constant" or value not in (None, 0, 0.0):
        raise WeightsError(f"{where}: F.pad with mode={mode!r}, value={value!r} is not "
                           "supported; convsheets pads with zeros")
    if not (isinstance(pad, (tuple, list)) and len(pad) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in pad)):
        raise WeightsError(f"{where}: F.pad(x, {pad!r}) is not supported; convsheets draws "
                           "F.pad(x, (left, right)) along a sequence, right before a conv1d")
    return int(pad[0]), int(pad[1])


def _padded(table: Table, pad: tuple[int, int], where: str) -> Table:
    """A conv1d after F.pad(x, (left, right)): causal when all of dilation·(k-1) is on the
    left, `padding = p` when both sides are p; the conv1d itself must not pad."""
    if table.get("op") != "conv1d" or table.get("padding", 0) not in (0, [0], (0,), "valid"):
        raise WeightsError(f"{where}: F.pad is drawn only right before a conv1d that pads "
                           "nothing itself (a causal convolution: F.pad(x, (dilation*(k-1), "
                           "0)) then conv1d)")
    left, right = pad
    k = table["kernel_size"]
    d = table.get("dilation", 1)
    k = k[0] if isinstance(k, (list, tuple)) else k
    d = d[0] if isinstance(d, (list, tuple)) else d
    if right == 0 and left == d * (k - 1) and left:  # type: ignore[operator]
        return {**table, "padding": "causal"}
    if left == right:
        return {**table, "padding": left}
    raise WeightsError(f"{where}: F.pad(x, ({left}, {right})) before a conv1d of kernel {k}, "
                       f"dilation {d}: convsheets draws causal padding ({d}·({k}-1) = "
                       f"{d * (k - 1)} on the left, 0 on the right) or equal sides")  # type: ignore[operator]


def _conv1d(node: Any, where: str, graph_module: Any) -> Table:
    """F.conv1d(x, weight, bias, stride, padding, dilation, groups) with the module's own
    parameters (get_attr nodes) as weight and bias."""
    def parameter(value: Any, key: str) -> Any:
        if value is None:
            return None
        if getattr(value, "op", None) != "get_attr":
            raise WeightsError(f"{where}: its {key} is computed in forward; convsheets reads "
                               "F.conv1d with the module's own parameters")
        try:
            tensor = graph_module.get_parameter(value.target)
        except AttributeError:  # a buffer: still the module's own tensor
            tensor = graph_module.get_buffer(value.target)
        return tensor.detach().to("cpu").double().numpy().copy()

    def number(value: Any) -> Any:
        return value[0] if isinstance(value, (tuple, list)) and len(value) == 1 else value

    weight = parameter(_argument(node, 1, "weight", None), "weight")
    if weight is None or weight.ndim != 3:
        raise WeightsError(f"{where}: needs a (out, in/groups, k) weight")
    bias = parameter(_argument(node, 2, "bias", None), "bias")
    return {"op": "conv1d", "out_channels": int(weight.shape[0]),
            "kernel_size": int(weight.shape[2]),
            "stride": number(_argument(node, 3, "stride", 1)),
            "padding": number(_argument(node, 4, "padding", 0)),
            "dilation": number(_argument(node, 5, "dilation", 1)),
            "groups": _argument(node, 6, "groups", 1), "weight": weight,
            "bias": False if bias is None else bias.tolist()}


FLOAT_OPTIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "elu": (("alpha", 1.0),), "hardtanh": (("min_val", -1.0), ("max_val", 1.0)),
    "softplus": (("beta", 1.0), ("threshold", 20.0))}


def _softmax(op: str, node: Any, where: str) -> Table:
    """F.softmax(x, dim), torch.softmax(x, dim), x.softmax(dim): dim is the argument after the
    tensor in each; a dtype (a cast before the exponentials) is refused."""
    import torch

    dim = _argument(node, 1, "dim", None)
    dtype = node.kwargs.get("dtype") or next(
        (a for a in node.args[2:] if isinstance(a, torch.dtype)), None)
    if dtype is not None:
        raise WeightsError(f"{where}: dtype={dtype} is not supported: the workbook computes "
                           "in float64; only PyTorch's default (None) is drawn")
    return {"op": op} if dim is None else {"op": op, "dim": dim}


def _method(node: Any, where: str, shape: Callable[[Any], tuple[int, ...]]) -> Table | None:
    """A table from a tensor method: x.relu(), x.flatten(1), x.view(N, -1) (a flatten)."""
    method = node.target
    if method in ("relu", "relu_", "sigmoid", "tanh"):
        return {"op": method.rstrip("_")}
    if method in ("softmax", "log_softmax"):
        return _softmax(method, node, where)
    if method == "contiguous":
        return None
    if method == "flatten":
        return {"op": "flatten", "start_dim": _argument(node, 1, "start_dim", 0),
                "end_dim": _argument(node, 2, "end_dim", -1)}
    if method in ("view", "reshape"):
        before, after = shape(node.args[0]), shape(node)
        if len(before) >= 2 and after == (before[0], math.prod(before[1:])):
            return {"op": "flatten"}
        raise WeightsError(f"{where}: reshapes {before} to {after}; convsheets draws only a "
                           "flatten to (batch, features), e.g. x.view(x.size(0), -1)")
    raise WeightsError(f"{where}: the method {method} is not supported; convsheets draws "
                       "x.relu(), x.flatten(1) and x.view(x.size(0), -1)")
