"""upsample: one block per channel, each cell a plain reference (nearest) or a live weighted
sum of the input cells around its position (bilinear), from the op's `taps`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..layout import Block
from ..ops.upsample import Upsample
from ..plan import LayerContext, per_channel_stage
from ..stages import PerCell
from .registry import Drawn, draws


def _weighted(terms: list[tuple[float, str]]) -> str:
    """w1*a+w2*b, a weight of 1 left out; weights as the shortest decimals that read back as
    the same double (what PyTorch multiplies with)."""
    parts = []
    for weight, text in terms:
        parts.append(text if weight == 1.0 else
                     f"{np.format_float_positional(weight, unique=True, trim='-')}*{text}")
    return "+".join(parts)


@draws(Upsample)
def draw_upsample(ctx: LayerContext, sources: Sequence[Block]) -> Drawn:
    op = ctx.layer.op
    assert isinstance(op, Upsample)
    rows, cols = op.taps(0), op.taps(1)

    def content(source: Block) -> PerCell:
        def cell(here: str, i: int, j: int) -> str:
            inner = [(wr, _weighted([(wc, source.ref(r, c, from_sheet=here))
                                     for c, wc in cols[j]])) for r, wr in rows[i]]
            return _weighted([(w, f"({t})" if w != 1.0 and "+" in t else t)
                              for w, t in inner])
        return PerCell(cell)

    what = "= the nearest input cell" if op.mode != "bilinear" else "= weighted sum of 4 cells"
    outputs = per_channel_stage(ctx, op.note(), sources, op.out_size, content, what)
    if "explorer" in ctx.plan.views:
        ctx.plan.notes.append(f"{ctx.layer.label} (upsample): no window explorer: each output "
                              "cell reads its own input cells (Trace Precedents shows them), "
                              "not a sliding window.")
    return Drawn(ctx, list(sources), outputs, windowed=list(sources))
