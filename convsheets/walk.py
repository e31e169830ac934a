"""The Walk sheet: a convolution's whole computation on one screen, one output cell per step,
the picture `convsheets animate` cuts its frames from.

It follows the explorer (a view's follow-up, `views.FOLLOW_UPS`): its step is the output cell
the explorer uses, numbered in channel, row, column order (`explore_step` when typed), so typing
0, 1, 2, ... in the explorer's step cell animates it live in Excel or LibreOffice. It shows,
for that output cell's channel, the whole window source of every input channel its filter
reads (the padded or zero-inserted input) with the window highlighted, the kernel, the products
of the window and the kernel, their sum (plus the bias) and the output channel *filling up*:
cells before the step shaded, the step's cell highlighted, the cells after it shown empty by a
conditional format (white text), so each step reads like conv_arithmetic's animations, on the
workbook's own numbers.

Every formula of the sheet reads its step from the sheet's own step cell (`walk_step`, the only
cell that reads the explorer) by an unqualified reference: a copy of the sheet whose step cell
holds the number n shows step n, which is how `animate` makes all frames in one workbook.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .explorer import Exploration, _Kernel, _rect, _tiling_of, explore_names, explore_values, index
from .layout import COMPUTED, MIN_SCALE, PAGES, Block, Label, SheetPlan, Styled
from .limits import view_fits
from .plan import LayerContext
from .stages import PAD, Formula, Gather, Zero, measured

MAX_SIDE = 20  # the source and output sides a one-screen Walk can show
MAX_LENGTH = 40  # ... a 1-D layer's (its rows stacked: source, kernel, products, output)
MIN_WALK_SCALE = MIN_SCALE + 0.1  # (room for columns widened later for their numbers)
MAX_CHANNELS = 4  # input channels of one filter a one-screen Walk can show side by side
SHEET_ROLE = "Walk"
NOTE = ("Walk: the layer's computation one output cell per step (channel, row, column order). "
        "Type 0, 1, 2, ... in the Explorer's step cell to walk; clear it to follow the "
        "Explorer's three yellow cells.")


def walk_names(prefix: str) -> dict[str, str]:
    """The public names of one Walk sheet's cells (prefix: the layer's, "" for one layer)."""
    keys = ("step", "channel", "row", "col", "sum", "bias", "total", "output")
    return {key: f"{prefix}walk_{key}" for key in keys}


def fits(ex: Exploration) -> bool:
    """Whether the layer's Walk fits one screen (and so one printed page)."""
    h, w = ex.sources[0].shape
    oh, ow = ex.outputs[0].shape
    side = MAX_LENGTH if _one_d(ex) else MAX_SIDE
    return ex.kernels is not None and ex.per_in <= MAX_CHANNELS and max(h, w, oh, ow) <= side


def _one_d(ex: Exploration) -> bool:
    """A sequence layer (one row): its Walk stacks the source, kernel, products and output
    rows of each band, so a long sequence still fits the page's width."""
    return ex.sources[0].shape[0] == 1 and ex.outputs[0].shape[0] == 1


