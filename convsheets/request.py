"""One request layer: what a build asks for, resolved into a `Network`, for both front doors.

``convsheets build`` (the CLI) and ``convsheets.build`` (the Python API) hand the same request
to `resolve`: a variant or a template (a file, a shipped network's name or a parsed dict),
layer options, a picture for the input (``--image``/``image=``), classic kernels for a
variant's weights (``--kernel``/``kernel=``) and a network's named tensors
(``--weights``/``weights=``). `resolve` decides what is built, applies the rules on which
options go together, and returns the `Network` with its default output path and the note on
which values came from a variant's preset. The same request gives the same Network (and so the
same bytes) through either door.

Messages name parameters the way the door they came through spells them (``--kernel`` or
``kernel=``): every rule here is worded through a `Door`. Errors are `ConvsheetsError`
subclasses; a rule on how parameters combine is a `RequestError` (a `SpecError` whose `param`
is the key the rule is about). A layer option's own `SpecError` from the layer keeps an empty
`where`, so the CLI shows ``--stride=0x0: ...`` and the API locates it as
``convsheets.build: stride=0x0: ...``.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import SpecError, TemplateError, WeightsError
from .images import load_image
from .kernels import kernel_size_of, named_weight, parse_names
from .network import Network
from .networks import (
    OVERRIDABLE,
    is_network,
    network_from_template,
    shipped_networks,
    template_weights,
    unused_weights,
)
from .options import format_value, option_flag, to_int, to_pair
from .presets import KNOWN_KEYS, load_template, preset
from .spec import LayerSpec
from .training import attach as attach_training
from .training import take as take_training
from .variants import VARIANTS
from .weights import read_safetensors

OUTPUT_DIR = Path("output")  # output/NAME.xlsx when no output is given (relative to the cwd)

__all__ = ["API", "CLI", "OUTPUT_DIR", "Door", "RequestError", "Resolved", "every_preset",
           "read_template", "resolve"]


@dataclass(frozen=True)
class Door:
    """How one front door names the parameters of a request in its messages."""

    name: str  # put before every message ("convsheets.build"); "" for the command line
    flag: Callable[[str], str]  # a parameter mentioned in a sentence: --kernel / kernel=
    head: Callable[[str, object], str]  # a message's subject: --template net.toml / template=..
    sets: str  # who may set a network's overridable options
    instead: str  # what else may be given than a variant (after "give --variant (...)")

    def say(self, text: str) -> str:
        return f"{self.name}: {text}" if self.name else text


def _cli_head(key: str, value: object = None) -> str:
    return option_flag(key) if value is None else f"{option_flag(key)} {value}"


def _api_head(key: str, value: object = None) -> str:
    return key if value is None else f"{key}={format_value(value)}"


CLI = Door("", option_flag, _cli_head, "the command line", ", --template FILE or --all")
API = Door("convsheets.build", lambda key: f"{key}=", _api_head, "build()", " or template=")


class RequestError(SpecError):
    """Parameters of a request that do not go together, or a missing one. `param` is the key
    the rule is about; the message is worded by the door the request came through."""

    def __init__(self, param: str, text: str, door: Door) -> None:
        self.text = door.say(text)
        super().__init__(param, None, text, door.name)

    def _text(self) -> str:
        return self.text


@dataclass(frozen=True)
class Resolved:
    """What a request builds: the network, where it goes unless told, and (for a variant) which
    of its values came from the preset rather than from the request."""

    network: Network
    default_output_path: Path
    preset_note: str = ""
    # what the user should know but that does not stop the build (a weights file's tensors no
    # layer reads); with strict=True (--strict) each is an error instead
    warnings: tuple[str, ...] = ()


def resolve(variant: str | None = None, template: str | Path | Mapping[str, object] | None = None,
            weights: str | Path | Mapping[str, np.ndarray] | None = None,
            image: str | Path | None = None, kernel: str | Sequence[str] | None = None,
            options: Mapping[str, object] | None = None, door: Door = CLI,
            strict: bool = False) -> Resolved:
    """The network a request asks for (see the module docstring). `options` are layer options
    by key (input_size, stride, ...); None values count as not given. `strict`: a weights
    file's tensor that no layer reads is an error (`WeightsError`), not a warning. The
    training keys (backward, loss, target, lr: `training.py`), from the template or the
    options, add the backward pass to whatever the rest resolves to."""
    given = {k: v for k, v in (options or {}).items() if v is not None}
    if image is not None and not isinstance(image, (str, Path)):
        raise SpecError("image", type(image).__name__, "must be a file path or the name of a "
                        "bundled sample", door.name)
    image = str(image) if image is not None else None
    values, label = read_template(template, door)
    keys = {**take_training(values), **take_training(given)}
    resolved = _resolve(variant, template, weights, image, kernel, given, door, values, label,
                        strict)
    if not keys:
        return resolved
    try:
        network = attach_training(resolved.network, keys)
    except SpecError as exc:
        raise (exc.located(f"--template {label}") if label and not exc.where else exc) from None
    return dataclasses.replace(resolved, network=network)


def _resolve(variant: str | None, template: str | Path | Mapping[str, object] | None,
             weights: str | Path | Mapping[str, np.ndarray] | None, image: str | None,
             kernel: str | Sequence[str] | None, given: dict[str, object], door: Door,
             values: dict[str, object], label: str, strict: bool = False) -> Resolved:
    if is_network(values):
        return _network(values, label, template, variant, weights, image, kernel, given, door,
                        strict)
    name = variant or values.pop("variant", None)
    values.pop("variant", None)
    if name is None and isinstance(template, (str, Path)):
        raise RequestError("variant", f"{door.head('template', str(template))}: the file has "
                           "neither a variant = line nor [[layers]] tables; add variant = "
                           f"\"NAME\" ({', '.join(VARIANTS)}) or give {door.flag('variant')}",
                           door)
    if name is None:
        raise RequestError("variant", f"give {door.flag('variant')} (one of "
                           + ", ".join(VARIANTS) + ")" + door.instead, door)
    name = name.lower() if isinstance(name, str) else name
    if not isinstance(name, str) or name not in VARIANTS:
        raise SpecError("variant", name if isinstance(name, str) else type(name).__name__,
                        "must be one of " + ", ".join(VARIANTS))
    if weights is not None:
        raise RequestError("weights", f"{door.head('weights')} takes a network template (its "
                           "layers name their tensors); for one layer use "
                           f"{door.flag('kernel')} or a template with weight = [...]", door)
    typed = {**values, **given}
    spec = _variant_spec(str(name), typed, image, kernel)
    # what came from the request (or follows from its picture and kernels), not the preset
    if image is not None:
        typed.setdefault("in_channels", 1)
        typed["input_size"] = spec.input_size
    if kernel is not None:
        typed.setdefault("kernel_size", spec.kernel_size)
        if len(parse_names(kernel)) > 1 and "out_channels" in VARIANTS[str(name)].honoured:
            typed.setdefault("out_channels", spec.out_channels)
    from_preset = [k for k in preset(str(name)) if k not in typed]
    return Resolved(spec.network(), OUTPUT_DIR / f"{name}.xlsx", _preset_note(spec, from_preset))


def every_preset() -> dict[str, Resolved]:
    """Every variant's preset and every shipped network, by name (what ``--all`` builds). A
    shipped network is taken by name even where a file of that name exists."""
    out = {name: resolve(variant=name) for name in VARIANTS}
    for name, text in shipped_networks().items():
        out[name] = _network(tomllib.loads(text), name, name, None, None, None, None, {}, CLI)
    return out


def read_template(template: str | Path | Mapping[str, object] | None, door: Door = CLI,
                  ) -> tuple[dict[str, object], str]:
    """(its keys, how messages name it): a file, a shipped network's name (when no such file
    exists) or a parsed template (a dict, named "template")."""
    if template is None:
        return {}, ""
    if isinstance(template, Mapping):
        values = dict(template)
        if not is_network(values):
            for key in values:
                if key not in KNOWN_KEYS:
                    raise TemplateError(door.say(f"{door.head('template')}: unknown key {key!r} "
                                                 f"(known keys: {', '.join(KNOWN_KEYS)})"))
        return values, "template"
    if not isinstance(template, (str, Path)):
        raise TemplateError(door.say(f"{door.head('template')}: a {type(template).__name__}; "
                                     "give a file path, a shipped network's name or a dict"))
    path = Path(template)
    shipped = shipped_networks()
    if not path.exists() and str(template) in shipped:
        return tomllib.loads(shipped[str(template)]), str(template)
    return load_template(path), str(path)


def _network(values: dict[str, object], label: str, template: object, variant: object,
             weights: str | Path | Mapping[str, np.ndarray] | None, image: str | None,
             kernel: object, given: dict[str, object], door: Door,
             strict: bool = False) -> Resolved:
    """A network template with the request's overrides, picture and weights file."""
    if variant:
        raise RequestError("variant", f"{door.head('variant')} builds one of the seven "
                           "variants; a network template defines its own layers", door)
    layer_options = sorted(set(given) - set(OVERRIDABLE))
    if layer_options:
        raise RequestError(layer_options[0], f"{door.head(layer_options[0])}: a network's layer "
                           "options go in the template's [[layers]] tables (" + door.sets
                           + " may set " + ", ".join(door.flag(k) for k in OVERRIDABLE) + ")",
                           door)
    if kernel is not None:
        raise RequestError("kernel", f"{door.head('kernel')} names the kernels of a variant's "
                           "layer; in a network template give a layer kernel = \"sobel-x\"",
                           door)
    if image is not None:  # the picture replaces the template's input
        values = {**values, "image": image}
        values.pop("input", None)
    tensors, source = _weights(weights, door)
    folder = Path(template).parent if isinstance(template, (str, Path)) and \
        Path(template).exists() else None
    if tensors is None:  # the template's own weights_file, if it names one
        tensors, source = template_weights(values, label, folder, source)
    network = network_from_template(values, label, given, tensors, source)
    stem = "network" if isinstance(template, Mapping) else Path(label).stem
    unused = unused_weights(values, network, tensors)
    if not unused:
        return Resolved(network, OUTPUT_DIR / f"{stem}.xlsx")
    listed = (f"{source}: {len(unused)} tensor(s) no layer reads: " + ", ".join(unused[:6])
              + (", ..." if len(unused) > 6 else ""))
    if strict:
        raise WeightsError(door.say(f"{listed}; with {door.flag('strict')} every tensor of "
                                    "the file must be read by a layer (add the missing layers "
                                    "to the template)"))
    return Resolved(network, OUTPUT_DIR / f"{stem}.xlsx", warnings=(
        f"{listed} (is a layer missing from the template? {door.flag('strict')} makes this "
        "an error)",))


