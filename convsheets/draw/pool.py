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
    (padding counted as zeros; with ceil_mode a window hanging past the padded input is
    divided by its part inside it); AVERAGE of the cells inside the input."""
    kh, kw = op.kernel_size
    function, divisor = {"MAX": ("MAX", None), "MEAN": ("SUM", kh * kw),
                         "AVERAGE": ("AVERAGE", None)}[op.explore_reduce]
    lengths = None
    if divisor is not None and op.ceil_mode:
        rows, cols = (op.divisor_lengths(a, source.shape[a]) for a in (0, 1))
        if set(rows) != {kh} or set(cols) != {kw}:
            lengths = (tuple(rows), tuple(cols))
    return Pool(source, op.kernel_size, op.stride, op.padding, op.spread, function, divisor,
                lengths)


@draws(Pool2d)
def draw_pool(ctx: LayerContext, sources: Sequence[Block]) -> Drawn:
    op = ctx.layer.op
    assert isinstance(op, Pool2d)
    _, h, w = op.output_shape(ctx.layer.in_shape)
    kh, kw = op.kernel_size
    outputs = per_channel_stage(ctx, op.note(), sources, (h, w),
                                lambda source: pool_content(op, source),
                                f"= {op.op} of a {kh}x{kw} window")
    if op.window() is None and "explorer" in ctx.plan.views:
        ctx.plan.notes.append(f"{ctx.layer.label} ({op.op}): no window explorer: with "
                              "ceil_mode and count_include_pad a window hanging past the "
                              "padded input is divided by its own size, not by kH·kW.")
    return Drawn(ctx, list(sources), outputs, windowed=list(sources))
