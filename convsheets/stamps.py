"""The Stamps sheet: a transposed convolution's scatter, one input pixel per step, the stamps
adding up; what `convsheets animate --view scatter` cuts its frames from.

It follows the scatter view (a follow-up in `views.FOLLOW_UPS`): its step is the input pixel
the scatter view's yellow cells choose, numbered in channel, row, column order. It shows the
step's input channel (the pixel highlighted, the pixels already stamped shaded), the pixel's
stamp onto every output channel (the pixel times the kernel it meets) and, per output channel,
the canvas before the padding crops it holding the sum of the stamps of every pixel up to the
step (the cropped border grey; the bias is added once every pixel has stamped). As the Walk
(`walk.py`), every formula reads the step from the sheet's own step cell by an unqualified
reference, so a copy whose step cell holds n shows step n. Drawn for an ungrouped layer whose
canvas fits one screen.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import numpy as np

from .draw import Drawn
from .explorer import _rect, _tiling_of, index
from .layout import COMPUTED, Block, Label, Styled
from .limits import view_fits
from .ops import ConvTranspose2d, Op
from .scatter import canvas_shape, landing, scatter_names, stamped_canvas
from .stages import Formula, PerCell
from .walk import MIN_WALK_SCALE, _Grid, one_page_scale

MAX_SIDE = 20
MAX_OUTPUTS = 4
NOTE = ("Stamps: the scatter view one input pixel per step (channel, row, column order): each "
        "pixel adds its stamp (the pixel times the kernel) to every output's canvas. Change the "
        "Scatter sheet's yellow cells to choose the step's pixel.")


def stamps_names(prefix: str) -> dict[str, str]:
    keys = ("step", "channel", "row", "col", "pixel", "source")
    return {key: f"{prefix}stamps_{key}" for key in keys}


def applies(op: Op) -> bool:
    return isinstance(op, ConvTranspose2d) and op.groups == 1


def stamps_stage(drawn: Drawn) -> None:
    """Add the layer's Stamps sheet when it fits one screen (else a note in the guide)."""
    ctx, op = drawn.ctx, drawn.op
    assert isinstance(op, ConvTranspose2d) and drawn.weights is not None
    sources, weights = drawn.inputs, drawn.weights
    channels, outs = len(sources), len(weights[0])
    h, w = sources[0].shape
    kh, kw = weights[0][0].shape
    (sh, sw), (ph, pw), (dh, dw) = op.stride, op.padding, op.dilation
    out_size = drawn.outputs[0].shape
    ch, cw = canvas_shape((h, w), (kh, kw), op.stride, op.padding, op.dilation, out_size)
    if outs > MAX_OUTPUTS or max(h, w, ch, cw) > MAX_SIDE:
        ctx.plan.notes.append(f"{ctx.layer.label}: the Stamps sheet is left out: it shows at "
                              f"most {MAX_OUTPUTS} output channels and sides of at most "
                              f"{MAX_SIDE} cells on one screen.")
        return
    names = stamps_names(ctx.names.tensor)
    scatter = scatter_names(ctx.names.tensor)
    sheet = ctx.add_sheet("Stamps", NOTE)
    sheet.fit_margin = 0.03  # (wide numbers: the estimate can be a point or two too large)
    sheet.widths = {2: 9.0}
    if ctx.plan.network.values == "integers":
        sheet.default_width = 5.0
    here = sheet.name
    blocks: list[Block] = []

    def put(block: Block, row: int, col: int) -> Block:
        block.place(here, row, col)
        sheet.blocks.append(block)
        blocks.append(block)
        return block

    def label(row: int, col: int, text: object, style: str = "cs_label") -> None:
        sheet.labels.append(Label(row, col, text, style))

    def cell(name: str, expr: str, row: int, col: int, style: str = "cs_computed") -> str:
        block = put(Block(name, (1, 1), COMPUTED, Formula(lambda _h, t=expr: t),
                          colour_scale=False, style=style), row, col)
        return block.ref(0, 0, absolute=True, from_sheet=here)

    size = h * w
    row = sheet.first_row
    label(row, 2, "step", "cs_heading")
    found = {b.name: b for b in ctx.plan.blocks()}
    if any(scatter[key] not in found for key in ("valid", "channel", "row", "col")):
        ctx.plan.sheets.remove(sheet)  # (its view was left out: nothing to follow)
        return
    sel = {key: found[scatter[key]].ref(0, 0, absolute=True, from_sheet=here)
           for key in ("valid", "channel", "row", "col")}
    step = cell(names["step"], f'IF({sel["valid"]}=1,{sel["channel"]}*{size}+'
                f'{sel["row"]}*{w}+{sel["col"]},"")', row, 3, "cs_heading")
    label(row, 4, f"of 0-{channels * size - 1}: the input pixels in channel, row, column "
          "order; magenta: this step's pixel and where its stamp lands", "cs_note")
    row += 1
    valid = f"ISNUMBER({step})"
    label(row, 2, "channel")
    c = cell(names["channel"], f'IF({valid},INT({step}/{size}),"")', row, 3)
    label(row, 4, "row")
    r = cell(names["row"], f'IF({valid},INT(MOD({step},{size})/{w}),"")', row, 5)
    label(row, 6, "col")
    k = cell(names["col"], f'IF({valid},MOD({step},{w}),"")', row, 7)
    label(row, 8, "pixel")
    src_rect, tiling = _rect(sources, here), _tiling_of(sources)
    pixel = cell(names["pixel"], f'IF({valid},' + index(
        src_rect, _plus(tiling.row_expr(c), f"{r}+1"), _plus(tiling.col_expr(c), f"{k}+1"))
        + ',"")', row, 9, "cs_heading")
    row += 2
    label(row, 3, "input", "cs_title")
    source = put(Block(names["source"], (h, w), COMPUTED,
                       _Grid(src_rect, tiling.row_expr(c), tiling.col_expr(c), valid),
                       colour_scale=False, style="cs_computed"), row + 1, 3)
    at = f"(ROW()-{source.top})*{w}+COLUMN()-{source.left}"
    now = f"{r}*{w}+{k}"
    source.highlights.append(f"AND({valid},{at}={now})")
    source.shades.append((f"AND({valid},{at}<{now})", "done"))
    stamp_left = 3 + w + 1
    canvas_left = stamp_left + kw + 2
    band = max(kh + 1, ch) + 2
    for b in range(outs):
        top = row + b * band

        def stamp(sheet_name: str, i: int, j: int, b: int = b) -> str:
            taps = ",".join(weights[a][b].ref(i, j, absolute=True, from_sheet=sheet_name)
                            for a in range(channels))
            tap = f"CHOOSE({c}+1,{taps})" if channels > 1 else taps
            return f'IF({valid},{pixel}*{tap},"")'

        label(top, stamp_left, f"stamp onto output ch. {b}", "cs_title")
        put(Block(f"{ctx.names.tensor}stamps_stamp_{b}", (kh, kw), COMPUTED, PerCell(stamp),
                  colour_scale=False, style="cs_computed"), top + 1, stamp_left)

        def sum_so_far(sheet_name: str, y: int, x: int, b: int = b) -> str:
            terms = []
            for a in range(channels):
                for i in range(kh):
                    py = landing(y, i, sh, 0, dh, h)
                    if py is None:
                        continue
                    for j in range(kw):
                        px = landing(x, j, sw, 0, dw, w)
                        if px is not None:
                            terms.append(f"({a * size + py * w + px}<={step})*"
                                         + sources[a].ref(py, px, from_sheet=sheet_name) + "*"
                                         + weights[a][b].ref(i, j, absolute=True,
                                                             from_sheet=sheet_name))
            return f'IF({valid},{"+".join(terms) or "0"},"")'

        label(top, canvas_left, f"output ch. {b}: the stamps so far (grey: cropped by the "
              "padding" + ("; the bias comes last)" if drawn.bias is not None else ")"),
              "cs_title")
        canvas = put(Block(f"{ctx.names.tensor}stamps_canvas_{b}", (ch, cw), COMPUTED,
                           _Cropped(sum_so_far, (ph, pw), out_size), colour_scale=False,
                           style="cs_computed"), top + 1, canvas_left)
        rows_ = f"ROW()-{canvas.top}-{r}*{sh}"
        cols_ = f"COLUMN()-{canvas.left}-{k}*{sw}"
        canvas.highlights.append(
            f"AND({valid},{rows_}>=0,{rows_}<={(kh - 1) * dh},MOD({rows_},{dh})=0,"
            f"{cols_}>=0,{cols_}<={(kw - 1) * dw},MOD({cols_},{dw})=0)")
    if not view_fits(ctx, sheet, "Stamps sheet", blocks):
        return
    if one_page_scale(sheet) < MIN_WALK_SCALE:
        ctx.plan.sheets.remove(sheet)
        ctx.plan.notes.append(f"{ctx.layer.label}: the Stamps sheet is left out: it would "
                              "print at less than half size on one page.")


