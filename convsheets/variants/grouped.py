"""Grouped convolution: filters in group g see only group g's input channels."""

from .base import CONV, Variant

VARIANT = Variant(
    name="grouped",
    torch="torch.nn.functional.conv2d(x, weight, bias, stride, padding, dilation, groups=g)",
    summary="grouped convolution: channels split into g groups, each with its own filters",
    steps=(
        "Split the input channels into g equal groups (g = groups), and the filters likewise.",
        "Each filter has depth in_channels / groups: it sees only its group's channels.",
        "Convolve each group like a simple convolution; stack the groups' outputs.",
    ),
    honoured=CONV | {"groups"},
)
