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
``contiguous`` passes its input on. Everything else, and a graph that is not a chain (a node
whose output two layers read, a layer that reads two nodes), is refused in one line naming the node.
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
    out: list[tuple[str, str, Table]] = []
    current = None
    pending: tuple[tuple[int, int], str] | None = None  # an F.pad waiting for its conv1d
    for node in graph_module.graph.nodes:
        if node.op == "placeholder":
            if current is not None:
                raise WeightsError(f"{where(node)}: a second input; convsheets draws a model "
                                   "of one input")
            current = node
            continue
        if node.op == "output":
            (result,) = node.args
            if result is not current:
                raise WeightsError(f"{where(node)}: the model returns {_target_of(result)}, "
                                   f"not the last layer's output ({current.name}); convsheets "
                                   "draws a chain of layers with one output")
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
        if inputs != [current]:
            raise WeightsError(f"{where(node)}: reads {', '.join(a.name for a in inputs) or 'no'}"
                               f" layer output(s), not just {current.name}: not a chain "
                               "(convsheets draws chain-shaped models)")
        readers = [u for u in current.users if is_tensor(u) or u.op == "output"]
        if len(readers) > 1:
            raise WeightsError(f"module {name}: node {current.name}: its output is read by "
                               f"{', '.join(u.name for u in readers)}: not a chain (convsheets "
                               "draws chain-shaped models; a skip connection is a graph)")
        table: Table | None
        if node.op == "call_module":
            submodule = graph_module.get_submodule(node.target)
            qualified = str(node.target)
            table = layer(qualified, submodule)
            if pending is not None:
                table = _padded(table, *pending)
                pending = None
            out.append((qualified, f"module {qualified} ({type(submodule).__name__})", table))
            current = node
            continue
        if node.op == "call_function" and node.target is F.pad:
            pending = (_pad(node, where(node)), where(node))
            current = node
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
                               "F.interpolate, "
                               "x.relu(), x.flatten(1), x.view(N, -1)")
        if pending is not None:
            table = _padded(table, *pending)
            pending = None
        if table is not None:
            out.append(("", where(node), table))
        current = node
    if pending is not None:
        raise WeightsError(f"{pending[1]}: F.pad is drawn only right before a conv1d (a causal "
                           "convolution: F.pad(x, (dilation*(k-1), 0)) then conv1d)")
    if not out:
        raise WeightsError(f"module {name}: its forward has no layers")
    return out


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
