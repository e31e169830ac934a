"""sigmoid: 1 / (1 + e^-x) per cell (`torch.nn.Sigmoid`): every value squashed into (0, 1).
The formula is written so that EXP never overflows (see `stable_sigmoid`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from ._elementwise import Elementwise, stable_sigmoid


@dataclass(frozen=True)
class Sigmoid(Elementwise):
    op: ClassVar[str] = "sigmoid"
    module: ClassVar[str] = "Sigmoid"
    default_prefix: ClassVar[str] = "sigmoid"
    summary: ClassVar[str] = "sigmoid: every value squashed into (0, 1) by 1 / (1 + EXP(-x))"
    options: ClassVar[dict[str, tuple[str, object]]] = {}
    differentiable: ClassVar[bool] = True

    def extra_repr(self) -> str:
        return ""

    def steps(self) -> tuple[str, ...]:
        return ("Every cell becomes 1 / (1 + EXP(-x)): large negative values go to 0, large "
                "positive ones to 1, 0 to 0.5; the shape does not change and there are no "
                "weights. The cells compute it as EXP(MIN(x, 0)) / (1 + EXP(-ABS(x))), the same "
                "number, so that EXP never overflows for very negative x.",)

    def cell(self, x: str) -> str:
        return stable_sigmoid(x)

    def rule(self) -> str:
        return "1 / (1 + EXP(-x))"

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-x))

    # ------------------------------------------------------------------ the backward pass
    grad_reads: ClassVar[str] = "y"

    def grad_cell(self, x: str, g: str, y: str) -> str:
        return f"{g}*{y}*(1-{y})"

    def grad_rule(self) -> str:
        return "g · y · (1 - y)"

    def grad_note(self) -> str:
        return ("the slope of the sigmoid s = 1 / (1 + EXP(-x)) is s·(1 - s), read from the "
                "layer's output y = s (as PyTorch's sigmoid_backward does): 1/4 at x = 0, nearly "
                "0 where the sigmoid is close to 0 or 1, so little gradient passes there.")

    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return grad.sigmoid_backward(x, grad_y), {}
