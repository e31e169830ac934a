"""Adaptive pooling: one block per channel, each cell one AVERAGE or MAX over the rectangle
of the input its output position covers (PyTorch's floor/ceil bounds)."""

from __future__ import annotations

from collections.abc import Sequence

from ..layout import Block
from ..ops._adaptive import AdaptivePool2d, bounds
from ..plan import LayerContext, per_channel_stage
from ..stages import PerCell
from .registry import Drawn, draws


@draws(AdaptivePool2d)
def draw_adaptive(ctx: LayerContext, sources: Sequence[Block]) -> Drawn:
    op = ctx.layer.op
    assert isinstance(op, AdaptivePool2d)
    (h, w), (oh, ow) = sources[0].shape, op.output_size

    def content(source: Block) -> PerCell:
        def cell(here: str, i: int, j: int) -> str:
            (r0, r1), (c0, c1) = bounds(i, h, oh), bounds(j, w, ow)
            area = source.range(r0, c0, r1 - r0, c1 - c0, from_sheet=here)
            return f"{op.function}({area})"
        return PerCell(cell)

    outputs = per_channel_stage(ctx, op.note(), sources, (oh, ow), content,
                                f"= {op.function} of its window")
    if "explorer" in ctx.plan.views:
        ctx.plan.notes.append(f"{ctx.layer.label} ({op.op}): no window explorer: its windows "
                              "differ in size and may overlap, so there is no one sliding "
                              "window to step through (Trace Precedents shows each cell's).")
    return Drawn(ctx, list(sources), outputs, windowed=list(sources))
