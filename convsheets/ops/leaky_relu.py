"""leaky_relu: x where x > 0, else negative_slope·x (`torch.nn.LeakyReLU`, PyTorch's default
slope 0.01): negative values are scaled down instead of cut to 0, so they still pass a
gradient."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from ._elementwise import Elementwise


@dataclass(frozen=True)
class LeakyReLU(Elementwise):
    negative_slope: float = 0.01

    op: ClassVar[str] = "leaky_relu"
    module: ClassVar[str] = "LeakyReLU"
    default_prefix: ClassVar[str] = "leaky"
    summary: ClassVar[str] = ("LeakyReLU: negative values are multiplied by negative_slope "
                              "(0.01), the rest pass unchanged")
    options: ClassVar[dict[str, tuple[str, object]]] = {"negative_slope": ("float", 0.01)}
    differentiable: ClassVar[bool] = True

    @property
    def slope(self) -> str:
        """The slope as a spreadsheet reads it: plain decimals, no exponent (15 significant
        digits at most, which the option reader enforces)."""
        return np.format_float_positional(self.negative_slope, trim="-")

    def extra_repr(self) -> str:
        """PyTorch's `LeakyReLU.extra_repr`: ``negative_slope=0.01``."""
        return f"negative_slope={self.negative_slope}"

    def steps(self) -> tuple[str, ...]:
        return (f"Every cell x becomes x if x > 0, else {self.slope}·x (negative_slope): "
                "negative values shrink instead of becoming 0; the shape does not change and "
                "there are no weights.",)

    def cell(self, x: str) -> str:
        return f"IF({x}>0,{x},{self.slope}*{x})"

    def rule(self) -> str:
        return f"IF(x > 0, x, {self.slope}·x)"

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        """PyTorch's definition, ``x if x > 0 else x * negative_slope``, cell by cell (NaN
        and -0.0 pass through it as in PyTorch)."""
        x = np.asarray(x, dtype=np.float64)
        return np.where(x > 0, x, x * self.negative_slope)

    def grad_cell(self, x: str, g: str, y: str) -> str:
        return f"IF({x}>0,{g},{self.slope}*{g})"

    def grad_rule(self) -> str:
        return f"IF(x > 0, g, {self.slope}·g)"

    def grad_note(self) -> str:
        return ("the slope is 1 where x > 0 and negative_slope elsewhere (x = 0 included, as "
                "PyTorch), so the gradient passes where the input was positive and is scaled "
                "by negative_slope where it was not.")

    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return grad.relu_backward(x, grad_y, self.negative_slope), {}
