"""A PyTorch module as a network workbook: `from_module(net, x, "net.xlsx")`.

The model is taken as written. A plain `torch.nn.Sequential` (nested Sequentials flattened) is
read module by module; any other module is traced by `torch.fx.symbolic_trace`, its shapes
propagated by `ShapeProp`, and each node of its graph becomes a layer: ``call_module`` nodes
(every module of the ops registry: Conv2d (any padding_mode), ConvTranspose2d, ReLU,
LeakyReLU, Sigmoid, Tanh, ReLU6, SiLU, GELU, Hardtanh, Hardsigmoid, Hardswish, ELU, Softplus,
Softmax, LogSoftmax, Upsample, MaxPool2d and AvgPool2d (with ceil_mode), AdaptiveAvgPool2d,
AdaptiveMaxPool2d, BatchNorm2d, Flatten, Linear, Dropout, Identity), ``call_function``
nodes (see `fx_chain`: ``F.relu``, ``torch.flatten``,
``F.max_pool2d``, ...) and ``call_method`` nodes (``x.relu()``, ``x.flatten(1)``,
``x.view(x.size(0), -1)`` / ``reshape`` as a flatten; shape-only ``size``/``dim`` are read,
not drawn). The graph must be a chain: each layer reads the one
before it. A model that cannot be traced (data-dependent control flow), or whose graph is not
a chain, is refused in one line naming the node.

Each layer's options come from the module (stride, padding, ..., eps), its tensors from the
module's parameters and buffers (as float64, exactly), and the network input from `x`. The
workbook then computes what ``module(x)`` computes, layer by layer, with live formulas.

**Names kept**: a layer is named after its module, dots as underscores (``conv1``, ``bn1``,
``fc1``, ``c1``, ``features.0`` -> ``features_0``); a functional node takes convsheets' default
name (relu1, flatten1, ...), as does a module whose name is not a valid layer name (too long,
a reserved word). The mapping module -> layer is returned (`BuildResult.layers`,
`module_layers`) and written on the guide.

Refused, naming the module as PyTorch does (``features.2``): other module types, a
transposed or 1-D convolution's padding mode other than zeros (PyTorch allows only zeros for
the transposed ones), return_indices, divisor_override, an upsample mode other than nearest,
nearest-exact and bilinear, softmax over another dim than the channels / features, forward
pre-hooks (they may change the weights or the input), BatchNorm2d or Dropout in training mode
(call ``model.eval()``: a workbook shows what the trained model computes). ``padding="same"``
/ ``"valid"`` are kept as PyTorch's own (an uneven "same" pads the extra zero bottom/right, as
PyTorch does).

Sequences: Conv1d, ConvTranspose1d, MaxPool1d, AvgPool1d and F.conv1d (its weight and bias
parameters read from the module), F.max_pool1d, F.avg_pool1d; ``F.pad(x, (p, 0))`` right
before a conv1d with ``p = dilation·(k-1)`` is that conv1d with ``padding="causal"`` (how a
causal convolution is written), ``F.pad(x, (p, p))`` its ``padding=p``. x is (C, L) or
(1, C, L).

PyTorch is an optional dependency (``pip install 'convsheets[torch]'``): it is imported only
inside these functions, so the command line never needs it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .build import BuildResult, progress_hooks
from .build import build as build_workbook
from .errors import ConvsheetsError, ImageError, OutputError, SpecError, WeightsError
from .network import Network, check_layer_name
from .networks import network_from_template
from .ops import OPS, Merge, Op
from .ops._conv import ConvNd
from .ops.batch_norm2d import BatchNorm2d
from .ops.linear import Linear
from .options import format_value

if TYPE_CHECKING:
    import torch

_MODULES = [cls for cls in OPS.values() if not issubclass(cls, Merge)]  # (add, cat: functions)
SUPPORTED = ", ".join(cls.module for cls in _MODULES)
_BY_MODULE = {cls.module: cls for cls in _MODULES}
SOURCE = "module"  # how network_from_template names the template in its messages
_LAYER = re.compile(r"layers\[(\d+)\]")


def module_template(module: torch.nn.Module, x: Any) -> dict[str, object]:
    """The network template (for `network_from_template`) of `module` applied to `x`, a
    (C, H, W) or (1, C, H, W) tensor: one layer per module or graph node, in order, with its
    options, its tensors (float64 arrays; a bias as a list of floats, or false), and the input
    from `x`. Raises `WeightsError` naming the first module or node convsheets cannot draw."""
    image = _image(x, _is_sequence_model(module))
    layers = _layers(module, image)
    tables = [table for _q, _label, table in layers]
    names = _names(layers)
    for table, name in zip(tables, names, strict=True):
        if name is not None:
            table["name"] = name
    _graph_inputs(tables)
    return {"input_size": list(image.shape[1:]) if image.ndim == 3 else int(image.shape[1]),
            "in_channels": int(image.shape[0]), "seed": 0, "values": "normal",
            "input": image, "layers": tables}


ONE_D = ("Conv1d", "ConvTranspose1d", "MaxPool1d", "AvgPool1d")


def _is_sequence_model(module: Any) -> bool:
    """A model of 1-D layers (a Conv1d, ... among its modules, or F.conv1d and friends in
    its forward's code): its input x is (C, L) or (1, C, L)."""
    import inspect

    import torch

    if not isinstance(module, torch.nn.Module):
        return False
    if any(type(m).__name__ in ONE_D and type(m).__module__.startswith("torch.nn")
           for m in module.modules()):
        return True
    try:
        code = inspect.getsource(type(module).forward)
    except (OSError, TypeError):
        return False
    return bool(re.search(r"\b(conv1d|conv_transpose1d|max_pool1d|avg_pool1d)\(", code))


def _layers(module: Any, image: np.ndarray) -> list[tuple[str, str, dict[str, object]]]:
    """(qualified name or "" for a functional node, how messages name it, template table)."""
    import torch

    if not isinstance(module, torch.nn.Module):
        raise WeightsError(f"module: a {type(module).__name__} is not a torch.nn.Module; give "
                           f"a model built of {SUPPORTED}")
    plain = isinstance(module, torch.nn.Sequential) and \
        type(module).forward is torch.nn.Sequential.forward
    single = not list(module.children()) and (
        type(module).__module__.startswith("torch.nn") or not _own_forward(module))
    if plain or single:  # a Sequential, or one module of torch.nn on its own
        return [(q, _label(q, child), _layer(q, child)) for q, child in _flatten(module)]
    from .fx_chain import traced_layers

    return traced_layers(module, image, _layer)


def _graph_inputs(tables: list[dict[str, object]]) -> None:
    """A traced graph's tables name what they read (``inputs``), from the tracer's ``_reads``
    (indices of earlier tables, -1 the input), unless every table reads the one before it (a
    chain, whose template names nothing). Every table of a graph is then named."""
    reads = [table.pop("_reads", None) for table in tables]
    if all(r in (None, [n - 1]) for n, r in enumerate(reads)):
        return
    counts: dict[str, int] = {}
    labels = []
    for table in tables:  # the template's own default names (conv1, relu2, ...)
        op = str(table["op"])
        counts[op] = counts.get(op, 0) + 1
        labels.append(str(table.get("name", f"{OPS[op].default_prefix}{counts[op]}")))
        table["name"] = labels[-1]
    for table, read in zip(tables, reads, strict=True):
        table["inputs"] = ["input" if i < 0 else labels[i] for i in read or []]


def _own_forward(module: Any) -> bool:
    import torch

    return type(module).forward is not torch.nn.Module.forward and not any(
        type(module).forward is getattr(cls, "forward", None)
        for cls in type(module).__mro__[1:] if cls.__module__.startswith("torch.nn"))


def module_layers(module: torch.nn.Module, x: Any) -> dict[str, str]:
    """Module (or graph node) -> layer name, as `from_module` names the layers."""
    network = module_network(module, x)
    return _mapping(module, x, network)


def _keys(layers: list[tuple[str, str, dict[str, object]]]) -> list[str]:
    """How the mapping names each layer's source: the module's qualified name (``features.0``;
    ``conv (call 2)`` when a module runs twice), or a functional node by its graph name and
    target (``node relu_1 (call_function relu)``)."""
    keys: list[str] = []
    for qualified, label, _table in layers:
        key = qualified or label[label.find("node "):]  # a functional node: "node relu ..."
        n, base = 1, key
        while key in keys:
            n += 1
            key = f"{base} (call {n})"
        keys.append(key)
    return keys


def _mapping(module: Any, x: Any, network: Network) -> dict[str, str]:
    layers = _layers(module, _image(x, _is_sequence_model(module)))
    return {key: layer.label for key, layer in zip(_keys(layers), network.layers, strict=True)}


def module_network(module: torch.nn.Module, x: Any) -> Network:
    """The validated `Network` of `module` applied to `x` (see `module_template`); a layer
    convsheets cannot draw is refused naming its module. The guide says which module each
    layer is."""
    template = module_template(module, x)
    layers = _layers(module, _image(x, _is_sequence_model(module)))
    labels = [label for _q, label, _t in layers]
    try:
        network = network_from_template(template, SOURCE)
    except SpecError as exc:
        found = _LAYER.search(exc.where)
        shown = "" if exc.value is None else "=" + format_value(exc.value)
        if not found and exc.param in ("input", "input_size", "in_channels"):
            raise ImageError(f"x: {exc.param}{shown}: {exc.rule}") from None
        where = labels[int(found.group(1))] if found else "the module"
        raise WeightsError(f"{where}: {exc.param}{shown}: {exc.rule}") from None
    except ConvsheetsError as exc:
        text = str(exc)
        for prefix in (f"--template {SOURCE}: ", f"--template {SOURCE} "):
            if text.startswith(prefix):
                text = "the module: " + text[len(prefix):]
        raise type(exc)(text) from None
    for (qualified, label, _t), key, layer in zip(layers, _keys(layers), network.layers,
                                                  strict=True):
        shown = label if qualified else key  # "module conv1 (Conv2d)", "node relu (...)"
        network.origins[f"layer {layer.label}"] = f"{shown} of the PyTorch model"
    return network


def from_module(module: torch.nn.Module, x: Any, path: str | Path, *,
                force: bool = False, check: bool | str = False, tolerance: float = 1e-9,
                timeout: float = 300.0, on_progress: Any = None,
                **build_options: Any) -> BuildResult:
    """Build the workbook of `module` applied to `x` at `path` (an .xlsx file).

    `module` is a model as written: an ``nn.Sequential`` or any ``nn.Module`` whose forward
    torch.fx can trace into a chain of Conv2d, ConvTranspose2d, BatchNorm2d, ReLU,
    LeakyReLU, MaxPool2d, AvgPool2d, Dropout, Identity, Flatten and Linear (modules or their
    functional forms), in evaluation mode; `x` one image, a (C, H, W) or (1, C, H, W)
    tensor. Every layer's ``{name}_output_c{o}`` block (``{name}_output`` after a flatten)
    then equals that layer's output in ``module(x)``. Layers take their module's names
    (``features.0`` -> ``features_0``, ``conv1``, ``c1``) when those are valid workbook
    names, else convsheets' defaults (conv1, relu1, ...); the result's ``layers`` maps each
    module (or functional node) to its layer. An existing file that convsheets did not write
    is replaced only with ``force=True``. `build_options` go to `convsheets.build.build` as
    they are (e.g. ``progress=``, which optional views the workbook shows, or
    ``all_views=True``: also those the view budget leaves out of large layers).

    ``on_progress(done, total)``: rows of cells written so far, of how many (as
    `convsheets.build`'s).

    ``check=True`` (or an engine's name, ``check="gnumeric"``) then recalculates a copy of
    the workbook in a spreadsheet engine (True: the first installed of LibreOffice, Gnumeric,
    IronCalc) and compares its ``output`` with ``module(x)``, run here in float64 on a copy
    of the module: every value within `tolerance` x max(1, |value|), else `CheckError`
    naming the engine, the first differing value and how many differ (the workbook stays
    written, for a look).

    Raises a `ConvsheetsError` subclass (`WeightsError` for an unsupported module)."""
    target = Path(path)
    if target.suffix.lower() != ".xlsx":
        raise OutputError(f"{target}: give a file name ending in .xlsx")
    network = module_network(module, x)
    if on_progress is not None:
        build_options = {**build_options, **progress_hooks(on_progress)}
    result = build_workbook(network, target, force=force, **build_options)
    result.layers = _mapping(module, x, network)
    if check:
        _check(module, x, target, check if isinstance(check, str) else None, tolerance,
               timeout)
    return result


def _check(module: torch.nn.Module, x: Any, path: Path, engine: str | None, tolerance: float,
           timeout: float) -> None:
    """The workbook's ``output``, recalculated by `engine`, against ``module(x)``."""
    import copy

    import torch

    from .engines import installed_engines
    from .errors import CheckError, EngineError
    from .readback import read_blocks

    if engine is None:
        found = installed_engines()
        if not found:
            raise EngineError("check=True needs a spreadsheet engine (LibreOffice, Gnumeric or "
                              "the ironcalc package); install one or leave out check")
        engine = found[0]
    got = read_blocks(path, ["output"], engine, timeout)["output"].reshape(-1)
    with torch.no_grad():
        want = copy.deepcopy(module).double().eval()(
            torch.as_tensor(_image(x))[None]).detach().numpy().reshape(-1)
    if got.shape != want.shape:
        raise CheckError(f"{path}: {engine} gives {got.size} output values, module(x) "
                         f"{want.size}")
    off = ~(np.abs(got - want) <= tolerance * np.maximum(1.0, np.abs(want)))
    if off.any():
        k = int(np.argmax(off))
        raise CheckError(f"{path}: recalculated by {engine}, output value {k} (flattened) is "
                         f"{got[k]!r}, module(x) gives {want[k]!r}; {int(off.sum())} of "
                         f"{off.size} values differ by more than {tolerance:g} x max(1, |value|)")


# ---------------------------------------------------------------------------- the modules
def _flatten(module: torch.nn.Module, prefix: str = "") -> list[tuple[str, torch.nn.Module]]:
    """(qualified name, module) of every leaf, nested Sequentials flattened in order."""
    import torch

    if not isinstance(module, torch.nn.Module):
        raise WeightsError(f"module: a {type(module).__name__} is not a torch.nn.Module; give "
                           f"an nn.Sequential of {SUPPORTED}")
    if not isinstance(module, torch.nn.Sequential):
        return [(prefix, module)]
    _no_pre_hooks(prefix, module)
    if type(module).forward is not torch.nn.Sequential.forward:
        raise WeightsError(f"{_label(prefix, module)}: not supported: a Sequential with its own "
                           f"forward; convsheets draws an nn.Sequential of {SUPPORTED}")
    leaves = []
    # what Sequential.forward runs: every entry, a module given twice twice (named_children
    # would list it once)
    for name, child in module._modules.items():
        qualified = f"{prefix}.{name}" if prefix else name
        if child is None:
            raise WeightsError(f"module {qualified}: is None; give {SUPPORTED}")
        leaves.extend(_flatten(child, qualified))
    if not leaves and not prefix:
        raise WeightsError(f"module: an empty Sequential has no layers; give {SUPPORTED}")
    return leaves


def _label(qualified: str, module: object) -> str:
    """How messages name a module: ``module features.2 (BatchNorm2d)``."""
    kind = type(module).__name__
    return f"module {qualified} ({kind})" if qualified else f"module {kind}"


def _layer(qualified: str, module: torch.nn.Module) -> dict[str, object]:
    """One template table from one supported module: the op whose `module` names the module's
    exact class (a subclass may compute something else), its options read from the module's
    attributes of the same (PyTorch) names."""
    import torch.nn as nn

    kind = type(module)
    where = _label(qualified, module)
    cls = _BY_MODULE.get(kind.__name__)
    if cls is not None and kind is getattr(nn, cls.module, None):
        _no_pre_hooks(qualified, module)
        if issubclass(cls, ConvNd):
            return _conv(where, module)
        if cls.module in ("BatchNorm2d", "Dropout") and module.training:
            raise WeightsError(f"{where}: is in training mode; call model.eval() first (a "
                               "workbook shows what the trained model computes)")
        if cls is Linear:
            return _linear(where, module)
        table = _options(where, module, cls)
        if cls is BatchNorm2d:
            _batch_norm(where, module, table)
        return table
    if len(list(module.children())):
        raise WeightsError(f"{where}: not supported: a module with its own forward; give an "
                           f"nn.Sequential of {SUPPORTED}")
    raise WeightsError(f"{where}: not supported; convsheets draws {SUPPORTED}")


def _options(where: str, module: Any, cls: type[Op]) -> dict[str, object]:
    """An op's options from the module's attributes, by the op's declared option kinds; an
    option PyTorch has that convsheets does not draw is refused unless it is PyTorch's
    default (the op's `unsupported`)."""
    for key, (default, why) in getattr(cls, "unsupported", {}).items():
        _refuse(where, key, getattr(module, key, default), default, why)
    table: dict[str, object] = {"op": cls.op}
    for key, (kind, _default) in cls.options.items():
        value = getattr(module, key)
        if kind == "pair":
            if value is None or isinstance(value, (tuple, list)) and len(value) == 0:
                continue  # PyTorch's "not given" (a pooling's stride): the op's default
            table[key] = _single(where, key, value) if cls.dims == 1 else \
                _pair(where, key, value)
        elif value is None:
            continue  # BatchNorm2d's momentum=None, Softmax's dim=None: the op's default
        elif kind == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
            table[key] = float(value)
        else:
            table[key] = value
    return table


def _no_pre_hooks(qualified: str, module: Any) -> None:
    if module._forward_pre_hooks:
        raise WeightsError(f"{_label(qualified, module)}: has a forward pre-hook, which may "
                           "change its input or weights before it runs; convsheets draws the "
                           "module as it is (remove the hook)")


def _conv(where: str, module: Any) -> dict[str, object]:
    import torch.nn as nn

    transposed = type(module) in (nn.ConvTranspose2d, nn.ConvTranspose1d)
    one_d = type(module) in (nn.Conv1d, nn.ConvTranspose1d)
    if module.padding_mode != "zeros" and (transposed or one_d):
        raise WeightsError(f"{where}: padding_mode={module.padding_mode!r} is not supported; "
                           + ("a transposed convolution pads with zeros (PyTorch allows only "
                              "that)" if transposed else "a sequence's convolution is drawn "
                              "with zeros (padding_mode is drawn for Conv2d)"))

    def number(key: str, value: object) -> object:
        return _single(where, key, value) if one_d else _pair(where, key, value)

    padding: object = module.padding  # "same" / "valid" as PyTorch's own (uneven "same" too)
    if padding not in ("same", "valid"):
        padding = number("padding", padding)
    table: dict[str, object] = {
        "op": ("conv_transpose" if transposed else "conv") + ("1d" if one_d else "2d"),
        "in_channels": int(module.in_channels), "out_channels": int(module.out_channels),
        "kernel_size": number("kernel_size", module.kernel_size),
        "stride": number("stride", module.stride), "padding": padding,
        "dilation": number("dilation", module.dilation), "groups": int(module.groups),
        "weight": _array(where, "weight", module.weight)}
    if transposed:
        table["output_padding"] = number("output_padding", module.output_padding)
    elif module.padding_mode != "zeros":
        table["padding_mode"] = module.padding_mode
    # a list, not an array: a template's bias is true/false or its values as a list
    table["bias"] = (False if module.bias is None
                     else _array(where, "bias", module.bias).tolist())
    return table


def _linear(where: str, module: Any) -> dict[str, object]:
    return {"op": "linear", "in_features": int(module.in_features),
            "out_features": int(module.out_features),
            "weight": _array(where, "weight", module.weight),
            "bias": (False if module.bias is None
                     else _array(where, "bias", module.bias).tolist())}


def _batch_norm(where: str, module: Any, table: dict[str, object]) -> None:
    """The running statistics (buffers) and, when affine, weight and bias."""
    if module.running_mean is None or module.running_var is None:
        raise WeightsError(f"{where}: has no running statistics (track_running_stats=False); "
                           "convsheets draws batch norm in evaluation mode, with them")
    table["running_mean"] = _array(where, "running_mean", module.running_mean)
    table["running_var"] = _array(where, "running_var", module.running_var)
    table["bias"] = False  # PyTorch 2.x: an affine batch norm may have no bias
    if module.affine:
        table["weight"] = _array(where, "weight", module.weight)
        if module.bias is not None:
            table["bias"] = _array(where, "bias", module.bias).tolist()


def _pair(where: str, key: str, value: object) -> list[int]:
    """An int or a 1- or 2-tuple of ints, as PyTorch's 2-d modules take them."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, int) and not isinstance(value, bool):
        return [value, value]
    if (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        return [int(value[0]), int(value[1])]
    raise WeightsError(f"{where}: {key}={value!r} is not supported (give a number or a pair "
                       "of numbers)")


def _single(where: str, key: str, value: object) -> int:
    """An int or a 1-tuple of ints, as PyTorch's 1-d modules take them."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise WeightsError(f"{where}: {key}={value!r} is not supported (give one number)")


def _refuse(where: str, key: str, value: object, default: object, why: str) -> None:
    if value != default or type(value) is not type(default):
        why = why.removeprefix("is not supported: ").split("; only")[0]
        raise WeightsError(f"{where}: {key}={value!r} is not supported: {why}; only "
                           f"PyTorch's default ({default!r}) is drawn")


def _array(where: str, key: str, tensor: Any) -> np.ndarray:
    """A parameter as float64 numpy, exactly (every float dtype widens exactly)."""
    import torch

    if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
        raise WeightsError(f"{where}: its {key} is not a floating-point tensor")
    try:
        return tensor.detach().to("cpu", torch.float64).numpy().copy()
    except (RuntimeError, NotImplementedError, TypeError, ValueError) as exc:
        raise WeightsError(f"{where}: cannot read its {key} ({' '.join(str(exc).split())})"
                           ) from None


def _image(x: Any, sequence: bool = False) -> np.ndarray:
    """`x` as a float64 (C, H, W) array, or (C, L) for a model of 1-D layers."""
    import torch

    try:
        tensor = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ImageError(f"x: not a tensor ({' '.join(str(exc).split())})") from None
    if tensor.is_complex():
        raise ImageError("x: complex numbers cannot be drawn; give a real tensor")
    shape = tuple(tensor.shape)
    if sequence:
        if len(shape) == 3 and shape[0] != 1 or len(shape) not in (2, 3):
            raise ImageError(f"x: shape {shape}; give one sequence: (C, L) or (1, C, L)")
        return tensor.detach().to("cpu", torch.float64).numpy().copy().reshape(shape[-2:])
    if len(shape) == 4 and shape[0] != 1:
        raise ImageError(f"x: shape {shape} is a batch of {shape[0]}; convsheets draws one "
                         "image: give (C, H, W) or (1, C, H, W)")
    if len(shape) not in (3, 4):
        raise ImageError(f"x: shape {shape}; give one image: (C, H, W) or (1, C, H, W)")
    try:
        array = tensor.detach().to("cpu", torch.float64).numpy().copy()
    except (RuntimeError, NotImplementedError, TypeError, ValueError) as exc:
        raise ImageError(f"x: cannot read it ({' '.join(str(exc).split())})") from None
    return array.reshape(shape[-3:])


def _names(layers: list[tuple[str, str, dict[str, object]]]) -> list[str | None]:
    """Each layer's name: the module's own (dots as underscores) when it is a valid layer
    name, else convsheets' default (None: leave it to the template's default counting, or an
    explicit free name when the default is taken by a module's own name)."""
    own: list[str | None] = []
    taken: set[str] = set()
    for qualified, *_rest in layers:
        candidate = qualified.replace(".", "_")
        try:
            check_layer_name(candidate, "")
        except SpecError:
            own.append(None)
            continue
        if candidate.lower() in taken:
            own.append(None)
            continue
        own.append(candidate)
        taken.add(candidate.lower())
    counts: dict[str, int] = {}
    names: list[str | None] = []
    for name, (_q, _l, table) in zip(own, layers, strict=True):
        prefix = OPS[str(table["op"])].default_prefix  # counted per prefix, as templates do
        counts[prefix] = counts.get(prefix, 0) + 1
        if name is not None:
            names.append(name)
            continue
        n = counts[prefix]
        if f"{prefix}{n}".lower() not in taken:
            names.append(None)  # the template's own default
        else:
            while f"{prefix}{n}".lower() in taken:
                n += 1
            names.append(f"{prefix}{n}")
        taken.add(f"{prefix}{n}".lower())
    return names
