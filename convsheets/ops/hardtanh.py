"""hardtanh: x clamped to [min_val, max_val] per cell (`torch.nn.Hardtanh`, defaults -1 and
1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from ..errors import SpecError
from ._elementwise import Elementwise, number
from .base import Shape


@dataclass(frozen=True)
class Hardtanh(Elementwise):
    min_val: float = -1.0
    max_val: float = 1.0

    op: ClassVar[str] = "hardtanh"
    module: ClassVar[str] = "Hardtanh"
    default_prefix: ClassVar[str] = "hardtanh"
    summary: ClassVar[str] = "Hardtanh: every value clamped to [min_val, max_val] ([-1, 1])"
    options: ClassVar[dict[str, tuple[str, object]]] = {
        "min_val": ("float", -1.0), "max_val": ("float", 1.0)}
    differentiable: ClassVar[bool] = True

    def check(self, in_shape: Shape) -> None:
        if not self.max_val > self.min_val:
            raise SpecError("max_val", self.max_val,
                            f"must be greater than min_val ({self.min_val}), as PyTorch asserts")

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"

    def steps(self) -> tuple[str, ...]:
        return (f"Every cell becomes MIN(MAX(x, {number(self.min_val)}), "
                f"{number(self.max_val)}): values below min_val become min_val, values above "
                "max_val become max_val; the shape does not change and there are no weights.",)

    def cell(self, x: str) -> str:
        return f"MIN(MAX({x},{number(self.min_val)}),{number(self.max_val)})"

    def rule(self) -> str:
        return f"MIN(MAX(x, {number(self.min_val)}), {number(self.max_val)})"

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        return np.minimum(np.maximum(np.asarray(x, dtype=np.float64), self.min_val),
                          self.max_val)

    # ------------------------------------------------------------------ the backward pass
    def grad_cell(self, x: str, g: str, y: str) -> str:
        return f"IF(AND({x}>{number(self.min_val)},{x}<{number(self.max_val)}),{g},0)"

    def grad_rule(self) -> str:
        return f"IF(AND(x > {number(self.min_val)}, x < {number(self.max_val)}), g, 0)"

    def grad_note(self) -> str:
        return ("the slope is 1 strictly between min_val and max_val and 0 where the value was "
                "clamped; PyTorch passes 0 at min_val and max_val themselves.")

    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return grad.hardtanh_backward(x, grad_y, self.min_val, self.max_val), {}
