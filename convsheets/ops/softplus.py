"""softplus: log(1 + e^(beta·x)) / beta per cell, x itself where beta·x > threshold
(`torch.nn.Softplus`, beta 1.0, threshold 20.0): a smooth ReLU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from ..errors import SpecError
from ._elementwise import Elementwise, number, stable_sigmoid
from .base import Shape


@dataclass(frozen=True)
class Softplus(Elementwise):
    beta: float = 1.0
    threshold: float = 20.0

    op: ClassVar[str] = "softplus"
    module: ClassVar[str] = "Softplus"
    default_prefix: ClassVar[str] = "softplus"
    summary: ClassVar[str] = "Softplus: LN(1 + EXP(beta·x)) / beta, a smooth ReLU"
    options: ClassVar[dict[str, tuple[str, object]]] = {
        "beta": ("float", 1.0), "threshold": ("float", 20.0)}
    differentiable: ClassVar[bool] = True

    def check(self, in_shape: Shape) -> None:
        if self.beta == 0:
            raise SpecError("beta", self.beta, "must not be 0 (softplus divides by beta)")

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"

    def _bx(self, x: str) -> str:
        return x if self.beta == 1 else f"{number(self.beta)}*{x}"

    def steps(self) -> tuple[str, ...]:
        return (f"Every cell becomes LN(1 + EXP({self._bx('x')})) / {number(self.beta)} (beta), "
                f"or x itself where {self._bx('x')} > {number(self.threshold)} (threshold, where "
                "the two agree to many digits); the cells write EXP(MIN(beta·x, threshold)) so "
                "that EXP never overflows. The shape does not change and there are no "
                "weights.",)

    def cell(self, x: str) -> str:
        bx, t = self._bx(x), number(self.threshold)
        divided = "" if self.beta == 1 else f"/{number(self.beta)}"
        return f"IF({bx}>{t},{x},LN(1+EXP(MIN({bx},{t}))){divided})"

    def rule(self) -> str:
        bx, t = self._bx("x"), number(self.threshold)
        divided = "" if self.beta == 1 else f" / {number(self.beta)}"
        return f"IF({bx} > {t}, x, LN(1 + EXP({bx})){divided})"

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        """PyTorch's ``x if x·beta > threshold else log1p(exp(x·beta)) / beta``."""
        x = np.asarray(x, dtype=np.float64)
        bx = x * self.beta
        with np.errstate(over="ignore"):
            return np.where(bx > self.threshold, x, np.log1p(np.exp(bx)) / self.beta)

    # ------------------------------------------------------------------ the backward pass
    def grad_cell(self, x: str, g: str, y: str) -> str:
        bx, t = self._bx(x), number(self.threshold)
        return f"IF({bx}>{t},{g},{g}*{stable_sigmoid(bx)})"

    def grad_rule(self) -> str:
        bx, t = self._bx("x"), number(self.threshold)
        return f"IF({bx} > {t}, g, g / (1 + EXP(-{bx})))"

    def grad_note(self) -> str:
        return ("the slope of LN(1 + EXP(beta·x)) / beta is EXP(beta·x) / (1 + EXP(beta·x)), "
                "the sigmoid of beta·x (written EXP(MIN(bx, 0)) / (1 + EXP(-ABS(bx))) so that "
                "EXP never overflows); where beta·x > threshold the layer passed x itself, "
                "slope 1, and g passes unchanged (PyTorch's softplus_backward).")

    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return grad.softplus_backward(x, grad_y, self.beta, self.threshold), {}
