"""relu: max(0, x) per cell (`torch.nn.ReLU`): negative values become 0, the rest pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from .. import reference as ref
from ._elementwise import Elementwise


@dataclass(frozen=True)
class ReLU(Elementwise):
    op: ClassVar[str] = "relu"
    module: ClassVar[str] = "ReLU"
    default_prefix: ClassVar[str] = "relu"
    summary: ClassVar[str] = "ReLU: negative values become 0, the rest pass unchanged"
    options: ClassVar[dict[str, tuple[str, object]]] = {}
    differentiable: ClassVar[bool] = True

    def extra_repr(self) -> str:
        return ""

    def steps(self) -> tuple[str, ...]:
        return ("Every cell becomes MAX(0, x): negative values are set to 0, the rest pass "
                "unchanged; the shape does not change and there are no weights.",)

    def cell(self, x: str) -> str:
        return f"MAX(0,{x})"

    def rule(self) -> str:
        return "MAX(0, x)"

    def note(self) -> str:
        return ("Each cell is MAX(0, x) of the same cell of the layer's input: negative values "
                "become 0.")

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        return ref.relu(x)

    def grad_cell(self, x: str, g: str, y: str) -> str:
        return f"IF({x}>0,{g},0)"

    def grad_rule(self) -> str:
        return "IF(x > 0, g, 0)"

    def grad_note(self) -> str:
        return ("the slope of MAX(0, x) is 1 where x > 0 and 0 elsewhere, so the gradient "
                "passes only where the input was positive (the mask); at x = 0 PyTorch "
                "passes 0.")

    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return grad.relu_backward(x, grad_y), {}
