"""softmax / log_softmax's gradient sheets (registered on `backprop`'s drawers).

Unlike an element-wise op, every output of a pixel's channels (or of the vector's features)
depends on every input of them: softmax's slope dy_i/dx_j is y_i·(δ_ij - y_j), log_softmax's
δ_ij - softmax_j. Summed against grad_output that leaves one number per pixel to compute
first, which the *Grad Sum* sheet shows as a block of its own (as the forward pass shows its
Max, Exp and Sum blocks): softmax's dot = Σ g·y (each product g·y, then their SUM),
log_softmax's sum = Σ g. Then, cell by cell on *Grad Input*, softmax's y·(g - dot) and
log_softmax's g - EXP(y)·sum (EXP(y) is the softmax; y <= 0, so it never overflows): the
formulas of PyTorch's ``_softmax_backward_data`` / ``_log_softmax_backward_data``.
`gradients.softmax_backward` checks them by the whole Jacobian instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from .backprop import GradContext, _last_cell, gradient_of
from .layout import COMPUTED, Block, row_block, stack
from .ops._softmax import SoftmaxBase
from .plan import title
from .stages import PerCell


def _across(blocks: Sequence[Block], here: str, i: int, j: int) -> str:
    """Cell (i, j) of each block, as SUM's arguments: the same pixel of every channel."""
    return ",".join(b.ref(i, j, from_sheet=here) for b in blocks)


@gradient_of(SoftmaxBase)
def softmax_gradient(ctx: GradContext, grads: list[Block]) -> list[Block]:
    """Grad Sum (softmax: g·y per channel and their sum, dot; log_softmax: the sum of g),
    then grad_input cell by cell from it."""
    op = ctx.drawn.op
    assert isinstance(op, SoftmaxBase)
    ys, over, prefix = ctx.drawn.outputs, op.over(), ctx.prefix
    what = "the channels" if not op.vector else "the vector"
    if op.log:
        sheet = ctx.add_sheet("Sum", f"log_softmax's gradient needs, over {over}, the sum of "
                              "its grad_output, sum = Σ g: every output of log_softmax "
                              "depends on every input of the dim, through the softmax it "
                              "subtracts.")
        parts: list[Block] = []
        name, kind, rule = f"{prefix}grad_sum", "grad_sum", f"= Σ g over {what}"
    else:
        sheet = ctx.add_sheet("Sum", f"softmax's gradient needs, over {over}, dot = Σ g·y: "
                              "each grad_output g times the layer's output y (g·y blocks), "
                              "then their SUM: every output of softmax depends on every input "
                              "of the dim.")
        parts = []
        for c, (g, y) in enumerate(zip(grads, ys, strict=True)):
            def product(here: str, i: int, j: int, g: Block = g, y: Block = y) -> str:
                return f"{g.ref(i, j, from_sheet=here)}*{y.ref(i, j, from_sheet=here)}"

            part = f"{prefix}grad_gy" + ("" if op.vector else f"_c{c}")
            parts.append(Block(part, g.shape, COMPUTED, PerCell(product, _last_cell),
                               title=title(part, g.shape, "= g × y"),
                               meaning=ctx.meaning("grad_gy", (c,))))
        name, kind, rule = f"{prefix}grad_dot", "grad_dot", f"= Σ g·y over {what}"
    summed = parts or grads  # what the sum runs over
    if op.vector:
        (row,) = summed
        shape = (1, 1)

        def total(here: str, _i: int, _j: int) -> str:
            return f"SUM({row.area(from_sheet=here)})"
    else:
        shape = grads[0].shape

        def total(here: str, i: int, j: int) -> str:
            return f"SUM({_across(summed, here, i, j)})"
    block = Block(name, shape, COMPUTED, PerCell(total, _last_cell), title=title(name, shape, rule),
                  meaning=ctx.meaning(kind, (0,)), colour_scale=not op.vector)
    if op.vector:
        top = row_block(sheet, parts[0], top=sheet.first_row) if parts else sheet.first_row
        row_block(sheet, block, top=top)
    else:
        top = stack(sheet, parts) if parts else sheet.first_row
        stack(sheet, [block], top=top)

    def at(here: str, i: int, j: int) -> str:
        if op.vector:
            return block.ref(0, 0, absolute=True, from_sheet=here)
        return block.ref(i, j, from_sheet=here)

    if op.log:
        note = (f"dL/d(input) = g - EXP(y) · sum, cell by cell, with g the layer's grad_output, "
                f"y its output (EXP(y) is the softmax) and sum = Σ g over {over} (Grad Sum): "
                "log_softmax's slope d y_i / d x_j is 1 - softmax_j for i = j and -softmax_j "
                "otherwise.")
        rule = "= g - EXP(y) · sum"
    else:
        note = (f"dL/d(input) = y · (g - dot), cell by cell, with g the layer's grad_output, y "
                f"its output and dot = Σ g·y over {over} (Grad Sum): softmax's slope d y_i / "
                "d x_j is y_i·(1 - y_j) for i = j and -y_i·y_j otherwise, so input j gathers "
                "y_j·g_j - y_j·Σ g_i·y_i.")
        rule = "= y · (g - dot)"
    sheet = ctx.add_sheet("Input", note)
    blocks = []
    for c, (g, y) in enumerate(zip(grads, ys, strict=True)):
        def cell(here: str, i: int, j: int, g: Block = g, y: Block = y) -> str:
            gg, yy = g.ref(i, j, from_sheet=here), y.ref(i, j, from_sheet=here)
            if op.log:
                return f"{gg}-EXP({yy})*{at(here, i, j)}"
            return f"{yy}*({gg}-{at(here, i, j)})"

        blocks.append(ctx.grad_input_block(c, g.shape, PerCell(cell, _last_cell),
                                           rule))
    if op.vector:
        row_block(sheet, blocks[0], top=sheet.first_row)
    else:
        stack(sheet, blocks)
    return blocks
