"""max_pool2d: the largest value of each window, channel by channel (`torch.nn.MaxPool2d`).
PyTorch pads with -inf, so padding never wins a max: the formulas leave padding out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from .. import reference as ref
from ..errors import SpecError
from ._pool import EXCEL_MAX_ARGUMENTS, Pool2d, int_or_pair
from .base import REQUIRED, Shape


@dataclass(frozen=True)
class MaxPool2d(Pool2d):
    dilation: tuple[int, int] = (1, 1)

    op: ClassVar[str] = "max_pool2d"
    module: ClassVar[str] = "MaxPool2d"
    default_prefix: ClassVar[str] = "maxpool"
    summary: ClassVar[str] = "max pooling: the largest value of each window, channel by channel"
    differentiable: ClassVar[bool] = True
    unsupported: ClassVar[dict[str, tuple[object, str]]] = {
        "return_indices": (False, "is not supported: a workbook shows values, not argmax "
                           "indices")}
    options: ClassVar[dict[str, tuple[str, object]]] = {
        "kernel_size": ("pair", REQUIRED), "stride": ("pair", None), "padding": ("pair", (0, 0)),
        "dilation": ("pair", (1, 1)), "ceil_mode": ("bool", False)}

    @property
    def spread(self) -> tuple[int, int]:
        return self.dilation

    def check(self, in_shape: Shape) -> None:
        kh, kw = self.kernel_size
        # one rectangle; one range per row (dilated rows); or single cells (dilated columns)
        arguments = 1 if self.dilation == (1, 1) else kh if self.dilation[1] == 1 else kh * kw
        if arguments > EXCEL_MAX_ARGUMENTS:
            raise SpecError("kernel_size", self.kernel_size,
                            f"a dilated window needs {arguments} arguments in its MAX formula; "
                            f"Excel allows {EXCEL_MAX_ARGUMENTS}")
        super().check(in_shape)
        _, oh, ow = self.output_shape(in_shape)
        for axis, n in ((0, oh), (1, ow)):
            if any(not self.inside_taps(axis, o, in_shape[1 + axis]) for o in range(n)):
                raise SpecError("dilation", self.dilation,
                                "leaves a window that covers only padding; PyTorch gives -inf "
                                "there, which a spreadsheet cannot show (less padding or "
                                "dilation)")

    def extra_repr(self) -> str:
        return (f"kernel_size={int_or_pair(self.kernel_size)}, "
                f"stride={int_or_pair(self.stride)}, padding={int_or_pair(self.padding)}, "
                f"dilation={int_or_pair(self.dilation)}, ceil_mode={self.ceil_mode}")

    def steps(self) -> tuple[str, ...]:
        kh, kw = self.kernel_size
        return (
            f"Slide a {kh}x{kw} window over each channel separately, {self.stride[0]}x"
            f"{self.stride[1]} cells at a time (by default the stride is the window: windows "
            "do not overlap).",
            "Each output cell is the largest value in its window (MAX)." + (
                " ceil_mode: the output size rounds up, so the last windows may hang over the "
                "bottom and right edges; cells past the edge are left out (PyTorch pads "
                "with -inf there too)." if self.ceil_mode else "") + (
                " Padding never wins: PyTorch pads with -inf, so padded positions are simply "
                "left out of the formula." if self.padding != (0, 0) else ""),
            "The channels stay separate: as many output channels as input channels, no weights.",
        )

    def note(self) -> str:
        kh, kw = self.kernel_size
        padding = ("; padding is left out of the window (it never wins a max)"
                   if self.padding != (0, 0) else "")
        return (f"Each output cell is MAX of its {kh}x{kw} window of the input (stride "
                f"{self.stride[0]}x{self.stride[1]}){padding}. Select a cell and Trace "
                "Precedents to see its window.")

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        return ref.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                              self.ceil_mode)

    def reference_size(self, axis: int, size: int) -> int:
        return ref.pool2d_output_size(size, self.kernel_size[axis], self.stride[axis],
                                      self.padding[axis], self.dilation[axis], self.ceil_mode)

    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return grad.max_pool2d_backward(x, grad_y, self.kernel_size, self.stride, self.padding,
                                        self.dilation), {}

    def backward_stages(self, x: np.ndarray, tensors: dict[str, np.ndarray],
                        grad_y: np.ndarray) -> dict[str, np.ndarray]:
        """Which tap of each window (i·kW + j) holds its first maximum."""
        return {"grad_winner": grad.max_pool2d_winners(x, self.kernel_size, self.stride,
                                                       self.padding, self.dilation)}

    def backward_steps(self) -> tuple[str, ...]:
        return (
            "Winners: for each window, the tap that holds its maximum (numbered row by row); "
            "on a tie the first one in that order, as PyTorch's CPU kernel picks it.",
            "grad_input: only the winner changed the output, so the window's whole gradient "
            "goes to it; every other cell of the window gets 0 from that window. A cell "
            "covered by several windows adds up what it won.",
        )