def walk_stage(ctx: LayerContext, ex: Exploration) -> None:
    """Add the layer's Walk sheet (a convolution whose Walk fits one screen; otherwise a note
    in the guide says it is left out)."""
    if not fits(ex):
        sides = (f"lengths of at most {MAX_LENGTH} cells" if _one_d(ex)
                 else f"sides of at most {MAX_SIDE} cells")
        ctx.plan.notes.append(f"{ctx.layer.label}: the Walk sheet is left out: it shows one "
                              f"filter's input channels (at most {MAX_CHANNELS}) and {sides} "
                              "on one screen.")
        return
    names = walk_names(ctx.names.tensor)
    explore = explore_names(ctx.names.tensor)
    sheet = ctx.add_sheet(SHEET_ROLE, NOTE)
    sheet.fit_margin = 0.03  # (wide numbers: the estimate can be a point or two too large)
    sheet.widths = {2: 9.0}
    if ctx.plan.network.values == "integers":  # (widened later if a column's numbers need it)
        sheet.default_width = 5.0
    here = sheet.name
    out_c = len(ex.outputs)
    oh, ow = ex.outputs[0].shape
    h, w = ex.sources[0].shape
    kh, kw = ex.kernel
    (sh, sw), (dh, dw) = ex.stride, ex.dilation
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
        # unqualified: a copy of the sheet reads its own
        return block.ref(0, 0, absolute=True, from_sheet=here)

    row = sheet.first_row
    label(row, 2, "step", "cs_heading")
    size = oh * ow
    found = {b.name: b for b in ctx.plan.blocks()}
    if any(explore[key] not in found for key in ("valid", "used_channel", "used_row", "used_col")):
        ctx.plan.sheets.remove(sheet)  # (its view was left out: nothing to follow)
        return
    used = {key: found[explore[key]].ref(0, 0, absolute=True, from_sheet=here)
            for key in ("valid", "used_channel", "used_row", "used_col")}
    step = cell(names["step"], f"IF({used['valid']}=1,{used['used_channel']}*{size}+"
                f"{used['used_row']}*{ow}+{used['used_col']},\"\")", row, 3, "cs_heading")
    # the note in two short lines (one ran over a two-page print's edge)
    label(row, 4, f"of 0-{out_c * size - 1}: the output cells in channel, row, column order",
          "cs_note")
    row += 1
    valid = f"ISNUMBER({step})"
    label(row, 2, "channel")
    c = cell(names["channel"], f'IF({valid},INT({step}/{size}),"")', row, 3)
    label(row, 4, "row")
    r = cell(names["row"], f'IF({valid},INT(MOD({step},{size})/{ow}),"")', row, 5)
    label(row, 6, "col")
    k = cell(names["col"], f'IF({valid},MOD({step},{ow}),"")', row, 7)
    label(row + 1, 4, "magenta: this step's window and output cell", "cs_note")
    row += 2

    src_rect = _rect(ex.sources, here)
    src_tiling = _tiling_of(ex.sources)
    first_channel = f"INT({c}/{ex.per_out})*{ex.per_in}"
    one_d = _one_d(ex)
    left = 3
    if one_d:  # rows stacked: source, kernel, products (the output below every band)
        band, kernel_left, kernel_down = 7, left, 3
    else:  # source on the left, kernel and products on its right, the output right of them
        band, kernel_left, kernel_down = max(h, 2 * kh + 1) + 2, left + w + 1, 1
    products: list[Block] = []
    for j in range(ex.per_in):
        top = row + j * band
        channel = f"({first_channel}+{j})"
        if len(ex.sources) > 1:  # which input channel (a group's filter reads its group's)
            label(top, left, f"{ex.what} ch.", "cs_title")
            cell(f"{ctx.names.tensor}walk_in_channel_{j}", f'IF({valid},{channel},"")', top,
                 left + 4 if one_d else max(left + 1, min(left + 4, kernel_left - 1)),
                 "cs_title")
        else:
            label(top, left, ex.what, "cs_title")
        source = put(Block(f"{ctx.names.tensor}walk_source_{j}", (h, w), COMPUTED,
                           _Grid(src_rect, src_tiling.row_expr(channel),
                                 src_tiling.col_expr(channel), valid, ex.sources[0]),
                           colour_scale=False, style="cs_computed"), top + 1, left)
        rows_ = f"ROW()-{source.top}-{r}*{sh}"
        cols_ = f"COLUMN()-{source.left}-{k}*{sw}"
        source.highlights.append(
            f"AND({valid},{rows_}>=0,{rows_}<={(kh - 1) * dh},MOD({rows_},{dh})=0,"
            f"{cols_}>=0,{cols_}<={(kw - 1) * dw},MOD({cols_},{dw})=0)")
        assert ex.kernel_cell is not None
        grid_row, grid_col = ex.kernel_cell(c, j)
        kernel_top = top + kernel_down
        label(kernel_top - 1, kernel_left, ex.kernel_what, "cs_title")
        kernel = put(Block(f"{ctx.names.tensor}walk_kernel_{j}", (kh, kw), COMPUTED,
                           _Kernel(ex, grid_row, grid_col, valid, here), colour_scale=False,
                           style="cs_computed"), kernel_top, kernel_left)
        label(kernel_top + kh, kernel_left, "window × kernel", "cs_title")
        products.append(put(Block(f"{ctx.names.tensor}walk_products_{j}", (kh, kw), COMPUTED,
                                  _Products(source, kernel, r, k, ex, valid),
                                  colour_scale=False, style="cs_computed"),
                            kernel_top + kh + 1, kernel_left))
    if one_d:
        out_left, row = left, row + ex.per_in * band
    else:
        out_left = kernel_left + kw + 2
    label(row, out_left, "output (filling up)", "cs_title")
    out_rect = _rect(ex.outputs, here)
    out_tiling = _tiling_of(ex.outputs)
    output = put(Block(names["output"], (oh, ow), COMPUTED,
                       _Grid(out_rect, out_tiling.row_expr(c), out_tiling.col_expr(c), valid),
                       colour_scale=False, style="cs_computed"), row + 1, out_left)
    at = f"(ROW()-{output.top})*{ow}+COLUMN()-{output.left}"
    now = f"{r}*{ow}+{k}"
    output.highlights.append(f"AND({valid},{at}={now})")
    output.shades += [(f"AND({valid},{at}<{now})", "done"),
                      (f"OR(NOT({valid}),{at}>{now})", "hidden")]
    total_row = row + 1 + oh + 1
    value_col = out_left + 4
    label(total_row, out_left, "Σ window × kernel")
    areas = ",".join(p.area(from_sheet=here) for p in products)
    total = cell(names["sum"], f'IF({valid},SUM({areas}),"")', total_row, value_col)
    if ex.bias is not None:
        total_row += 1
        label(total_row, out_left, "+ bias")
        bias = cell(names["bias"], f'IF({valid},' + index(ex.bias.area(from_sheet=here), "1",
                                                          f"{c}+1") + ',"")',
                    total_row, value_col)
        total = f"{total}+{bias}"
    total_row += 1
    label(total_row, out_left, "total = output cell", "cs_title")
    cell(names["total"], f'IF({valid},{total},"")', total_row, value_col, "cs_title")
    if not view_fits(ctx, sheet, "Walk sheet", blocks,
                     (rule for b in blocks for rule, _look in b.shades)):
        return
    if one_page_scale(sheet) < MIN_WALK_SCALE:  # not one readable screen after all
        ctx.plan.sheets.remove(sheet)
        ctx.plan.notes.append(f"{ctx.layer.label}: the Walk sheet is left out: it would "
                              "print at less than half size on one page.")


