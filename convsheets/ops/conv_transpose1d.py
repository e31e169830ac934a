"""conv_transpose1d: zero-insertion between the positions of a sequence, padding by
dilation*(k-1) - padding (cropping where negative, + output_padding on the right), then a plain
stride-1 convolution with the flipped kernels (`torch.nn.ConvTranspose1d`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ._seq import Sequence1d
from .conv_transpose2d import ConvTranspose2d


@dataclass(frozen=True)
class ConvTranspose1d(Sequence1d, ConvTranspose2d):
    op: ClassVar[str] = "conv_transpose1d"
    module: ClassVar[str] = "ConvTranspose1d"
    default_prefix: ClassVar[str] = "tconv"
    summary: ClassVar[str] = ("1-D transposed convolution (upsampling): zero-insertion, then a "
                              "plain convolution with the flipped kernels")
    STEPS: ClassVar[tuple[str, ...]] = (
        "Take the sequence and add stride - 1 zeros between neighbouring positions.",
        "Pad it with dilation*(k-1) - padding zeros on each side (crop if negative), plus "
        "output_padding zeros on the right.",
        "Reverse every kernel (and insert holes if dilated).",
        "Apply a basic 1-D convolution, stride 1, on the new sequence with the reversed "
        "kernels.",
    )
