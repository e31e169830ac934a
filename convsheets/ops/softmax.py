"""softmax: e^x / the SUM of e^x over the channels of each pixel, or over a vector's features
(`torch.nn.Softmax`): positive values that sum to 1, class probabilities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ._softmax import SoftmaxBase


@dataclass(frozen=True)
class Softmax(SoftmaxBase):
    op: ClassVar[str] = "softmax"
    module: ClassVar[str] = "Softmax"
    default_prefix: ClassVar[str] = "softmax"
    summary: ClassVar[str] = ("softmax over the channels (dim=1): EXP(x - max) / SUM, "
                              "probabilities that sum to 1")
