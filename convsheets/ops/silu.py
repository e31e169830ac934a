"""silu: x · sigmoid(x) per cell (`torch.nn.SiLU`, also called swish). The sigmoid is written
so that EXP never overflows (see `stable_sigmoid`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from ._elementwise import Elementwise, stable_sigmoid


@dataclass(frozen=True)
class SiLU(Elementwise):
    op: ClassVar[str] = "silu"
    module: ClassVar[str] = "SiLU"
    default_prefix: ClassVar[str] = "silu"
    summary: ClassVar[str] = "SiLU (swish): x · sigmoid(x)"
    options: ClassVar[dict[str, tuple[str, object]]] = {}
    differentiable: ClassVar[bool] = True

    def extra_repr(self) -> str:
        return ""

    def steps(self) -> tuple[str, ...]:
        return ("Every cell becomes x · sigmoid(x) = x / (1 + EXP(-x)): large negative values "
                "go to 0, large positive ones pass almost unchanged; the cells compute the "
                "sigmoid as EXP(MIN(x, 0)) / (1 + EXP(-ABS(x))), the same number, so that EXP "
                "never overflows. The shape does not change and there are no weights.",)

    def cell(self, x: str) -> str:
        return f"{x}*{stable_sigmoid(x)}"

    def rule(self) -> str:
        return "x / (1 + EXP(-x))"

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        """PyTorch's ``x / (1 + exp(-x))``."""
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(over="ignore"):
            return x / (1.0 + np.exp(-x))

    # ------------------------------------------------------------------ the backward pass
    def grad_cell(self, x: str, g: str, y: str) -> str:
        s = f"({stable_sigmoid(x)})"
        return f"{g}*{s}*(1+{x}*(1-{s}))"

    def grad_rule(self) -> str:
        return "g · s · (1 + x·(1 - s)), s = 1 / (1 + EXP(-x))"

    def grad_note(self) -> str:
        return ("the slope of x · s (s the sigmoid) by the product rule: s + x·s·(1 - s), as "
                "PyTorch's silu_backward; s is written EXP(MIN(x, 0)) / (1 + EXP(-ABS(x))), "
                "the same number, so that EXP never overflows.")

    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return grad.silu_backward(x, grad_y), {}
