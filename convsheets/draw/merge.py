"""Ops with several inputs (add, mul, cat): the layer's output, one block per channel, each
cell a formula of the same cell of its inputs (add, mul) or a live copy of one input channel
(cat). The drawing pass hands a merge every input's blocks one after another; the layer's
`in_shapes` say where one input's channels end and the next's begin."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..layout import COMPUTED, OUTPUT, Block, Meaning, stack
from ..ops import Cat, Merge
from ..plan import LayerContext, title
from ..stages import Gather, identity_map
from .registry import Drawn, draws


@dataclass
class CellsOf:
    """Each cell: the op's formula of the same cell of every source."""

    sources: tuple[Block, ...]
    op: Merge

    def rows(self, block: Block) -> Iterator[list[object]]:
        here, cell = block.sheet, self.op.cell  # type: ignore[attr-defined]
        for i in range(block.shape[0]):
            yield ["=" + cell([s.ref(i, j, from_sheet=here) for s in self.sources])
                   for j in range(block.shape[1])]

    def longest(self, block: Block) -> int:
        """The last cell's: its references are the longest (rows and columns only grow)."""
        h, w = block.shape
        return 1 + len(self.op.cell(  # type: ignore[attr-defined]
            [s.ref(h - 1, w - 1, from_sheet=block.sheet) for s in self.sources]))


def split_sources(ctx: LayerContext, sources: Sequence[Block]) -> list[list[Block]]:
    """The blocks of each input, in the layer's `inputs` order."""
    out, start = [], 0
    for shape in ctx.layer.in_shapes:
        count = 1 if ctx.layer.flat_input else shape[0]  # (a vector is one block)
        out.append(list(sources[start:start + count]))
        start += count
    assert start == len(sources), "a merge's sources do not match its inputs"
    return out


@draws(Merge)
def draw_merge(ctx: LayerContext, sources: Sequence[Block]) -> Drawn:
    op = ctx.layer.op
    assert isinstance(op, Merge)
    parts = split_sources(ctx, sources)
    labels = ctx.layer.inputs
    if isinstance(op, Cat):
        pairs = [(block, label, c) for part, label in zip(parts, labels, strict=True)
                 for c, block in enumerate(part)]
        note = ("torch.cat along the channels: the output's channels are "
                + ", then ".join(f"{label}'s {len(part)}" for part, label
                                 in zip(parts, labels, strict=True))
                + ". Each block is a live copy of one input channel.")
        sheet = ctx.add_sheet("Output", note)
        blocks = []
        for o, (src, label, c) in enumerate(pairs):
            name, aliases = ctx.output_names(o)
            shape = src.shape
            blocks.append(Block(name, shape, COMPUTED,
                                Gather(src, identity_map(shape[0]), identity_map(shape[1])),
                                aliases=aliases,
                                title=title(name, shape, f"= {src.name} ({label} channel {c})"),
                                meaning=Meaning(OUTPUT, ctx.layer.label, index=(o,))))
        stack(sheet, blocks)
        return Drawn(ctx, list(sources), blocks)
    rule = op.rule()  # type: ignore[attr-defined]
    names = " and ".join(labels)
    sheet = ctx.add_sheet("Output", f"Each cell is {rule} of the same cell of {names} "
                          f"(a = {labels[0]}, b = {labels[1]}; {op}).")
    blocks = []
    for o, group in enumerate(zip(*parts, strict=True)):
        name, aliases = ctx.output_names(o)
        shape = group[0].shape
        formula = op.cell([s.name for s in group]).replace("*", " × ")  # type: ignore[attr-defined]
        blocks.append(Block(name, shape, COMPUTED, CellsOf(tuple(group), op),
                            aliases=aliases, title=title(name, shape, f"= {formula}"),
                            meaning=Meaning(OUTPUT, ctx.layer.label, index=(o,))))
    stack(sheet, blocks)
    return Drawn(ctx, list(sources), blocks)
