"""Depth-wise separable convolution: depth-wise, then point-wise (1x1)."""

from .base import Variant, direct_conv
from .pipeline import Plan, input_stage


def build(plan: Plan) -> None:
    spec = plan.spec
    depthwise = direct_conv(
        plan, input_stage(plan), prefix="depthwise_", groups=spec.in_channels,
        out_channels=spec.mid_channels, kernel_sheet="DepthwiseKernels",
        out_sheet="DepthwiseOutput", out_prefix="depthwise_", padding=spec.padding,
        stride=spec.stride, dilation=spec.dilation)
    direct_conv(plan, depthwise, prefix="pointwise_", groups=1,
                out_channels=spec.out_channels, kernel_sheet="PointwiseKernels",
                out_sheet="Output", out_prefix="", padding=(0, 0), stride=(1, 1),
                dilation=(1, 1))


VARIANT = Variant(
    name="separable",
    torch="conv2d(conv2d(x, dw_weight, dw_bias, stride, padding, dilation, groups=C), "
    "pw_weight, pw_bias)",
    summary="depth-wise separable convolution: depth-wise conv, then a 1x1 point-wise conv",
    steps=(
        "Depth-wise: one depth-1 kernel per input channel, each channel convolved separately "
        "(DepthwiseKernels, DepthwiseOutput).",
        "Stack the per-channel feature maps: the intermediate volume (DepthwiseOutput).",
        "Point-wise: a 1x1 convolution with as many filters as output channels wanted, "
        "applied to the depth-wise output (PointwiseKernels, Output).",
        "Far fewer weights than a simple convolution of the same shape: see the counts below.",
    ),
    build=build,
)
