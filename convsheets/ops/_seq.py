"""What the 1-D ops (conv1d, conv_transpose1d, max_pool1d, avg_pool1d) share: a sequence of
C channels and L positions is held as a (C, 1, L) image, so every 2-D rule, drawing, view and
check applies unchanged along a height of 1; only the surface is 1-D, as in PyTorch: one number
per option (``kernel_size = 3`` or ``[3]``), weights (O, C/g, k), reprs ``kernel_size=(3,)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import SpecError
from .base import Op, Shape

SINGLE = {"kernel_size": 1, "stride": 1, "dilation": 1, "padding": 0, "output_padding": 0}


def single(key: str, value: object) -> object:
    """One number (or a one-element list, as PyTorch's tuple ``(3,)``) -> the internal pair
    (height axis fixed: kernel 1, stride 1, dilation 1, padding 0); text passes through (a
    padding rule), None (a pooling's default stride) too."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(key, value, "must be a whole number (a 1-D op takes one number per "
                        "option)")
    return (SINGLE[key], value)


class Sequence1d:
    """Mixin, first in the bases of a 1-D op: reads one-number options and a (C, L) input."""

    dims: ClassVar[int] = 1
    op: ClassVar[str]

    @classmethod
    def create(cls, given: dict[str, object], in_shape: Shape) -> Op:
        if in_shape[1] != 1:
            raise SpecError("op", cls.op, f"reads a sequence (channels x length) but its input "
                            f"is {in_shape[0]}x{in_shape[1]}x{in_shape[2]}")
        given = {key: single(key, value) if key in SINGLE else value
                 for key, value in given.items()}
        return super().create(given, in_shape)  # type: ignore[misc, no-any-return]

    def as_options(self) -> dict[str, object]:
        out: dict[str, Any] = super().as_options()  # type: ignore[misc]
        for key in SINGLE:
            if isinstance(out.get(key), list):
                out[key] = out[key][1]
        return out

    @staticmethod
    def shown(value: tuple[int, int]) -> str:
        return f"({value[1]},)"

    def given_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = dict(self.tensor_shapes())  # type: ignore[attr-defined]
        if "weight" in shapes:
            a, b, _, k = shapes["weight"]
            shapes["weight"] = (a, b, k)
        return shapes
