"""Vectors: flatten (the channels laid end to end as one row of cells, each a reference to
its input cell) and linear (the weight matrix as one out×in block, each output one
SUMPRODUCT of a matrix row with the input row, plus its bias)."""

from __future__ import annotations

from collections.abc import Sequence

from ..layout import COMPUTED, EDIT, OUTPUT, TENSOR, Block, Meaning, row_block
from ..ops import Flatten, Linear
from ..plan import LayerContext, title
from ..prediction import add_prediction, ends_in_scores
from ..stages import PerCell, Values
from ..tensors import block_of
from .registry import Drawn, draws


def vector_output(ctx: LayerContext, note: str, width: int, content: PerCell,
                  what: str) -> Block:
    """A layer's output vector: one row of cells on its Output sheet."""
    sheet = ctx.add_sheet("Output", note)
    name, aliases = ctx.output_names(0)
    block = Block(name, (1, width), COMPUTED, content, aliases=aliases,
                  title=title(name, (1, width), what),
                  meaning=Meaning(OUTPUT, ctx.layer.label, index=(0,)))
    row_block(sheet, block, top=sheet.first_row)
    return block


@draws(Flatten)
def draw_flatten(ctx: LayerContext, sources: Sequence[Block]) -> Drawn:
    op = ctx.layer.op
    assert isinstance(op, Flatten)
    c, h, w = ctx.layer.in_shape
    if len(sources) != c or any(s.shape != (h, w) for s in sources):
        raise AssertionError("flatten's input blocks are out of step with its shape")

    def cell(here: str, _i: int, n: int) -> str:
        channel, rest = divmod(n, h * w)
        return sources[channel].ref(*divmod(rest, w), from_sheet=here)

    out = vector_output(ctx, op.note(ctx.layer.in_shape), c * h * w, PerCell(cell),
                        "(channel by channel, row by row)")
    return Drawn(ctx, list(sources), [out])


def _parameters(ctx: LayerContext) -> tuple[Block, Block | None]:
    """The editable weight matrix and bias row on the layer's Weights sheet."""
    weight, bias_name = ctx.names.tensor + "weight", ctx.names.tensor + "bias"
    w = ctx.plan.tensors[weight]
    sheet = ctx.add_sheet("Weights", f"The weight matrix {weight}: one row per output, one "
                          "column per input feature (PyTorch's layout), and one bias per "
                          "output. Edit the yellow cells.")
    top = sheet.first_row
    bias = None
    b = ctx.tensor("bias")
    if b is not None:
        bias = Block(bias_name, (1, b.shape[0]), EDIT, Values(block_of(b, ())),
                     title=title(bias_name, (1, b.shape[0]), "(one bias per output)"),
                     meaning=Meaning(TENSOR, ctx.layer.label, "bias"), colour_scale=False)
        top = row_block(sheet, bias, top=top)
    matrix = Block(weight, w.shape, EDIT, Values(block_of(w, ())),
                   title=title(weight, w.shape, "(row j: the weights of output j)"),
                   meaning=Meaning(TENSOR, ctx.layer.label, "weight"))
    row_block(sheet, matrix, top=top)
    return matrix, bias


@draws(Linear)
def draw_linear(ctx: LayerContext, sources: Sequence[Block]) -> Drawn:
    op = ctx.layer.op
    assert isinstance(op, Linear)
    (x,) = sources
    if ctx.weights is not None:  # the forward pass again, reading the updated weights
        matrix, bias = ctx.weights[0][0][0], ctx.weights[1]
    else:
        matrix, bias = _parameters(ctx)

    def cell(here: str, _i: int, j: int) -> str:
        row = matrix.range(j, 0, 1, op.in_features, absolute=True, from_sheet=here)
        vector = x.range(0, 0, 1, op.in_features, absolute=True, from_sheet=here)
        plus = "+" + bias.ref(0, j, absolute=True, from_sheet=here) if bias is not None else ""
        return f"SUMPRODUCT({row},{vector}){plus}"

    out = vector_output(ctx, op.note(), op.out_features, PerCell(cell),
                        "= SUMPRODUCT(weight row, input)" + (" + bias" if bias else ""))
    if "explorer" in ctx.plan.views and ctx.weights is None:
        ctx.plan.notes.append(f"{ctx.layer.label} (linear): no window explorer: every output "
                              "reads the whole input row (one SUMPRODUCT; Trace Precedents "
                              "shows it).")
    if ends_in_scores(ctx.plan, ctx.layer):
        add_prediction(ctx.plan, ctx.layer, out)
    return Drawn(ctx, list(sources), [out], weights=[[matrix]], bias=bias)
