"""dropout: in evaluation (what a trained model computes, and what a workbook shows) every value
passes unchanged (`torch.nn.Dropout` in eval mode: dropping happens only while training)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from ..errors import SpecError
from ._elementwise import Elementwise
from .base import Shape


@dataclass(frozen=True)
class Dropout(Elementwise):
    p: float = 0.5
    inplace: bool = False

    op: ClassVar[str] = "dropout"
    module: ClassVar[str] = "Dropout"
    default_prefix: ClassVar[str] = "dropout"
    summary: ClassVar[str] = ("dropout (evaluation mode): every value passes unchanged; "
                              "dropping happens only while training")
    options: ClassVar[dict[str, tuple[str, object]]] = {"p": ("float", 0.5),
                                                         "inplace": ("bool", False)}
    differentiable: ClassVar[bool] = True

    def check(self, in_shape: Shape) -> None:
        if not 0 <= self.p <= 1:
            raise SpecError("p", self.p, "must be between 0 and 1 (a probability), as in "
                            "PyTorch")

    def extra_repr(self) -> str:
        """PyTorch's `_DropoutNd.extra_repr`."""
        return f"p={self.p}, inplace={self.inplace}"

    def steps(self) -> tuple[str, ...]:
        return (f"In evaluation mode dropout does nothing: every cell is the same cell of the "
                f"input (while training, PyTorch zeroes each value with probability {self.p} "
                f"and scales the rest by 1/(1-p); a trained model is evaluated without it).",)

    def cell(self, x: str) -> str:
        return x

    def rule(self) -> str:
        return "x (evaluation mode: unchanged)"

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(x, dtype=np.float64).copy()

    # ------------------------------------------------------------------ the backward pass
    grad_reads: ClassVar[str] = ""

    def grad_cell(self, x: str, g: str, y: str) -> str:
        return g

    def grad_rule(self) -> str:
        return "g (evaluation mode: unchanged)"

    def grad_note(self) -> str:
        return ("in evaluation mode every value passed unchanged (slope 1), so the gradient "
                "passes unchanged (while training, PyTorch would zero it where the value was "
                "dropped and scale the rest by 1/(1-p), as the forward pass).")

    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return grad.identity_backward(x, grad_y), {}
