"""Network templates: a TOML file with ``[[layers]]`` tables, read into a validated `Network`.

Keys are PyTorch's own argument names; unset options take PyTorch's defaults (not a preset's),
so a template means what the same ``torch.nn`` modules mean. A template may also give the
network input (``input``, C x H x W nested lists) and a conv layer's ``weight`` (PyTorch layout)
and ``bias`` (true/false, or the values); everything else is drawn from the seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import numpy as np

from .errors import SpecError, TemplateError, WeightsError
from .images import load_image
from .kernels import kernel_size_of, named_weight
from .network import (
    LayerNames,
    Network,
    chain,
    check_layer_name,
    start_shape,
    topological_order,
)
from .ops import OPS
from .options import to_int, to_pair, to_values
from .scaling import KEYS as SCALING_KEYS
from .scaling import read_scaling
from .weights import Weights, read_safetensors

TOP_KEYS = ("description", "input_size", "in_channels", "seed", "values", "input", "image",
            "layers", "labels", "weights_file", *SCALING_KEYS)
MAX_LAYERS = 64  # small networks: every layer is a group of sheets a person reads
MAX_MAGNITUDE = 1e15  # given numbers: products and sums of these stay far from overflow
LAYER_KEYS = ("op", "name", "weight", "weights", "kernel", "running_mean", "running_var",
              "input", "inputs")
STATISTICS = ("running_mean", "running_var")  # batch norm's buffers, given like a weight
OVERRIDABLE = ("input_size", "in_channels", "seed", "values")  # command-line options


def shipped_networks() -> dict[str, str]:
    """Name -> TOML text of the network examples shipped in the package."""
    folder = resources.files("convsheets").joinpath("templates", "networks")
    return {entry.name.removesuffix(".toml"): entry.read_text()
            for entry in sorted(folder.iterdir(), key=lambda e: e.name)
            if entry.name.endswith(".toml")}


def is_network(values: Mapping[str, object]) -> bool:
    return "layers" in values


def network_from_template(values: Mapping[str, object], source: str,
                          overrides: Mapping[str, object] | None = None,
                          weights: Mapping[str, np.ndarray] | None = None,
                          weights_source: str = "--weights") -> Network:
    """Validate a parsed network template (`source` names the file in every message) with
    command-line `overrides` (input_size, in_channels, seed, values) applied.

    `weights` are named tensors (a safetensors file's, as float64): a layer with
    ``weights = "features.0"`` takes ``features.0.weight`` (and ``features.0.bias`` if it has
    a bias) from them, shapes checked against the layer."""
    if weights is None and "weights_file" in values:
        weights, weights_source = template_weights(values, source, None, weights_source)
    for key in values:
        if key not in TOP_KEYS:
            raise TemplateError(f"--template {source}: unknown key {key!r} for a network "
                                f"(known keys: {', '.join(TOP_KEYS)}; layer options go in "
                                "the [[layers]] tables)")
    if not isinstance(values.get("description", ""), str):
        raise TemplateError(f"--template {source}: description must be text")
    merged = {**values, **(overrides or {})}
    image = merged.pop("image", None)
    if image is not None:  # the input from a picture (its own size unless one is given)
        if not isinstance(image, str):
            raise TemplateError(f"--template {source}: image must be a file name or a sample")
        merged.setdefault("in_channels", 1)
        size = to_pair("input_size", merged["input_size"]) if "input_size" in merged else None
        resized: list[str] = []
        channels = to_int("in_channels", merged["in_channels"])
        merged["input"] = load_image(image, channels, size, notes=resized)
        merged["input_size"] = list(merged["input"].shape[1:])
        scaling = read_scaling(merged, channels, f"--template {source}")
        if scaling is not None:
            merged["input"] = scaling.apply(merged["input"])
            resized.append(scaling.describe())
    if image is None and "input" in merged:  # the input's own shape, unless given
        _shape_from_input(merged)
    sequence = _is_sequence(merged.get("layers"))
    try:
        if sequence and "input_size" in merged:  # a sequence: input_size = L (C x L input)
            merged["input_size"] = [1, _length(merged["input_size"])]
        shape = start_shape(merged)
        seed = to_int("seed", merged.get("seed", 0))
        if seed < 0:
            raise SpecError("seed", seed, "must be 0 or more")
        kind = to_values("values", merged.get("values", "integers"))
    except SpecError as exc:
        raise exc.located(f"--template {source}") from None
    layers = merged["layers"]
    if not isinstance(layers, list) or not layers or not all(isinstance(t, dict) for t in layers):
        raise TemplateError(f"--template {source}: layers must be one or more [[layers]] tables")
    if len(layers) > MAX_LAYERS:
        raise TemplateError(f"--template {source}: {len(layers)} layers; convsheets builds at "
                            f"most {MAX_LAYERS} (each is a group of sheets to read)")
    if weights is not None:
        layers = [_options_from_tensors(t, weights) for t in layers]
    entries, where, inputs = _entries(layers, source)
    if any(inputs):  # a graph: the layers in an order where each follows what it reads
        order = _graph_order(entries, inputs, source)
        layers = [layers[i] for i in order]
        entries = [entries[i][:3] + (LayerNames.of(str(entries[i][0]),
                                                   last=n == len(order) - 1),)
                   for n, i in enumerate(order)]
        where, inputs = [where[i] for i in order], [inputs[i] for i in order]
    layers_ = chain(shape, entries, where, inputs)
    given: dict[str, np.ndarray] = {}
    origins: dict[str, str] = {}
    if image is not None:
        origins["input"] = (f"the image {image}, converted to "
                            f"{'grey' if shape[0] == 1 else 'RGB'}"
                            + "".join(f", {note}" for note in resized))
    elif "input" in merged:
        origins["input"] = "x, given to from_module" if source == "module" else \
            f"the template {source}"
    if "input" in merged:
        given["input"] = _array(merged["input"], (shape[0], shape[2]) if sequence else shape,
                                "input", f"--template {source}",
                                "the network input (in_channels x input_size)").reshape(shape)
    for table, layer, place in zip(layers, layers_, where, strict=True):
        shapes = layer.op.given_shapes()  # as PyTorch holds them (a conv1d's weight: 3-D)
        held = layer.op.tensor_shapes()
        if "weights" in table:
            given.update(_named_weights(table["weights"], layer, shapes, place, weights,
                                        weights_source))
            origins[layer.names.tensor + "weight"] = (
                f"{weights_source}, tensors {table['weights']}.*")
            continue
        if "weight" in table:
            if "weight" not in shapes:
                raise SpecError("weight", "...", f"{layer.op.op} has no weights", place)
            given[layer.names.tensor + "weight"] = _array(
                table["weight"], shapes["weight"], "weight", place).reshape(held["weight"])
        if "kernel" in table:  # classic kernels by name: one per output channel, bias 0
            if "weight" in table:
                raise SpecError("kernel", table["kernel"], "give either kernel or weight",
                                place)
            op = layer.op
            try:
                given[layer.names.tensor + "weight"] = named_weight(
                    table["kernel"], op.out_channels, op.in_channels // op.groups,  # type: ignore[attr-defined]
                    op.kernel_size, op.op == "conv_transpose2d", op.groups)  # type: ignore[attr-defined]
            except SpecError as exc:
                raise exc.located(place) from None
            if "bias" in shapes:
                given[layer.names.tensor + "bias"] = np.zeros(shapes["bias"], dtype=np.int64)
            names = table["kernel"] if isinstance(table["kernel"], list) else [table["kernel"]]
            origins[layer.names.tensor + "weight"] = "classic kernels " + ", ".join(
                map(str, names)) + " (biases 0)"
        elif "weight" in table:
            origins[layer.names.tensor + "weight"] = (
                "the PyTorch module's own parameters" if source == "module"
                else f"the template {source}")
        for key in STATISTICS:
            if key in table:
                if key not in shapes:
                    raise SpecError(key, "...", f"{layer.op.op} has no {key}", place)
                given[layer.names.tensor + key] = _array(table[key], shapes[key], key, place)
        bias = table.get("bias")
        if isinstance(bias, list):
            if "bias" not in shapes:
                raise SpecError("bias", "[...]", f"{layer.op.op} has no bias here", place)
            given[layer.names.tensor + "bias"] = _array(bias, shapes["bias"], "bias", place)
    labels = _labels(merged.get("labels"), layers_, source)
    return Network(shape[1:], shape[0], layers_, seed=seed, values=kind, given=given,
                   origins=origins, labels=labels)


def _labels(value: object, layers, source: str) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    """The class names the Prediction block shows beside the class numbers: one text per
    output of the last layer, a linear one."""
    if value is None:
        return ()
    where = f"--template {source}"
    last = layers[-1]
    if last.op.op != "linear":
        raise SpecError("labels", "[...]", "name the classes of a network ending in a linear "
                        f"layer; the last layer ({last.label}) is {last.op.op}", where)
    n = last.out_shape[2]
    if not isinstance(value, list) or len(value) != n or not all(
            isinstance(v, str) and v.isprintable() and 0 < len(v) <= 40 for v in value):
        raise SpecError("labels", "[...]", f"must be a list of {n} texts (one per output of "
                        f"{last.label}), each 1 to 40 printable characters", where)
    return tuple(value)


def _shape_from_input(merged: dict[str, object]) -> None:
    """in_channels and input_size from a template's ``input`` (C x H x W nested lists) when
    the template leaves them out (a wrong shape is reported when the input is read)."""
    try:
        array = np.array(merged["input"], dtype=object)
    except ValueError:
        return
    if array.ndim == 3 and all(array.shape):
        merged.setdefault("in_channels", int(array.shape[0]))
        merged.setdefault("input_size", [int(array.shape[1]), int(array.shape[2])])


# op -> how its weight tensor's shape gives the options a template may leave out
_FROM_WEIGHT = {
    "conv2d": lambda shape, table: {"out_channels": shape[0], "kernel_size": list(shape[2:])},
    "conv_transpose2d": lambda shape, table: {
        "out_channels": shape[1] * int(table.get("groups", 1)), "kernel_size": list(shape[2:])},
    "linear": lambda shape, table: {"out_features": shape[0], "in_features": shape[1]},
}


def _options_from_tensors(table: dict[str, object], weights: Mapping[str, np.ndarray],
                          ) -> dict[str, object]:
    """A layer that names its tensors (``weights = "conv1"``) takes the options its weight's
    shape fixes (out_channels and kernel_size of a convolution, out_features of a linear
    layer) and whether it has a bias (the file has ``conv1.bias``) when the template leaves
    them out; options it gives are kept and checked against the tensors as before."""
    prefix, op = table.get("weights"), table.get("op")
    if not isinstance(prefix, str) or op not in _FROM_WEIGHT:
        return table
    weight = weights.get(f"{prefix}.weight")
    if weight is None or np.ndim(weight) != (2 if op == "linear" else 4):
        return table  # (the missing or misshapen tensor is reported when it is read)
    try:
        found = _FROM_WEIGHT[str(op)](tuple(int(n) for n in np.shape(weight)), table)
    except (TypeError, ValueError):
        return table
    found["bias"] = f"{prefix}.bias" in weights
    return {**found, **table}


def template_weights(values: Mapping[str, object], source: str, folder: Path | None,
                     default: str = "--weights") -> tuple[Weights | None, str]:
    """A template's own weights file, ``weights_file = "model.safetensors"``, and how the guide
    names it: a file in the template's `folder` (a template file), or in the package beside a
    shipped network. (None, `default`) when the template names none. ``--weights`` replaces it
    (the caller reads this only when no weights were given)."""
    name = values.get("weights_file")
    if name is None:
        return None, default
    if not isinstance(name, str) or not name.endswith(".safetensors") or \
            Path(name).name != name or name.startswith("."):
        raise TemplateError(f"--template {source}: weights_file must be the name of a "
                            ".safetensors file beside the template (no folders)")
    if folder is None and source in shipped_networks():
        packaged = resources.files("convsheets").joinpath("templates", "networks", name)
        return read_safetensors(Path(str(packaged))), f"the shipped weights {name}"
    if folder is None:
        raise TemplateError(f"--template {source}: weights_file {name} is read beside a "
                            "template file; give the tensors with --weights (weights=)")
    return read_safetensors(folder / name), f"weights_file {name}"


def unused_weights(values: Mapping[str, object], network: Network,
                   weights: Mapping[str, np.ndarray] | None) -> list[str]:
    """The weights file's tensors that no layer reads (a layer left out of the template, e.g.
    a batch norm, silently changes what the workbook computes): every name, in file order.
    Integer tensors PyTorch keeps beside them (``num_batches_tracked``) are not weights."""
    if not weights:
        return []
    used: set[str] = set()
    tables = values.get("layers")
    by_label = {layer.label: layer for layer in network.layers}  # (a graph's are reordered)
    labels = [name for name, *_rest in _entries(tables, "")[0]] \
        if isinstance(tables, list) else []
    for table, label in zip(tables if isinstance(tables, list) else [], labels, strict=False):
        layer = by_label[str(label)]
        prefix = table.get("weights") if isinstance(table, dict) else None
        if isinstance(prefix, str):
            used.update(f"{prefix}.{local}" for local in layer.op.tensor_shapes())
    return [name for name in weights
            if name not in used and not name.endswith("num_batches_tracked")]


def _graph_order(entries: list[tuple[str | None, str, dict[str, object], LayerNames]],
                 inputs: list[tuple[str, ...]], source: str) -> list[int]:
    """The layers' topological order, each layer's inputs explicit (the one before it in the
    file when it names none); a cycle or a name no layer has is one line naming them."""
    labels = [str(name) for name, *_rest in entries]
    if "input" in (label.lower() for label in labels):
        raise SpecError("name", "input", 'names the network input in a graph\'s inputs; '
                        "give the layer another name", f"--template {source}")
    explicit = [given or ((labels[i - 1],) if i else ("input",))
                for i, given in enumerate(inputs)]
    try:
        order = topological_order(labels, explicit)
    except SpecError as exc:
        raise exc.located(f"--template {source}") from None
    inputs[:] = explicit
    return order


def _layer_inputs(table: dict[str, object], here: str) -> tuple[str, ...]:
    """What a layer reads: ``input = "conv1"`` or ``inputs = ["relu2", "shortcut"]`` (empty:
    the layer before it)."""
    if "input" in table and "inputs" in table:
        raise SpecError("inputs", table["inputs"], "give either input or inputs", here)
    if "input" in table:
        value = table["input"]
        if not isinstance(value, str):
            raise SpecError("input", value, 'must name one layer, e.g. input = "conv1" '
                            '("input": the network input)', here)
        return (value,)
    value = table.get("inputs", [])
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise SpecError("inputs", value, 'must be a list of layer names, e.g. inputs = '
                        '["relu2", "input"]', here)
    return tuple(value)


def _entries(tables: list[dict[str, object]], source: str,
             ) -> tuple[list[tuple[str | None, str, dict[str, object], LayerNames]], list[str],
                        list[tuple[str, ...]]]:
    """(name, op, options, names) per layer, default names counted per op (conv1, relu1),
    where each is, and the inputs it names (empty: the layer before it)."""
    counts: dict[str, int] = {}
    seen: set[str] = set()
    entries, where, inputs = [], [], []
    for i, table in enumerate(tables):
        op_name = table.get("op")
        here = f"--template {source}: layers[{i}]"
        if not isinstance(op_name, str) or op_name not in OPS:
            raise SpecError("op", op_name if isinstance(op_name, str) else str(op_name),
                            "must be one of " + ", ".join(OPS), here)
        op_cls = OPS[op_name]
        prefix = op_cls.default_prefix  # counted per prefix: conv1d and conv2d share "conv"
        counts[prefix] = counts.get(prefix, 0) + 1
        named = "name" in table
        name = table.get("name", f"{prefix}{counts[prefix]}")
        check_layer_name(name, here)
        if str(name).lower() in seen:
            raise SpecError("name", name, "is used by an earlier layer; layer names must be "
                            "unique" + ("" if named else " (this is the layer's default name: "
                                        "give it a name)"), here)
        seen.add(str(name).lower())
        options = {k: v for k, v in table.items() if k not in LAYER_KEYS}
        if "kernel" in table and "kernel_size" not in options and op_cls.op in (
                "conv2d", "conv_transpose2d"):
            try:
                options["kernel_size"] = list(kernel_size_of(table["kernel"]))  # type: ignore[arg-type]
            except SpecError as exc:
                raise exc.located(f"{here} ({name})") from None
        if isinstance(options.get("bias"), list) and "bias" in op_cls.options:
            options["bias"] = True
        entries.append((str(name), op_cls.op, options,
                        LayerNames.of(str(name), last=i == len(tables) - 1)))
        where.append(f"{here} ({name})")
        inputs.append(_layer_inputs(table, f"{here} ({name})")
                      if "input" in table or "inputs" in table else ())
    return entries, where, inputs


def _named_weights(prefix: object, layer, shapes: dict[str, tuple[int, ...]],  # type: ignore[no-untyped-def]
                   place: str, weights: Mapping[str, np.ndarray] | None,
                   source: str) -> dict[str, np.ndarray]:
    """A layer's tensors from a weights file, by PyTorch's state_dict names."""
    if not isinstance(prefix, str) or not prefix:
        raise SpecError("weights", prefix, 'must name the tensors\' prefix, e.g. "features.0"',
                        place)
    if "weight" not in shapes:
        raise SpecError("weights", prefix, f"{layer.op.op} has no weights", place)
    if weights is None:
        raise SpecError("weights", prefix, "needs a weights file: add --weights "
                        "FILE.safetensors", place)
    out = {}
    for local, need in shapes.items():
        key = f"{prefix}.{local}"
        if key not in weights:
            near = sorted(k for k in weights if k.startswith(prefix))[:4]
            raise SpecError("weights", prefix, f"{source} has no tensor {key}" + (
                f" (it has {', '.join(near)})" if near else ""), place)
        array = np.asarray(weights[key], dtype=float)
        if array.shape != tuple(need):
            raise WeightsError(f"{place}: {key} has shape {tuple(array.shape)}, the layer needs "
                               f"{tuple(need)}")
        if not np.all(np.isfinite(array)) or np.any(np.abs(array) > MAX_MAGNITUDE):
            raise WeightsError(f"{place}: {key} holds values that are not finite or beyond "
                               f"±{MAX_MAGNITUDE:g}")
        out[layer.names.tensor + local] = array.reshape(layer.op.tensor_shapes()[local])
    return out


def _array(value: object, shape: tuple[int, ...], key: str, where: str,
           what: str = "the layer") -> np.ndarray:
    """A nested list of numbers of exactly `shape` (ints stay ints, so cells show 3 not 3.0)."""
    try:
        array = np.array(value, dtype=object)
    except ValueError:
        array = None
    if array is None or array.shape != tuple(shape):
        got = "ragged lists" if array is None else f"shape {tuple(array.shape)}"
        raise SpecError(key, "[...]", f"has {got}, {what} needs {tuple(shape)}", where)
    flat = array.reshape(-1)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
               and math.isfinite(v) and abs(v) <= MAX_MAGNITUDE for v in flat):
        raise SpecError(key, "[...]", f"must hold numbers between -{MAX_MAGNITUDE:g} and "
                        f"{MAX_MAGNITUDE:g} only", where)
    if all(isinstance(v, int) for v in flat):
        return array.astype(np.int64)
    return array.astype(float)


def _is_sequence(layers: object) -> bool:
    """A network of 1-D ops (its first op that is not element-wise is): its input is C x L."""
    for table in layers if isinstance(layers, list) else []:
        op = OPS.get(str(table.get("op"))) if isinstance(table, dict) else None
        if op is not None and op.dims:
            return op.dims == 1
    return False


def _length(value: object) -> int:
    """A sequence's input_size: one number L (or [L]; a recorded [1, L] too)."""
    if isinstance(value, list) and len(value) == 2 and value[0] == 1:
        value = value[1]
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError("input_size", value, "must be one whole number, at least 1 (the "
                        "length of a sequence: the first layer is 1-D)")
    return value


def describe_network(values: Mapping[str, object]) -> str:
    """One line for `convsheets list`: the description or the chain of ops."""
    if isinstance(values.get("description"), str):
        return str(values["description"])
    layers = values.get("layers")
    return " -> ".join(str(t.get("op")) for t in layers) if isinstance(layers, list) else ""
