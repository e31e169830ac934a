"""What softmax and log_softmax share (`torch.nn.Softmax` / `LogSoftmax`, over dim=1): over the
channels of each pixel of a map, or over the features of a vector (after a flatten or a
linear), as PyTorch computes them: m = the largest value, e = EXP(x - m) (so EXP never
overflows), s = the SUM of the e's; softmax = e / s, log_softmax = x - m - LN(s).

Whether the input is a vector is known only where the layer sits in the chain, so the network
calls `placed` with it (the option `dim` means the channels of a map and the features of a
vector: PyTorch's dim 1 of (1, C, H, W) and of (1, N))."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from ..errors import SpecError
from .base import Op, Shape

EXCEL_MAX_ARGUMENTS = 255


@dataclass(frozen=True)
class SoftmaxBase(Op):
    dim: int | None = None
    vector: bool = False  # set by `placed`: the input is a vector of features, not a map

    vector_ok: ClassVar[bool] = True
    log: ClassVar[bool] = False
    differentiable: ClassVar[bool] = True
    options: ClassVar[dict[str, tuple[str, object]]] = {"dim": ("int", None)}

    @classmethod
    def create(cls, given: dict[str, object], in_shape: Shape) -> Op:
        """dim=None (a record of PyTorch's unset dim) is the default, not a number."""
        return super().create({k: v for k, v in given.items()
                               if not (k == "dim" and v is None)}, in_shape)

    def placed(self, in_shape: Shape, vector: bool) -> Op:
        """The op where it sits: `dim` must name the channels (map) or the features
        (vector), as PyTorch counts the dims of (1, C, H, W) or (1, N)."""
        allowed = (1, -1) if vector else (1, -3)
        if self.dim is not None and self.dim not in allowed:
            what = ("its input is a vector of features, (1, N): dim 1 or -1" if vector else
                    "its input is a map (1, C, H, W): convsheets draws it over the channels, "
                    "dim 1 or -3")
            raise SpecError("dim", self.dim, f"is not supported: {what} (or unset, PyTorch's "
                            "implicit dim 1)")
        if not vector and in_shape[0] > EXCEL_MAX_ARGUMENTS:
            raise SpecError("dim", self.dim, f"runs over {in_shape[0]} channels: each pixel's "
                            f"MAX and SUM would take {in_shape[0]} arguments; Excel allows "
                            f"{EXCEL_MAX_ARGUMENTS}")
        return replace(self, vector=vector)

    def as_options(self) -> dict[str, object]:
        """`vector` is where the layer sits, not an option: not recorded."""
        out = super().as_options()
        out.pop("vector")
        return out

    def output_shape(self, in_shape: Shape) -> Shape:
        return in_shape

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    def over(self) -> str:
        return "the features of the vector" if self.vector else "the channels of each pixel"

    def steps(self) -> tuple[str, ...]:
        last = ("each output is e / s: positive, summing to 1 (probabilities)" if not self.log
                else "each output is x - m - LN(s), the logarithm of e / s, computed without "
                "dividing")
        return (f"Over {self.over()} (dim={self.dim}): m = the largest value (the Max block), "
                "e = EXP(x - m) for each value (the Exp blocks: subtracting m changes nothing "
                "in the result and keeps EXP from overflowing, as PyTorch does), s = the SUM of "
                f"the e's (the Sum block); {last}.",
                "The shape does not change and there are no weights.")

    def note(self) -> str:
        how = "e / s" if not self.log else "x - m - LN(s)"
        return (f"Each cell is {how}, with m the largest value and s the SUM of EXP(x - m) over "
                f"{self.over()} (the layer's Exp sheet).")

    def size_formula(self, axis: int, size: str) -> str:
        return size

    def size_text(self, axis: int, size: int) -> str:
        return "unchanged"

    def reference_size(self, axis: int, size: int) -> int:
        return size

    def _axis(self) -> int:
        return 2 if self.vector else 0

    def stages(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """m, EXP(x - m) and their SUM, as PyTorch's kernel computes them."""
        x = np.asarray(x, dtype=np.float64)
        m = np.max(x, axis=self._axis(), keepdims=True)
        e = np.exp(x - m)
        s = np.sum(e, axis=self._axis(), keepdims=True)
        return {"max": m, "exp": e, "sum": s}

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        parts = self.stages(x, tensors)
        if self.log:
            return np.asarray(x, dtype=np.float64) - parts["max"] - np.log(parts["sum"])
        return parts["exp"] / parts["sum"]

    # ------------------------------------------------------------------ the backward pass
    # Every output of a pixel (or of the vector) depends on every input of it, so one cell of
    # grad_input needs a sum over the whole dim: softmax's Σ g·y, log_softmax's Σ g, drawn
    # as a block of its own (the Grad Sum sheet) before grad_input.
    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return grad.softmax_backward(x, grad_y, self._axis(), self.log), {}

    def backward_stages(self, x: np.ndarray, tensors: dict[str, np.ndarray],
                        grad_y: np.ndarray) -> dict[str, np.ndarray]:
        """softmax: each g·y and their sum over the dim (grad_gy, grad_dot); log_softmax:
        the sum of g over the dim (grad_sum). y by the forward reference."""
        g = np.asarray(grad_y, dtype=np.float64)
        if self.log:
            return {"grad_sum": np.sum(g, axis=self._axis(), keepdims=True)}
        gy = g * self.reference(x, tensors)
        return {"grad_gy": gy, "grad_dot": np.sum(gy, axis=self._axis(), keepdims=True)}

    def backward_steps(self) -> tuple[str, ...]:
        over = self.over()
        if self.log:
            return (f"sum = Σ g over {over} (the Grad Sum sheet), g the layer's grad_output.",
                    "grad_input = g - EXP(y) · sum, cell by cell, y the layer's output: "
                    "log_softmax's slope d y_i / d x_j is 1 - softmax_j for i = j and "
                    "-softmax_j otherwise (every output of the dim depends on every input), "
                    "and EXP(y) is the softmax (as PyTorch's _log_softmax_backward_data).")
        return (f"dot = Σ g·y over {over} (the Grad Sum sheet: each product g·y, then their "
                "SUM), g the layer's grad_output and y its output.",
                "grad_input = y · (g - dot), cell by cell: softmax's slope d y_i / d x_j is "
                "y_i·(1 - y_j) for i = j and -y_i·y_j otherwise (every output of the dim "
                "depends on every input), so input j gathers y_j·g_j - y_j·Σ g_i·y_i (as "
                "PyTorch's _softmax_backward_data).")
