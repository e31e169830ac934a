"""conv2d: cross-correlation of the (zero-padded) input with one kernel per filter and input
channel of its group, strided and dilated, plus one bias per filter (`torch.nn.Conv2d`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import reference as ref
from ..errors import SpecError
from ._conv import CONV_OPTIONS, ConvNd
from .base import (
    Shape,
    Window,
    check_window_fits,
    sliding_expression,
    sliding_lengths,
    sliding_text,
)

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


@dataclass(frozen=True)
class Conv2d(ConvNd):
    padding_mode: str = "zeros"

    op: ClassVar[str] = "conv2d"
    module: ClassVar[str] = "Conv2d"
    default_prefix: ClassVar[str] = "conv"
    summary: ClassVar[str] = ("convolution: a kernel slides over the (padded) input; each "
                              "output cell is the sum of window x kernel over the channels + bias")
    options: ClassVar[dict[str, tuple[str, object]]] = {
        **CONV_OPTIONS, "padding_mode": ("str", "zeros")}

    def check(self, in_shape: Shape) -> None:
        super().check(in_shape)
        if self.padding_mode not in PADDING_MODES:
            raise SpecError("padding_mode", self.padding_mode,
                            "must be 'zeros', 'reflect', 'replicate' or 'circular', as in "
                            "PyTorch")
        for axis, what in ((0, "height"), (1, "width")):
            p, n = self.padding[axis], in_shape[1 + axis]
            if self.padding_mode == "reflect" and p >= n or \
                    self.padding_mode == "circular" and p > n:
                rule = "less than" if self.padding_mode == "reflect" else "at most"
                raise SpecError("padding", self.padding,
                                f"must be {rule} the input {what} ({n}) with "
                                f"padding_mode={self.padding_mode!r}, as in PyTorch")
        check_window_fits(in_shape, self.kernel_size, self.padding, self.dilation,
                          "the (dilated) kernel")

    def output_shape(self, in_shape: Shape) -> Shape:
        return (self.out_channels, *sliding_lengths(in_shape, self.kernel_size, self.stride,
                                                    self.padding, self.dilation))

    def tensor_shapes(self) -> dict[str, tuple[int, ...]]:
        kh, kw = self.kernel_size
        shapes: dict[str, tuple[int, ...]] = {
            "weight": (self.out_channels, self.in_channels // self.groups, kh, kw)}
        if self.bias:
            shapes["bias"] = (self.out_channels,)
        return shapes

    def steps(self) -> tuple[str, ...]:
        return (
            "Start from the top left corner of the (zero-padded) input volume.",
            "Take a slice of the input as large as the (dilated) kernel, through the "
            "channels the filter sees (all of them unless grouped).",
            "Multiply the slice and the kernel element-wise (one SUMPRODUCT per channel).",
            "Add the results over the channels, and add the filter's bias.",
            "Stride s steps right if possible, else s steps down from the leftmost column; "
            "each filter gives one output channel.",
        )

    def as_options(self) -> dict[str, object]:
        """padding_mode is recorded only when it is not PyTorch's default (zeros), so the
        workbooks of zero-padded convolutions keep their metadata."""
        out = super().as_options()
        if self.padding_mode == "zeros":
            out.pop("padding_mode")
        return out

    def extra_repr(self) -> str:
        """PyTorch's: ``padding_mode=reflect`` (unquoted) after the rest, when not zeros."""
        extra = "" if self.padding_mode == "zeros" else f", padding_mode={self.padding_mode}"
        return super().extra_repr() + extra

    def zero_styles(self, in_shape: Shape) -> set[str]:
        pads = self.padding != (0, 0)
        return super().zero_styles(in_shape) | (
            {"cs_pad"} if pads and self.padding_mode == "zeros" else
            {"cs_mirror"} if pads else set())

    # ------------------------------------------------------------------ the geometry
    def window(self) -> Window:
        """Windows of the padded input (so every tap is inside it), `stride` apart."""
        return Window(self.kernel_size, self.stride, (0, 0), self.dilation,
                      per_in=self.in_channels // self.groups,
                      per_out=self.out_channels // self.groups, kernels_by="out",
                      source_label="padded input" if self.padding != (0, 0) else "input")

    def window_source(self, x: np.ndarray) -> np.ndarray:
        return ref.pad2d(x, self.padding, self.padding_mode)

    def window_kernels(self, tensors: dict[str, np.ndarray]) -> np.ndarray:
        return tensors["weight"]

    def stages(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"padded": ref.pad2d(x, self.padding, self.padding_mode),
                "dilated": ref.dilate_kernel(tensors["weight"], self.dilation)}

    def size_expression(self, r: Callable[[str], str]) -> str:
        return sliding_expression(r)

    def size_text(self, axis: int, size: int) -> str:
        return sliding_text(size, self.kernel_size[axis], self.stride[axis],
                            self.padding[axis], self.dilation[axis])

    def count_expression(self, r: Callable[[str], str]) -> str:
        return (f"{r('out_channels')}*({r('in_channels')}/{r('groups')})*{r('kernel_height')}"
                f"*{r('kernel_width')}+{r('bias')}*{r('out_channels')}")

    count_text: ClassVar[str] = "weights O·(C/g)·kH·kW (+ O biases)"

    # ------------------------------------------------------------------ the oracle
    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        if self.padding_mode != "zeros":  # as PyTorch: F.pad, then a convolution without
            return ref.conv2d(ref.pad2d(x, self.padding, self.padding_mode), tensors["weight"],
                              tensors.get("bias"), stride=self.stride, padding=(0, 0),
                              dilation=self.dilation, groups=self.groups)
        return ref.conv2d(x, tensors["weight"], tensors.get("bias"), stride=self.stride,
                          padding=self.padding, dilation=self.dilation, groups=self.groups)

    def reference_size(self, axis: int, size: int) -> int:
        return ref.conv2d_output_size(size, self.kernel_size[axis], self.stride[axis],
                                      self.padding[axis], self.dilation[axis])

    def reference_parameter_count(self, in_channels: float) -> float:
        kh, kw = self.kernel_size
        return self.out_channels * (in_channels / self.groups) * kh * kw + \
            self.bias * self.out_channels
