"""softmax / log_softmax: explicit stages, as PyTorch computes them: the Max block (the largest
value over the channels of each pixel, or over the vector), one Exp block per channel (EXP(x -
max)), the Sum block (their SUM), then the output (e / s, or x - max - LN(s)). Every cell is a
short formula of plain references; the one-cell ``SUMPRODUCT(EXP(range))`` is never used (an
array formula that Gnumeric silently evaluates wrong)."""

from __future__ import annotations

from collections.abc import Sequence

from ..layout import COMPUTED, STAGE, Block, Meaning, row_block, stack
from ..ops._softmax import SoftmaxBase
from ..plan import LayerContext, per_channel_stage, title
from ..stages import PerCell, last_cell
from .registry import Drawn, draws


def _stage(ctx: LayerContext, name: str, kind: str, index: int, shape: tuple[int, int],
           make, what: str) -> Block:  # type: ignore[no-untyped-def]
    return Block(name, shape, COMPUTED, PerCell(make, worst=last_cell),
                 title=title(name, shape, what),
                 meaning=Meaning(STAGE, ctx.layer.label, kind, index=(index,)))


@draws(SoftmaxBase)
def draw_softmax(ctx: LayerContext, sources: Sequence[Block]) -> Drawn:
    op = ctx.layer.op
    assert isinstance(op, SoftmaxBase)
    stage = ctx.names.stage
    sheet = ctx.add_sheet("Exp", f"{op.module} over {op.over()}: the largest value m, each "
                          "EXP(x - m) (subtracting m keeps EXP from overflowing and changes "
                          "nothing in the result, as in PyTorch) and their SUM s.")
    if op.vector:  # one row of N features: m and s are one cell each
        (src,) = sources
        n = src.shape[1]
        biggest = _stage(ctx, stage + "max", "max", 0, (1, 1),
                         lambda h, _i, _j: f"MAX({src.area(from_sheet=h)})", "= MAX(x)")
        exps = [_stage(ctx, stage + "exp", "exp", 0, (1, n), lambda h, _i, j: (
            f"EXP({src.ref(0, j, from_sheet=h)}-{biggest.ref(0, 0, absolute=True, from_sheet=h)})"),
            "= EXP(x - max)")]
        total = _stage(ctx, stage + "sum", "sum", 0, (1, 1),
                       lambda h, _i, _j: f"SUM({exps[0].area(from_sheet=h)})", "= SUM(exp)")
        top = row_block(sheet, biggest, top=sheet.first_row)
        top = row_block(sheet, exps[0], top=top)
        row_block(sheet, total, top=top)

        def at(block: Block, h: str, _i: int, j: int) -> str:
            return block.ref(0, 0, absolute=True, from_sheet=h)
    else:  # per pixel, over the channels
        shape = sources[0].shape

        def across(blocks: Sequence[Block], h: str, i: int, j: int) -> str:
            return ",".join(b.ref(i, j, from_sheet=h) for b in blocks)

        biggest = _stage(ctx, stage + "max", "max", 0, shape,
                         lambda h, i, j: f"MAX({across(sources, h, i, j)})",
                         "= MAX over the channels")
        exps = [_stage(ctx, ctx.names.intermediate("exp", c), "exp", c, shape,
                       lambda h, i, j, src=src: (f"EXP({src.ref(i, j, from_sheet=h)}-"
                                                 f"{biggest.ref(i, j, from_sheet=h)})"),
                       f"= EXP(x_c{c} - max)") for c, src in enumerate(sources)]
        total = _stage(ctx, stage + "sum", "sum", 0, shape,
                       lambda h, i, j: f"SUM({across(exps, h, i, j)})", "= SUM over the channels")
        top = stack(sheet, [biggest])
        top = stack(sheet, exps, top=top)
        stack(sheet, [total], top=top)

        def at(block: Block, h: str, i: int, j: int) -> str:
            return block.ref(i, j, from_sheet=h)

    def content(src: Block) -> PerCell:
        c = sources.index(src)

        def cell(h: str, i: int, j: int) -> str:
            if op.log:
                return (f"{src.ref(i, j, from_sheet=h)}-{at(biggest, h, i, j)}"
                        f"-LN({at(total, h, i, j)})")
            return f"{exps[c].ref(i, j, from_sheet=h)}/{at(total, h, i, j)}"
        return PerCell(cell, worst=last_cell)

    outputs = per_channel_stage(ctx, op.note(), sources, sources[0].shape, content,
                                "= x - max - LN(sum)" if op.log else "= exp / sum")
    if "explorer" in ctx.plan.views:
        ctx.plan.notes.append(f"{ctx.layer.label} ({op.op}): no window explorer: each cell "
                              f"reads {op.over()}, not a sliding window; its Exp sheet shows "
                              "every step (Max, Exp, Sum).")
    return Drawn(ctx, list(sources), outputs, windowed=list(sources))
