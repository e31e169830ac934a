"""relu: max(0, x) per cell (`torch.nn.ReLU`): negative values become 0, the rest pass."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import reference as ref
from ..layout import Block
from ..plan import LayerContext, per_channel_stage
from ..stages import Relu
from .base import Op, Shape


@dataclass(frozen=True)
class ReLU(Op):
    op: ClassVar[str] = "relu"
    module: ClassVar[str] = "ReLU"
    default_prefix: ClassVar[str] = "relu"
    summary: ClassVar[str] = "ReLU: negative values become 0, the rest pass unchanged"
    options: ClassVar[dict[str, tuple[str, object]]] = {}

    def output_shape(self, in_shape: Shape) -> Shape:
        return in_shape

    def extra_repr(self) -> str:
        return ""

    def steps(self) -> tuple[str, ...]:
        return ("Every cell becomes MAX(0, x): negative values are set to 0, the rest pass "
                "unchanged; the shape does not change and there are no weights.",)

    def build(self, ctx: LayerContext, sources: Sequence[Block]) -> list[Block]:
        return per_channel_stage(ctx, "Each cell is MAX(0, x) of the same cell of the layer's "
                                 "input: negative values become 0.", sources,
                                 sources[0].shape, Relu, "= MAX(0, x)")

    def size_formula(self, axis: int, size: str) -> str:
        return size

    def size_text(self, axis: int, size: int) -> str:
        return "unchanged"

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        return ref.relu(x)

    def reference_size(self, axis: int, size: int) -> int:
        return size