def one_page_scale(sheet: SheetPlan) -> float:
    """The scale the sheet prints at on one page, in its better orientation."""
    _last, width, height = sheet.print_extent()
    return max(min(1.0, page_w / width, page_h / height) for page_w, page_h in PAGES.values())


@dataclass
class _Grid:
    """A whole channel of stacked blocks (the window source's, the output's), the channel
    chosen by expressions: INDEX into their one rectangle."""

    rect: str
    row0: str  # the chosen channel's first row within the rectangle, as an expression
    col0: str
    valid: str

    zeros: Block | None = None  # a source block whose structural zeros the grid shows grey

    def rows(self, block: Block) -> object:
        for i in range(block.shape[0]):
            line: list[object] = []
            for j in range(block.shape[1]):
                text = (f'=IF({self.valid},' + index(self.rect, _plus(self.row0, str(i + 1)),
                                                     _plus(self.col0, str(j + 1))) + ',"")')
                why = _zero(self.zeros, i, j)
                line.append(text if why is None else Styled(text, why.style))
            yield line

    def longest(self, block: Block) -> int:
        return measured(self.rows(block))  # (styled cells measured too)


@dataclass
class _Products:
    """Window tap (i, j) times kernel tap (i, j), the tap read from the Walk's own copy of
    the source (the highlighted cells) at position * stride + tap * dilation."""

    source: Block
    kernel: Block
    r: str
    k: str
    ex: Exploration
    valid: str

    def rows(self, block: Block) -> object:
        (sh, sw), (dh, dw) = self.ex.stride, self.ex.dilation
        here = self.source.sheet
        area = self.source.area(from_sheet=here)
        for i in range(block.shape[0]):
            yield [f'=IF({self.valid},'
                   + index(area, f"{self.r}*{sh}+{i * dh + 1}", f"{self.k}*{sw}+{j * dw + 1}")
                   + '*'
                   f'{self.kernel.ref(i, j, from_sheet=here)},"")'
                   for j in range(block.shape[1])]

    def longest(self, block: Block) -> int:
        return measured(self.rows(block))


