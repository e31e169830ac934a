"""avg_pool1d: the mean of each window of a sequence, channel by channel
(`torch.nn.AvgPool1d`); with count_include_pad (PyTorch's default) padding counts as zeros in
the divisor k."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ._seq import Sequence1d
from .avg_pool2d import AvgPool2d


@dataclass(frozen=True)
class AvgPool1d(Sequence1d, AvgPool2d):
    op: ClassVar[str] = "avg_pool1d"
    module: ClassVar[str] = "AvgPool1d"
    default_prefix: ClassVar[str] = "avgpool"
    summary: ClassVar[str] = "1-D average pooling: the mean of each window, channel by channel"
    unsupported: ClassVar[dict[str, tuple[object, str]]] = {  # (AvgPool1d has no divisor)
        "ceil_mode": (False, "is drawn for the 2-D pools (max_pool2d, avg_pool2d); along a "
                      "sequence only PyTorch's default (false)")}

    def extra_repr(self) -> str:
        """Exactly PyTorch's `AvgPool1d.extra_repr`: one-element tuples."""
        return (f"kernel_size={self.shown(self.kernel_size)}, stride={self.shown(self.stride)}, "
                f"padding={self.shown(self.padding)}")

    def steps(self) -> tuple[str, ...]:
        k = self.kernel_size[1]
        padded = bool(self.padding[1])
        divisor = (f"divided by the window size {k}" + (" (padding counts as zeros)"
                                                        if padded else "")
                   if self.count_include_pad or not padded else
                   "divided by the number of non-padding cells (count_include_pad=False)")
        return (
            f"Slide a window of {k} along each channel separately, {self.stride[1]} "
            "position(s) at a time (by default the stride is the window).",
            f"Each output cell is the sum of its window {divisor}.",
            "The channels stay separate: as many output channels as input channels, no weights.",
        )
