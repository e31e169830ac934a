"""Depth-wise convolution: one kernel of depth 1 per channel (groups = channels)."""

from .base import Variant, single_conv

VARIANT = Variant(
    name="depthwise",
    torch="torch.nn.functional.conv2d(x, weight, bias, stride, padding, dilation, groups=C)",
    summary="depth-wise convolution: each channel convolved separately with its own kernel",
    steps=(
        "Take as many kernels as input channels (times the depth multiplier), each of "
        "depth 1: e.g. a 6x6 input with 16 channels and 3x3 kernels has 16 3x3 kernels.",
        "Every channel has its own kernel, convolved over that channel alone: 16 feature maps.",
        "Stack the feature maps: the output volume (4x4 with 16 channels in the example).",
    ),
    build=single_conv,
)
