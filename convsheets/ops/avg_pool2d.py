"""avg_pool2d: the mean of each window, channel by channel (`torch.nn.AvgPool2d`). With
count_include_pad (PyTorch's default) padding counts as zeros in the divisor kH*kW."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from .. import reference as ref
from ._pool import Pool2d, int_or_pair
from .base import REQUIRED, Shape, Window


@dataclass(frozen=True)
class AvgPool2d(Pool2d):
    count_include_pad: bool = True

    op: ClassVar[str] = "avg_pool2d"
    module: ClassVar[str] = "AvgPool2d"
    default_prefix: ClassVar[str] = "avgpool"
    summary: ClassVar[str] = "average pooling: the mean of each window, channel by channel"
    differentiable: ClassVar[bool] = True
    unsupported: ClassVar[dict[str, tuple[object, str]]] = {
        "divisor_override": (None, "is not supported: the divisor is the window size (or the "
                             "non-padding cells without count_include_pad)")}
    options: ClassVar[dict[str, tuple[str, object]]] = {
        "kernel_size": ("pair", REQUIRED), "stride": ("pair", None), "padding": ("pair", (0, 0)),
        "count_include_pad": ("bool", True), "ceil_mode": ("bool", False)}

    @property
    def explore_reduce(self) -> str:  # type: ignore[override]
        return "MEAN" if self.count_include_pad else "AVERAGE"

    def extra_repr(self) -> str:
        """Exactly PyTorch's `AvgPool2d.extra_repr` (which leaves count_include_pad out;
        the guide's steps say which divisor the layer uses)."""
        return (f"kernel_size={int_or_pair(self.kernel_size)}, "
                f"stride={int_or_pair(self.stride)}, padding={int_or_pair(self.padding)}")

    def window(self) -> Window | None:
        """No explorer window with ceil_mode and count_include_pad: a window hanging past the
        padded input is divided by its own part inside it, not by kH·kW, so the windows are
        not one reduction (the output cells still are: `divisor_lengths`)."""
        if self.ceil_mode and self.count_include_pad:
            return None
        return super().window()

    def steps(self) -> tuple[str, ...]:
        kh, kw = self.kernel_size
        padded = self.padding != (0, 0)
        divisor = (f"divided by the window size {kh * kw}"
                   + (" (padding counts as zeros)" if padded else "")
                   if self.count_include_pad or not padded else
                   "divided by the number of non-padding cells (count_include_pad=False)")
        return (
            f"Slide a {kh}x{kw} window over each channel separately, {self.stride[0]}x"
            f"{self.stride[1]} cells at a time (by default the stride is the window).",
            f"Each output cell is the sum of its window {divisor}." + (
                " ceil_mode: the output size rounds up, so the last windows may hang over "
                "the bottom and right edges; cells past the edge are left out" + (
                    ", and such a window is divided by its cells inside the padded input "
                    "(PyTorch's rule), not by the full window size." if self.count_include_pad
                    else ".") if self.ceil_mode else ""),
            "The channels stay separate: as many output channels as input channels, no weights.",
        )

    def zero_styles(self, in_shape: Shape) -> set[str]:
        return set()

    def note(self) -> str:
        kh, kw = self.kernel_size
        how = (f"SUM of its {kh}x{kw} window / {kh * kw}" if self.count_include_pad
               else f"AVERAGE of the input cells of its {kh}x{kw} window")
        return (f"Each output cell is the {how} (stride {self.stride[0]}x{self.stride[1]}). "
                "Select a cell and Trace Precedents to see its window.")

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        return ref.avg_pool2d(x, self.kernel_size, self.stride, self.padding,
                              count_include_pad=self.count_include_pad, ceil_mode=self.ceil_mode)

    def reference_size(self, axis: int, size: int) -> int:
        return ref.pool2d_output_size(size, self.kernel_size[axis], self.stride[axis],
                                      self.padding[axis], 1, self.ceil_mode)

    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return grad.avg_pool2d_backward(x, grad_y, self.kernel_size, self.stride, self.padding,
                                        self.count_include_pad), {}

    def backward_steps(self) -> tuple[str, ...]:
        divisor = ("the window size (padding counted)" if self.count_include_pad else
                   "the number of the window's cells inside the input")
        return (f"grad_input: every cell of a window moved its mean by 1 / {divisor}, so each "
                "gets that share of the window's gradient; a cell covered by several windows "
                "adds up its shares.",)
