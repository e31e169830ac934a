"""tanh: the hyperbolic tangent per cell (`torch.nn.Tanh`): every value squashed into (-1, 1),
the classic LeNet-5 activation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from ._elementwise import Elementwise


@dataclass(frozen=True)
class Tanh(Elementwise):
    op: ClassVar[str] = "tanh"
    module: ClassVar[str] = "Tanh"
    default_prefix: ClassVar[str] = "tanh"
    summary: ClassVar[str] = "tanh: every value squashed into (-1, 1) by TANH(x)"
    options: ClassVar[dict[str, tuple[str, object]]] = {}
    differentiable: ClassVar[bool] = True

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

    # ------------------------------------------------------------------ the backward pass
    grad_reads: ClassVar[str] = "y"

    def grad_cell(self, x: str, g: str, y: str) -> str:
        return f"{g}*(1-{y}^2)"

    def grad_rule(self) -> str:
        return "g · (1 - y²)"

    def grad_note(self) -> str:
        return ("the slope of TANH(x) is 1 - TANH(x)², read from the layer's output y = "
                "TANH(x) (as PyTorch's tanh_backward does): 1 at x = 0, nearly 0 where tanh "
                "is close to -1 or 1, so little gradient passes there.")

    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return grad.tanh_backward(x, grad_y), {}
