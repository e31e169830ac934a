"""A variant request: `--variant NAME` plus flat layer options, resolved into a `Network`.

The seven variants are presets that compose ops (see `variants/`); this module only merges a
preset with what the user typed, asks the variant what it fixes and honours, and lets the ops
validate the result. What a convolution *is* lives in the op modules, what a variant *is* in
its preset module: nothing here branches on a variant's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import SpecError
from .network import Network, chain, start_shape
from .options import VALUE_KINDS, Pair, to_bool, to_int, to_pair, to_values
from .variants import VARIANTS as registry

PAIR_FIELDS = ("input_size", "kernel_size", "stride", "padding", "dilation", "output_padding")
INT_FIELDS = ("in_channels", "out_channels", "groups", "depth_multiplier", "seed")
OPTION_FIELDS = PAIR_FIELDS + INT_FIELDS + ("bias", "values")

__all__ = ["OPTION_FIELDS", "VALUE_KINDS", "LayerSpec", "SpecError", "normalise"]


@dataclass(frozen=True)
class LayerSpec:
    """One variant's layer as the user asked for it; construct through `create`."""

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
    # Tensors given instead of seeded ones (an --image's input, --kernel's weights), by name.
    tensors: dict[str, np.ndarray] = field(default_factory=dict, compare=False, hash=False)
    origins: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def create(cls, variant: str, given: dict[str, object], preset: dict[str, object],
               tensors: dict[str, np.ndarray] | None = None,
               origins: dict[str, str] | None = None) -> LayerSpec:
        """Merge `preset` (the variant's defaults) with `given` (what the user asked for) and
        validate. An option in `given` that the variant cannot honour is an error, unless it
        equals the value the variant fixes anyway (e.g. ``--kernel-size 1`` for pointwise)."""
        if variant not in registry:
            raise SpecError("variant", variant, "must be one of " + ", ".join(registry))
        preset_variant = registry[variant]
        for key in given:
            if key not in OPTION_FIELDS:
                raise SpecError(key, given[key], "is not a layer option")
        fields = {k: normalise(k, v) for k, v in preset.items() if k in OPTION_FIELDS}
        fields.update({k: normalise(k, v) for k, v in given.items()})
        fields = preset_variant.fix(fields)
        for key, value in given.items():
            if key not in preset_variant.honoured and normalise(key, value) != fields.get(key):
                raise SpecError(key, value, f"not available for --variant {variant}: "
                                + preset_variant.why_not(key))
        missing = [f for f in ("input_size", "in_channels", "out_channels", "kernel_size")
                   if f not in fields]
        if missing:
            raise SpecError(missing[0], None, "is required (set it in the template or option)")
        spec = cls(variant=variant, **fields, tensors=dict(tensors or {}),
                   origins=dict(origins or {}))
        spec.validate()
        return spec

    def validate(self) -> None:
        """The request's own rules (input, depth multiplier, seed, values); the ops check
        their options when the network is built."""
        start_shape({"input_size": self.input_size, "in_channels": self.in_channels})
        if self.depth_multiplier < 1:
            raise SpecError("depth_multiplier", self.depth_multiplier, "must be at least 1")
        if self.seed < 0:
            raise SpecError("seed", self.seed, "must be 0 or more")
        to_values("values", self.values)
        self.network()

    def network(self) -> Network:
        """The layers this variant composes, validated by their ops."""
        entries = registry[self.variant].layers(self)
        layers = chain((self.in_channels, *self.input_size), entries, [""] * len(entries))
        return Network(self.input_size, self.in_channels, layers, seed=self.seed,
                       values=self.values, variant=self.variant, given=self.tensors,
                       origins=self.origins, request=self)

    def source_shapes(self) -> dict[str, tuple[int, ...]]:
        """The editable tensors by name, in PyTorch's layout (input, weight, bias, ...)."""
        return self.network().source_shapes()

    @property
    def output_size(self) -> Pair:
        return self.network().output_shape[1:]  # type: ignore[return-value]

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
        if variant not in registry:
            raise SpecError("variant", variant, "must be one of " + ", ".join(registry))
        fields = {k: normalise(k, v) for k, v in options.items() if k in OPTION_FIELDS}
        missing = [f for f in OPTION_FIELDS if f not in fields]
        if missing:
            raise SpecError(missing[0], None, "is missing from the recorded layer")
        spec = cls(variant=variant, **fields)
        spec.validate()
        return spec


def normalise(key: str, value: object) -> object:
    """Accept the forms a template file or a caller may use: 3, '3x2', [3, 2]."""
    if key in PAIR_FIELDS:
        return to_pair(key, value)
    if key in INT_FIELDS:
        return to_int(key, value)
    if key == "bias":
        return to_bool(key, value)
    if key == "values":
        return to_values(key, value)
    return value
