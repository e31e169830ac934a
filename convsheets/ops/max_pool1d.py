"""max_pool1d: the largest value of each window of a sequence, channel by channel
(`torch.nn.MaxPool1d`); padding never wins a max, so the formulas leave it out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ._seq import Sequence1d
from .max_pool2d import MaxPool2d


@dataclass(frozen=True)
class MaxPool1d(Sequence1d, MaxPool2d):
    op: ClassVar[str] = "max_pool1d"
    module: ClassVar[str] = "MaxPool1d"
    default_prefix: ClassVar[str] = "maxpool"
    summary: ClassVar[str] = ("1-D max pooling: the largest value of each window, channel by "
                              "channel")

    unsupported: ClassVar[dict[str, tuple[object, str]]] = {
        **MaxPool2d.unsupported,
        "ceil_mode": (False, "is drawn for the 2-D pools (max_pool2d, avg_pool2d); along a "
                      "sequence only PyTorch's default (false)")}

    def extra_repr(self) -> str:
        """PyTorch prints the options as given: one number each."""
        return (f"kernel_size={self.kernel_size[1]}, stride={self.stride[1]}, "
                f"padding={self.padding[1]}, dilation={self.dilation[1]}, ceil_mode=False")

    def steps(self) -> tuple[str, ...]:
        return (
            f"Slide a window of {self.kernel_size[1]} along each channel separately, "
            f"{self.stride[1]} position(s) at a time (by default the stride is the window).",
            "Each output cell is the largest value in its window (MAX)." + (
                " Padding never wins: PyTorch pads with -inf, so padded positions are left "
                "out of the formula." if self.padding[1] else ""),
            "The channels stay separate: as many output channels as input channels, no weights.",
        )
