"""Dilated (atrous) convolution: the kernel with holes covers a spread-out window."""

from .base import CONV, Variant

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
    honoured=CONV,
    fixed=lambda fields: {**fields, "groups": 1},
)
