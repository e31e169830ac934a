"""Simple convolution: multi-channel, strided, padded (conv2d with groups = 1)."""

from .base import CONV, Variant

VARIANT = Variant(
    name="basic",
    torch="torch.nn.functional.conv2d(x, weight, bias, stride, padding, dilation, groups=1)",
    summary="simple multi-channel strided convolution: each filter spans all input channels",
    steps=(
        "Start from the top left corner of the (zero-padded) input volume.",
        "Take a slice of the input volume as large as the kernel, through all channels.",
        "Multiply the slice and the kernel element-wise (one SUMPRODUCT per channel).",
        "Add the results over the channels, and add the filter's bias.",
        "Stride s steps right if possible, else s steps down from the leftmost column.",
        "Repeat until the kernel cannot go further; each filter gives one output channel.",
    ),
    honoured=CONV,
    fixed=lambda fields: {**fields, "groups": 1},
)
