"""tanh: the hyperbolic tangent per cell (`torch.nn.Tanh`): every value squashed into (-1, 1),
the classic LeNet-5 activation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ._elementwise import Elementwise


@dataclass(frozen=True)
class Tanh(Elementwise):
    op: ClassVar[str] = "tanh"
    module: ClassVar[str] = "Tanh"
    default_prefix: ClassVar[str] = "tanh"
    summary: ClassVar[str] = "tanh: every value squashed into (-1, 1) by TANH(x)"
    options: ClassVar[dict[str, tuple[str, object]]] = {}

    def extra_repr(self) -> str:
        return ""

    def steps(self) -> tuple[str, ...]:
        return ("Every cell becomes TANH(x) = (e^x - e^-x) / (e^x + e^-x): values are squashed "
                "into (-1, 1), 0 stays 0; the shape does not change and there are no weights.",)

    def cell(self, x: str) -> str:
        return f"TANH({x})"

    def rule(self) -> str:
        return "TANH(x)"

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        return np.tanh(np.asarray(x, dtype=np.float64))
