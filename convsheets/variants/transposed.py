"""Transposed convolution: zero-insertion + padding, then a plain convolution, flipped kernel."""

from ..spec import LayerSpec
from .base import Variant
from .pipeline import (
    Plan,
    channel_list,
    conv_stage,
    dilate_stage,
    flip_stage,
    input_stage,
    upsample_stage,
    weight_stage,
)


def build(plan: Plan) -> None:
    spec: LayerSpec = plan.spec
    upsampled = upsample_stage(plan, input_stage(plan), spec)
    groups = spec.groups
    per_in, per_out = spec.in_channels // groups, spec.out_channels // groups

    def in_label(a: int) -> str:
        return f"input channel {a}" + (f" (group {a // per_in})" if groups > 1 else "")

    weights, bias = weight_stage(
        plan, "Weights", "weight", "bias",
        "The layer's weights in PyTorch's conv_transpose2d layout weight[in][out/groups]: "
        "one kernel per input channel and output channel it feeds. Edit the yellow cells.",
        in_label, lambda b: f"out {b}")
    kernels = dilate_stage(plan, flip_stage(plan, weights, in_label), spec.dilation, in_label)

    def kernel_for(o: int, k: int) -> object:
        g = o // per_out
        return kernels[g * per_in + k][o - g * per_out]

    def describe(o: int, channels: list[int]) -> str:
        return (f"= Σ over upsampled {channel_list(channels)} of SUMPRODUCT(window, flipped "
                "kernel)" + (" + bias" if bias is not None else ""))

    height, width = upsampled[0].shape
    kh, kw = kernels[0][0].shape
    out_size = (height - kh + 1, width - kw + 1)
    if out_size != spec.output_size:
        raise AssertionError(f"layout out of step with spec: {out_size} != {spec.output_size}")
    conv_stage(
        plan, "Output", "Step 4: a plain convolution (stride 1) of the upsampled input with the "
        "flipped kernels, plus the bias. Select a cell and Trace Precedents to see its window.",
        upsampled, kernel_for, bias, out_channels=spec.out_channels, groups=groups,
        stride=(1, 1), out_size=out_size, out_name=lambda o: f"output_c{o}",
        describe=describe)


VARIANT = Variant(
    name="transposed",
    torch="torch.nn.functional.conv_transpose2d(x, weight, bias, stride, padding, "
    "output_padding, groups, dilation)",
    summary="transposed convolution (upsampling): zero-insertion, then a plain convolution",
    steps=(
        "Take the input volume and add stride - 1 zeros between neighbouring pixels "
        "(for stride 2: a 0 at each alternate position). This gives a new volume.",
        "Pad it with dilation*(k-1) - padding zeros on each side (crop if negative), plus "
        "output_padding zeros at the bottom and right.",
        "Flip every kernel by 180° (and insert holes if dilated).",
        "Apply a basic convolution, stride 1, on the new volume with the flipped kernels.",
    ),
    build=build,
)
