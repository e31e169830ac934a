"""What conv2d and conv_transpose2d share, as in PyTorch's `_ConvNd`: the options, the rules
on channels and groups and the printed form."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from ..errors import SpecError
from ..options import check_pair, check_positive
from .base import REQUIRED, Op, Shape, pair_repr

INFER = None  # in_channels: taken from the layer's input when a template leaves it out

CONV_OPTIONS: dict[str, tuple[str, object]] = {
    "in_channels": ("int", INFER),
    "out_channels": ("int", REQUIRED),
    "kernel_size": ("pair", REQUIRED),
    "stride": ("pair", (1, 1)),
    "padding": ("pair", (0, 0)),
    "dilation": ("pair", (1, 1)),
    "groups": ("int", 1),
    "bias": ("bool", True),
}


@dataclass(frozen=True)
class ConvNd(Op):
    """Options and rules common to both convolutions (PyTorch's `_ConvNd`)."""

    in_channels: int
    out_channels: int
    kernel_size: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    bias: bool = True

    has_parameters: ClassVar[bool] = True
    pair_checks: ClassVar[tuple[tuple[str, int], ...]] = (
        ("kernel_size", 1), ("stride", 1), ("dilation", 1), ("padding", 0))

    def input_groups(self) -> int:
        return self.groups

    @classmethod
    def _resolve(cls, values: dict[str, object], in_shape: Shape) -> Op:
        if values["in_channels"] is INFER:
            values["in_channels"] = in_shape[0]
        return cls(**values)  # type: ignore[arg-type]

    def check(self, in_shape: Shape) -> None:
        for name, minimum in self.pair_checks:
            check_pair(name, getattr(self, name), minimum)
        for name in ("groups", "in_channels", "out_channels"):
            check_positive(name, getattr(self, name))
        if self.in_channels != in_shape[0]:
            raise SpecError("in_channels", self.in_channels,
                            f"must equal the channels of the layer's input ({in_shape[0]})")
        if self.in_channels % self.groups:
            raise SpecError("groups", self.groups, f"must divide in_channels={self.in_channels}")
        if self.out_channels % self.groups:
            raise SpecError("groups", self.groups,
                            f"must divide out_channels={self.out_channels}")

    def extra_repr(self) -> str:
        """PyTorch's `_ConvNd.extra_repr`: stride always, the rest only when not default."""
        shown = self.shown
        s = (f"{self.in_channels}, {self.out_channels}, "
             f"kernel_size={shown(self.kernel_size)}, stride={shown(self.stride)}")
        rule = getattr(self, "padding_rule", "")
        if rule:
            s += f", padding={rule}"
        elif self.padding != (0, 0):
            s += f", padding={shown(self.padding)}"
        if self.dilation != (1, 1):
            s += f", dilation={shown(self.dilation)}"
        output_padding = getattr(self, "output_padding", (0, 0))
        if output_padding != (0, 0):
            s += f", output_padding={shown(output_padding)}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if not self.bias:
            s += ", bias=False"
        return s

    @staticmethod
    def shown(value: tuple[int, int]) -> str:
        """A pair option as PyTorch prints it (a 1-D op prints one number: ``(3,)``)."""
        return pair_repr(value)

    def number(self, key: str, axis: int) -> int:
        """One axis of a pair option, by the guide's short key (kernel, stride, ...)."""
        field = {"kernel": "kernel_size"}.get(key, key)
        return getattr(self, field)[axis]

    def size_formula(self, axis: int, size: str) -> str:
        return self.size_expression(lambda key: size if key == "input"
                                    else str(self.number(key, axis)))

    def size_expression(self, r: Callable[[str], str]) -> str:
        """The output length as an Excel expression of the parameters `r(key)` returns:
        keys input, kernel, stride, padding, dilation (and output_padding)."""
        raise NotImplementedError

    def parameter_count_formula(self, in_channels: str) -> str:
        return self.count_expression(lambda key: in_channels if key == "in_channels"
                                     else str(self.count_number(key)))

    def count_number(self, key: str) -> int:
        return {"out_channels": self.out_channels, "in_channels": self.in_channels,
                "groups": self.groups, "kernel_height": self.kernel_size[0],
                "kernel_width": self.kernel_size[1], "bias": int(self.bias)}[key]

    def count_expression(self, r: Callable[[str], str]) -> str:
        """The parameter count as an Excel expression of in_channels, out_channels, groups,
        kernel_height, kernel_width and bias (1 or 0)."""
        raise NotImplementedError

    def zero_styles(self, in_shape: Shape) -> set[str]:
        return {"cs_hole"} if self.dilation != (1, 1) else set()
