"""adaptive_max_pool2d: the largest value of each of output_size² windows that cover the
input (`torch.nn.AdaptiveMaxPool2d`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ._adaptive import AdaptivePool2d


@dataclass(frozen=True)
class AdaptiveMaxPool2d(AdaptivePool2d):
    op: ClassVar[str] = "adaptive_max_pool2d"
    module: ClassVar[str] = "AdaptiveMaxPool2d"
    default_prefix: ClassVar[str] = "adaptivemax"
    summary: ClassVar[str] = ("adaptive max pooling: the input cut into output_size windows, "
                              "each cell the MAX of its window")
    function: ClassVar[str] = "MAX"
    unsupported: ClassVar[dict[str, tuple[object, str]]] = {
        "return_indices": (False, "is not supported: a workbook shows values, not argmax "
                           "indices")}
