"""Pooling (max_pool2d, avg_pool2d): one block per channel whose every cell is one portable
function over the input cells its window covers (`stages.Pool`), from the op's `window()`."""

from __future__ import annotations

from collections.abc import Sequence

from ..layout import Block
from ..ops._pool import Pool2d
from ..plan import LayerContext, per_channel_stage
from ..stages import Pool
from .registry import Drawn, draws


def pool_content(op: Pool2d, source: Block) -> Pool:
    """The window's reduction as a spreadsheet function: MAX; MEAN as SUM / the window size
    (padding counted as zeros); AVERAGE of the cells inside the input."""
    window = op.window()
    kh, kw = window.kernel
    function, divisor = {"MAX": ("MAX", None), "MEAN": ("SUM", kh * kw),
                         "AVERAGE": ("AVERAGE", None)}[window.reduce]
    return Pool(source, op.kernel_size, op.stride, op.padding, window.dilation, function, divisor)


@draws(Pool2d)
def draw_pool(ctx: LayerContext, sources: Sequence[Block]) -> Drawn:
    op = ctx.layer.op
    assert isinstance(op, Pool2d)
    _, h, w = op.output_shape(ctx.layer.in_shape)
    kh, kw = op.kernel_size
    outputs = per_channel_stage(ctx, op.note(), sources, (h, w),
                                lambda source: pool_content(op, source),
                                f"= {op.op} of a {kh}x{kw} window")
    return Drawn(ctx, list(sources), outputs, windowed=list(sources))
