"""adaptive_avg_pool2d: the average of each of output_size² windows that cover the input
(`torch.nn.AdaptiveAvgPool2d`; output_size 1 is global average pooling)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ._adaptive import AdaptivePool2d


@dataclass(frozen=True)
class AdaptiveAvgPool2d(AdaptivePool2d):
    op: ClassVar[str] = "adaptive_avg_pool2d"
    module: ClassVar[str] = "AdaptiveAvgPool2d"
    default_prefix: ClassVar[str] = "adaptiveavg"
    summary: ClassVar[str] = ("adaptive average pooling: the input cut into output_size "
                              "windows, each cell the AVERAGE of its window")
    function: ClassVar[str] = "AVERAGE"
