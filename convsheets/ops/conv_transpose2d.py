"""conv_transpose2d: zero-insertion between input pixels, padding by dilation*(k-1) - padding
(cropping where negative, + output_padding at the bottom/right), then a plain stride-1
convolution with the flipped kernels (`torch.nn.ConvTranspose2d`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import reference as ref
from ..errors import SpecError
from ..explorer import Exploration, explore_conv_values, explorer_stage
from ..layout import Block
from ..matrix import transposed_matrix_stage, transposed_matrix_values
from ..options import check_pair
from ..plan import (
    LayerContext,
    channel_list,
    conv_stage,
    gather_stage,
    kernel_transform_stage,
    weight_stage,
)
from ..scatter import (
    SELECT,
    scatter_stage,
    scatter_values,
    three_ways,
    three_ways_values,
)
from ..stages import compose, flip_map, insert_map, pad_map
from ._conv import CONV_OPTIONS, ConvNd, dilate_stage
from .base import Shape


@dataclass(frozen=True)
class ConvTranspose2d(ConvNd):
    output_padding: tuple[int, int] = (0, 0)

    op: ClassVar[str] = "conv_transpose2d"
    module: ClassVar[str] = "ConvTranspose2d"
    default_prefix: ClassVar[str] = "tconv"
    summary: ClassVar[str] = ("transposed convolution (upsampling): zero-insertion, then a plain "
                              "convolution with the flipped kernels")
    options: ClassVar[dict[str, tuple[str, object]]] = {
        **CONV_OPTIONS, "output_padding": ("pair", (0, 0))}

    def check(self, in_shape: Shape) -> None:
        super().check(in_shape)
        check_pair("output_padding", self.output_padding, 0)
        for axis in (0, 1):
            op, s, d = self.output_padding[axis], self.stride[axis], self.dilation[axis]
            if op >= max(s, d):
                raise SpecError("output_padding", self.output_padding,
                                "must be smaller than either stride or dilation "
                                f"(stride={self.stride[0]}x{self.stride[1]}, "
                                f"dilation={self.dilation[0]}x{self.dilation[1]})")
        _, oh, ow = self.output_shape(in_shape)
        if oh < 1 or ow < 1:
            raise SpecError("padding", self.padding,
                            f"leaves an output of {oh}x{ow}; it must be at least 1x1")

    def output_shape(self, in_shape: Shape) -> Shape:
        h, w = ((in_shape[1 + a] - 1) * self.stride[a] - 2 * self.padding[a]
                + self.dilation[a] * (self.kernel_size[a] - 1) + self.output_padding[a] + 1
                for a in (0, 1))
        return (self.out_channels, h, w)

    def tensor_shapes(self) -> dict[str, tuple[int, ...]]:
        kh, kw = self.kernel_size
        shapes: dict[str, tuple[int, ...]] = {
            "weight": (self.in_channels, self.out_channels // self.groups, kh, kw)}
        if self.bias:
            shapes["bias"] = (self.out_channels,)
        return shapes

    # The seed's recipe; the transposed variant shows the same steps.
    STEPS: ClassVar[tuple[str, ...]] = (
        "Take the input volume and add stride - 1 zeros between neighbouring pixels "
        "(for stride 2: a 0 at each alternate position). This gives a new volume.",
        "Pad it with dilation*(k-1) - padding zeros on each side (crop if negative), plus "
        "output_padding zeros at the bottom and right.",
        "Flip every kernel by 180° (and insert holes if dilated).",
        "Apply a basic convolution, stride 1, on the new volume with the flipped kernels.",
    )

    def steps(self) -> tuple[str, ...]:
        return self.STEPS

    def zero_styles(self, in_shape: Shape) -> set[str]:
        return super().zero_styles(in_shape) | {"cs_pad"} | (
            {"cs_insert"} if self.stride != (1, 1) else set())

    # ------------------------------------------------------------------ the workbook
    def build(self, ctx: LayerContext, sources: Sequence[Block]) -> list[Block]:
        upsampled = self._upsample(ctx, sources)
        groups = self.groups
        per_in, per_out = self.in_channels // groups, self.out_channels // groups

        def in_label(a: int) -> str:
            return f"input channel {a}" + (f" (group {a // per_in})" if groups > 1 else "")

        weight = ctx.names.tensor + "weight"
        weights, bias = weight_stage(
            ctx, "Weights",
            f"The layer's weights in PyTorch's conv_transpose2d layout {weight}[in][out/groups]"
            ": one kernel per input channel and output channel it feeds. Edit the yellow cells.",
            in_label, lambda b: f"out {b}")
        kh, kw = self.kernel_size
        flipped = kernel_transform_stage(
            ctx, "Flipped", "Step 3: each kernel rotated by 180° (rows and columns reversed): a "
            "transposed convolution is a plain convolution with the flipped kernel.", weights,
            "flipped", flip_map(kh), flip_map(kw), in_label)
        kernels = dilate_stage(ctx, flipped, self.dilation, in_label)

        def kernel_for(o: int, k: int) -> Block:
            g = o // per_out
            return kernels[g * per_in + k][o - g * per_out]

        def describe(o: int, channels: Sequence[int]) -> str:
            return (f"= Σ over upsampled {channel_list(channels)} of SUMPRODUCT(window, flipped "
                    "kernel)" + (" + bias" if bias is not None else ""))

        height, width = upsampled[0].shape
        dkh, dkw = kernels[0][0].shape
        out_size = (height - dkh + 1, width - dkw + 1)
        if (self.out_channels, *out_size) != self.output_shape(ctx.layer.in_shape):
            raise AssertionError(f"layout out of step with the op: {out_size}")
        outputs = conv_stage(
            ctx, "Step 4: a plain convolution (stride 1) of the upsampled input with the "
            "flipped kernels, plus the bias. Select a cell and Trace Precedents to see its "
            "window.", upsampled, kernel_for, bias, out_channels=self.out_channels,
            groups=groups, stride=(1, 1), out_size=out_size, describe=describe)
        if "explorer" in ctx.plan.views:
            def kernel_cell(c: str, j: int) -> tuple[str, str]:
                group = f"INT({c}/{per_out})"
                return f"{group}*{per_in}+{j}", f"{c}-{group}*{per_out}"

            ctx.plan.later.append(lambda: explorer_stage(ctx, Exploration(
                upsampled, self.kernel_size, (1, 1), (0, 0), self.dilation, outputs,
                per_in=per_in, per_out=per_out, kernels=flipped, kernel_cell=kernel_cell,
                bias=bias, what="upsampled", kernel_what="flipped kernel")))
        if {"scatter", "matrix"} & ctx.plan.views:
            ctx.plan.later.append(lambda: self._other_ways(ctx, sources, weights, bias, outputs))
        return outputs

    def _other_ways(self, ctx: LayerContext, sources: Sequence[Block],
                    weights: list[list[Block]], bias: Block | None,
                    outputs: Sequence[Block]) -> None:
        """The scatter and matrix views (on the original input and the weights as given),
        and the guide's comparison of the three results."""
        geometry = {"stride": self.stride, "padding": self.padding, "dilation": self.dilation,
                    "groups": self.groups, "out_size": outputs[0].shape}
        scatter = (scatter_stage(ctx, sources, weights, bias, **geometry)
                   if "scatter" in ctx.plan.views else [])
        matrix = (transposed_matrix_stage(ctx, sources, weights, bias, outputs=outputs,
                                          **geometry)
                  if "matrix" in ctx.plan.views else [])
        three_ways(ctx, outputs, scatter, matrix)

    def view_values(self, x: np.ndarray, tensors: dict[str, np.ndarray], y: np.ndarray,
                    selected: Callable[[str], float], shown: Collection[str],
                    ) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
        """The scatter and matrix views and the guide's comparison, from the references
        (`scatter.scatter_values`, `matrix.transposed_matrix_values`)."""
        w = tensors["weight"]
        selection = [selected(f"scatter_{key}") for key in SELECT]
        out = scatter_values(x, w, y, selection, self.stride, self.padding)
        if "matrix_input" in shown:
            out.update(transposed_matrix_values(x, w, y, stride=self.stride,
                                                padding=self.padding, dilation=self.dilation,
                                                groups=self.groups))
        out.update(three_ways_values(y, ("insertion", "scatter", "matrix")))
        return out

    def explore_values(self, x: np.ndarray, tensors: dict[str, np.ndarray], y: np.ndarray,
                       c: int, r: int, k: int) -> dict[str, np.ndarray]:
        """The explorer at output (c, r, k): taps of the zero-inserted, padded input (the
        seed's recipe, from the reference helpers) and the flipped kernels."""
        per_in, per_out = self.in_channels // self.groups, self.out_channels // self.groups
        amounts = []
        for a in (0, 1):
            edge = self.dilation[a] * (self.kernel_size[a] - 1) - self.padding[a]
            amounts += [edge, edge + self.output_padding[a]]
        up = ref.pad_or_crop(ref.zero_insert(x, self.stride), *amounts)
        g = c // per_out
        flipped = ref.flip_kernel(tensors["weight"])[g * per_in:(g + 1) * per_in, c - g * per_out]
        (kh, kw), (dh, dw) = self.kernel_size, self.dilation
        rows, cols = r + dh * np.arange(kh), k + dw * np.arange(kw)
        return explore_conv_values(up[g * per_in:(g + 1) * per_in], flipped, tensors.get("bias"),
                                   rows, cols, y, c, r, k)

    def _upsample(self, ctx: LayerContext, sources: Sequence[Block]) -> list[Block]:
        """Steps 1-2: stride - 1 zeros between input pixels, then padded by
        dilation*(k-1) - padding on each side (cropped where negative), plus output_padding
        at the bottom/right."""
        maps = []
        for axis in (0, 1):
            n, s, k = sources[0].shape[axis], self.stride[axis], self.kernel_size[axis]
            edge = self.dilation[axis] * (k - 1) - self.padding[axis]
            inserted = insert_map(n, s)
            maps.append(compose(pad_map(len(inserted), edge, edge + self.output_padding[axis]),
                                inserted))
        return gather_stage(
            ctx, "Upsampled", "Steps 1-2 of a transposed convolution: zeros inserted between "
            "input pixels (stride - 1 per gap, orange), then padded with dilation*(k-1) - "
            "padding zeros (grey; cropped if negative), plus output_padding at the "
            "bottom/right.", sources, "upsampled", maps[0], maps[1], "(zero-inserted + padded)",
            self.groups)

    def size_expression(self, r: Callable[[str], str]) -> str:
        return (f"({r('input')}-1)*{r('stride')}-2*{r('padding')}+{r('dilation')}*"
                f"({r('kernel')}-1)+{r('output_padding')}+1")

    def size_text(self, axis: int, size: int) -> str:
        k, s, p, d = (self.kernel_size[axis], self.stride[axis], self.padding[axis],
                      self.dilation[axis])
        return (f"(H-1)·s - 2p + d·(k-1) + output_padding + 1 = ({size}-1)·{s} - 2·{p} + "
                f"{d}·({k}-1) + {self.output_padding[axis]} + 1")

    def count_expression(self, r: Callable[[str], str]) -> str:
        return (f"{r('in_channels')}*({r('out_channels')}/{r('groups')})*{r('kernel_height')}"
                f"*{r('kernel_width')}+{r('bias')}*{r('out_channels')}")

    count_text: ClassVar[str] = "weights C·(O/g)·kH·kW (+ O biases)"

    # ------------------------------------------------------------------ the oracle
    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        return ref.conv_transpose2d(x, tensors["weight"], tensors.get("bias"),
                                    stride=self.stride, padding=self.padding,
                                    output_padding=self.output_padding, groups=self.groups,
                                    dilation=self.dilation)

    def reference_size(self, axis: int, size: int) -> int:
        return ref.conv_transpose2d_output_size(size, self.kernel_size[axis], self.stride[axis],
                                                self.padding[axis], self.output_padding[axis],
                                                self.dilation[axis])

    def reference_parameter_count(self, in_channels: float) -> float:
        kh, kw = self.kernel_size
        return in_channels * (self.out_channels / self.groups) * kh * kw + \
            self.bias * self.out_channels
