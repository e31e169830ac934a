"""What a variant preset declares: the layers it composes, the options it honours, what it
fixes by definition, and its page of the guide (title, the seed's steps, PyTorch call).

A variant is not an op: it is a named, pre-set chain of ops (basic = one conv2d; separable =
a depth-wise conv2d then a 1x1 conv2d) with the block names the first release gave it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..network import LayerNames

if TYPE_CHECKING:
    from ..guide import GuideWriter
    from ..spec import LayerSpec

Entry = tuple[str | None, str, dict[str, object], LayerNames]

# Options every variant honours; the variants add the layer-shape options they have.
COMMON = frozenset({"input_size", "in_channels", "bias", "seed", "values"})
CONV = COMMON | {"out_channels", "kernel_size", "stride", "padding", "dilation"}

# Why an option is refused: the message a user sees (variants may say it their own way).
WHY_NOT = {
    "groups": "{variant} convolution has groups fixed by its definition; use --variant grouped "
    "(or transposed) to choose groups",
    "output_padding": "output_padding only exists for a transposed convolution",
    "depth_multiplier": "depth_multiplier only applies to depthwise and separable convolutions",
}


def conv_options(spec: LayerSpec, **overrides: object) -> dict[str, object]:
    """The conv2d options of a variant's (first) layer, from the flat request."""
    options: dict[str, object] = {
        "out_channels": spec.out_channels, "kernel_size": spec.kernel_size,
        "stride": spec.stride, "padding": spec.padding, "dilation": spec.dilation,
        "groups": spec.groups, "bias": spec.bias}
    options.update(overrides)
    return options


def single_conv(spec: LayerSpec) -> list[Entry]:
    """The layers of every variant that is one unnamed conv2d (today's block names)."""
    return [(None, "conv2d", conv_options(spec), LayerNames())]


def keep(fields: dict[str, object]) -> dict[str, object]:
    return fields


@dataclass(frozen=True)
class Variant:
    """A convolution variant as `convsheets list` and the guide sheet describe it."""

    name: str
    torch: str  # the PyTorch call it equals
    summary: str  # one line for `convsheets list` and the guide
    steps: tuple[str, ...]  # the seed's steps, as the workbook shows them
    honoured: frozenset[str]  # options a user may set
    layers: Callable[[LayerSpec], list[Entry]] = single_conv
    fixed: Callable[[dict[str, object]], dict[str, object]] = keep  # what it fixes
    refusals: dict[str, str] = field(default_factory=dict)  # its own words for refusals
    groups_label: str = ""  # added to the guide's "groups g" row
    # extra guide content after the arithmetic (pointwise: the seed's bottleneck figures)
    guide_extra: Callable[[GuideWriter, LayerSpec], None] | None = None
    # its own parameter-count formula: (expression over the parameter cells, text), and
    # further named guide cells with their expected values
    count: Callable[..., tuple[str, str]] | None = None
    guide_more: Callable[..., None] | None = None
    # multiply-adds beside the parameter count: (expression over the parameter and output
    # size cells, text); its expected value is expected_more's "mult_adds"
    mult_adds: Callable[..., tuple[str, str]] | None = None
    mult_adds_notes: tuple[str, ...] = ()  # under the counts (what guide_more's rows are)
    expected_more: Callable[[LayerSpec, dict[str, float]], dict[str, float]] | None = None
    editable_guide_cells: tuple[str, ...] = ()  # guide inputs verify reads (bottleneck_*)

    def fix(self, fields: dict[str, object]) -> dict[str, object]:
        """Fill in what the variant fixes by definition, so every variant has one shape."""
        fields = self.fixed(dict(fields))
        if "output_padding" not in self.honoured:
            fields["output_padding"] = (0, 0)
        if "depth_multiplier" not in self.honoured:
            fields["depth_multiplier"] = 1
        if "groups" not in self.honoured and "groups" not in fields:
            fields["groups"] = 1
        return fields

    def why_not(self, key: str) -> str:
        why = self.refusals.get(key) or WHY_NOT.get(key, "this variant cannot honour it")
        return why.format(variant=self.name)
