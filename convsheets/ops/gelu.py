"""gelu: x · Φ(x) per cell, Φ the standard normal's distribution function (`torch.nn.GELU`):
approximate='none' (PyTorch's default) through ERF, approximate='tanh' through TANH.

ERF of a negative argument is fine in Excel 2010+ (Excel 2007 and earlier gave #NUM!),
LibreOffice, Gnumeric and IronCalc; IronCalc's ERF is accurate to about 5e-11, the others' to
the last digits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
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
    differentiable: ClassVar[bool] = True

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

    # ------------------------------------------------------------------ the backward pass
    def _t(self, x: str) -> str:
        """The forward formula's TANH(...) (approximate='tanh'), on cell `x`."""
        return f"TANH(SQRT(2/PI())*({x}+0.044715*{x}^3))"

    def grad_cell(self, x: str, g: str, y: str) -> str:
        if self.approximate == "tanh":
            t = self._t(x)
            return (f"{g}*(0.5*(1+{t})+0.5*{x}*(1-{t}^2)*SQRT(2/PI())"
                    f"*(1+3*0.044715*{x}^2))")
        return f"{g}*(0.5*(1+ERF({x}/SQRT(2)))+{x}*EXP(-0.5*{x}*{x})/SQRT(2*PI()))"

    def grad_rule(self) -> str:
        if self.approximate == "tanh":
            return ("g · (0.5·(1 + t) + 0.5·x·(1 - t²)·SQRT(2/PI())·(1 + 3·0.044715·x²)), "
                    "t = TANH(SQRT(2/PI())·(x + 0.044715·x³))")
        return "g · (0.5·(1 + ERF(x / SQRT(2))) + x·EXP(-x²/2) / SQRT(2·PI()))"

    def grad_note(self) -> str:
        if self.approximate == "tanh":
            return ("the slope of 0.5·x·(1 + t) by the product rule: 0.5·(1 + t), plus 0.5·x "
                    "times the slope of t, which is (1 - t²) (TANH's) times the slope of the "
                    "inside, SQRT(2/PI())·(1 + 3·0.044715·x²) (PyTorch's gelu_backward with "
                    "approximate='tanh').")
        return ("the slope of x·Φ(x) is Φ(x) + x·φ(x): the normal distribution function "
                "0.5·(1 + ERF(x / SQRT(2))) plus x times its density EXP(-x²/2) / SQRT(2·PI()) "
                "(PyTorch's gelu_backward); the EXP's argument is never positive, so it never "
                "overflows.")

    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return grad.gelu_backward(x, grad_y, self.approximate), {}
