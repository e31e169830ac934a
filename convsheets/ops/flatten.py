"""flatten: the (C, H, W) volume as one vector of C·H·W features, in PyTorch's order (channel
by channel, each row by row: `torch.nn.Flatten()`, `torch.flatten(x, 1)`), ready for a
linear layer. Held as (1, 1, C·H·W): one row of cells."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from ..errors import SpecError
from .base import Op, Shape


@dataclass(frozen=True)
class Flatten(Op):
    start_dim: int = 1
    end_dim: int = -1

    op: ClassVar[str] = "flatten"
    module: ClassVar[str] = "Flatten"
    default_prefix: ClassVar[str] = "flatten"
    summary: ClassVar[str] = ("flatten: the channels laid end to end as one row of features "
                              "(channel by channel, each row by row), for a linear layer")
    options: ClassVar[dict[str, tuple[str, object]]] = {"start_dim": ("int", 1),
                                                         "end_dim": ("int", -1)}
    flattens: ClassVar[bool] = True
    vector_ok: ClassVar[bool] = True
    dims: ClassVar[int] = 0  # a sequence's (C, L) as well as an image
    differentiable: ClassVar[bool] = True

    def check(self, in_shape: Shape) -> None:
        # dims of a batch (N, C, H, W), as the module sees it: only the whole image flattens
        if self.start_dim != 1:
            raise SpecError("start_dim", self.start_dim, "must be 1 (PyTorch's default): "
                            "convsheets flattens each image's channels, rows and columns")
        if self.end_dim not in (-1, 3):
            raise SpecError("end_dim", self.end_dim, "must be -1 (PyTorch's default): "
                            "convsheets flattens each image's channels, rows and columns")

    def output_shape(self, in_shape: Shape) -> Shape:
        return (1, 1, in_shape[0] * in_shape[1] * in_shape[2])

    def extra_repr(self) -> str:
        """PyTorch's `Flatten.extra_repr`."""
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def steps(self) -> tuple[str, ...]:
        return ("Lay the channels end to end as one row: channel 0 row by row, then channel 1, "
                "... (PyTorch's C-H-W order, what x.flatten(1) and x.view(N, -1) give); every "
                "cell refers to one input cell, nothing is computed.",)

    def note(self, in_shape: Shape) -> str:
        c, h, w = in_shape
        return (f"The {c}×{h}×{w} input as one row of {c * h * w} features: feature "
                f"c·{h * w} + i·{w} + j is input channel c, row i, column j (PyTorch's "
                "order). Each cell refers to its input cell.")

    def guide_shape(self, in_shape: Shape) -> Shape:
        return self.output_shape(in_shape)

    def shape_formulas(self, refs: dict[str, str]) -> dict[str, str]:
        return {"channels": "1", "height": "1",
                "width": f"{refs['channels']}*{refs['height']}*{refs['width']}"}

    def size_formula(self, axis: int, size: str) -> str:
        raise NotImplementedError("flatten's width needs the three input sizes")

    def size_text(self, axis: int, size: int) -> str:
        return "1" if axis == 0 else "C·H·W"

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return x.reshape(1, 1, -1)  # C order: channel, row, column, as torch.flatten

    def reference_size(self, axis: int, size: int) -> int:
        raise NotImplementedError("flatten's width needs the three input sizes")

    # ------------------------------------------------------------------ the backward pass
    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return grad.flatten_backward(x, grad_y), {}

    def backward_steps(self) -> tuple[str, ...]:
        return ("grad_input = grad_output laid back as channels × height × width, in the same "
                "order (feature c·H·W + i·W + j goes back to channel c, row i, column j): "
                "nothing is computed, each cell refers to one grad_output cell.",)
