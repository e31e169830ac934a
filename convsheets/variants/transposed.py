"""Transposed convolution: zero-insertion + padding, then a plain convolution, flipped kernel."""

from ..network import LayerNames
from ..ops import ConvTranspose2d
from .base import CONV, Entry, Variant, conv_options


def _layers(spec) -> list[Entry]:  # type: ignore[no-untyped-def]
    return [(None, "conv_transpose2d",
             conv_options(spec, output_padding=spec.output_padding), LayerNames())]


VARIANT = Variant(
    name="transposed",
    torch="torch.nn.functional.conv_transpose2d(x, weight, bias, stride, padding, "
    "output_padding, groups, dilation)",
    summary="transposed convolution (upsampling): zero-insertion, then a plain convolution",
    steps=ConvTranspose2d.STEPS,
    honoured=CONV | {"output_padding", "groups"},
    layers=_layers,
)
