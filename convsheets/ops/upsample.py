"""upsample: a bigger (or smaller) picture of each channel (`torch.nn.Upsample`,
`F.interpolate`): nearest (each output cell is one input cell) or bilinear (each output cell a
weighted sum of its 4 nearest input cells), to a given `size` or by a `scale_factor`.

Which input cells each output cell reads, and with which weights, is PyTorch's own arithmetic
(`aten/src/ATen/native/UpSample.h`), done once here, in the precision PyTorch uses: nearest's
source index is floor(dst · scale) in float32 (scale = 1/scale_factor, or in/out when a size is
given or recompute_scale_factor is set), capped at the last cell; nearest-exact's is floor((dst
+ 0.5) · scale); an axis whose size does not change is copied (not by nearest-exact);
bilinear's source position is dst · (in-1)/(out-1) with align_corners, else max((dst + 0.5) ·
scale - 0.5, 0), in float64, between cell floor(src) and the next one."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from ..errors import SpecError
from ..options import check_pair
from .base import Op, Shape

MODES = ("nearest", "nearest-exact", "bilinear")
Tap = tuple[tuple[int, float], ...]  # (input index, weight) pairs along one axis


@dataclass(frozen=True)
class Upsample(Op):
    size: tuple[int, int] | None = None
    scale_factor: tuple[float, float] | None = None
    mode: str = "nearest"
    align_corners: bool | None = None
    recompute_scale_factor: bool | None = None
    in_size: tuple[int, int] = (0, 0)  # the input's height and width (set on creation)

    op: ClassVar[str] = "upsample"
    module: ClassVar[str] = "Upsample"
    default_prefix: ClassVar[str] = "upsample"
    summary: ClassVar[str] = ("upsample: each channel resized to size or by scale_factor, "
                              "nearest or bilinear (weighted sums of 4 neighbours)")
    options: ClassVar[dict[str, tuple[str, object]]] = {
        "size": ("pair", None), "scale_factor": ("float_pair", None), "mode": ("str", "nearest"),
        "align_corners": ("bool", None), "recompute_scale_factor": ("bool", None)}
    differentiable: ClassVar[bool] = True

    @classmethod
    def create(cls, given: dict[str, object], in_shape: Shape) -> Op:
        """None (a record of an unset option, a module's None) is PyTorch's default; the
        input size comes from the shape (never given: `in_size` is not an option)."""
        given = {k: v for k, v in given.items() if v is not None}
        return super().create(given, in_shape)

    @classmethod
    def _resolve(cls, values: dict[str, object], in_shape: Shape) -> Op:
        return cls(**values, in_size=(in_shape[1], in_shape[2]))  # type: ignore[arg-type]

    def as_options(self) -> dict[str, object]:
        out = super().as_options()
        out.pop("in_size")
        return out

    def check(self, in_shape: Shape) -> None:
        if self.mode not in MODES:
            raise SpecError("mode", self.mode, "is not supported: convsheets draws 'nearest', "
                            "'nearest-exact' and 'bilinear' (the 2-d modes of PyTorch that read "
                            "at most 4 cells)")
        if (self.size is None) == (self.scale_factor is None):
            raise SpecError("size" if self.size is not None else "scale_factor", None,
                            "give exactly one of size and scale_factor, as PyTorch requires")
        if self.size is not None:
            check_pair("size", self.size, 1)
            if self.recompute_scale_factor:
                raise SpecError("recompute_scale_factor", True, "is not meaningful with an "
                                "explicit size, as in PyTorch")
        else:
            assert self.scale_factor is not None
            if min(self.scale_factor) <= 0:
                raise SpecError("scale_factor", self.scale_factor, "must be positive")
        if self.align_corners is not None and self.mode != "bilinear":
            raise SpecError("align_corners", self.align_corners, "can only be set with an "
                            "interpolating mode (bilinear), as in PyTorch")
        for axis, n in enumerate(self.out_size):
            if n < 1:
                raise SpecError("scale_factor", self.scale_factor,
                                f"gives an output {'height' if axis == 0 else 'width'} of {n}: "
                                "input and output sizes must be at least 1, as in PyTorch")

    # ------------------------------------------------------------------ sizes
    @property
    def out_size(self) -> tuple[int, int]:
        if self.size is not None:
            return self.size
        assert self.scale_factor is not None
        h, w = (math.floor(float(n) * s) for n, s in zip(self.in_size, self.scale_factor,
                                                           strict=True))
        return h, w

    def output_shape(self, in_shape: Shape) -> Shape:
        return (in_shape[0], *self.out_size)

    def reference_size(self, axis: int, size: int) -> int:
        if self.size is not None:
            return self.size[axis]
        assert self.scale_factor is not None
        return math.floor(float(size) * self.scale_factor[axis])

    def size_formula(self, axis: int, size: str) -> str:
        if self.size is not None:
            return str(self.size[axis])
        assert self.scale_factor is not None
        return f"INT({size}*{self.scale_factor[axis]!r})"

    def size_text(self, axis: int, size: int) -> str:
        if self.size is not None:
            return f"size = {self.size[axis]}"
        assert self.scale_factor is not None
        return (f"floor(H · scale_factor) = floor({size} · {self.scale_factor[axis]!r}) = "
                f"{self.reference_size(axis, size)}")

    # ------------------------------------------------------------------ the geometry
    def _given_scale(self, axis: int) -> float | None:
        """The scale_factor PyTorch's kernel receives (None: it uses in/out)."""
        if self.scale_factor is None or self.recompute_scale_factor:
            return None
        return self.scale_factor[axis]

    def taps(self, axis: int) -> list[Tap]:
        """For each output index along `axis`: the input indices it reads and their weights,
        equal indices merged, zero weights left out."""
        n_in, n_out = self.in_size[axis], self.out_size[axis]
        given = self._given_scale(axis)
        out: list[Tap] = []
        for dst in range(n_out):
            if n_in == n_out and self.mode != "nearest-exact":  # PyTorch copies the axis
                out.append(((dst, 1.0),))
            elif self.mode == "bilinear":
                if self.align_corners:
                    scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
                    src = scale * dst
                else:
                    scale = 1.0 / given if given is not None else n_in / n_out
                    src = max(scale * (dst + 0.5) - 0.5, 0.0)
                i0 = int(src)
                i1 = i0 + (1 if i0 < n_in - 1 else 0)
                l1 = min(max(src - i0, 0.0), 1.0)
                l0 = 1.0 - l1
                weights: dict[int, float] = {}
                for i, lam in ((i0, l0), (i1, l1)):
                    weights[i] = weights.get(i, 0.0) + lam
                out.append(tuple((i, lam) for i, lam in weights.items() if lam != 0.0))
            else:
                scale32 = (np.float32(1.0 / given) if given is not None
                           else np.float32(n_in) / np.float32(n_out))
                shift = np.float32(0.5) if self.mode == "nearest-exact" else np.float32(0.0)
                src = int(np.floor((np.float32(dst) + shift) * scale32))
                if self.mode == "nearest" and n_out == 2 * n_in:
                    src = dst >> 1
                out.append(((min(src, n_in - 1), 1.0),))
        return out

    # ------------------------------------------------------------------ words
    def extra_repr(self) -> str:
        """PyTorch's `Upsample.extra_repr`: the scale_factor (as floats) if given, else the
        size, and the mode."""
        if self.scale_factor is not None:
            a, b = self.scale_factor
            info = f"scale_factor={a!r}" if a == b else f"scale_factor=({a!r}, {b!r})"
        else:
            assert self.size is not None
            a2, b2 = self.size
            info = f"size={a2}" if a2 == b2 else f"size=({a2}, {b2})"
        return f"{info}, mode={self.mode!r}"

    def _how(self) -> str:
        if self.mode == "bilinear":
            corners = ("the corner cells of input and output line up (align_corners=True): "
                       "output cell d sits at input position d·(in-1)/(out-1)"
                       if self.align_corners else
                       "cell centres line up (align_corners=False): output cell d sits at input "
                       "position (d + 0.5)·in/out - 0.5, at least 0")
            return (f"Each output cell is a weighted sum of the (up to) 4 input cells around "
                    f"its position: {corners}; the weights are how close it is to each (along each "
                    "axis, 1 - f and f for the fractional part f), written into the formula.")
        if self.mode == "nearest-exact":
            return ("Each output cell is the input cell floor((d + 0.5)·in/out) along each axis "
                    "(nearest-exact): a plain reference.")
        return ("Each output cell is the input cell floor(d·in/out) along each axis (nearest, "
                "PyTorch's rule: the cell at or before its position): a plain reference.")

    def steps(self) -> tuple[str, ...]:
        (h, w), (oh, ow) = self.in_size, self.out_size
        return (f"Each channel is resized from {h}x{w} to {oh}x{ow} "
                + (f"(scale_factor {self.extra_repr().split(', mode')[0].split('=')[1]})."
                   if self.scale_factor is not None else "(size)."),
                self._how(),
                "There are no weights to learn and the channels stay separate; no window "
                "explorer (each cell reads its own cells, not a sliding window).")

    def note(self) -> str:
        return self._how() + " Select a cell and Trace Precedents to see them."

    # ------------------------------------------------------------------ the oracle
    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        """Rows then columns by the taps, combined as PyTorch's kernel combines them:
        Σ_rows w_r · (Σ_cols w_c · x)."""
        x = np.asarray(x, dtype=np.float64)
        rows, cols = self.taps(0), self.taps(1)
        y = np.empty((x.shape[0], len(rows), len(cols)))
        for i, row in enumerate(rows):
            for j, col in enumerate(cols):
                y[:, i, j] = sum(wr * sum(wc * x[:, r, c] for c, wc in col) for r, wr in row)
        return y

    # ------------------------------------------------------------------ the backward pass
    def axis_weights(self, axis: int) -> np.ndarray:
        """(input length, output length) along `axis`: how much each output position read each
        input position, by `gradients.upsample_axis_weights` (ATen's rules written again, not
        `taps`): the expected value of the Interpolation sheet's blocks."""
        return grad.upsample_axis_weights(self.in_size[axis], self.out_size[axis], self.mode,
                                          self.align_corners, self._given_scale(axis))

    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return grad.upsample2d_backward(np.shape(x), grad_y, self.axis_weights(0),
                                        self.axis_weights(1)), {}

    def backward_stages(self, x: np.ndarray, tensors: dict[str, np.ndarray],
                        grad_y: np.ndarray) -> dict[str, np.ndarray]:
        """grad_output with its columns gathered back to the input's columns (Σ over output
        columns e of g[:, d, e] · cols[t, e]), by NumPy's own product (the sheets gather it
        cell by cell). The weight matrices the sheets write in as numbers (not formulas, so
        verify has no block to check there) enter this and grad_input."""
        g = np.asarray(grad_y, dtype=np.float64)
        return {"grad_columns": np.einsum("cde,te->cdt", g, self.axis_weights(1))}

    def backward_steps(self) -> tuple[str, ...]:
        what = ("with weight 1 where it copied it (nearest), 0 elsewhere"
                if self.mode != "bilinear" else "with its interpolation weight (1 - f or f), "
                "0 where it did not read it")
        return (
            f"Interpolation weights, one matrix per axis: how much each output row (column) "
            f"read each input row (column), {what}. Each output cell read input cell (s, t) "
            "with the row weight times the column weight.",
            "Columns: grad_output gathered back to the input's columns, MMULT of each "
            "grad_output row with the column weights of input column t.",
            "grad_input: those gathered back to the input's rows the same way (SUMPRODUCT with "
            "the row weights of input row s): every output cell that read an input cell passes "
            "back its gradient times the weight it read it with, and an input cell read by "
            "several output cells adds them up.")
