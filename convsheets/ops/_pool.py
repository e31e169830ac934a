"""What max_pool2d and avg_pool2d share (PyTorch's `_MaxPoolNd` / `_AvgPoolNd`): a window that
slides over each channel separately, stride defaulting to the window, padding at most half the
window, and one portable formula per output cell."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import SpecError
from ..options import check_pair
from .base import (
    Op,
    Shape,
    Window,
    check_window_fits,
    sliding_expression,
    sliding_lengths,
    sliding_text,
)

EXCEL_MAX_ARGUMENTS = 255  # a function call in Excel 2010+ takes at most 255 arguments


def int_or_pair(value: tuple[int, int]) -> str:
    """PyTorch prints a pooling option as it was given; a square one reads best as one int."""
    return str(value[0]) if value[0] == value[1] else f"({value[0]}, {value[1]})"


@dataclass(frozen=True)
class Pool2d(Op):
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int] = (0, 0)
    ceil_mode: bool = False

    # PyTorch options this op has that convsheets does not draw: (PyTorch's default, why)
    unsupported: ClassVar[dict[str, tuple[object, str]]] = {}

    @classmethod
    def create(cls, given: dict[str, object], in_shape: Shape) -> Op:
        """PyTorch's own default of an unsupported option may be spelled out; any other
        value is refused with the reason."""
        for key, (default, why) in cls.unsupported.items():
            if key in given and not (given[key] is default or given[key] == default
                                     and type(given[key]) is type(default)):
                raise SpecError(key, given[key], why)
        given = {k: v for k, v in given.items() if k not in cls.unsupported}
        return super().create(given, in_shape)

    @classmethod
    def _resolve(cls, values: dict[str, object], in_shape: Shape) -> Op:
        if values.get("stride") is None:
            values["stride"] = values["kernel_size"]
        return cls(**values)  # type: ignore[arg-type]

    def check(self, in_shape: Shape) -> None:
        for name, minimum in (("kernel_size", 1), ("stride", 1), ("padding", 0)):
            check_pair(name, getattr(self, name), minimum)
        check_pair("dilation", self.spread, 1)
        for axis in (0, 1):
            if self.padding[axis] > self.kernel_size[axis] // 2:
                raise SpecError("padding", self.padding,
                                "must be at most half of kernel_size "
                                f"({self.kernel_size[0]}x{self.kernel_size[1]}), as in PyTorch")
        check_window_fits(in_shape, self.kernel_size, self.padding, self.spread, "the window")

    def output_shape(self, in_shape: Shape) -> Shape:
        if not self.ceil_mode:
            return (in_shape[0], *sliding_lengths(in_shape, self.kernel_size, self.stride,
                                                  self.padding, self.spread))
        return (in_shape[0], *(self.ceil_length(a, in_shape[1 + a]) for a in (0, 1)))

    def as_options(self) -> dict[str, object]:
        """ceil_mode is recorded only when set, so workbooks without it keep their metadata."""
        out = super().as_options()
        if not self.ceil_mode:
            out.pop("ceil_mode")
        return out

    def ceil_length(self, axis: int, size: int) -> int:
        """ceil_mode's output length (ATen's `pooling_output_shape`): the division rounded
        up, then one less if the last window would start past the input and its left
        padding."""
        k, s, p, d = (self.kernel_size[axis], self.stride[axis], self.padding[axis],
                      self.spread[axis])
        out = -(-(size + 2 * p - d * (k - 1) - 1) // s) + 1
        return out - 1 if (out - 1) * s >= size + p else out

    def size_formula(self, axis: int, size: str) -> str:
        numbers = {"kernel": self.kernel_size, "stride": self.stride, "padding": self.padding,
                   "dilation": self.spread}
        floor = sliding_expression(lambda key: size if key == "input"
                                   else str(numbers[key][axis]))
        if not self.ceil_mode:
            return floor
        k, s, p, d = (numbers[key][axis] for key in ("kernel", "stride", "padding", "dilation"))
        up = f"(INT(({size}+{2 * p - d * (k - 1) - 1 + s - 1})/{s})+1)"
        return f"{up}-IF(({up}-1)*{s}>={size}+{p},1,0)"

    def size_text(self, axis: int, size: int) -> str:
        text = sliding_text(size, self.kernel_size[axis], self.stride[axis],
                            self.padding[axis], self.spread[axis])
        if not self.ceil_mode:
            return text
        return (text.replace("floor(", "ceil(") + ", minus 1 if the last window would start "
                f"past the input and its left padding (ceil_mode) = "
                f"{self.ceil_length(axis, size)}")

    def divisor_lengths(self, axis: int, size: int) -> list[int]:
        """Average pooling's count_include_pad divisor along `axis`, per output position: the
        window's cells inside the padded input (kernel_size for every window without
        ceil_mode; a window hanging past the padded input counts only its part inside)."""
        k, s, p = self.kernel_size[axis], self.stride[axis], self.padding[axis]
        shape = [1, 1, 1]
        shape[1 + axis] = size
        n = self.output_shape((shape[0], shape[1], shape[2]))[1 + axis]
        return [min(o * s - p + k, size + p) - (o * s - p) for o in range(n)]

    explore_reduce: ClassVar[str] = "MAX"

    @property
    def spread(self) -> tuple[int, int]:
        """How far apart a window's taps are: max pooling's dilation; average pooling has
        none (PyTorch keeps `_MaxPoolNd` and `_AvgPoolNd` apart for that)."""
        return (1, 1)

    def window(self) -> Window:
        """Windows of the raw input (taps in the padding are left out), channel by channel."""
        return Window(self.kernel_size, self.stride, (-self.padding[0], -self.padding[1]),
                      self.spread, reduce=self.explore_reduce, overhang=self.ceil_mode)

    def inside_taps(self, axis: int, out: int, size: int) -> list[int]:
        """Input indices of output position `out`'s window along `axis` that are not padding."""
        start = out * self.stride[axis] - self.padding[axis]
        return [t for t in (start + i * self.spread[axis] for i in range(self.kernel_size[axis]))
                if 0 <= t < size]

    def note(self) -> str:
        raise NotImplementedError
