"""hardsigmoid: min(max(x + 3, 0), 6) / 6 per cell (`torch.nn.Hardsigmoid`): a piecewise-linear
sigmoid, 0 below -3, 1 above 3."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from ._elementwise import Elementwise


@dataclass(frozen=True)
class Hardsigmoid(Elementwise):
    op: ClassVar[str] = "hardsigmoid"
    module: ClassVar[str] = "Hardsigmoid"
    default_prefix: ClassVar[str] = "hardsigmoid"
    summary: ClassVar[str] = "Hardsigmoid: MIN(MAX(x + 3, 0), 6) / 6, a straight-line sigmoid"
    options: ClassVar[dict[str, tuple[str, object]]] = {}
    differentiable: ClassVar[bool] = True

    def extra_repr(self) -> str:
        return ""

    def steps(self) -> tuple[str, ...]:
        return ("Every cell becomes MIN(MAX(x + 3, 0), 6) / 6: 0 below -3, 1 above 3, a straight "
                "line between; the shape does not change and there are no weights.",)

    def cell(self, x: str) -> str:
        return f"MIN(MAX({x}+3,0),6)/6"

    def rule(self) -> str:
        return "MIN(MAX(x + 3, 0), 6) / 6"

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        return np.minimum(np.maximum(np.asarray(x, dtype=np.float64) + 3.0, 0.0), 6.0) / 6.0

    # ------------------------------------------------------------------ the backward pass
    def grad_cell(self, x: str, g: str, y: str) -> str:
        return f"IF(AND({x}>-3,{x}<3),{g}/6,0)"

    def grad_rule(self) -> str:
        return "IF(AND(x > -3, x < 3), g / 6, 0)"

    def grad_note(self) -> str:
        return ("the slope is 1/6 strictly between -3 and 3 (the straight line) and 0 outside, "
                "and PyTorch passes 0 at -3 and 3 themselves.")

    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return grad.hardsigmoid_backward(x, grad_y), {}
