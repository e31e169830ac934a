"""batch_norm2d in evaluation mode: each channel c is normalised with the running statistics
the model learned, then scaled and shifted: y = (x - running_mean[c]) · scale[c] + bias[c], with
scale[c] = weight[c] / sqrt(running_var[c] + eps) (`torch.nn.BatchNorm2d` after `.eval()`;
without `affine` weight is 1 and bias 0)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from ..errors import SpecError
from ..options import check_positive
from .base import Op, Shape

INFER = None  # num_features: taken from the layer's input when a template leaves it out


@dataclass(frozen=True)
class BatchNorm2d(Op):
    num_features: int
    eps: float = 1e-5
    momentum: float = 0.1
    affine: bool = True
    track_running_stats: bool = True
    bias: bool = True  # (PyTorch 2.x: an affine batch norm without its shift)

    op: ClassVar[str] = "batch_norm2d"
    module: ClassVar[str] = "BatchNorm2d"
    default_prefix: ClassVar[str] = "bn"
    summary: ClassVar[str] = ("batch normalisation (evaluation mode): each channel is "
                              "(x - running mean) · scale + shift, scale = weight / "
                              "sqrt(running var + eps)")
    options: ClassVar[dict[str, tuple[str, object]]] = {
        "num_features": ("int", INFER), "eps": ("float", 1e-5), "momentum": ("float", 0.1),
        "affine": ("bool", True), "track_running_stats": ("bool", True),
        "bias": ("bool", True)}
    has_parameters: ClassVar[bool] = True
    differentiable: ClassVar[bool] = True

    @classmethod
    def _resolve(cls, values: dict[str, object], in_shape: Shape) -> Op:
        if values["num_features"] is INFER:
            values["num_features"] = in_shape[0]
        return cls(**values)  # type: ignore[arg-type]

    def check(self, in_shape: Shape) -> None:
        check_positive("num_features", self.num_features)
        if self.num_features != in_shape[0]:
            raise SpecError("num_features", self.num_features,
                            f"must equal the channels of the layer's input ({in_shape[0]})")
        if not self.eps > 0:
            raise SpecError("eps", self.eps, "must be more than 0")
        if not self.track_running_stats:
            raise SpecError("track_running_stats", self.track_running_stats,
                            "must be true: without running statistics PyTorch normalises with "
                            "each batch's own, which one image in a workbook does not have")

    @property
    def epsilon(self) -> str:
        """eps as a spreadsheet reads it: plain decimals, no exponent."""
        return np.format_float_positional(self.eps, trim="-")

    def output_shape(self, in_shape: Shape) -> Shape:
        return in_shape

    def tensor_shapes(self) -> dict[str, tuple[int, ...]]:
        c = (self.num_features,)
        shapes: dict[str, tuple[int, ...]] = {"weight": c} if self.affine else {}
        if self.shifted:
            shapes["bias"] = c
        shapes.update(running_mean=c, running_var=c)
        return shapes

    @property
    def shifted(self) -> bool:
        """It adds a bias (affine, and bias not switched off)."""
        return self.affine and self.bias

    def parameter_count(self) -> int:
        """PyTorch's parameters: weight and bias (the running statistics are buffers)."""
        return self.num_features * (self.affine + self.shifted)

    def extra_repr(self) -> str:
        """PyTorch's `_NormBase.extra_repr`."""
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.shifted}, "
                f"track_running_stats={self.track_running_stats}")

    def steps(self) -> tuple[str, ...]:
        return (
            "Evaluation mode: the statistics are the running mean and variance the model "
            "learned while training (not this image's), one per channel.",
            f"scale = weight / SQRT(running_var + eps), eps = {self.epsilon}"
            + ("" if self.affine else " (no affine: weight 1, bias 0)") + ".",
            "Each cell: (x - running_mean) · scale + bias, channel by channel. (A convolution "
            "followed by batch norm can be folded into one convolution with weights · scale "
            "and bias (b - mean) · scale + shift: the same numbers.)",
        )

    def note(self) -> str:
        return ("Each cell is (x - running_mean[c]) · scale[c]" + (" + bias[c]" if self.shifted
                else "") + " of the same cell of the layer's input, channel c's statistics "
                "and scale from the Statistics sheet.")

    def size_formula(self, axis: int, size: str) -> str:
        return size

    def size_text(self, axis: int, size: int) -> str:
        return "unchanged"

    def parameter_count_formula(self, in_channels: str) -> str:
        return f"{int(self.affine) + int(self.shifted)}*{in_channels}"

    def stages(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"scale": self.scale(tensors).reshape(1, -1)}

    def scale(self, tensors: dict[str, np.ndarray]) -> np.ndarray:
        var = np.asarray(tensors["running_var"], dtype=np.float64)
        weight = (np.asarray(tensors["weight"], dtype=np.float64) if self.affine
                  else np.ones_like(var))
        return weight / np.sqrt(var + self.eps)

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        """`torch.nn.functional.batch_norm(training=False)`, as (x - mean) · scale + bias."""
        x = np.asarray(x, dtype=np.float64)
        mean = np.asarray(tensors["running_mean"], dtype=np.float64)[:, None, None]
        y = (x - mean) * self.scale(tensors)[:, None, None]
        if self.shifted:
            y = y + np.asarray(tensors["bias"], dtype=np.float64)[:, None, None]
        return y

    def reference_size(self, axis: int, size: int) -> int:
        return size

    def reference_parameter_count(self, in_channels: float) -> float:
        return float(int(self.affine) + int(self.shifted)) * in_channels

    # ------------------------------------------------------------------ the backward pass
    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Evaluation mode: the weight and bias get gradients; the running statistics are
        buffers, not trained (none)."""
        grad_x, grad_w, grad_b = grad.batch_norm2d_backward(
            x, tensors["running_mean"], tensors["running_var"],
            tensors["weight"] if self.affine else None, self.eps, grad_y)
        found = {"weight": grad_w} if self.affine else {}
        if self.shifted:
            found["bias"] = grad_b
        return grad_x, found

    def backward_steps(self) -> tuple[str, ...]:
        return (
            "grad_input = grad_output · scale, cell by cell (scale = weight / SQRT(running_var "
            "+ eps) of the cell's channel): evaluation mode is a fixed straight line per "
            "channel.",
        ) + ((
            "grad_weight[c] = SUMPRODUCT(grad_output c, input c) - running_mean[c] · "
            "SUM(grad_output c), over SQRT(running_var[c] + eps): Σ g · (x - mean) / "
            "SQRT(var + eps).",) if self.affine else ()) + ((
                "grad_bias[c] = SUM(grad_output c).",) if self.shifted else ()) + (
            "The running mean and variance are statistics, not parameters: no gradient, "
            "unchanged by the update.",)
