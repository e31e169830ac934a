"""Convolutions (conv2d, conv_transpose2d): the seed's steps as sheets.

conv2d: padding, the editable kernels, the kernels with holes (dilation), then the outputs as
SUMPRODUCTs of windows and kernels. conv_transpose2d: zero insertion and padding (the upsampled
input), the editable weights, the flipped kernels (and holes), then a plain stride-1
convolution. Every number here comes from the op's options and its declared `window()`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..layout import Block
from ..ops import Conv2d, ConvTranspose2d
from ..plan import (
    LayerContext,
    channel_list,
    conv_stage,
    gather_stage,
    kernel_transform_stage,
    pad_stage,
    weight_stage,
)
from ..stages import compose, dilate_map, flip_map, insert_map, pad_map
from .registry import Drawn, draws


def dilate_stage(ctx: LayerContext, kernels: list[list[Block]], dilation: tuple[int, int],
                 row_label: Callable[[int], str]) -> list[list[Block]]:
    """The kernel with holes: a dilated kernel over a contiguous window equals the original
    kernel over the spread-out window, and keeps every SUMPRODUCT a plain rectangle."""
    if dilation == (1, 1):
        return kernels
    kh, kw = kernels[0][0].shape
    return kernel_transform_stage(
        ctx, "Dilated", f"Each kernel with dilation {dilation[0]}x{dilation[1]}: "
        "dilation - 1 zeros (holes, blue) between taps, so it covers a spread-out window.",
        kernels, "dilated", dilate_map(kh, dilation[0]), dilate_map(kw, dilation[1]),
        row_label)


@draws(Conv2d)
def draw_conv2d(ctx: LayerContext, sources: Sequence[Block]) -> Drawn:
    op = ctx.layer.op
    assert isinstance(op, Conv2d)
    padded = pad_stage(ctx, sources, op.padding, op.groups, sides=op.pads(),
                       mode=op.padding_mode)
    groups, per_in = op.groups, op.in_channels // op.groups
    per_out = op.out_channels // groups

    def filter_label(o: int) -> str:
        g = o // per_out
        seen = channel_list(range(g * per_in, (g + 1) * per_in))
        return f"filter {o}" if groups == 1 else f"filter {o} (group {g}: {seen})"

    weight = ctx.names.tensor + "weight"
    weights, bias = weight_stage(
        ctx, "Kernels",
        f"One kernel per filter and input channel it sees ({weight}[out][in/groups], "
        "PyTorch layout), and one bias per filter. Edit the yellow cells.",
        filter_label, lambda b: f"in {b}")
    kernels = dilate_stage(ctx, weights, op.dilation, filter_label)
    height, width = padded[0].shape
    kh, kw = kernels[0][0].shape
    stride = op.stride
    out_size = ((height - kh) // stride[0] + 1, (width - kw) // stride[1] + 1)
    if (op.out_channels, *out_size) != op.output_shape(ctx.layer.in_shape):
        raise AssertionError(f"layout out of step with the op: {out_size}")

    def describe(o: int, channels: Sequence[int]) -> str:
        return f"= Σ over input {channel_list(channels)} of SUMPRODUCT(window, kernel)" + (
            " + bias" if bias is not None else "")

    outputs = conv_stage(
        ctx, f"Each output cell: for every input channel its filter sees, SUMPRODUCT of "
        f"the {kh}x{kw} window (stride {stride[0]}x{stride[1]}) with the kernel, summed, "
        "plus the bias. Select a cell and Trace Precedents to see its window.",
        padded, lambda o, k: kernels[o][k], bias, out_channels=op.out_channels,
        groups=groups, stride=stride, out_size=out_size, describe=describe)
    return Drawn(ctx, list(sources), outputs, windowed=padded, weights=weights,
                 kernels=weights, bias=bias)


def upsample_stage(ctx: LayerContext, op: ConvTranspose2d, sources: Sequence[Block],
                   note: str | None = None) -> list[Block]:
    """Steps 1-2: stride - 1 zeros between input pixels, then padded by
    dilation*(k-1) - padding on each side (cropped where negative), plus output_padding
    at the bottom/right (`op.edges`). `note`: the sheet's own words (a gradient's)."""
    maps = []
    for axis in (0, 1):
        inserted = insert_map(sources[0].shape[axis], op.stride[axis])
        maps.append(compose(pad_map(len(inserted), *op.edges(axis)), inserted))
    return gather_stage(
        ctx, "Upsampled", note or "Steps 1-2 of a transposed convolution: zeros inserted "
        "between input pixels (stride - 1 per gap, orange), then padded with dilation*(k-1) - "
        "padding zeros (grey; cropped if negative), plus output_padding at the "
        "bottom/right.", sources, "upsampled", maps[0], maps[1], "(zero-inserted + padded)",
        op.groups)


@draws(ConvTranspose2d)
def draw_conv_transpose2d(ctx: LayerContext, sources: Sequence[Block]) -> Drawn:
    op = ctx.layer.op
    assert isinstance(op, ConvTranspose2d)
    upsampled = upsample_stage(ctx, op, sources)
    groups = op.groups
    per_in, per_out = op.in_channels // groups, op.out_channels // groups

    def in_label(a: int) -> str:
        return f"input channel {a}" + (f" (group {a // per_in})" if groups > 1 else "")

    weight = ctx.names.tensor + "weight"
    weights, bias = weight_stage(
        ctx, "Weights",
        f"The layer's weights in PyTorch's conv_transpose2d layout {weight}[in][out/groups]"
        ": one kernel per input channel and output channel it feeds. Edit the yellow cells.",
        in_label, lambda b: f"out {b}")
    kh, kw = op.kernel_size
    flipped = kernel_transform_stage(
        ctx, "Flipped", "Step 3: each kernel rotated by 180° (rows and columns reversed): a "
        "transposed convolution is a plain convolution with the flipped kernel.", weights,
        "flipped", flip_map(kh), flip_map(kw), in_label)
    kernels = dilate_stage(ctx, flipped, op.dilation, in_label)

    def kernel_for(o: int, k: int) -> Block:
        g = o // per_out
        return kernels[g * per_in + k][o - g * per_out]

    def describe(o: int, channels: Sequence[int]) -> str:
        return (f"= Σ over upsampled {channel_list(channels)} of SUMPRODUCT(window, flipped "
                "kernel)" + (" + bias" if bias is not None else ""))

    height, width = upsampled[0].shape
    dkh, dkw = kernels[0][0].shape
    out_size = (height - dkh + 1, width - dkw + 1)
    if (op.out_channels, *out_size) != op.output_shape(ctx.layer.in_shape):
        raise AssertionError(f"layout out of step with the op: {out_size}")
    outputs = conv_stage(
        ctx, "Step 4: a plain convolution (stride 1) of the upsampled input with the "
        "flipped kernels, plus the bias. Select a cell and Trace Precedents to see its "
        "window.", upsampled, kernel_for, bias, out_channels=op.out_channels,
        groups=groups, stride=(1, 1), out_size=out_size, describe=describe)
    return Drawn(ctx, list(sources), outputs, windowed=upsampled, weights=weights,
                 kernels=flipped, bias=bias)
