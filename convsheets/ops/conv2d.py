"""conv2d: cross-correlation of the (zero-padded) input with one kernel per filter and input
channel of its group, strided and dilated, plus one bias per filter (`torch.nn.Conv2d`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from .. import reference as ref
from ._conv import CONV_OPTIONS, ConvNd
from .base import (
    Shape,
    Window,
    check_window_fits,
    sliding_expression,
    sliding_lengths,
    sliding_text,
)
from .conv_transpose2d import ConvTranspose2d


@dataclass(frozen=True)
class Conv2d(ConvNd):
    op: ClassVar[str] = "conv2d"
    module: ClassVar[str] = "Conv2d"
    default_prefix: ClassVar[str] = "conv"
    summary: ClassVar[str] = ("convolution: a kernel slides over the (padded) input; each "
                              "output cell is the sum of window x kernel over the channels + bias")
    options: ClassVar[dict[str, tuple[str, object]]] = CONV_OPTIONS
    differentiable: ClassVar[bool] = True

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

    # ------------------------------------------------------------------ the geometry
    def window(self) -> Window:
        """Windows of the padded input (so every tap is inside it), `stride` apart."""
        return Window(self.kernel_size, self.stride, (0, 0), self.dilation,
                      per_in=self.in_channels // self.groups,
                      per_out=self.out_channels // self.groups, kernels_by="out",
                      source_label="padded input" if self.padding != (0, 0) else "input")

    def window_source(self, x: np.ndarray) -> np.ndarray:
        return ref.pad2d(x, self.padding)

    def window_kernels(self, tensors: dict[str, np.ndarray]) -> np.ndarray:
        return tensors["weight"]

    def stages(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"padded": ref.pad2d(x, self.padding),
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
        return ref.conv2d(x, tensors["weight"], tensors.get("bias"), stride=self.stride,
                          padding=self.padding, dilation=self.dilation, groups=self.groups)

    def reference_size(self, axis: int, size: int) -> int:
        return ref.conv2d_output_size(size, self.kernel_size[axis], self.stride[axis],
                                      self.padding[axis], self.dilation[axis])

    def reference_parameter_count(self, in_channels: float) -> float:
        kh, kw = self.kernel_size
        return self.out_channels * (in_channels / self.groups) * kh * kw + \
            self.bias * self.out_channels

    # ------------------------------------------------------------------ the backward pass
    def transposed_twin(self, in_shape: Shape) -> ConvTranspose2d:
        """The transposed convolution that maps grad_output back to grad_input: the same
        kernel, stride, padding, dilation and groups, channels swapped, weights read in
        conv_transpose2d's [in][out/groups] layout (which is this layer's [out][in/groups]),
        no bias, and output_padding = the rows and columns the stride skipped
        ((H + 2p - d·(k-1) - 1) mod s), so it gives back the input's size."""
        extra = tuple((in_shape[1 + a] + 2 * self.padding[a]
                       - self.dilation[a] * (self.kernel_size[a] - 1) - 1) % self.stride[a]
                      for a in (0, 1))
        return ConvTranspose2d(self.out_channels, self.in_channels, self.kernel_size,
                               self.stride, self.padding, self.dilation, self.groups, False,
                               output_padding=extra)  # type: ignore[arg-type]

    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        grad_x, grad_w, grad_b = grad.conv2d_backward(
            x, tensors["weight"], grad_y, stride=self.stride, padding=self.padding,
            dilation=self.dilation, groups=self.groups)
        return grad_x, {"weight": grad_w, **({"bias": grad_b} if self.bias else {})}

    def backward_stages(self, x: np.ndarray, tensors: dict[str, np.ndarray],
                        grad_y: np.ndarray) -> dict[str, np.ndarray]:
        """grad_output with stride - 1 zeros between its cells (what grad_weight correlates
        the padded input with), and the transposed twin's steps (grad_input)."""
        twin = self.transposed_twin(x.shape)  # type: ignore[arg-type]
        steps = twin.stages(grad_y, {"weight": tensors["weight"]})
        return {"grad_stretched": ref.zero_insert(grad_y, self.stride),
                "grad_upsampled": steps["upsampled"], "grad_flipped": steps["flipped"],
                "grad_dilated": steps["dilated"]}

    def backward_steps(self) -> tuple[str, ...]:
        return (
            "grad_bias: each filter's bias was added to every cell of its output channel, "
            "so its gradient is the SUM of that channel's grad_output.",
            "grad_weight: each weight met the (padded) input once per output cell, every "
            "stride cells; so take grad_output, insert stride - 1 zeros between its cells "
            "(Stretched) and slide it over the padded input like a kernel, its windows "
            "dilation apart: SUMPRODUCT of window and stretched gradient, one per weight.",
            "grad_input: each input cell fed every output cell whose window held it, times "
            "the weight it met there. Gathering those is a transposed convolution of "
            "grad_output with the same weights: insert stride - 1 zeros (Upsampled), pad by "
            "dilation·(k-1) - padding, flip every kernel (Flipped), and convolve with "
            "stride 1, summing over the filters that read the channel.",
        )
