"""elu: x where x > 0, else alpha · (e^x - 1) per cell (`torch.nn.ELU`, alpha 1.0)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from ._elementwise import Elementwise, number


@dataclass(frozen=True)
class ELU(Elementwise):
    alpha: float = 1.0

    op: ClassVar[str] = "elu"
    module: ClassVar[str] = "ELU"
    default_prefix: ClassVar[str] = "elu"
    summary: ClassVar[str] = "ELU: x if x > 0, else alpha · (EXP(x) - 1)"
    options: ClassVar[dict[str, tuple[str, object]]] = {"alpha": ("float", 1.0)}
    differentiable: ClassVar[bool] = True

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"

    def steps(self) -> tuple[str, ...]:
        return (f"Every cell becomes x if x > 0, else {number(self.alpha)}·(EXP(x) - 1) "
                "(alpha): negative values bend smoothly towards -alpha; the cells write "
                "EXP(MIN(x, 0)) so that EXP never overflows. The shape does not change and "
                "there are no weights.",)

    def _times(self, sep: str) -> str:
        return "" if self.alpha == 1 else f"{number(self.alpha)}{sep}"

    def cell(self, x: str) -> str:
        return f"IF({x}>0,{x},{self._times('*')}(EXP(MIN({x},0))-1))"

    def rule(self) -> str:
        return f"IF(x > 0, x, {self._times('·')}(EXP(x) - 1))"

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0.0)))

    # ------------------------------------------------------------------ the backward pass
    def grad_cell(self, x: str, g: str, y: str) -> str:
        return f"IF({x}>0,{g},{self._times('*')}{g}*EXP(MIN({x},0)))"

    def grad_rule(self) -> str:
        return f"IF(x > 0, g, {self._times('·')}g·EXP(x))"

    def grad_note(self) -> str:
        return (f"the slope is 1 where x > 0 and {number(self.alpha)}·EXP(x) (alpha·EXP(x), the "
                "slope of alpha·(EXP(x) - 1)) where x <= 0, x = 0 included, as PyTorch; the "
                "cells write EXP(MIN(x, 0)) so that EXP never overflows.")

    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return grad.elu_backward(x, grad_y, self.alpha), {}
