"""Element-wise ops (ReLU, LeakyReLU, ...): one block per channel whose every cell is the op's
`cell` formula of the same input cell."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..layout import Block
from ..ops._elementwise import Elementwise
from ..plan import LayerContext, per_channel_stage
from .registry import Drawn, draws


@dataclass
class PerCellOf:
    """Each cell: the op's formula of the same cell of `source`."""

    source: Block
    op: Elementwise

    def rows(self, block: Block) -> Iterator[list[object]]:
        src, here, cell = self.source, block.sheet, self.op.cell
        for i in range(block.shape[0]):
            yield ["=" + cell(src.ref(i, j, from_sheet=here)) for j in range(block.shape[1])]

    def longest(self, block: Block) -> int:
        """The last cell's: its reference is the longest (rows and columns only grow)."""
        h, w = block.shape
        return 1 + len(self.op.cell(self.source.ref(h - 1, w - 1, from_sheet=block.sheet)))


@draws(Elementwise)
def draw_elementwise(ctx: LayerContext, sources: Sequence[Block]) -> Drawn:
    op = ctx.layer.op
    assert isinstance(op, Elementwise)
    outputs = per_channel_stage(ctx, op.note(), sources, sources[0].shape,
                                lambda src: PerCellOf(src, op), f"= {op.rule()}")
    return Drawn(ctx, list(sources), outputs, windowed=list(sources))
