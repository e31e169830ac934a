"""Transposed convolution: zero-insertion + padding, then a plain convolution, flipped kernel."""

from ..network import LayerNames
from .base import CONV, Entry, Variant, conv_options


def _layers(spec) -> list[Entry]:  # type: ignore[no-untyped-def]
    return [(None, "conv_transpose2d",
             conv_options(spec, output_padding=spec.output_padding), LayerNames())]


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
    honoured=CONV | {"output_padding", "groups"},
    layers=_layers,
)
