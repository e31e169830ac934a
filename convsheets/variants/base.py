"""What a variant module declares, and the direct-convolution recipe most of them share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..layout import Block
from ..spec import LayerSpec
from .pipeline import (
    Plan,
    channel_list,
    conv_stage,
    dilate_stage,
    input_stage,
    pad_stage,
    weight_stage,
)


@dataclass(frozen=True)
class Variant:
    """A convolution variant as the guide sheet and `convsheets list` describe it."""

    name: str
    torch: str  # the PyTorch call it equals
    summary: str  # one line for `convsheets list` and the guide
    steps: tuple[str, ...]  # the seed's steps, as the workbook shows them
    build: Callable[[Plan], None]  # adds this variant's sheets to the plan


def single_conv(plan: Plan) -> None:
    """The recipe of every variant that is one conv2d: input -> [pad] -> [dilate] -> conv."""
    spec = plan.spec
    direct_conv(plan, input_stage(plan), groups=spec.conv_groups,
                out_channels=spec.out_channels, kernel_sheet="Kernels", out_sheet="Output",
                out_prefix="", padding=spec.padding, stride=spec.stride, dilation=spec.dilation)


def direct_conv(plan: Plan, sources: Sequence[Block], *, prefix: str = "", groups: int,
                out_channels: int, kernel_sheet: str, out_sheet: str, out_prefix: str,
                padding: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
                ) -> list[Block]:
    """input -> [pad] -> weights -> [dilate] -> conv: conv2d with every option PyTorch has.

    `prefix` names the tensors (``depthwise_`` -> ``depthwise_weight_{o}_{c}``)."""
    spec: LayerSpec = plan.spec
    padded = pad_stage(plan, sources, padding)
    per_in = len(sources) // groups
    per_out = out_channels // groups

    def filter_label(o: int) -> str:
        g = o // per_out
        seen = channel_list(range(g * per_in, (g + 1) * per_in))
        return f"filter {o}" if groups == 1 else f"filter {o} (group {g}: {seen})"

    kernels, bias = weight_stage(
        plan, kernel_sheet, f"{prefix}weight", f"{prefix}bias",
        f"One kernel per filter and input channel it sees ({prefix}weight[out][in/groups], "
        "PyTorch layout), and one bias per filter. Edit the yellow cells.",
        filter_label, lambda b: f"in {b}")
    kernels = dilate_stage(plan, kernels, dilation, filter_label)
    height, width = padded[0].shape
    kh, kw = kernels[0][0].shape
    out_size = ((height - kh) // stride[0] + 1, (width - kw) // stride[1] + 1)
    if not prefix and out_size != spec.output_size:
        raise AssertionError(f"layout out of step with spec: {out_size} != {spec.output_size}")

    def describe(o: int, channels: Sequence[int]) -> str:
        return f"= Σ over input {channel_list(channels)} of SUMPRODUCT(window, kernel)" + (
            " + bias" if bias is not None else "")

    return conv_stage(
        plan, out_sheet, f"Each output cell: for every input channel its filter sees, "
        f"SUMPRODUCT of the {kh}x{kw} window (stride {stride[0]}x{stride[1]}) with the "
        "kernel, summed, plus the bias. Select a cell and Trace Precedents to see its window.",
        padded, lambda o, k: kernels[o][k], bias, out_channels=out_channels, groups=groups,
        stride=stride, out_size=out_size, out_name=lambda o: f"{out_prefix}output_c{o}",
        describe=describe)
