"""conv1d: cross-correlation of a (zero-padded) sequence with one kernel per filter and input
channel of its group, strided and dilated, plus one bias per filter (`torch.nn.Conv1d`).
Padding may be a number, PyTorch's "same" / "valid", or "causal": dilation·(k-1) zeros on the
left only, what ``F.pad(x, (p, 0))`` then ``F.conv1d`` computes, so no output reads the future."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ._seq import Sequence1d
from .conv2d import Conv2d


@dataclass(frozen=True)
class Conv1d(Sequence1d, Conv2d):
    op: ClassVar[str] = "conv1d"
    module: ClassVar[str] = "Conv1d"
    default_prefix: ClassVar[str] = "conv"
    summary: ClassVar[str] = ("1-D convolution: a kernel slides along the (padded) sequence; "
                              "each output cell is the sum of window x kernel over the channels "
                              "+ bias")
    padding_rules: ClassVar[tuple[str, ...]] = ("same", "valid", "causal")

    def steps(self) -> tuple[str, ...]:
        _, (left, right) = self.pads()
        pad = ("Pad each channel with " + (
            f"{left} zero(s) on the left only (causal: dilation·(k-1), so output t reads "
            "inputs up to t and never a later one)" if self.padding_rule == "causal" else
            f"{left} zero(s) on the left and {right} on the right") + "."
            if left or right else "No padding: the kernel starts at the first position.")
        return (
            pad,
            "Take a window of the sequence as long as the (dilated) kernel, through the "
            "channels the filter sees (all of them unless grouped).",
            "Multiply the window and the kernel element-wise (one SUMPRODUCT per channel), "
            "add over the channels, and add the filter's bias.",
            f"Step {self.stride[1]} position(s) right and repeat; each filter gives one output "
            "channel (one row).",
        )
