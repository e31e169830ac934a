"""A PyTorch module as a network workbook: `from_module(net, x, "net.xlsx")`.

A `torch.nn.Sequential` (nested Sequentials flattened) of Conv2d, ConvTranspose2d, ReLU,
MaxPool2d and AvgPool2d becomes a network template: each layer's options come from the module
(stride, padding, dilation, groups, output_padding, bias, count_include_pad), its weight and
bias from the module's parameters (as float64, exactly), and the network input from `x`. The
workbook then computes what ``module(x)`` computes, layer by layer, with live formulas.

Anything else is refused, naming the module as PyTorch does (``features.2``) and what is not
supported: other module types (BatchNorm2d, ...), padding modes other than zeros, ceil_mode,
return_indices, divisor_override, a ``padding="same"`` that pads one side more than the other,
forward pre-hooks (they may change the weights or the input), a Sequential subclass with its
own forward. ``padding="valid"`` is 0 and ``padding="same"`` with equal sides is that number,
exactly what PyTorch computes.

PyTorch is an optional dependency (``pip install 'convsheets[torch]'``): it is imported only
inside these functions, so the command line never needs it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .build import BuildResult
from .build import build as build_workbook
from .errors import ConvsheetsError, ImageError, OutputError, SpecError, WeightsError
from .network import Network, check_layer_name
from .networks import network_from_template
from .ops import OPS, Op
from .ops._conv import ConvNd
from .options import format_value

if TYPE_CHECKING:
    import torch

SUPPORTED = ", ".join(cls.module for cls in OPS.values())
_BY_MODULE = {cls.module: cls for cls in OPS.values()}
SOURCE = "module"  # how network_from_template names the template in its messages
_LAYER = re.compile(r"layers\[(\d+)\]")


def module_template(module: torch.nn.Module, x: Any) -> dict[str, object]:
    """The network template (for `network_from_template`) of `module` applied to `x`, a
    (C, H, W) or (1, C, H, W) tensor: one layer per supported module, in order, with its
    options, ``weight`` (a float64 array) and ``bias`` (a list of floats, or false), and the
    input from `x`. Raises `WeightsError` naming the first module convsheets cannot draw."""
    image = _image(x)
    modules = _flatten(module)
    tables = [_layer(qualified, child) for qualified, child in modules]
    for table, name in zip(tables, _names(modules, tables), strict=True):
        if name is not None:
            table["name"] = name
    return {"input_size": list(image.shape[1:]), "in_channels": int(image.shape[0]),
            "seed": 0, "values": "normal", "input": image, "layers": tables}


def module_network(module: torch.nn.Module, x: Any) -> Network:
    """The validated `Network` of `module` applied to `x` (see `module_template`); a layer
    convsheets cannot draw is refused naming its module."""
    template = module_template(module, x)
    labels = [_label(q, child) for q, child in _flatten(module)]
    try:
        return network_from_template(template, SOURCE)
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


def from_module(module: torch.nn.Module, x: Any, path: str | Path, *,
                force: bool = False, **build_options: Any) -> BuildResult:
    """Build the workbook of `module` applied to `x` at `path` (an .xlsx file).

    `module` is a ``torch.nn.Sequential`` (or one module) of Conv2d, ConvTranspose2d, ReLU,
    MaxPool2d and AvgPool2d; `x` one image, a (C, H, W) or (1, C, H, W) tensor. Every layer's
    ``{name}_output_c{o}`` block then equals that module's output. Layers take their names
    from the module's (``features.0`` -> ``features_0``, ``conv1``) when those are valid
    workbook names, else convsheets' defaults (conv1, relu1, ...). An existing file that
    convsheets did not write is replaced only with ``force=True``. `build_options` go to
    `convsheets.build.build` as they are (e.g. ``progress=``, or which optional views the
    workbook shows). There is no seed, input size or value kind to give: every number comes
    from the module and `x`.

    Raises a `ConvsheetsError` subclass (`WeightsError` for an unsupported module)."""
    target = Path(path)
    if target.suffix.lower() != ".xlsx":
        raise OutputError(f"{target}: give a file name ending in .xlsx")
    return build_workbook(module_network(module, x), target, force=force, **build_options)


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
        return _options(where, module, cls)
    if len(list(module.children())):
        raise WeightsError(f"{where}: not supported: a module with its own forward; give an "
                           f"nn.Sequential of {SUPPORTED}")
    raise WeightsError(f"{where}: not supported; convsheets draws {SUPPORTED}")


def _options(where: str, module: Any, cls: type[Op]) -> dict[str, object]:
    """An op's options from the module's attributes, by the op's declared option kinds; an
    option PyTorch has that convsheets does not draw is refused unless it is PyTorch's
    default (the op's `unsupported`)."""
    for key, (default, why) in getattr(cls, "unsupported", {}).items():
        _refuse(where, key, getattr(module, key), default, why)
    table: dict[str, object] = {"op": cls.op}
    for key, (kind, _default) in cls.options.items():
        value = getattr(module, key)
        if kind == "pair":
            if value is None or isinstance(value, (tuple, list)) and len(value) == 0:
                continue  # PyTorch's "not given" (a pooling's stride): the op's default
            table[key] = _pair(where, key, value)
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

    transposed = type(module) is nn.ConvTranspose2d
    if module.padding_mode != "zeros":
        raise WeightsError(f"{where}: padding_mode={module.padding_mode!r} is not supported; "
                           "convsheets pads with zeros (PyTorch's default)")
    kernel = _pair(where, "kernel_size", module.kernel_size)
    dilation = _pair(where, "dilation", module.dilation)
    padding: object = module.padding
    if padding == "valid":
        padding = [0, 0]
    elif padding == "same":
        totals = [d * (k - 1) for d, k in zip(dilation, kernel, strict=True)]
        if any(t % 2 for t in totals):
            raise WeightsError(f"{where}: padding='same' pads one side more than the other "
                               f"here (kernel {kernel[0]}x{kernel[1]}, dilation "
                               f"{dilation[0]}x{dilation[1]}); convsheets draws equal padding "
                               "on both sides (use an odd kernel)")
        padding = [t // 2 for t in totals]
    else:
        padding = _pair(where, "padding", padding)
    table: dict[str, object] = {
        "op": "conv_transpose2d" if transposed else "conv2d",
        "in_channels": int(module.in_channels), "out_channels": int(module.out_channels),
        "kernel_size": kernel, "stride": _pair(where, "stride", module.stride),
        "padding": padding, "dilation": dilation, "groups": int(module.groups),
        "weight": _array(where, "weight", module.weight)}
    if transposed:
        table["output_padding"] = _pair(where, "output_padding", module.output_padding)
    # a list, not an array: a template's bias is true/false or its values as a list
    table["bias"] = (False if module.bias is None
                     else _array(where, "bias", module.bias).tolist())
    return table


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


def _image(x: Any) -> np.ndarray:
    """`x` as a float64 (C, H, W) array."""
    import torch

    try:
        tensor = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ImageError(f"x: not a tensor ({' '.join(str(exc).split())})") from None
    if tensor.is_complex():
        raise ImageError("x: complex numbers cannot be drawn; give a real tensor")
    shape = tuple(tensor.shape)
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


def _names(modules: list[tuple[str, Any]],
           tables: list[dict[str, object]]) -> list[str | None]:
    """Each layer's name: the module's own (dots as underscores) when it is a valid layer
    name, else convsheets' default (None: leave it to the template's default counting, or an
    explicit free name when the default is taken by a module's own name)."""
    own: list[str | None] = []
    taken: set[str] = set()
    for qualified, _module in modules:
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
    for name, table in zip(own, tables, strict=True):
        op = str(table["op"])
        counts[op] = counts.get(op, 0) + 1
        if name is not None:
            names.append(name)
            continue
        prefix = OPS[op].default_prefix
        n = counts[op]
        if f"{prefix}{n}".lower() not in taken:
            names.append(None)  # the template's own default
        else:
            while f"{prefix}{n}".lower() in taken:
                n += 1
            names.append(f"{prefix}{n}")
        taken.add(f"{prefix}{n}".lower())
    return names
