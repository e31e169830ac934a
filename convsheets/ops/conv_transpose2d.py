"""conv_transpose2d: zero-insertion between input pixels, padding by dilation*(k-1) - padding
(cropping where negative, + output_padding at the bottom/right), then a plain stride-1
convolution with the flipped kernels (`torch.nn.ConvTranspose2d`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from .. import reference as ref
from ..errors import SpecError
from ..options import check_pair
from ._conv import CONV_OPTIONS, ConvNd
from .base import Shape, Window


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
    differentiable: ClassVar[bool] = True

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

    # ------------------------------------------------------------------ the geometry
    def edges(self, axis: int) -> tuple[int, int]:
        """Zeros added (negative: cells cropped) before and after the zero-inserted input along
        `axis`: dilation*(k-1) - padding on each side, + output_padding after (steps 1-2)."""
        edge = self.dilation[axis] * (self.kernel_size[axis] - 1) - self.padding[axis]
        return edge, edge + self.output_padding[axis]

    def window(self) -> Window:
        """Stride-1 windows of the zero-inserted, padded input, read with the flipped
        kernels of weight[in][out/groups]."""
        return Window(self.kernel_size, (1, 1), (0, 0), self.dilation,
                      per_in=self.in_channels // self.groups,
                      per_out=self.out_channels // self.groups, kernels_by="in",
                      source_label="upsampled", kernel_label="flipped kernel")

    def window_position(self, axis: int, index: int) -> int:
        """Zero insertion puts input cell i at i·stride, then the zeros before it shift it
        (a crop, negative, can push it out of the source)."""
        return index * self.stride[axis] + self.edges(axis)[0]

    def window_source(self, x: np.ndarray) -> np.ndarray:
        """Steps 1-2 by the reference's helpers: zero insertion, then dilation*(k-1) - padding
        zeros on each side (cropped where negative), + output_padding at the bottom/right.
        (Written out here, not from `edges`, which the drawing uses: the oracle stays apart.)"""
        amounts = []
        for a in (0, 1):
            edge = self.dilation[a] * (self.kernel_size[a] - 1) - self.padding[a]
            amounts += [edge, edge + self.output_padding[a]]
        return ref.pad_or_crop(ref.zero_insert(x, self.stride), *amounts)

    def stages(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        flipped = ref.flip_kernel(tensors["weight"])
        return {"upsampled": self.window_source(x), "flipped": flipped,
                "dilated": ref.dilate_kernel(flipped, self.dilation)}

    def window_kernels(self, tensors: dict[str, np.ndarray]) -> np.ndarray:
        """Step 3: output channel o of group g multiplies the flipped kernels
        weight[g*per_in + j][o - g*per_out]."""
        per_in, per_out = self.in_channels // self.groups, self.out_channels // self.groups
        flipped = ref.flip_kernel(tensors["weight"])
        return np.stack([flipped[o // per_out * per_in:(o // per_out + 1) * per_in,
                                 o % per_out] for o in range(self.out_channels)])

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

    # ------------------------------------------------------------------ the backward pass
    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        grad_x, grad_w, grad_b = grad.conv_transpose2d_backward(
            x, tensors["weight"], grad_y, stride=self.stride, padding=self.padding,
            output_padding=self.output_padding, dilation=self.dilation, groups=self.groups)
        return grad_x, {"weight": grad_w, **({"bias": grad_b} if self.bias else {})}

    def backward_stages(self, x: np.ndarray, tensors: dict[str, np.ndarray],
                        grad_y: np.ndarray) -> dict[str, np.ndarray]:
        """The mirror image of conv2d's: grad_output zero-padded by `padding` (what a plain
        strided convolution reads for grad_input, and grad_weight's windows), the input
        stretched by the stride (grad_weight's other factor) and the kernels with holes."""
        return {"grad_padded": ref.pad2d(grad_y, self.padding),
                "grad_stretched": ref.zero_insert(x, self.stride),
                "grad_dilated": ref.dilate_kernel(tensors["weight"], self.dilation)}

    def backward_steps(self) -> tuple[str, ...]:
        return (
            "grad_bias: the SUM of each output channel's grad_output.",
            "grad_weight: each weight carried input cell x into the output cell "
            "x·stride - padding + tap·dilation; so pad grad_output by padding (Padded) and "
            "slide the input, with stride - 1 zeros between its cells (Stretched), over it "
            "like a kernel: SUMPRODUCT, one per weight.",
            "grad_input: the mirror image of a convolution's: a plain convolution of the "
            "padded grad_output with the same kernels, not flipped, with the layer's stride "
            "and dilation.",
        )
