"""relu6: min(max(0, x), 6) per cell (`torch.nn.ReLU6`, MobileNet's activation): ReLU capped
at 6."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from ._elementwise import Elementwise


@dataclass(frozen=True)
class ReLU6(Elementwise):
    op: ClassVar[str] = "relu6"
    module: ClassVar[str] = "ReLU6"
    default_prefix: ClassVar[str] = "relu6_"
    summary: ClassVar[str] = "ReLU6: negative values become 0, values above 6 become 6"
    options: ClassVar[dict[str, tuple[str, object]]] = {}
    differentiable: ClassVar[bool] = True

    def extra_repr(self) -> str:
        return ""

    def steps(self) -> tuple[str, ...]:
        return ("Every cell becomes MIN(MAX(0, x), 6): negative values are set to 0 and values "
                "above 6 to 6; the shape does not change and there are no weights.",)

    def cell(self, x: str) -> str:
        return f"MIN(MAX(0,{x}),6)"

    def rule(self) -> str:
        return "MIN(MAX(0, x), 6)"

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        return np.minimum(np.maximum(np.asarray(x, dtype=np.float64), 0.0), 6.0)

    # ------------------------------------------------------------------ the backward pass
    def grad_cell(self, x: str, g: str, y: str) -> str:
        return f"IF(AND({x}>0,{x}<6),{g},0)"

    def grad_rule(self) -> str:
        return "IF(AND(x > 0, x < 6), g, 0)"

    def grad_note(self) -> str:
        return ("the slope is 1 strictly between 0 and 6 and 0 where the value was cut to 0 or "
                "capped at 6; PyTorch passes 0 at 0 and 6 themselves.")

    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return grad.hardtanh_backward(x, grad_y, 0.0, 6.0), {}
