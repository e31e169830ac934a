"""linear: every output feature is the dot product of one row of the weight matrix with the
input vector, plus its bias (`torch.nn.Linear`, y = x Wᵀ + b). Its input is a vector of
in_features (after a flatten); its output is one row of out_features cells."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from ..errors import SpecError
from ..options import check_positive
from .base import REQUIRED, Op, Shape

INFER = None  # in_features: taken from the layer's input when a template leaves it out
MAX_FEATURES = 16_383  # one row of cells (Excel has 16,384 columns, one for the labels)


@dataclass(frozen=True)
class Linear(Op):
    in_features: int
    out_features: int
    bias: bool = True

    op: ClassVar[str] = "linear"
    module: ClassVar[str] = "Linear"
    default_prefix: ClassVar[str] = "fc"
    summary: ClassVar[str] = ("linear (fully connected): each output is SUMPRODUCT of one row "
                              "of the weight matrix with the input vector, plus its bias")
    options: ClassVar[dict[str, tuple[str, object]]] = {
        "in_features": ("int", INFER), "out_features": ("int", REQUIRED), "bias": ("bool", True)}
    has_parameters: ClassVar[bool] = True
    flattens: ClassVar[bool] = True
    dims: ClassVar[int] = 0  # a sequence's (C, L) as well as an image
    vector_ok: ClassVar[bool] = True
    differentiable: ClassVar[bool] = True

    @classmethod
    def _resolve(cls, values: dict[str, object], in_shape: Shape) -> Op:
        if values["in_features"] is INFER:
            values["in_features"] = in_shape[2]
        return cls(**values)  # type: ignore[arg-type]

    def check(self, in_shape: Shape) -> None:
        check_positive("in_features", self.in_features)
        check_positive("out_features", self.out_features)
        c, h, w = in_shape
        if c != 1 or h != 1:
            raise SpecError("in_features", self.in_features,
                            f"linear reads a vector, but its input is {c}×{h}×{w}: put a "
                            "flatten before it")
        if self.in_features != w:
            raise SpecError("in_features", self.in_features,
                            f"must equal the features of the layer's input ({w})")
        for key in ("in_features", "out_features"):
            if getattr(self, key) > MAX_FEATURES:
                raise SpecError(key, getattr(self, key), f"must be at most {MAX_FEATURES:,} "
                                "(one row of cells; Excel has 16,384 columns)")

    def output_shape(self, in_shape: Shape) -> Shape:
        return (1, 1, self.out_features)

    def tensor_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {"weight": (self.out_features, self.in_features)}
        if self.bias:
            shapes["bias"] = (self.out_features,)
        return shapes

    def extra_repr(self) -> str:
        """PyTorch's `Linear.extra_repr`."""
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias}")

    def steps(self) -> tuple[str, ...]:
        return (
            f"The weights are one {self.out_features}×{self.in_features} matrix (PyTorch's "
            "layout: one row per output, one column per input feature).",
            "Each output j is SUMPRODUCT of row j of the matrix with the input row (the dot "
            "product w_j · x)" + (", plus bias j." if self.bias else "."),
            "That is y = x Wᵀ + b: every output reads every input (fully connected).",
        )

    def note(self) -> str:
        return ("Each output cell is SUMPRODUCT of its row of the weight matrix with the input "
                "row" + (" plus its bias" if self.bias else "") + ". Select a cell and Trace "
                "Precedents to see the row it reads.")

    def size_formula(self, axis: int, size: str) -> str:
        return "1" if axis == 0 else str(self.out_features)

    def size_text(self, axis: int, size: int) -> str:
        return "1" if axis == 0 else f"out_features = {self.out_features}"

    def parameter_count_formula(self, in_channels: str) -> str:
        return f"{self.out_features}*{self.in_features}" + (
            f"+{self.out_features}" if self.bias else "")

    count_text: ClassVar[str] = "weights out·in (+ out biases)"

    def guide_shape(self, in_shape: Shape) -> Shape:
        return (1, 1, self.out_features)

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        """y = W x + b on the flat input (`torch.nn.functional.linear`)."""
        v = np.asarray(x, dtype=np.float64).reshape(-1)
        y = np.asarray(tensors["weight"], dtype=np.float64) @ v
        if "bias" in tensors:
            y = y + np.asarray(tensors["bias"], dtype=np.float64)
        return y.reshape(1, 1, -1)

    def reference_size(self, axis: int, size: int) -> int:
        return 1 if axis == 0 else self.out_features

    def reference_parameter_count(self, in_channels: float) -> float:
        return float(self.out_features * self.in_features + self.bias * self.out_features)

    # ------------------------------------------------------------------ the backward pass
    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        grad_x, grad_w, grad_b = grad.linear_backward(x, tensors["weight"], grad_y)
        found = {"weight": grad_w}
        if self.bias:
            found["bias"] = grad_b
        return grad_x, found

    def backward_stages(self, x: np.ndarray, tensors: dict[str, np.ndarray],
                        grad_y: np.ndarray) -> dict[str, np.ndarray]:
        """grad_output written as a column, to multiply the weight matrix's columns."""
        return {"grad_output_column": np.asarray(grad_y, dtype=np.float64).reshape(-1, 1)}

    def backward_steps(self) -> tuple[str, ...]:
        return (
            "grad_bias = grad_output: each bias is added to one output once.",
            f"grad_weight ({self.out_features}×{self.in_features}, the weight's layout) = "
            "grad_output · inputᵀ, the outer product: cell (j, i) = g_j · x_i, as output j "
            "read weight (j, i) times input i.",
            "grad_input = Wᵀ · grad_output: input i gathers every output's g_j times the "
            "weight (j, i) it was multiplied by, MMULT of grad_output (a row) with column i "
            "of the weight matrix.",
        )
