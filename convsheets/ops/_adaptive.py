"""What adaptive_avg_pool2d and adaptive_max_pool2d share (PyTorch's `AdaptiveAvgPool2d` /
`AdaptiveMaxPool2d`): the output size is given and each output cell (i, j) reduces the input
rows floor(i·H/oh) to ceil((i+1)·H/oh) - 1 and likewise the columns, so windows may differ in
size by one and overlap. Those windows are not one sliding window, so there is no `window()`
(and no explorer: the guide says so); each cell is one AVERAGE or MAX over its rectangle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from ..errors import SpecError
from ..options import check_pair
from .base import REQUIRED, Op, Shape


def bounds(out: int, size: int, n: int) -> tuple[int, int]:
    """Input indices [start, end) that output position `out` of `n` reduces (PyTorch's
    adaptive pooling: start = floor(out·size/n), end = ceil((out+1)·size/n))."""
    return (out * size) // n, -(-((out + 1) * size) // n)


@dataclass(frozen=True)
class AdaptivePool2d(Op):
    output_size: tuple[int, int]

    function: ClassVar[str] = "AVERAGE"  # the spreadsheet function of each window
    differentiable: ClassVar[bool] = True
    options: ClassVar[dict[str, tuple[str, object]]] = {"output_size": ("pair", REQUIRED)}

    # PyTorch options this op has that convsheets does not draw: (PyTorch's default, why)
    unsupported: ClassVar[dict[str, tuple[object, str]]] = {}

    @classmethod
    def create(cls, given: dict[str, object], in_shape: Shape) -> Op:
        """PyTorch's own default of an unsupported option may be spelled out (as pooling's)."""
        for key, (default, why) in cls.unsupported.items():
            if key in given and not (given[key] is default or given[key] == default
                                     and type(given[key]) is type(default)):
                raise SpecError(key, given[key], why)
        given = {k: v for k, v in given.items() if k not in cls.unsupported}
        return super().create(given, in_shape)

    def check(self, in_shape: Shape) -> None:
        check_pair("output_size", self.output_size, 1)

    def output_shape(self, in_shape: Shape) -> Shape:
        return (in_shape[0], *self.output_size)

    def extra_repr(self) -> str:
        """PyTorch prints output_size as it was given (an int or a pair)."""
        oh, ow = self.output_size
        return f"output_size={oh if oh == ow else (oh, ow)}"

    def steps(self) -> tuple[str, ...]:
        oh, ow = self.output_size
        word = "average" if self.function == "AVERAGE" else "largest value"
        return (f"The output is {oh}x{ow} whatever the input size: output cell (i, j) takes "
                f"the {word} ({self.function}) of input rows floor(i·H/{oh}) to "
                f"ceil((i+1)·H/{oh}) - 1 and columns floor(j·W/{ow}) to ceil((j+1)·W/{ow}) - 1.",
                "Windows may differ in size by one cell and overlap, so there is no single "
                "sliding window (and no window explorer); channels stay separate.")

    def note(self) -> str:
        oh, ow = self.output_size
        return (f"Each output cell is {self.function} of its rectangle of the input (an "
                f"adaptive pool to {oh}x{ow}: rows floor(i·H/{oh}) .. ceil((i+1)·H/{oh}) - 1, "
                "likewise the columns). Select a cell and Trace Precedents to see it.")

    def size_formula(self, axis: int, size: str) -> str:
        return str(self.output_size[axis])

    def size_text(self, axis: int, size: int) -> str:
        return f"output_size = {self.output_size[axis]}"

    def reference_size(self, axis: int, size: int) -> int:
        return self.output_size[axis]

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        c, h, w = x.shape
        oh, ow = self.output_size
        reduce = np.mean if self.function == "AVERAGE" else np.max
        y = np.empty((c, oh, ow))
        for i in range(oh):
            r0, r1 = bounds(i, h, oh)
            for j in range(ow):
                c0, c1 = bounds(j, w, ow)
                y[:, i, j] = reduce(x[:, r0:r1, c0:c1], axis=(1, 2))
        return y

    # ------------------------------------------------------------------ the backward pass
    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        if self.function == "AVERAGE":
            return grad.adaptive_avg_pool2d_backward(x, grad_y), {}
        return grad.adaptive_max_pool2d_backward(x, grad_y), {}

    def backward_stages(self, x: np.ndarray, tensors: dict[str, np.ndarray],
                        grad_y: np.ndarray) -> dict[str, np.ndarray]:
        """Average: each window's gradient over its cell count (its share); max: the flat
        input index (row·W + column) of each window's first maximum."""
        if self.function == "AVERAGE":
            return {"grad_share": grad.adaptive_avg_pool2d_shares(np.shape(x), grad_y)}
        return {"grad_winner": grad.adaptive_max_pool2d_winners(x, self.output_size)}

    def backward_steps(self) -> tuple[str, ...]:
        if self.function == "AVERAGE":
            return (
                "Shares: each output cell was the AVERAGE of its window, so each of the "
                "window's cells moved it by 1 / (the window's cell count): its gradient "
                "divided by that count is what every cell of the window gets. Windows may "
                "differ in size, so each has its own count.",
                "grad_input: each input cell adds up the shares of every window that covers "
                "it (adaptive windows may overlap: then it gets several).")
        return (
            "Winners: for each window, the input cell holding its maximum, as its index "
            "row·W + column (what return_indices gives); on a tie the first one row by row, "
            "as PyTorch's CPU kernel picks it.",
            "grad_input: only the winner changed the output, so the window's whole gradient "
            "goes to it: each input cell adds up the gradient of every window whose winner it "
            "is (SUMIF over the windows that cover it), 0 from the others.")
