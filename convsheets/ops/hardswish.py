"""hardswish: x · min(max(x + 3, 0), 6) / 6 per cell (`torch.nn.Hardswish`, MobileNetV3's
activation): x times a hard sigmoid of x."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from ._elementwise import Elementwise


@dataclass(frozen=True)
class Hardswish(Elementwise):
    op: ClassVar[str] = "hardswish"
    module: ClassVar[str] = "Hardswish"
    default_prefix: ClassVar[str] = "hardswish"
    summary: ClassVar[str] = "Hardswish: x · MIN(MAX(x + 3, 0), 6) / 6"
    options: ClassVar[dict[str, tuple[str, object]]] = {}
    differentiable: ClassVar[bool] = True

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

    # ------------------------------------------------------------------ the backward pass
    def grad_cell(self, x: str, g: str, y: str) -> str:
        return f"IF({x}<=-3,0,IF({x}<3,{g}*({x}/3+0.5),{g}))"

    def grad_rule(self) -> str:
        return "IF(x <= -3, 0, IF(x < 3, g·(x/3 + 0.5), g))"

    def grad_note(self) -> str:
        return ("x · MIN(MAX(x + 3, 0), 6) / 6 is 0 below -3, x·(x + 3)/6 between (slope "
                "x/3 + 0.5) and x above 3 (slope 1); at -3 and 3 themselves PyTorch takes the "
                "outer slopes, 0 and 1.")

    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return grad.hardswish_backward(x, grad_y), {}
