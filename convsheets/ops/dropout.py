"""dropout: in evaluation (what a trained model computes, and what a workbook shows) every value
passes unchanged (`torch.nn.Dropout` in eval mode: dropping happens only while training)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

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
