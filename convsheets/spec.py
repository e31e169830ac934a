"""A validated, frozen description of one convolution layer, and its shape arithmetic.

Everything downstream (layout, formulas, verification) trusts a `LayerSpec`, so every rule that
PyTorch enforces is checked here, once, with an error that names the parameter, the value and the
rule. Which options a variant can honour is also a property of the layer ("a depth-wise convolution
*is* groups = channels"), so it lives here too.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConvsheetsError

Pair = tuple[int, int]

VARIANTS = ("basic", "pointwise", "depthwise", "separable", "transposed", "dilated", "grouped")
VALUE_KINDS = ("integers", "normal")

# Options every variant honours; the per-variant sets below add the layer-shape options.
_COMMON = frozenset({"input_size", "in_channels", "bias", "seed", "values"})
_CONV = _COMMON | {"out_channels", "kernel_size", "stride", "padding", "dilation"}
HONOURED: dict[str, frozenset[str]] = {
    "basic": _CONV,
    "pointwise": _COMMON | {"out_channels", "stride"},
    "depthwise": (_CONV - {"out_channels"}) | {"depth_multiplier"},
    "separable": _CONV | {"depth_multiplier"},
    "transposed": _CONV | {"output_padding", "groups"},
    "dilated": _CONV,
    "grouped": _CONV | {"groups"},
}

# Why an option is refused, per variant: the message a user sees.
_WHY_NOT = {
    "groups": "{variant} convolution has groups fixed by its definition; use --variant grouped "
    "(or transposed) to choose groups",
    "output_padding": "output_padding only exists for a transposed convolution",
    "depth_multiplier": "depth_multiplier only applies to depthwise and separable convolutions",
    "kernel_size": "a pointwise convolution has a 1x1 kernel by definition",
    "padding": "a pointwise convolution has no padding (1x1 kernel)",
    "dilation": "a pointwise convolution has no dilation (1x1 kernel)",
    "out_channels": "a depthwise convolution has out_channels = in_channels x depth_multiplier; "
    "set --depth-multiplier",
}

PAIR_FIELDS = ("input_size", "kernel_size", "stride", "padding", "dilation", "output_padding")
INT_FIELDS = ("in_channels", "out_channels", "groups", "depth_multiplier", "seed")
OPTION_FIELDS = PAIR_FIELDS + INT_FIELDS + ("bias", "values")


class SpecError(ConvsheetsError):
    """An invalid layer description: `param` names the option, the message states the rule."""

    def __init__(self, param: str, value: object, rule: str) -> None:
        self.param = param
        self.value = value
        self.rule = rule
        super().__init__(f"{option_flag(param)}={format_value(value)}: {rule}")


def option_flag(param: str) -> str:
    """The command-line spelling of a spec field, used in every message a user sees."""
    return "--" + param.replace("_", "-")


def format_value(value: object) -> str:
    """Show pairs the way the user types them (3x2), everything else plainly."""
    if isinstance(value, tuple) and len(value) == 2:
        return f"{value[0]}x{value[1]}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def conv_out(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length of a direct convolution along one axis (PyTorch's Conv2d formula)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def transposed_out(
    size: int, kernel: int, stride: int, padding: int, output_padding: int, dilation: int
) -> int:
    """Output length of a transposed convolution along one axis (PyTorch's ConvTranspose2d)."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


@dataclass(frozen=True)
class LayerSpec:
    """One layer of one variant; construct through `LayerSpec.create` to get it validated."""

    variant: str
    input_size: Pair
    in_channels: int
    out_channels: int
    kernel_size: Pair
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    dilation: Pair = (1, 1)
    output_padding: Pair = (0, 0)
    groups: int = 1
    depth_multiplier: int = 1
    bias: bool = True
    seed: int = 0
    values: str = "integers"

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(cls, variant: str, given: dict[str, object], preset: dict[str, object]) -> LayerSpec:
        """Merge `preset` (the variant's defaults) with `given` (what the user asked for) and
        validate. An option in `given` that the variant cannot honour is an error, unless it
        equals the value the variant fixes anyway (e.g. ``--kernel-size 1`` for pointwise)."""
        if variant not in VARIANTS:
            raise SpecError("variant", variant, "must be one of " + ", ".join(VARIANTS))
        for key in given:
            if key not in OPTION_FIELDS:
                raise SpecError(key, given[key], "is not a layer option")
        fields = {k: normalise(k, v) for k, v in preset.items() if k in OPTION_FIELDS}
        fields.update({k: normalise(k, v) for k, v in given.items()})
        fields = _derive(variant, fields)
        for key, value in given.items():
            if key not in HONOURED[variant] and normalise(key, value) != fields.get(key):
                why = _WHY_NOT.get(key, "this variant cannot honour it").format(variant=variant)
                raise SpecError(key, value, f"not available for --variant {variant}: {why}")
        missing = [f for f in ("input_size", "in_channels", "out_channels", "kernel_size")
                   if f not in fields]
        if missing:
            raise SpecError(missing[0], None, "is required (set it in the template or option)")
        spec = cls(variant=variant, **fields)
        spec.validate()
        return spec

    def validate(self) -> None:
        """Check every rule PyTorch enforces, in the order a user would fix them."""
        for name in ("input_size", "kernel_size", "stride", "dilation"):
            _check_pair(name, getattr(self, name), minimum=1)
        for name in ("padding", "output_padding"):
            _check_pair(name, getattr(self, name), minimum=0)
        for name in ("depth_multiplier", "groups", "in_channels", "out_channels"):
            if getattr(self, name) < 1:
                raise SpecError(name, getattr(self, name), "must be at least 1")
        if self.seed < 0:
            raise SpecError("seed", self.seed, "must be 0 or more")
        if self.values not in VALUE_KINDS:
            raise SpecError("values", self.values, "must be one of " + ", ".join(VALUE_KINDS))
        if self.in_channels % self.groups:
            raise SpecError("groups", self.groups,
                            f"must divide in_channels={self.in_channels}")
        if self.out_channels % self.groups:
            raise SpecError("groups", self.groups,
                            f"must divide out_channels={self.out_channels}")
        if self.is_transposed:
            for axis in (0, 1):
                op, s, d = self.output_padding[axis], self.stride[axis], self.dilation[axis]
                if op >= max(s, d):
                    raise SpecError("output_padding", self.output_padding,
                                    "must be smaller than either stride or dilation "
                                    f"(stride={format_value(self.stride)}, "
                                    f"dilation={format_value(self.dilation)})")
        else:
            for axis in (0, 1):
                padded = self.input_size[axis] + 2 * self.padding[axis]
                span = self.dilation[axis] * (self.kernel_size[axis] - 1) + 1
                if span > padded:
                    raise SpecError("kernel_size", self.kernel_size,
                                    f"the (dilated) kernel spans {span} along "
                                    f"{'height' if axis == 0 else 'width'} but the padded input "
                                    f"is only {padded}: the output would be empty")
        oh, ow = self.output_size
        if oh < 1 or ow < 1:
            raise SpecError("padding", self.padding,
                            f"leaves an output of {oh}x{ow}; it must be at least 1x1")

    # ------------------------------------------------------------------ shape arithmetic
    @property
    def is_transposed(self) -> bool:
        return self.variant == "transposed"

    @property
    def output_size(self) -> Pair:
        """Spatial size of the final output (for separable: of both stages)."""
        if self.is_transposed:
            return tuple(  # type: ignore[return-value]
                transposed_out(self.input_size[a], self.kernel_size[a], self.stride[a],
                               self.padding[a], self.output_padding[a], self.dilation[a])
                for a in (0, 1))
        return tuple(  # type: ignore[return-value]
            conv_out(self.input_size[a], self.kernel_size[a], self.stride[a], self.padding[a],
                     self.dilation[a])
            for a in (0, 1))

    @property
    def conv_groups(self) -> int:
        """Groups of the (first) convolution: a depth-wise stage has one group per channel."""
        return self.in_channels if self.variant in ("depthwise", "separable") else self.groups

    @property
    def mid_channels(self) -> int:
        """Channels after the depth-wise stage (separable / depthwise)."""
        return self.in_channels * self.depth_multiplier

    def source_shapes(self) -> dict[str, tuple[int, ...]]:
        """The editable tensors of this layer, by tensor name, in PyTorch's layout."""
        c, (h, w), (kh, kw) = self.in_channels, self.input_size, self.kernel_size
        shapes: dict[str, tuple[int, ...]] = {"input": (c, h, w)}
        if self.variant == "separable":
            shapes["depthwise_weight"] = (self.mid_channels, 1, kh, kw)
            shapes["pointwise_weight"] = (self.out_channels, self.mid_channels, 1, 1)
            if self.bias:
                shapes["depthwise_bias"] = (self.mid_channels,)
                shapes["pointwise_bias"] = (self.out_channels,)
            return shapes
        if self.is_transposed:
            shapes["weight"] = (c, self.out_channels // self.groups, kh, kw)
        else:
            shapes["weight"] = (self.out_channels, c // self.groups, kh, kw)
        if self.bias:
            shapes["bias"] = (self.out_channels,)
        return shapes

    def as_options(self) -> dict[str, object]:
        """The spec as a flat, JSON-ready mapping (recorded inside every workbook)."""
        out: dict[str, object] = {"variant": self.variant}
        for name in OPTION_FIELDS:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_options(cls, options: dict[str, object]) -> LayerSpec:
        """Inverse of `as_options` (used by verify on what a workbook recorded)."""
        if not isinstance(options, dict):
            raise SpecError("layer", options, "must be a mapping of layer options")
        variant = str(options.get("variant"))
        fields = {k: normalise(k, v) for k, v in options.items() if k in OPTION_FIELDS}
        missing = [f for f in OPTION_FIELDS if f not in fields]
        if missing:
            raise SpecError(missing[0], None, "is missing from the recorded layer")
        spec = cls(variant=variant, **fields)
        if variant not in VARIANTS:
            raise SpecError("variant", variant, "must be one of " + ", ".join(VARIANTS))
        spec.validate()
        return spec


def _derive(variant: str, fields: dict[str, object]) -> dict[str, object]:
    """Fill in what a variant fixes by definition, so the rest of the code sees one shape."""
    if variant == "pointwise":
        fields.update(kernel_size=(1, 1), padding=(0, 0), dilation=(1, 1))
    if variant in ("depthwise", "separable"):
        c = fields.get("in_channels")
        if isinstance(c, int):
            fields["groups"] = c if variant == "depthwise" else 1
            if variant == "depthwise":
                fields["out_channels"] = c * int(fields.get("depth_multiplier", 1))  # type: ignore[arg-type]
    if variant not in ("transposed",):
        fields["output_padding"] = (0, 0)
    if variant not in ("depthwise", "separable"):
        fields["depth_multiplier"] = 1
    if variant in ("basic", "dilated", "pointwise"):
        fields["groups"] = 1
    return fields


def parse_pair(text: str) -> Pair:
    """'3' -> (3, 3); '3x2' -> (3, 2). Raises ValueError on anything else."""
    parts = str(text).strip().lower().split("x")
    if len(parts) not in (1, 2) or not all(p.strip().lstrip("-").isdigit() for p in parts):
        raise ValueError(f"{text!r} is not N or NxM (e.g. 3 or 3x2)")
    nums = [int(p) for p in parts]
    return (nums[0], nums[-1])


def normalise(key: str, value: object) -> object:
    """Accept the forms a template file or a caller may use: 3, '3x2', [3, 2]."""
    if key in PAIR_FIELDS:
        if isinstance(value, bool):
            raise SpecError(key, value, "must be N or NxM")
        if isinstance(value, int):
            return (value, value)
        if isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            return (int(value[0]), int(value[1]))
        if isinstance(value, str):
            try:
                return parse_pair(value)
            except ValueError as exc:
                raise SpecError(key, value, "must be N or NxM (e.g. 3 or 3x2)") from exc
        raise SpecError(key, value, "must be N or NxM (e.g. 3 or 3x2)")
    if key in INT_FIELDS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(key, value, "must be a whole number")
        return value
    if key == "bias":
        if not isinstance(value, bool):
            raise SpecError(key, value, "must be true or false")
        return value
    if key == "values":
        if value not in VALUE_KINDS:
            raise SpecError(key, value, "must be one of " + ", ".join(VALUE_KINDS))
        return value
    return value


def _check_pair(name: str, value: Pair, minimum: int) -> None:
    if min(value) < minimum:
        rule = "must be at least 1" if minimum == 1 else "must not be negative"
        raise SpecError(name, value, rule)
