"""What ReLU-like ops share: each output cell is a function of the one input cell at the same
place (PyTorch's element-wise activations). The shape does not change and there are no weights;
an op says only how one cell is computed, as a portable spreadsheet expression (`cell`) and in
NumPy (`reference`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .base import Op, Shape


def number(value: float) -> str:
    """An option's number as a formula reads it: plain decimals, no exponent (the option
    reader keeps it to the 15 significant digits a spreadsheet holds), negative ones in
    parentheses so that they can follow any operator."""
    text = np.format_float_positional(value, trim="-")
    return f"({text})" if value < 0 else text


def stable_sigmoid(x: str) -> str:
    """1 / (1 + e^-x) as a formula that never overflows, for any x: EXP(MIN(x, 0)) / (1 +
    EXP(-ABS(x))) is 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) for x < 0, and neither EXP
    ever sees a positive argument (1 / (1 + EXP(-x)) is #NUM! below x = -709.78)."""
    return f"EXP(MIN({x},0))/(1+EXP(-ABS({x})))"


@dataclass(frozen=True)
class Elementwise(Op):
    """One cell in, one cell out, channel by channel (or along a vector of features)."""

    vector_ok: ClassVar[bool] = True
    dims: ClassVar[int] = 0  # a sequence's (C, L) as well as an image

    def output_shape(self, in_shape: Shape) -> Shape:
        return in_shape

    def cell(self, x: str) -> str:
        """The output cell's formula (without "=") from the reference `x` of its input cell."""
        raise NotImplementedError

    def rule(self) -> str:
        """The formula as a reader sees it over a cell named x: "MAX(0, x)"."""
        raise NotImplementedError

    def note(self) -> str:
        """The Output sheet's note."""
        return (f"Each cell is {self.rule()} of the same cell of the layer's input.")

    def size_formula(self, axis: int, size: str) -> str:
        return size

    def size_text(self, axis: int, size: int) -> str:
        return "unchanged"

    def reference_size(self, axis: int, size: int) -> int:
        return size

    # ------------------------------------------------------------------ the backward pass
    # A differentiable element-wise op says how one cell of dL/d(input) is computed, as it
    # says how one output cell is: a portable formula (`grad_cell`), its reader's form
    # (`grad_rule`), why (`grad_note`), and the NumPy rule (`backward`, by `gradients.py`).
    grad_reads: ClassVar[str] = "x"  # which cells besides g the rule reads: "x", "y", ""

    def grad_cell(self, x: str, g: str, y: str) -> str:
        """dL/d(input) of one cell (without "="), from the references of the layer's input
        cell `x`, its grad_output cell `g` and its output cell `y` (the same place)."""
        raise NotImplementedError

    def grad_rule(self) -> str:
        """`grad_cell` as a reader sees it over cells named x, y and g."""
        raise NotImplementedError

    def grad_note(self) -> str:
        """Why the rule is the derivative (the sheet's note and the Chain Rule step)."""
        raise NotImplementedError

    def grad_names(self) -> str:
        """What the rule's letters are: "x the layer's input and g its grad_output"."""
        names = {"x": "x the layer's input", "y": "y the layer's output", "": ""}[self.grad_reads]
        return f"{names} and g its grad_output" if names else "g the layer's grad_output"

    def backward_steps(self) -> tuple[str, ...]:
        if not self.differentiable:
            return ()
        return (f"grad_input = {self.grad_rule()}, cell by cell, with {self.grad_names()}: "
                f"{self.grad_note()}",)
