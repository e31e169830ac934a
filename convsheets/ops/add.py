"""add: input + alpha × other, cell by cell (`torch.add`, ResNet's ``out += identity``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from ._merge import Merge, check_same_shape
from .base import Shape


@dataclass(frozen=True)
class Add(Merge):
    op: ClassVar[str] = "add"
    module: ClassVar[str] = "add"
    function: ClassVar[str] = "torch.add"
    default_prefix: ClassVar[str] = "add"
    summary: ClassVar[str] = ("add: the first input plus alpha times the second, cell by cell "
                              "(a residual connection)")
    options: ClassVar[dict[str, tuple[str, object]]] = {"alpha": ("float", 1.0)}
    vector_ok: ClassVar[bool] = True
    differentiable: ClassVar[bool] = True
    alpha: float = 1.0

    def check_inputs(self, in_shapes: Sequence[Shape], names: Sequence[str],
                     vectors: Sequence[bool]) -> None:
        super().check_inputs(in_shapes, names, vectors)
        check_same_shape("add", in_shapes, names, (0, 1, 2), "equal shapes (convsheets does "
                         "not broadcast)")

    @property
    def factor(self) -> str:
        """alpha as the formulas write it (no exponent, no trailing zeros)."""
        return np.format_float_positional(self.alpha, trim="-")

    def extra_repr(self) -> str:
        return "" if self.alpha == 1.0 else f"alpha={self.alpha}"

    def rule(self) -> str:
        return "a + b" if self.alpha == 1.0 else f"a + {self.factor}·b"

    def cell(self, refs: Sequence[str]) -> str:
        a, b = refs
        return f"{a}+{b}" if self.alpha == 1.0 else f"{a}+{self.factor}*{b}"

    def steps(self) -> tuple[str, ...]:
        return ("Every cell is the same cell of the first input plus "
                + ("" if self.alpha == 1.0 else f"{self.factor} × ")
                + "the same cell of the second (torch.add): both inputs have one shape, the "
                "output too; there are no weights.",)

    def reference_many(self, xs: Sequence[np.ndarray],
                       tensors: dict[str, np.ndarray]) -> np.ndarray:
        a, b = (np.asarray(x, dtype=np.float64) for x in xs)
        return a + self.alpha * b

    def backward_many(self, xs: Sequence[np.ndarray], tensors: dict[str, np.ndarray],
                      grad_y: np.ndarray) -> list[np.ndarray]:
        return grad.add_backward(grad_y, self.alpha)

    def backward_steps(self) -> tuple[str, ...]:
        other = "unchanged" if self.alpha == 1.0 else f"times alpha = {self.factor}"
        return ("Each output cell is a + " + ("" if self.alpha == 1.0 else "alpha·")
                + "b of the same cells, so a change of a cell of a changes the output by the "
                "same amount: the first input's gradient is grad_output unchanged (grad_input); "
                f"the second's (grad_input1) is grad_output {other}.",)
