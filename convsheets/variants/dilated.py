"""Dilated (atrous) convolution: the kernel with holes covers a spread-out window."""

from .base import Variant, direct_conv
from .pipeline import Plan, input_stage


def build(plan: Plan) -> None:
    spec = plan.spec
    direct_conv(plan, input_stage(plan), groups=1, out_channels=spec.out_channels,
                kernel_sheet="Kernels", out_sheet="Output", out_prefix="",
                padding=spec.padding, stride=spec.stride, dilation=spec.dilation)


VARIANT = Variant(
    name="dilated",
    torch="torch.nn.functional.conv2d(x, weight, bias, stride, padding, dilation=d)",
    summary="dilated (atrous) convolution: the kernel's taps are spread d pixels apart",
    steps=(
        "Insert dilation - 1 zeros (holes) between the taps of every kernel: the dilated "
        "kernel spans d*(k-1)+1 cells but has only k*k non-zero weights.",
        "Convolve the (padded) input with the dilated kernel exactly like a simple convolution:"
        " the holes skip pixels, so each output sees a spread-out window.",
        "Sum over the input channels and add the bias.",
    ),
    build=build,
)
