"""Depth-wise convolution: one kernel of depth 1 per channel (groups = channels)."""

from .base import CONV, Variant


def _fixed(fields: dict[str, object]) -> dict[str, object]:
    """groups = channels and out_channels = channels x depth multiplier, by definition."""
    c = fields.get("in_channels")
    if isinstance(c, int):
        fields["groups"] = c
        fields["out_channels"] = c * int(fields.get("depth_multiplier", 1))  # type: ignore[call-overload]
    return fields


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
    honoured=(CONV - {"out_channels"}) | {"depth_multiplier"},
    fixed=_fixed,
    refusals={"out_channels": "a depthwise convolution has out_channels = in_channels x "
              "depth_multiplier; set --depth-multiplier"},
)
