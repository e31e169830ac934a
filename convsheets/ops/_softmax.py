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

from ..errors import SpecError
from .base import Op, Shape

EXCEL_MAX_ARGUMENTS = 255


@dataclass(frozen=True)
class SoftmaxBase(Op):
    dim: int | None = None
    vector: bool = False  # set by `placed`: the input is a vector of features, not a map

    vector_ok: ClassVar[bool] = True
    log: ClassVar[bool] = False
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
