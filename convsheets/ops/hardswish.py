"""hardswish: x · min(max(x + 3, 0), 6) / 6 per cell (`torch.nn.Hardswish`, MobileNetV3's
activation): x times a hard sigmoid of x."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ._elementwise import Elementwise


@dataclass(frozen=True)
class Hardswish(Elementwise):
    op: ClassVar[str] = "hardswish"
    module: ClassVar[str] = "Hardswish"
    default_prefix: ClassVar[str] = "hardswish"
    summary: ClassVar[str] = "Hardswish: x · MIN(MAX(x + 3, 0), 6) / 6"
    options: ClassVar[dict[str, tuple[str, object]]] = {}

    def extra_repr(self) -> str:
        return ""

    def steps(self) -> tuple[str, ...]:
        return ("Every cell becomes x · MIN(MAX(x + 3, 0), 6) / 6: 0 below -3, x above 3, a "
                "curve between; the shape does not change and there are no weights.",)

    def cell(self, x: str) -> str:
        return f"{x}*MIN(MAX({x}+3,0),6)/6"

    def rule(self) -> str:
        return "x · MIN(MAX(x + 3, 0), 6) / 6"

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return x * np.minimum(np.maximum(x + 3.0, 0.0), 6.0) / 6.0
