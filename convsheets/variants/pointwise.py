"""1x1 convolution (network in network): a small MLP applied at every pixel."""

from .base import Variant, single_conv

VARIANT = Variant(
    name="pointwise",
    torch="torch.nn.functional.conv2d(x, weight, bias, stride) with a 1x1 weight",
    summary="1x1 convolution: a weighted sum across channels at every pixel (an MLP per pixel)",
    steps=(
        "Every filter is 1x1 with one weight per input channel: the Kernels sheet is a "
        "matrix, filters by input channels.",
        "At every pixel, each output channel is the weighted sum of that pixel's input "
        "channels plus a bias: the same small MLP at every pixel, no flattening.",
        "Use it to shrink or grow the number of channels (a bottleneck): see the weight "
        "arithmetic below, live.",
    ),
    build=single_conv,
)
