"""identity: every value passes unchanged (`torch.nn.Identity`, a placeholder layer)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from ._elementwise import Elementwise


@dataclass(frozen=True)
class Identity(Elementwise):
    op: ClassVar[str] = "identity"
    module: ClassVar[str] = "Identity"
    default_prefix: ClassVar[str] = "identity"
    summary: ClassVar[str] = "identity: every value passes unchanged (a placeholder layer)"
    options: ClassVar[dict[str, tuple[str, object]]] = {}
    differentiable: ClassVar[bool] = True

    def extra_repr(self) -> str:
        return ""

    def steps(self) -> tuple[str, ...]:
        return ("Every cell is the same cell of the input: nn.Identity is a placeholder (e.g. "
                "where a layer was removed).",)

    def cell(self, x: str) -> str:
        return x

    def rule(self) -> str:
        return "x (unchanged)"

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(x, dtype=np.float64).copy()

    # ------------------------------------------------------------------ the backward pass
    grad_reads: ClassVar[str] = ""

    def grad_cell(self, x: str, g: str, y: str) -> str:
        return g

    def grad_rule(self) -> str:
        return "g (unchanged)"

    def grad_note(self) -> str:
        return ("every value passed unchanged (slope 1), so the gradient passes unchanged: each "
                "cell is the same cell of grad_output.")

    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return grad.identity_backward(x, grad_y), {}