def _weights(weights: str | Path | Mapping[str, np.ndarray] | None, door: Door,
             ) -> tuple[Mapping[str, np.ndarray] | None, str]:
    """The named tensors and how the guide (and messages) name where they came from. A file is
    named as on the command line (``--weights FILE``) through both doors, so the same request
    writes the same workbook."""
    if weights is None:
        return None, "--weights"
    if isinstance(weights, (str, Path)):
        return read_safetensors(Path(weights)), f"--weights {weights}"
    if isinstance(weights, Mapping):
        return weights, "weights"
    raise SpecError("weights", type(weights).__name__, "must be a .safetensors path or a "
                    "mapping of tensor name -> array", door.name)


def _variant_spec(variant: str, typed: dict[str, object], image: str | None,
                  kernel: str | Sequence[str] | None) -> LayerSpec:
    """A variant's layer, its input from the picture `image` (its own size unless input_size
    is given; grey unless in_channels is 3) and its (first) weights from the named `kernel`s
    (one per output channel, or one for all; biases 0)."""
    typed = dict(typed)
    tensors: dict[str, np.ndarray] = {}
    origins: dict[str, str] = {}
    if image is not None:
        typed.setdefault("in_channels", 1)
        size = to_pair("input_size", typed["input_size"]) if "input_size" in typed else None
        resized: list[str] = []  # a picture is never squashed without a word
        tensors["input"] = load_image(image, to_int("in_channels", typed["in_channels"]), size,
                                      notes=resized)
        origins["input"] = f"the image {image}" + "".join(f", {note}" for note in resized)
        typed["input_size"] = tensors["input"].shape[1:]
    if kernel is not None:
        names = parse_names(kernel)
        typed.setdefault("kernel_size", kernel_size_of(names))
        if len(names) > 1 and "out_channels" in VARIANTS[variant].honoured:
            typed.setdefault("out_channels", len(names))
    spec = LayerSpec.create(variant, typed, preset(variant), tensors, origins)
    if kernel is not None:
        shown = kernel if isinstance(kernel, str) else ",".join(map(str, kernel))
        layer = spec.network().layers[0]
        op = layer.op
        shapes = layer.tensor_shapes()
        tensors[layer.names.tensor + "weight"] = named_weight(
            kernel, op.out_channels, op.in_channels // op.groups,  # type: ignore[attr-defined]
            op.kernel_size, op.op == "conv_transpose2d", op.groups)  # type: ignore[attr-defined]
        if layer.names.tensor + "bias" in shapes:
            tensors[layer.names.tensor + "bias"] = np.zeros(
                shapes[layer.names.tensor + "bias"], dtype=np.int64)
        origins[layer.names.tensor + "weight"] = f"classic kernels {shown} (biases 0)"
        spec = LayerSpec.create(variant, typed, preset(variant), tensors, origins)
    return spec


def _preset_note(spec: LayerSpec, keys: list[str]) -> str:
    """Which of the layer's values came from the variant's preset, not from the request."""
    shown = [k for k in keys if k not in ("seed", "values", "variant")]
    if not shown:
        return ""
    values = spec.as_options()
    return (f"from the {spec.variant} preset (not typed): " + ", ".join(
        f"{k}={format_value(tuple(v) if isinstance(v, list) else v)}"
        for k, v in ((k, values[k]) for k in shown)))
