"""Gradient sheets of the resampling ops: adaptive_avg_pool2d, adaptive_max_pool2d, upsample.

Registered with `backprop.gradient_of` (imported at the end of `backprop`), drawn the way a
student follows the chain rule, each formula of bounded length whatever the sizes:

* adaptive average pooling: a Share block (each window's gradient over its own cell count,
  windows differ in size), then each input cell the SUM of the shares of the windows that
  cover it: a contiguous rectangle of output cells, since the windows' bounds only grow;
* adaptive max pooling: a Winners block (the flat index row·W + column of each window's first
  maximum, one MATCH per window row: MATCH gives a row's first match, the MIN over rows the
  first row's), then each input cell the SUMIF of grad_output over the covering windows
  whose winner it is;
* upsample (every mode): a linear map, so its gradient is the transposed map. One weight
  matrix per axis (row d: how much output row / column d read each input row / column,
  PyTorch's own source indices and weights, written in as numbers; tall, as an upsample's
  output is longer than its input), grad_output gathered back to the input's columns (MMULT
  of a grad_output row with a column of the column weights), then to its rows (SUMPRODUCT of
  a column of the row weights with a column of that): two formulas of fixed length per cell,
  however much the layer scales.

The expected value of every block comes from `gradients.py` through the ops' `backward` and
`backward_stages` (windows and weights written there again from ATen's definitions), never
from the index maps used here.
"""

from __future__ import annotations

import numpy as np

from .backprop import GradContext, gradient_of
from .layout import COMPUTED, PARAM, Block, row_block, stack
from .ops import AdaptiveAvgPool2d, AdaptiveMaxPool2d, Upsample
from .ops._adaptive import bounds
from .plan import title
from .stages import PerCell, Values


def _covering(index: int, size: int, outs: int) -> tuple[int, int]:
    """The output positions [first, last + 1) whose adaptive windows cover input `index`
    along an axis of `size` pooled to `outs`: contiguous, as start and end never decrease."""
    found = [o for o in range(outs)
             if bounds(o, size, outs)[0] <= index < bounds(o, size, outs)[1]]
    return found[0], found[-1] + 1


# ---------------------------------------------------------------------------- adaptive avg
@gradient_of(AdaptiveAvgPool2d)
def adaptive_avg_gradient(ctx: GradContext, grads: list[Block]) -> list[Block]:
    """Shares (g / the window's cell count), then each input cell the SUM of the shares of
    the windows covering it."""
    op = ctx.drawn.op
    assert isinstance(op, AdaptiveAvgPool2d)
    h, w = ctx.layer.in_shape[1:]
    oh, ow = op.output_size
    sheet = ctx.add_sheet(
        "Share", "Each output cell was the AVERAGE of its window (adaptive: the windows "
        "may differ in size and overlap), so every cell of the window gets the cell's "
        "gradient divided by that window's cell count (rows × columns): its share.")
    shares = []
    for c, g in enumerate(grads):
        def share(here: str, i: int, j: int, g: Block = g) -> str:
            (r0, r1), (c0, c1) = bounds(i, h, oh), bounds(j, w, ow)
            return f"{g.ref(i, j, from_sheet=here)}/{(r1 - r0) * (c1 - c0)}"

        name = f"{ctx.prefix}grad_share_c{c}"
        shares.append(Block(name, (oh, ow), COMPUTED, PerCell(share),
                            title=title(name, (oh, ow), "= g / cells of its window"),
                            meaning=ctx.meaning("grad_share", (c,))))
    stack(sheet, shares)
    sheet = ctx.add_sheet(
        "Input", "dL/d(input): each input cell adds up the shares of every window that "
        "covers it: SUM over a rectangle of the share block (one cell where the windows do "
        "not overlap, more where they do).")
    blocks = []
    for c, (x, s) in enumerate(zip(ctx.drawn.inputs, shares, strict=True)):
        def cell(here: str, i: int, j: int, s: Block = s) -> str:
            (a0, a1), (b0, b1) = _covering(i, h, oh), _covering(j, w, ow)
            return f"SUM({s.range(a0, b0, a1 - a0, b1 - b0, from_sheet=here)})"

        blocks.append(ctx.grad_input_block(c, x.shape, PerCell(cell),
                                           "= SUM(shares of the covering windows)"))
    stack(sheet, blocks)
    return blocks


