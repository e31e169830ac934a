"""Grouped convolution: filters in group g see only group g's input channels."""

from .base import Variant, direct_conv
from .pipeline import Plan, input_stage


def build(plan: Plan) -> None:
    spec = plan.spec
    direct_conv(plan, input_stage(plan), groups=spec.groups, out_channels=spec.out_channels,
                kernel_sheet="Kernels", out_sheet="Output", out_prefix="",
                padding=spec.padding, stride=spec.stride, dilation=spec.dilation)


VARIANT = Variant(
    name="grouped",
    torch="torch.nn.functional.conv2d(x, weight, bias, stride, padding, dilation, groups=g)",
    summary="grouped convolution: channels split into g groups, each with its own filters",
    steps=(
        "Split the input channels into `groups` equal groups, and the filters likewise.",
        "Each filter has depth in_channels / groups: it sees only its group's channels.",
        "Convolve each group like a simple convolution; stack the groups' outputs.",
    ),
    build=build,
)