def _zero(block: Block | None, i: int, j: int) -> Zero | None:
    """Why cell (i, j) of a stage block (padded, upsampled) is a constant zero, if it is one:
    the same in every channel, as one geometry placed every channel's block."""
    content = block.content if block is not None else None
    if not isinstance(content, Gather):
        return None
    r, c = content.row_map[i], content.col_map[j]
    if isinstance(c, Zero) and c == PAD:  # (a padding column outranks an inserted-zero row)
        return c
    if isinstance(r, Zero):
        return r
    return c if isinstance(c, Zero) else None


def _plus(offset: str, rest: str) -> str:
    return rest if offset == "0" else f"{offset}+{rest}"


def walk_values(op: object, x: np.ndarray, tensors: dict[str, np.ndarray], y: np.ndarray,
                c: float, r: float, k: float, valid: bool) -> dict[str, np.ndarray]:
    """Every Walk block of a layer (by local name) for the output cell (c, r, k) its explorer
    uses, from the op's reference alone (`op.window_source`, `op.window_kernels`, the
    reference output); an invalid selection shows blank (NaN) cells."""
    window = op.window()  # type: ignore[attr-defined]
    channels, oh, ow = y.shape
    first = explore_values(op, x, tensors, y, 0, 0, 0)  # type: ignore[arg-type]
    picked = (explore_values(op, x, tensors, y, int(c), int(r), int(k))  # type: ignore[arg-type]
              if valid else None)
    source = op.window_source(x)  # type: ignore[attr-defined]
    out: dict[str, np.ndarray] = {}

    def put(name: str, value: object, shape: tuple[int, ...]) -> None:
        out[name] = np.asarray(value, dtype=float) if valid else np.full(shape, np.nan)

    put("walk_step", [[c * oh * ow + r * ow + k]], (1, 1))
    put("walk_channel", [[c]], (1, 1))
    put("walk_row", [[r]], (1, 1))
    put("walk_col", [[k]], (1, 1))
    group = int(c) // window.per_out * window.per_in if valid else 0
    total = 0.0
    for j in range(window.per_in):
        if source.shape[0] > 1:
            put(f"walk_in_channel_{j}", [[group + j]], (1, 1))
        put(f"walk_source_{j}", source[group + j] if valid else None, source.shape[1:])
        put(f"walk_kernel_{j}", picked and picked[f"explore_kernel_{j}"],
            first[f"explore_kernel_{j}"].shape)
        put(f"walk_products_{j}", picked and picked[f"explore_products_{j}"],
            first[f"explore_products_{j}"].shape)
        if picked is not None:
            total += float(np.sum(picked[f"explore_products_{j}"]))
    put("walk_sum", [[total]], (1, 1))
    if "bias" in tensors and tensors["bias"] is not None:
        put("walk_bias", [[tensors["bias"][int(c)]]] if valid else None, (1, 1))
    put("walk_total", [[y[int(c), int(r), int(k)]]] if valid else None, (1, 1))
    put("walk_output", y[int(c)] if valid else None, (oh, ow))
    return out