class _Cropped(PerCell):
    """A canvas: every cell its own formula, the border the padding crops greyed."""

    def __init__(self, make: Callable[[str, int, int], str], padding: tuple[int, int],
                 out_size: tuple[int, int]) -> None:
        super().__init__(make)
        self.padding, self.out_size = padding, out_size

    def rows(self, block: Block) -> object:
        (ph, pw), (oh, ow) = self.padding, self.out_size
        for i, line in enumerate(super().rows(block)):
            yield [v if ph <= i < ph + oh and pw <= j < pw + ow else Styled(v, "cs_cropped")
                   for j, v in enumerate(line)]


def _plus(offset: str, rest: str) -> str:
    return rest if offset == "0" else f"{offset}+{rest}"


def stamps_values(op: Op, x: np.ndarray, tensors: dict[str, np.ndarray], y: np.ndarray,
                  selected: Callable[[str], float], shown: Collection[str],
                  ) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Every Stamps block (by local name) for the pixel the scatter view selects: the canvases
    are the scatter's stamped canvas (NumPy, pixel by pixel) of the input with every later
    pixel set to 0, without the bias."""
    assert isinstance(op, ConvTranspose2d)
    if "stamps_step" not in shown:
        return {}
    channels, h, w = x.shape
    weight = tensors["weight"]
    c, r, k = (selected(f"scatter_{key}") for key in ("channel", "row", "col"))
    valid = all(float(v).is_integer() and 0 <= v < n for v, n in ((c, channels), (r, h), (k, w)))
    outs, kh, kw = weight.shape[1:]
    canvas = canvas_shape((h, w), (kh, kw), op.stride, op.padding, op.dilation, y.shape[1:])
    blank: dict[str, tuple[int, ...]] = {
        "stamps_step": (1, 1), "stamps_channel": (1, 1), "stamps_row": (1, 1),
        "stamps_col": (1, 1), "stamps_pixel": (1, 1), "stamps_source": (h, w),
        **{f"stamps_stamp_{b}": (kh, kw) for b in range(outs)},
        **{f"stamps_canvas_{b}": canvas for b in range(outs)}}
    if not valid:
        return {name: (np.full(shape, np.nan), None) for name, shape in blank.items()}
    c, r, k = int(c), int(r), int(k)
    step = c * h * w + r * w + k
    pixel = x[c, r, k]
    later = (np.arange(x.size) > step).reshape(x.shape)
    stamped = stamped_canvas(np.where(later, 0.0, x), weight, None, y.shape[1:], op.stride,
                             op.padding, op.dilation, 1)
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {
        "stamps_step": (np.array([[step]], float), None),
        "stamps_channel": (np.array([[c]], float), None),
        "stamps_row": (np.array([[r]], float), None),
        "stamps_col": (np.array([[k]], float), None),
        "stamps_pixel": (np.array([[pixel]], float), None),
        "stamps_source": (np.asarray(x[c], float), None)}
    for b in range(outs):
        out[f"stamps_stamp_{b}"] = (pixel * weight[c, b], None)
        out[f"stamps_canvas_{b}"] = (stamped[b], None)
    return out
