"""gelu: x · Φ(x) per cell, Φ the standard normal's distribution function (`torch.nn.GELU`):
approximate='none' (PyTorch's default) through ERF, approximate='tanh' through TANH.

ERF of a negative argument is fine in Excel 2010+ (Excel 2007 and earlier gave #NUM!),
LibreOffice, Gnumeric and IronCalc; IronCalc's ERF is accurate to about 5e-11, the others' to
the last digits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import SpecError
from ._elementwise import Elementwise
from .base import Shape

APPROXIMATIONS = ("none", "tanh")


def _erf(x: np.ndarray) -> np.ndarray:
    """erf in float64, by the standard library's libm erf, cell by cell (NumPy has none)."""
    import math

    return np.vectorize(math.erf, otypes=[np.float64])(x)


@dataclass(frozen=True)
class GELU(Elementwise):
    approximate: str = "none"

    op: ClassVar[str] = "gelu"
    module: ClassVar[str] = "GELU"
    default_prefix: ClassVar[str] = "gelu"
    summary: ClassVar[str] = "GELU: x · Φ(x), by ERF (or TANH with approximate='tanh')"
    options: ClassVar[dict[str, tuple[str, object]]] = {"approximate": ("str", "none")}

    def check(self, in_shape: Shape) -> None:
        if self.approximate not in APPROXIMATIONS:
            raise SpecError("approximate", self.approximate,
                            "must be 'none' or 'tanh', as in PyTorch")

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"

    def steps(self) -> tuple[str, ...]:
        if self.approximate == "tanh":
            return ("Every cell becomes 0.5·x·(1 + TANH(SQRT(2/PI())·(x + 0.044715·x³))), "
                    "PyTorch's tanh approximation of GELU; the shape does not change and there "
                    "are no weights.",)
        return ("Every cell becomes x · 0.5 · (1 + ERF(x / SQRT(2))): x times the probability "
                "that a standard normal value is below x (GELU); the shape does not change and "
                "there are no weights.",)

    def cell(self, x: str) -> str:
        if self.approximate == "tanh":
            return f"0.5*{x}*(1+TANH(SQRT(2/PI())*({x}+0.044715*{x}^3)))"
        return f"{x}*0.5*(1+ERF({x}/SQRT(2)))"

    def rule(self) -> str:
        if self.approximate == "tanh":
            return "0.5·x·(1 + TANH(SQRT(2/PI())·(x + 0.044715·x³)))"
        return "x · 0.5 · (1 + ERF(x / SQRT(2)))"

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        """PyTorch's two formulas (`aten/src/ATen/native/cpu/Activation.cpp`)."""
        x = np.asarray(x, dtype=np.float64)
        if self.approximate == "tanh":
            inner = np.sqrt(2.0 / np.pi) * (x + 0.044715 * x * x * x)
            return 0.5 * x * (1.0 + np.tanh(inner))
        return x * 0.5 * (1.0 + _erf(x * np.sqrt(0.5)))