# ---------------------------------------------------------------------------- adaptive max
@gradient_of(AdaptiveMaxPool2d)
def adaptive_max_gradient(ctx: GradContext, grads: list[Block]) -> list[Block]:
    """Winners (flat input index of each window's first maximum), then each input cell the
    SUMIF of grad_output over the covering windows it won."""
    op = ctx.drawn.op
    assert isinstance(op, AdaptiveMaxPool2d)
    h, w = ctx.layer.in_shape[1:]
    oh, ow = op.output_size
    sheet = ctx.add_sheet(
        "Winners", f"For each output cell, the input cell holding its window's maximum, as "
        f"its index row·{w} + column (counted from 0, what return_indices gives). On a tie "
        "the first one row by row, as PyTorch's CPU kernel: MATCH finds the first in each "
        "window row (IF in a one-column window), MIN the first such row (a row without the "
        f"maximum counts as {h * w}, past every index).")
    winners = []
    for c, (x, y) in enumerate(zip(ctx.drawn.inputs, ctx.drawn.outputs, strict=True)):
        def winner(here: str, i: int, j: int, x: Block = x, y: Block = y) -> str:
            (r0, r1), (c0, c1) = bounds(i, h, oh), bounds(j, w, ow)
            best = y.ref(i, j, from_sheet=here)
            if c1 - c0 == 1:  # one column: each row's cell is the maximum or not
                found = [f"IF({x.ref(r, c0, from_sheet=here)}={best},{r * w + c0},{h * w})"
                         for r in range(r0, r1)]
            else:  # MATCH: 1 + the row's first column holding the maximum, #N/A if none
                found = [f"IFERROR(MATCH({best},{x.range(r, c0, 1, c1 - c0, from_sheet=here)}"
                         f",0)+{r * w + c0 - 1},{h * w})" for r in range(r0, r1)]
            return found[0] if len(found) == 1 else "MIN(" + ",".join(found) + ")"

        name = f"{ctx.prefix}grad_winner_c{c}"
        winners.append(Block(name, (oh, ow), COMPUTED, PerCell(winner), colour_scale=False,
                             title=title(name, (oh, ow), "(row·W + column of the maximum)"),
                             meaning=ctx.meaning("grad_winner", (c,))))
    stack(sheet, winners)
    sheet = ctx.add_sheet(
        "Input", "dL/d(input): each input cell receives the grad_output of every window whose "
        "winner it is, 0 from the others: SUMIF(winners = its index, grad_output) over the "
        "windows that cover it (IF where only one window covers it).")
    blocks = []
    for c, (x, g, win) in enumerate(zip(ctx.drawn.inputs, grads, winners, strict=True)):
        def cell(here: str, i: int, j: int, g: Block = g, win: Block = win) -> str:
            (a0, a1), (b0, b1) = _covering(i, h, oh), _covering(j, w, ow)
            if (a1 - a0, b1 - b0) == (1, 1):  # one window (SUMIF wants a range)
                return (f"IF({win.ref(a0, b0, from_sheet=here)}={i * w + j},"
                        f"{g.ref(a0, b0, from_sheet=here)},0)")
            size = (a0, b0, a1 - a0, b1 - b0)
            return (f"SUMIF({win.range(*size, from_sheet=here)},{i * w + j},"
                    f"{g.range(*size, from_sheet=here)})")

        blocks.append(ctx.grad_input_block(c, x.shape, PerCell(cell),
                                           "= SUMIF(winner = index, g)"))
    stack(sheet, blocks)
    return blocks


# ---------------------------------------------------------------------------- upsample
def _axis_matrix(taps: list[tuple[tuple[int, float], ...]], n_in: int) -> np.ndarray:
    """(n_out, n_in) weights from the op's taps: entry [d, s] is what output d read s with."""
    matrix = np.zeros((len(taps), n_in))
    for d, tap in enumerate(taps):
        for s, weight in tap:
            matrix[d, s] += weight
    return matrix


