"""mul: input × other, cell by cell (`torch.mul`, a gate: attention, squeeze-excitation)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from ._merge import Merge, check_same_shape
from .base import Shape


@dataclass(frozen=True)
class Mul(Merge):
    op: ClassVar[str] = "mul"
    module: ClassVar[str] = "mul"
    function: ClassVar[str] = "torch.mul"
    default_prefix: ClassVar[str] = "mul"
    summary: ClassVar[str] = "mul: the two inputs multiplied cell by cell (a gate)"
    options: ClassVar[dict[str, tuple[str, object]]] = {}
    vector_ok: ClassVar[bool] = True
    differentiable: ClassVar[bool] = True

    def check_inputs(self, in_shapes: Sequence[Shape], names: Sequence[str],
                     vectors: Sequence[bool]) -> None:
        super().check_inputs(in_shapes, names, vectors)
        check_same_shape("mul", in_shapes, names, (0, 1, 2), "equal shapes (convsheets does "
                         "not broadcast)")

    def extra_repr(self) -> str:
        return ""

    def rule(self) -> str:
        return "a × b"

    def cell(self, refs: Sequence[str]) -> str:
        a, b = refs
        return f"{a}*{b}"

    def steps(self) -> tuple[str, ...]:
        return ("Every cell is the same cell of the first input times the same cell of the "
                "second (torch.mul): both inputs have one shape, the output too.",)

    def reference_many(self, xs: Sequence[np.ndarray],
                       tensors: dict[str, np.ndarray]) -> np.ndarray:
        a, b = (np.asarray(x, dtype=np.float64) for x in xs)
        return a * b

    def backward_many(self, xs: Sequence[np.ndarray], tensors: dict[str, np.ndarray],
                      grad_y: np.ndarray) -> list[np.ndarray]:
        a, b = xs
        return grad.mul_backward(a, b, grad_y)

    def backward_steps(self) -> tuple[str, ...]:
        return ("Each output cell is a × b of the same cells, so a change of a cell of a "
                "changes the output by b times it: the first input's gradient is grad_output × "
                "b (grad_input), the second's grad_output × a (grad_input1), cell by cell (the "
                "product rule).",)
