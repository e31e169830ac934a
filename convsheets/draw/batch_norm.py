"""batch_norm2d: its statistics and affine parameters as editable rows, the per-channel scale
as live formulas, then each output channel as (x - mean) · scale + bias, cell by cell."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..layout import COMPUTED, EDIT, STAGE, TENSOR, Block, Meaning, row_block
from ..ops import BatchNorm2d
from ..plan import LayerContext, per_channel_stage, title
from ..stages import PerCell, Values
from ..tensors import block_of
from .registry import Drawn, draws

ROWS = (("running_mean", "(one per channel)"), ("running_var", "(one per channel)"),
        ("weight", "(gamma: one per channel)"), ("bias", "(beta, the shift: one per channel)"))


@dataclass
class Normalised:
    """Each cell: (x - mean[c]) * scale[c] (+ bias[c]) of the same cell of `source`."""

    source: Block
    c: int
    mean: Block
    scale: Block
    bias: Block | None

    def rows(self, block: Block) -> Iterator[list[object]]:
        here = block.sheet
        mean = self.mean.ref(0, self.c, absolute=True, from_sheet=here)
        scale = self.scale.ref(0, self.c, absolute=True, from_sheet=here)
        shift = ("+" + self.bias.ref(0, self.c, absolute=True, from_sheet=here)
                 if self.bias is not None else "")
        for i in range(block.shape[0]):
            yield [f"=({self.source.ref(i, j, from_sheet=here)}-{mean})*{scale}{shift}"
                   for j in range(block.shape[1])]


@draws(BatchNorm2d)
def draw_batch_norm(ctx: LayerContext, sources: Sequence[Block]) -> Drawn:
    op = ctx.layer.op
    assert isinstance(op, BatchNorm2d)
    c = op.num_features
    note = ("Batch normalisation in evaluation mode: the running mean and variance the model "
            "learned, its weight and bias (edit the yellow cells), and each channel's scale = "
            f"weight / SQRT(running_var + eps), eps = {op.epsilon}.")
    if ctx.weights is not None:
        note = ("The forward pass again, after the update: the same running statistics (not "
                "trained), the updated weight and bias from the Update sheet, and each "
                f"channel's scale = weight / SQRT(running_var + eps), eps = {op.epsilon}.")
    sheet = ctx.add_sheet("Statistics", note)
    top = sheet.first_row
    rows: dict[str, Block] = {}
    if ctx.weights is not None:  # the forward pass again: the updated weight and bias, the
        # same running statistics (buffers, not trained)
        rows = {b.meaning.kind: b for b in ctx.plan.blocks() if b.meaning is not None
                and b.meaning.role == TENSOR and b.meaning.layer == ctx.layer.label
                and b.meaning.kind in ("running_mean", "running_var")}
        weights, shift = ctx.weights
        if weights:
            rows["weight"] = weights[0][0]
        if shift is not None:
            rows["bias"] = shift
    for local, what in ROWS if ctx.weights is None else ():
        array = ctx.tensor(local)
        if array is None:
            continue
        name = ctx.names.tensor + local
        rows[local] = Block(name, (1, c), EDIT, Values(block_of(array, ())),
                            title=title(name, (1, c), what), colour_scale=False,
                            meaning=Meaning(TENSOR, ctx.layer.label, local))
        top = row_block(sheet, rows[local], top=top)
    var, weight = rows["running_var"], rows.get("weight")

    def scale_cell(here: str, _i: int, k: int) -> str:
        top_ = weight.ref(0, k, from_sheet=here) if weight is not None else "1"
        return f"{top_}/SQRT({var.ref(0, k, from_sheet=here)}+{op.epsilon})"

    name = ctx.names.stage + "scale"
    scale = Block(name, (1, c), COMPUTED, PerCell(scale_cell),
                  title=title(name, (1, c), "= weight / SQRT(running_var + eps)"),
                  colour_scale=False, meaning=Meaning(STAGE, ctx.layer.label, "scale"))
    row_block(sheet, scale, top=top)
    bias = rows.get("bias")
    outputs = per_channel_stage(
        ctx, op.note(), sources, sources[0].shape,
        lambda src: Normalised(src, sources.index(src), rows["running_mean"], scale, bias),
        "= (x - mean) · scale" + (" + bias" if bias is not None else ""))
    return Drawn(ctx, list(sources), outputs, windowed=list(sources), bias=bias)
