"""conv2d: cross-correlation of the (zero-padded) input with one kernel per filter and input
channel of its group, strided and dilated, plus one bias per filter (`torch.nn.Conv2d`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import reference as ref
from ..explorer import Exploration, explore_conv_values, explorer_stage
from ..layout import Block
from ..matrix import direct_matrix_stage, direct_matrix_values
from ..plan import LayerContext, channel_list, conv_stage, pad_stage, weight_stage
from ._conv import CONV_OPTIONS, ConvNd, dilate_stage
from .base import (
    Shape,
    check_window_fits,
    sliding_expression,
    sliding_lengths,
    sliding_text,
)


@dataclass(frozen=True)
class Conv2d(ConvNd):
    op: ClassVar[str] = "conv2d"
    module: ClassVar[str] = "Conv2d"
    default_prefix: ClassVar[str] = "conv"
    summary: ClassVar[str] = ("convolution: a kernel slides over the (padded) input; each "
                              "output cell is the sum of window x kernel over the channels + bias")
    options: ClassVar[dict[str, tuple[str, object]]] = CONV_OPTIONS

    def check(self, in_shape: Shape) -> None:
        super().check(in_shape)
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

    def zero_styles(self, in_shape: Shape) -> set[str]:
        return super().zero_styles(in_shape) | ({"cs_pad"} if self.padding != (0, 0) else set())

    # ------------------------------------------------------------------ the workbook
    def build(self, ctx: LayerContext, sources: Sequence[Block]) -> list[Block]:
        padded = pad_stage(ctx, sources, self.padding, self.groups)
        groups, per_in = self.groups, self.in_channels // self.groups
        per_out = self.out_channels // groups

        def filter_label(o: int) -> str:
            g = o // per_out
            seen = channel_list(range(g * per_in, (g + 1) * per_in))
            return f"filter {o}" if groups == 1 else f"filter {o} (group {g}: {seen})"

        weight = ctx.names.tensor + "weight"
        weights, bias = weight_stage(
            ctx, "Kernels",
            f"One kernel per filter and input channel it sees ({weight}[out][in/groups], "
            "PyTorch layout), and one bias per filter. Edit the yellow cells.",
            filter_label, lambda b: f"in {b}")
        kernels = dilate_stage(ctx, weights, self.dilation, filter_label)
        height, width = padded[0].shape
        kh, kw = kernels[0][0].shape
        stride = self.stride
        out_size = ((height - kh) // stride[0] + 1, (width - kw) // stride[1] + 1)
        if (self.out_channels, *out_size) != self.output_shape(ctx.layer.in_shape):
            raise AssertionError(f"layout out of step with the op: {out_size}")

        def describe(o: int, channels: Sequence[int]) -> str:
            return f"= Σ over input {channel_list(channels)} of SUMPRODUCT(window, kernel)" + (
                " + bias" if bias is not None else "")

        outputs = conv_stage(
            ctx, f"Each output cell: for every input channel its filter sees, SUMPRODUCT of "
            f"the {kh}x{kw} window (stride {stride[0]}x{stride[1]}) with the kernel, summed, "
            "plus the bias. Select a cell and Trace Precedents to see its window.",
            padded, lambda o, k: kernels[o][k], bias, out_channels=self.out_channels,
            groups=groups, stride=stride, out_size=out_size, describe=describe)
        if "explorer" in ctx.plan.views:
            ctx.plan.later.append(lambda: explorer_stage(ctx, Exploration(
                padded, self.kernel_size, stride, (0, 0), self.dilation, outputs,
                per_in=per_in, per_out=per_out, kernels=weights,
                kernel_cell=lambda c, j: (c, str(j)), bias=bias,
                what="padded input" if self.padding != (0, 0) else "input")))
        if "matrix" in ctx.plan.views:
            ctx.plan.later.append(lambda: direct_matrix_stage(
                ctx, padded, weights, bias, stride=stride, dilation=self.dilation,
                groups=groups, out_size=out_size, outputs=outputs))
        return outputs

    def view_values(self, x: np.ndarray, tensors: dict[str, np.ndarray], y: np.ndarray,
                    selected: Callable[[str], float], shown: Collection[str],
                    ) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
        """The matrix view (im2col), from the reference: see `matrix.direct_matrix_values`."""
        if "im2col" not in shown:
            return {}
        return direct_matrix_values(x, tensors["weight"], y, stride=self.stride,
                                    padding=self.padding, dilation=self.dilation,
                                    groups=self.groups)

    def explore_values(self, x: np.ndarray, tensors: dict[str, np.ndarray], y: np.ndarray,
                       c: int, r: int, k: int) -> dict[str, np.ndarray]:
        """The explorer at output (c, r, k), from the reference: the padded input's taps
        (PyTorch's definition of the window), the filter's kernels, their products."""
        per_in, per_out = self.in_channels // self.groups, self.out_channels // self.groups
        padded = ref.pad2d(x, self.padding)
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
        rows, cols = r * sh + dh * np.arange(kh), k * sw + dw * np.arange(kw)
        return explore_conv_values(padded[c // per_out * per_in: (c // per_out + 1) * per_in],
                                   tensors["weight"][c], tensors.get("bias"), rows, cols,
                                   y, c, r, k)

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
        return ref.conv2d(x, tensors["weight"], tensors.get("bias"), stride=self.stride,
                          padding=self.padding, dilation=self.dilation, groups=self.groups)

    def reference_size(self, axis: int, size: int) -> int:
        return ref.conv2d_output_size(size, self.kernel_size[axis], self.stride[axis],
                                      self.padding[axis], self.dilation[axis])

    def reference_parameter_count(self, in_channels: float) -> float:
        kh, kw = self.kernel_size
        return self.out_channels * (in_channels / self.groups) * kh * kw + \
            self.bias * self.out_channels
