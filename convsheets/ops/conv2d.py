"""conv2d: cross-correlation of the (zero-padded) input with one kernel per filter and input
channel of its group, strided and dilated, plus one bias per filter (`torch.nn.Conv2d`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from .. import reference as ref
from ..errors import SpecError
from ._conv import CONV_OPTIONS, ConvNd
from .base import (
    Op,
    Shape,
    Window,
    check_window_fits,
    sliding_expression,
    sliding_lengths,
    sliding_text,
)
from .conv_transpose2d import ConvTranspose2d

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


@dataclass(frozen=True)
class Conv2d(ConvNd):
    # padding given as text: PyTorch's "same" / "valid" (or conv1d's "causal"); then
    # `padding` holds the zeros before (top, left) and `pads` the zeros on every side
    padding_rule: str = ""
    padding_mode: str = "zeros"

    op: ClassVar[str] = "conv2d"
    module: ClassVar[str] = "Conv2d"
    default_prefix: ClassVar[str] = "conv"
    summary: ClassVar[str] = ("convolution: a kernel slides over the (padded) input; each "
                              "output cell is the sum of window x kernel over the channels + bias")
    differentiable: ClassVar[bool] = True
    options: ClassVar[dict[str, tuple[str, object]]] = {
        **CONV_OPTIONS, "padding": ("padding", (0, 0)), "padding_mode": ("str", "zeros")}
    padding_rules: ClassVar[tuple[str, ...]] = ("same", "valid")

    @classmethod
    def _resolve(cls, values: dict[str, object], in_shape: Shape) -> Op:
        rule = values["padding"]
        if isinstance(rule, str):
            if rule not in cls.padding_rules:
                raise SpecError("padding", rule, f"is conv1d's (left padding along a sequence); "
                                f"{cls.op} takes a number, \"same\" or \"valid\"")
            kernel, dilation = values["kernel_size"], values["dilation"]
            totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]  # type: ignore[call-overload]
            values["padding_rule"] = rule
            values["padding"] = ((0, 0) if rule == "valid" else (0, totals[1])
                                 if rule == "causal" else (totals[0] // 2, totals[1] // 2))
        return super()._resolve(values, in_shape)

    def pads(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """Zeros (before, after) along each axis: `padding` on both sides; "same" puts the
        extra zero of an odd total after (bottom/right), as PyTorch does; "causal" pads the
        sequence's left only."""
        if self.padding_rule == "causal":
            return ((0, 0), (self.padding[1], 0))
        if self.padding_rule == "same":
            total = [d * (k - 1) for k, d in zip(self.kernel_size, self.dilation, strict=True)]
            return ((self.padding[0], total[0] - self.padding[0]),
                    (self.padding[1], total[1] - self.padding[1]))
        return ((self.padding[0], self.padding[0]), (self.padding[1], self.padding[1]))

    def as_options(self) -> dict[str, object]:
        """padding given as text is recorded as given; padding_mode only when it is not
        PyTorch's default (zeros), so the workbooks of zero-padded convolutions keep their
        metadata."""
        out = super().as_options()
        rule = out.pop("padding_rule")
        if rule:
            out["padding"] = rule
        if self.padding_mode == "zeros":
            out.pop("padding_mode")
        return out

    def check(self, in_shape: Shape) -> None:
        super().check(in_shape)
        if self.padding_rule == "same" and self.stride != (1, 1):
            raise SpecError("padding", "same", "is not supported for strided convolutions "
                            "(stride must be 1, as in PyTorch)")
        if self.padding_mode not in PADDING_MODES:
            raise SpecError("padding_mode", self.padding_mode,
                            "must be 'zeros', 'reflect', 'replicate' or 'circular', as in "
                            "PyTorch")
        if self.padding_mode != "zeros" and self.padding_rule:
            raise SpecError("padding_mode", self.padding_mode, f"goes with a number of rows "
                            f"and columns of padding, not padding=\"{self.padding_rule}\"")
        for axis, what in ((0, "height"), (1, "width")):
            p, n = self.padding[axis], in_shape[1 + axis]
            if self.padding_mode == "reflect" and p >= n or \
                    self.padding_mode == "circular" and p > n:
                rule = "less than" if self.padding_mode == "reflect" else "at most"
                raise SpecError("padding", self.padding,
                                f"must be {rule} the input {what} ({n}) with "
                                f"padding_mode={self.padding_mode!r}, as in PyTorch")
        if self.padding_rule in ("", "valid"):
            check_window_fits(in_shape, self.kernel_size, self.padding, self.dilation,
                              "the (dilated) kernel")

    def output_shape(self, in_shape: Shape) -> Shape:
        if self.padding_rule in ("same", "causal"):  # the padded input is (k-1)·d longer
            return (self.out_channels, *(
                (in_shape[1 + a] + sum(self.pads()[a]) - self.dilation[a]
                 * (self.kernel_size[a] - 1) - 1) // self.stride[a] + 1 for a in (0, 1)))
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

    def extra_repr(self) -> str:
        """PyTorch's: ``padding_mode=reflect`` (unquoted) after the rest, when not zeros."""
        extra = "" if self.padding_mode == "zeros" else f", padding_mode={self.padding_mode}"
        return super().extra_repr() + extra

    def zero_styles(self, in_shape: Shape) -> set[str]:
        pads = any(map(any, self.pads()))
        return super().zero_styles(in_shape) | (
            {"cs_pad"} if pads and self.padding_mode == "zeros" else
            {"cs_mirror"} if pads else set())

    # ------------------------------------------------------------------ the geometry
    def window(self) -> Window:
        """Windows of the padded input (so every tap is inside it), `stride` apart."""
        return Window(self.kernel_size, self.stride, (0, 0), self.dilation,
                      per_in=self.in_channels // self.groups,
                      per_out=self.out_channels // self.groups, kernels_by="out",
                      source_label="padded input" if any(map(any, self.pads())) else "input")

    def window_source(self, x: np.ndarray) -> np.ndarray:
        if self.padding_rule:
            return ref.pad_or_crop(x, *ref.conv_string_padding(self.padding_rule,
                                                               self.kernel_size, self.dilation))
        return ref.pad2d(x, self.padding, self.padding_mode)

    def window_position(self, axis: int, index: int) -> int:
        return index + self.pads()[axis][0]

    def window_kernels(self, tensors: dict[str, np.ndarray]) -> np.ndarray:
        return tensors["weight"]

    def stages(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"padded": self.window_source(x),
                "dilated": ref.dilate_kernel(tensors["weight"], self.dilation)}

    def size_expression(self, r: Callable[[str], str]) -> str:
        return sliding_expression(r)

    def size_formula(self, axis: int, size: str) -> str:
        if self.padding_rule in ("same", "causal"):  # zeros on the two sides differ
            k, s, d = self.kernel_size[axis], self.stride[axis], self.dilation[axis]
            return f"INT(({size}+{sum(self.pads()[axis])}-{d}*({k}-1)-1)/{s})+1"
        return super().size_formula(axis, size)

    def size_text(self, axis: int, size: int) -> str:
        if self.padding_rule in ("same", "causal"):
            k, s, d = self.kernel_size[axis], self.stride[axis], self.dilation[axis]
            before, after = self.pads()[axis]
            return (f"floor((H + before + after - d·(k-1) - 1) / s) + 1 = floor(({size} + "
                    f"{before} + {after} - {d}·({k}-1) - 1) / {s}) + 1 (padding "
                    f"\"{self.padding_rule}\")")
        return sliding_text(size, self.kernel_size[axis], self.stride[axis],
                            self.padding[axis], self.dilation[axis])

    def count_expression(self, r: Callable[[str], str]) -> str:
        return (f"{r('out_channels')}*({r('in_channels')}/{r('groups')})*{r('kernel_height')}"
                f"*{r('kernel_width')}+{r('bias')}*{r('out_channels')}")

    count_text: ClassVar[str] = "weights O·(C/g)·kH·kW (+ O biases)"

    # ------------------------------------------------------------------ the oracle
    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        if self.padding_rule:  # PyTorch pads explicitly (F.pad), then convolves unpadded
            x = ref.pad_or_crop(x, *ref.conv_string_padding(self.padding_rule,
                                                            self.kernel_size, self.dilation))
            return ref.conv2d(x, tensors["weight"], tensors.get("bias"), stride=self.stride,
                              dilation=self.dilation, groups=self.groups)
        if self.padding_mode != "zeros":  # as PyTorch: F.pad, then a convolution without
            return ref.conv2d(ref.pad2d(x, self.padding, self.padding_mode), tensors["weight"],
                              tensors.get("bias"), stride=self.stride, padding=(0, 0),
                              dilation=self.dilation, groups=self.groups)
        return ref.conv2d(x, tensors["weight"], tensors.get("bias"), stride=self.stride,
                          padding=self.padding, dilation=self.dilation, groups=self.groups)

    def reference_size(self, axis: int, size: int) -> int:
        if self.padding_rule:
            sides = ref.conv_string_padding(self.padding_rule, self.kernel_size, self.dilation)
            return ref.conv2d_output_size(size + sides[2 * axis] + sides[2 * axis + 1],
                                          self.kernel_size[axis], self.stride[axis], 0,
                                          self.dilation[axis])
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
        ((H + before + after - d·(k-1) - 1) mod s), so it gives back the input's size.
        Uneven padding (causal, an odd "same") moves the difference into output_padding
        (before - after more zeros after): the gradient is padded in mirror image, d·(k-1) -
        before zeros first and d·(k-1) - after last, which may be negative (a crop)."""
        pads = self.pads()
        extra = tuple((in_shape[1 + a] + sum(pads[a])
                       - self.dilation[a] * (self.kernel_size[a] - 1) - 1) % self.stride[a]
                      + pads[a][0] - pads[a][1] for a in (0, 1))
        return ConvTranspose2d(self.out_channels, self.in_channels, self.kernel_size,
                               self.stride, self.padding, self.dilation, self.groups, False,
                               output_padding=extra)  # type: ignore[arg-type]

    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        grad_x, grad_w, grad_b = grad.conv2d_backward(
            x, tensors["weight"], grad_y, stride=self.stride, padding=self.pads(),
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
            "stride 1, summing over the filters that read the channel."
            + (" The layer pads unevenly, so the gradient does too, in mirror image: "
               "dilation·(k-1) minus the layer's zeros before on the first side, minus its "
               "zeros after on the last." if any(a != b for a, b in self.pads()) else ""),
        )