def _plain(matrix: np.ndarray) -> np.ndarray:
    """Whole numbers as ints (the sheet shows 1, not 1.0), the rest as the float64 read."""
    if np.all(matrix == np.round(matrix)):
        return matrix.astype(int)
    return matrix.astype(object)


@gradient_of(Upsample)
def upsample_gradient(ctx: GradContext, grads: list[Block]) -> list[Block]:
    """The per-axis weight matrices, grad_output gathered to the input's columns, then to its
    rows: grad_input = rowsᵀ-weighted sums of columns-weighted sums of grad_output."""
    op = ctx.drawn.op
    assert isinstance(op, Upsample)
    (h, w), (oh, ow) = op.in_size, op.out_size
    read = ("1 for the cell it copied (one 1 per row of the matrix)" if op.mode != "bilinear"
            else "its bilinear weight (1 - f and f for the fraction f of its position; each "
            "row adds up to 1)")
    sheet = ctx.add_sheet(
        "Interpolation", f"The weights the {op.mode} upsample read the input with, one matrix "
        f"per axis (PyTorch's source indices, written in as numbers): row d, column s is how "
        f"much output row (column) d read input row (column) s: {read}; 0 where it did not "
        "read it. Output cell (d, e) read input cell (s, t) with row weight × column weight.")
    matrices = []
    for axis, (n_in, n_out, word) in enumerate(((h, oh, "row"), (w, ow, "col"))):
        name = f"{ctx.prefix}grad_{word}_weights"
        what = "output row d × input row s" if axis == 0 else "output column e × input column t"
        matrices.append(Block(name, (n_out, n_in), PARAM,
                              Values(_plain(_axis_matrix(op.taps(axis), n_in))),
                              title=title(name, (n_out, n_in), f"({what})"),
                              meaning=ctx.meaning(f"grad_{word}_weights")))
    top = row_block(sheet, matrices[0], top=sheet.first_row)
    row_block(sheet, matrices[1], top=top)
    rows, cols = matrices
    sheet = ctx.add_sheet(
        "Columns", "grad_output gathered back to the input's columns: cell (d, t) is the sum, "
        "over the output columns e, of grad_output (d, e) times how much output column e read "
        "input column t: MMULT of grad_output row d with column t of the column weights.")
    columns = []
    for c, g in enumerate(grads):
        def gather(here: str, d: int, t: int, g: Block = g) -> str:
            return (f"MMULT({g.range(d, 0, 1, ow, from_sheet=here)},"
                    f"{cols.range(0, t, ow, 1, absolute=True, from_sheet=here)})")

        name = f"{ctx.prefix}grad_columns_c{c}"
        columns.append(Block(name, (oh, w), COMPUTED, PerCell(gather),
                             title=title(name, (oh, w), "= Σ_e g(d, e) · col_weight(e, t)"),
                             meaning=ctx.meaning("grad_columns", (c,))))
    stack(sheet, columns)
    sheet = ctx.add_sheet(
        "Input", "dL/d(input): the columns gathered back to the input's rows the same way: cell "
        "(s, t) is SUMPRODUCT of column s of the row weights with column t of the Columns "
        "block: the sum over every output cell of its gradient times the weight it read input "
        "cell (s, t) with.")
    blocks = []
    for c, (x, a) in enumerate(zip(ctx.drawn.inputs, columns, strict=True)):
        def cell(here: str, s: int, t: int, a: Block = a) -> str:
            return (f"SUMPRODUCT({rows.range(0, s, oh, 1, absolute=True, from_sheet=here)},"
                    f"{a.range(0, t, oh, 1, from_sheet=here)})")

        blocks.append(ctx.grad_input_block(c, x.shape, PerCell(cell),
                                           "= Σ_d row_weight(d, s) · columns(d, t)"))
    stack(sheet, blocks)
    return blocks
