"""The window explorer: one output cell of a convolution or pooling layer, computed on one
screen, for the position three yellow cells (or a step number) choose.

It opens on the output cell of largest magnitude and shows the position in use in big
numbers beside the yellow cells. For the selected output cell it shows, for every input channel
the selected filter sees, the window of the (padded / zero-inserted) input it reads, the kernel,
their element-wise products and the sum per channel; then the bias and the total, beside the
output cell itself. A 1x1 kernel is one dot product: the pixel's channels as a column beside
the filter's weights and their products. A pooling layer shows its window and its maximum
(the winning cell marked, the first one in row order as PyTorch) or mean. Every cell
is a portable formula: `INDEX` into one literal rectangle (the input blocks, the kernel grid,
the output blocks, as layout's `Tiling` placed them) with computed row and column, `IF`, `AND`,
`ISNUMBER`, `MOD`, `INT`, `ABS`, `SUM`/`MAX`/`AVERAGE`. Conditional formats on the input, kernel
and output sheets highlight what the explorer shows, through the workbook-scope names of its
selection cells (and, for max pooling, the window's winner, with `COUNTIF`, `ROW`, `COLUMN`).

The explorer is a view (`views.py`): for any layer whose op declares a `window()`, it reads
that geometry and the stages the drawer recorded (`exploration`), and `explore_values` computes
its expected blocks from the op's reference alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .layout import COMPUTED, EDIT, Block, Label, Tiling
from .limits import longest_of, view_fits
from .plan import LayerContext
from .stages import Formula, Values, measured

if TYPE_CHECKING:
    from .draw import Drawn
    from .ops import Op

PANELS_PER_ROW = 6  # input-channel panels side by side before wrapping


@dataclass
class Exploration:
    """What an op's explorer reads. Window tap (i, j) of output position (r, k) along each
    axis: source index = position * stride + offset + tap * dilation."""

    sources: Sequence[Block]  # stacked blocks, one per channel the layer reads
    kernel: tuple[int, int]
    stride: tuple[int, int]
    offset: tuple[int, int]  # -padding for pooling (reads its raw input), 0 otherwise
    dilation: tuple[int, int]
    outputs: Sequence[Block]  # the layer's stacked output blocks
    per_in: int = 1  # input channels one filter sees (pooling: 1)
    per_out: int = 1  # output channels per group (pooling: 1)
    kernels: Sequence[Sequence[Block]] | None = None  # grid of kernel blocks, or None (pool)
    # (channel expression, j) -> (grid row expression, grid column expression) of the kernel
    kernel_cell: Callable[[str, int], tuple[str, str]] | None = None
    bias: Block | None = None
    reduce: str = "SUM"  # how the total is made: SUM (+ bias), MAX, MEAN (SUM/kH*kW), AVERAGE
    what: str = "input"  # what the windows are cut from, for the sheet's labels
    kernel_what: str = "kernel"
    overhang: bool = False  # windows may hang over the bottom / right edge (ceil_mode)
    # where each input channel comes from when the layer reads a concatenation (a graph):
    # "from up2 ch. 1", one per channel the filter sees; empty otherwise
    origins: tuple[str, ...] = ()


def explore_names(prefix: str) -> dict[str, str]:
    """The public names of one explorer (prefix: "", "depthwise_", "conv1_")."""
    keys = ("channel", "row", "col", "step", "used_channel", "used_row", "used_col", "valid",
            "output", "sum", "bias", "message", "agree")
    return {key: f"{prefix}explore_{key}" for key in keys}


def explorer_stage(ctx: LayerContext, ex: Exploration) -> None:
    """Add the layer's Explorer sheet and the highlight rules on the sheets it reads."""
    names = explore_names(ctx.names.tensor)
    out_c = len(ex.outputs)
    oh, ow = ex.outputs[0].shape
    pooling = ex.kernels is None
    words = _words(ex)
    sheet = ctx.add_sheet("Explorer", "Choose an output cell in the yellow cells (0-based, as "
                          f"PyTorch indexes): {words['note']} are computed here, and "
                          "highlighted (magenta, framed) on the other sheets. Or type a step "
                          "number: step n is the n-th output cell in channel, row, column order "
                          "(type 0, 1, 2, ... to walk through the layer); clear the step cell "
                          "to use the three coordinates again. The big numbers are the output "
                          "cell in use.")
    sheet.default_width = 7.0
    sheet.widths = {2: 14, 3: 8.5, 6: 8.0}  # room for "channel" and "or step" above
    here = sheet.name

    def put(block: Block, row: int, col: int) -> Block:
        block.place(here, row, col)
        sheet.blocks.append(block)
        return block

    def label(row: int, col: int, text: object, style: str = "cs_label") -> None:
        sheet.labels.append(Label(row, col, text, style))

    def ref(block: Block) -> str:
        return block.ref(0, 0, absolute=True, from_sheet=here)

    row = sheet.first_row
    label(row, 2, f"Output cell: channel 0-{out_c - 1}, row 0-{oh - 1}, column 0-{ow - 1}",
          "cs_title")
    row += 1
    for col, text in ((3, "channel"), (4, "row"), (5, "column"), (6, "or step")):
        label(row, col, text, "cs_title")
    row += 1
    label(row, 2, "type here")
    select = {}
    limits = {"channel": out_c - 1, "row": oh - 1, "col": ow - 1, "step": out_c * oh * ow - 1}
    start = default_selection(ctx)
    for col, key, first in zip((3, 4, 5, 6), ("channel", "row", "col", "step"), (*start, None),
                               strict=True):
        select[key] = put(_scalar(names[key], EDIT, first), row, col)
        select[key].validation = (0, limits[key])
    label(row, 7, "(a number in step overrides the three; clear it to use them)", "cs_note")
    row += 1
    step, size = ref(select["step"]), oh * ow
    used_text = {
        "used_channel": f"IF(ISNUMBER({step}),INT({step}/{size}),{ref(select['channel'])})",
        "used_row": f"IF(ISNUMBER({step}),INT(MOD({step},{size})/{ow}),{ref(select['row'])})",
        "used_col": f"IF(ISNUMBER({step}),MOD({step},{ow}),{ref(select['col'])})",
    }
    label(row, 2, "in use", "cs_heading")
    used = {}
    for (key, text), col in zip(used_text.items(), (3, 4, 5), strict=True):
        used[key] = put(_formula(names[key], text), row, col)
        used[key].style = "cs_heading"  # big: the position every cell below shows
    c, r, k = (ref(used[key]) for key in ("used_channel", "used_row", "used_col"))
    checks = ",".join(f"{v}>=0,{v}<{n},INT({v})={v}" for v, n in ((c, out_c), (r, oh), (k, ow)))
    label(row, 7, "inside")
    valid_block = put(_formula(names["valid"], f"IF(AND({checks}),1,0)"), row, 8)
    valid = ref(valid_block) + "=1"
    row += 1
    label(row, 2, "warning")
    message = put(_formula(names["message"], f'IF({valid},"","This position is outside the '
                           f'output: channel 0-{out_c - 1}, row 0-{oh - 1}, column 0-{ow - 1} '
                           '(0-based)")'), row, 3)
    message.style = "cs_note"  # empty while the position is inside the output
    row += 1
    label(row, 2, "In use: the step's channel, row and column if a step is typed, else the three "
          "yellow cells.", "cs_note")
    label(row + 1, 2, "Inside: 1 if that position is in the output, else 0 (and a warning).",
          "cs_note")
    row += 3

    def guarded(expr: str) -> str:
        return f'IF({valid},{expr},"")'

    out_rect = _rect(ex.outputs, here)
    label(row, 2, "output cell", "cs_title")
    out_tiling = _tiling_of(ex.outputs)
    output = put(_formula(names["output"], guarded(
        index(out_rect, _plus(out_tiling.row_expr(c), f"{r}+1"),
              _plus(out_tiling.col_expr(c), f"{k}+1")))), row, 3)
    label(row, 4, words["total"], "cs_title")
    total_row, total_col = row, 7
    row += 2

    kh, kw = ex.kernel
    h, w = ex.sources[0].shape
    src_rect = _rect(ex.sources, here)
    first_channel = f"INT({c}/{ex.per_out})*{ex.per_in}"  # of the selected filter's group
    windows: list[Block] = []
    sums: list[Block] = []
    products_blocks: list[Block] = []

    def window_block(j: int) -> Block:
        source = f"({first_channel}+{j})"
        return Block(f"{ctx.names.tensor}explore_window_{j}", (kh, kw), COMPUTED,
                     _Window(ex, src_rect, source, r, k, valid, h, w), colour_scale=False,
                     style="cs_computed")

    def kernel_block(j: int) -> Block:
        assert ex.kernel_cell is not None
        grid_row, grid_col = ex.kernel_cell(c, j)
        return Block(f"{ctx.names.tensor}explore_kernel_{j}", (kh, kw), COMPUTED,
                     _Kernel(ex, grid_row, grid_col, valid, here), colour_scale=False,
                     style="cs_computed")

    def products_block(j: int, window: Block, kernel: Block) -> Block:
        return Block(f"{ctx.names.tensor}explore_products_{j}", (kh, kw), COMPUTED,
                     _Products(window, kernel, valid), colour_scale=False, style="cs_computed")

    if not pooling and (kh, kw) == (1, 1):
        # a 1x1 kernel: one dot product of the pixel's channels with the filter's weights
        label(row, 2, f"the {ex.what} pixel's channels · the filter's weights (one dot "
              "product)", "cs_title")
        row += 1
        for col, text in ((3, "value"), (4, "weight"), (5, "product")):
            label(row, col, text, "cs_title")
        row += 1
        for j in range(ex.per_in):
            label(row + j, 2, f"channel {j}" if ex.per_in > 1 else "channel")
            windows.append(put(window_block(j), row + j, 3))
            kernel = put(kernel_block(j), row + j, 4)
            products_blocks.append(put(products_block(j, windows[-1], kernel), row + j, 5))
            if ex.origins:  # a concatenation's channel: which layer it is a copy of
                label(row + j, 6, ex.origins[j], "cs_note")
        label(row + ex.per_in, 3, "their sum, the dot product, is in the total above",
              "cs_note")
        parts = [f"SUM({_rect(products_blocks, here)})"]
    else:  # one panel per input channel the selected filter sees
        panel_height = 3 * kh + 4 if not pooling else kh + 2
        narrow = kw < 2
        for j in range(ex.per_in):
            top = row + (j // PANELS_PER_ROW) * (panel_height + 1)
            left = 2 + (j % PANELS_PER_ROW) * (kw + 1)
            title = (f"ch. {j}" if narrow else f"{ex.what} ch. {j}") if ex.per_in > 1 \
                else f"{ex.what} window"
            label(top, left, title, "cs_title")
            windows.append(put(window_block(j), top + 1, left))
            if pooling:
                continue
            krow = top + kh + 1
            label(krow, left, ex.kernel_what, "cs_title")
            kernel = put(kernel_block(j), krow + 1, left)
            prow = krow + kh + 1
            label(prow, left, "products" if narrow else "window × kernel", "cs_title")
            products = put(products_block(j, windows[-1], kernel), prow + 1, left)
            srow = prow + kh + 1
            label(srow, left, "sum")
            sums.append(put(_formula(f"{ctx.names.tensor}explore_channel_sum_{j}", guarded(
                f"SUM({products.area(from_sheet=here)})")), srow, left + 1))
            if ex.origins:  # a concatenation's channel: which layer it is a copy of
                label(srow + 1, left, ex.origins[j], "cs_note")
        parts = [ref(s) for s in sums]
        if pooling:
            below = row + 1 + kh
            for n, text in enumerate(words["under"]):
                label(below + n, 2, text, "cs_note")
    if ex.bias is not None:
        bias_rect = ex.bias.area(from_sheet=here)
        label(total_row, 10, "bias", "cs_title")
        parts.append(ref(put(_formula(names["bias"], guarded(
            index(bias_rect, "1", f"{c}+1"))), total_row, 11)))
    areas = ",".join(b.area(from_sheet=here) for b in windows)
    reduce = {"SUM": "+".join(parts), "MAX": f"MAX({areas})",
              "MEAN": f"SUM({areas})/{kh * kw}", "AVERAGE": f"AVERAGE({areas})"}[ex.reduce]
    total = put(_formula(names["sum"], guarded(reduce)), total_row, total_col)
    label(total_row, total_col + 1, "check")
    put(_formula(names["agree"], f'IF({valid},IF(ABS({ref(total)}-{ref(output)})<=1E-9*(1+'
                 f'ABS({ref(output)})),"equal","DIFFERENT"),"")'), total_row, total_col + 2)
    if ex.reduce == "MAX":
        _mark_winner(windows[0], valid)
    rules = _highlights(ex, names)
    if view_fits(ctx, sheet, "Explorer", sheet.blocks, (rule for _b, rule in rules)):
        for block, rule in rules:
            block.highlights.append(rule)


def longest_highlight(ex: Exploration, prefix: str) -> int:
    """Characters of the longest conditional-format rule the explorer of `ex` would add (one
    per kernel block, an OR over the filter's channels): the first of its formulas to pass
    Excel's limit as channels grow (each channel adds ~45 characters to it, ~8 to the total),
    so the view budget can tell without drawing it whether `view_fits` would leave it out."""
    return longest_of((), (rule for _block, rule in _highlights(ex, explore_names(prefix))))


def _words(ex: Exploration) -> dict[str, object]:
    """What the explorer calls its parts: a convolution's kernel, products and sums; a
    pooling's window and its maximum or mean (and what its blank padding cells mean)."""
    kh, kw = ex.kernel
    if ex.kernels is not None:
        total = "Σ products + bias" if ex.bias is not None else "Σ products"
        if ex.kernel == (1, 1):
            return {"note": "the pixel it reads in every channel, the filter's weights, their "
                    "products and the dot product", "total": total, "under": ()}
        return {"note": "the window it reads in every channel, the kernel, their products and "
                "the sums", "total": total, "under": ()}
    padded = ex.offset != (0, 0)
    if ex.reduce == "MAX":
        under = ["magenta: the window's maximum (the first one in row order if tied, as "
                 "PyTorch picks it)"]
        if padded:
            under.append("a blank cell is padding: PyTorch pads with -inf, so it never wins")
        return {"note": "the window it reads and its maximum", "total": "max of the window",
                "under": tuple(under)}
    if ex.reduce == "MEAN":
        under = [f"mean = sum of the window / {kh * kw} (the window's size)"]
        if padded:
            under.append(f"a blank cell is padding: it counts as 0 (still divided by {kh * kw})")
        return {"note": "the window it reads and its mean", "total": f"window sum / {kh * kw}",
                "under": tuple(under)}
    under = ["mean of the window's cells inside the input"]
    if padded:
        under.append("a blank cell is padding: left out of the mean (count_include_pad=False)")
    return {"note": "the window it reads and its mean", "total": "mean of the cells",
            "under": tuple(under)}


def default_selection(ctx: LayerContext) -> tuple[int, int, int]:
    """The output cell the explorer opens on: the one of largest magnitude (the first in
    channel, row, column order if tied), from the layer's reference output, which is what the
    workbook stores; so it never opens on an all-zero window."""
    from .expected import forward  # (expected reads the explorer's values: a late import)

    plan = ctx.plan
    tensors = {name: np.asarray(a, dtype=float) for name, a in plan.tensors.items()}
    x = next(y for layer, _x, y in forward(plan.network, tensors) if layer is ctx.layer)
    c, r, k = np.unravel_index(int(np.argmax(np.abs(x))), x.shape)
    return int(c), int(r), int(k)


def _mark_winner(window: Block, valid: str) -> None:
    """Max pooling: highlight the window's winning cell, the first maximum in row-major order
    (as PyTorch's max_pool2d picks its index): a rule per cell, through ROW() and COLUMN()."""
    area = window.area(from_sheet=window.sheet)
    kh, kw = window.shape
    for i in range(kh):
        for j in range(kw):
            cell = window.ref(i, j, absolute=True, from_sheet=window.sheet)
            earlier = []
            if i:
                earlier.append(window.range(0, 0, i, kw, absolute=True, from_sheet=window.sheet))
            if j:
                earlier.append(window.range(i, 0, 1, j, absolute=True, from_sheet=window.sheet))
            first = "".join(f",COUNTIF({e},MAX({area}))=0" for e in earlier)
            window.highlights.append(
                f"AND(ROW()={window.top + i},COLUMN()={window.left + j},{valid},"
                f"ISNUMBER({cell}),{cell}=MAX({area}){first})")


@dataclass
class _Window:
    """Tap (i, j): INDEX into the stacked source blocks; outside the input (pooling's
    padding) shows nothing, as padding never enters a pooled value."""

    ex: Exploration
    rect: str
    source: str  # expression of the source channel
    r: str
    k: str
    valid: str
    h: int
    w: int

    def rows(self, block: Block) -> object:
        ex = self.ex
        (sh, sw), (oh_, ow_), (dh, dw) = ex.stride, ex.offset, ex.dilation
        for i in range(block.shape[0]):
            line = []
            tr = f"{self.r}*{sh}+{oh_ + i * dh}"
            for j in range(block.shape[1]):
                tc = f"{self.k}*{sw}+{ow_ + j * dw}"
                tiling = _tiling_of(ex.sources)
                value = index(self.rect, _plus(tiling.row_expr(self.source), f"{tr}+1"),
                              _plus(tiling.col_expr(self.source), f"{tc}+1"))
                if oh_ or ow_ or ex.overhang:  # pooling with padding or ceil_mode: taps
                    # may fall outside the input
                    value = (f'IF(AND({tr}>=0,{tr}<{self.h},{tc}>=0,{tc}<{self.w}),{value},'
                             '"")')
                line.append(f'=IF({self.valid},{value},"")')
            yield line

    def longest(self, block: Block) -> int:
        return measured(self.rows(block))  # (kernel-sized)


@dataclass
class _Kernel:
    ex: Exploration
    grid_row: str
    grid_col: str
    valid: str
    here: str

    def rows(self, block: Block) -> object:
        grid = self.ex.kernels
        assert grid is not None
        first = grid[0][0]
        kh, kw = block.shape
        rect = _rect([b for line in grid for b in line], self.here)
        lines = _tiling_of([line[0] for line in grid])
        col_step = (grid[0][1].left - first.left) if len(grid[0]) > 1 else kw + 1
        for i in range(kh):
            yield [f'=IF({self.valid},' + index(
                rect, _plus(lines.row_expr(self.grid_row), str(i + 1)),
                _plus(lines.col_expr(self.grid_row), f"({self.grid_col})*{col_step}+{j + 1}"))
                + ',"")' for j in range(kw)]

    def longest(self, block: Block) -> int:
        return measured(self.rows(block))  # (kernel-sized)


@dataclass
class _Products:
    window: Block
    kernel: Block
    valid: str

    def rows(self, block: Block) -> object:
        here = block.sheet
        for i in range(block.shape[0]):
            yield [f'=IF({self.valid},{self.window.ref(i, j, from_sheet=here)}*'
                   f'{self.kernel.ref(i, j, from_sheet=here)},"")'
                   for j in range(block.shape[1])]

    def longest(self, block: Block) -> int:
        return measured(self.rows(block))  # (kernel-sized)


def index(rect: str, row: str, col: str) -> str:
    """INDEX(rect, row, col); a one-cell "rectangle" is referred to directly (Gnumeric gives
    #REF! for INDEX on a single cell, where the only valid position is 1, 1)."""
    if ":" not in rect.split("!")[-1]:
        return rect
    return f"INDEX({rect},{row},{col})"


def _rect(blocks: Sequence[Block], here: str) -> str:
    """One literal rectangle over blocks placed by one tiling (from the first block's top-left
    corner to the farthest bottom and right edges)."""
    first = blocks[0]
    bottom, right = max(b.bottom for b in blocks), max(b.right for b in blocks)
    box = Block("span", (bottom - first.top + 1, right - first.left + 1), "",
                None)  # type: ignore[arg-type]
    box.place(first.sheet, first.top, first.left)
    return box.area(from_sheet=here)


def _tiling_of(blocks: Sequence[Block]) -> Tiling:
    """How the blocks were placed (layout's tiling), checked against their positions, so an
    INDEX into their rectangle finds the n-th one."""
    tiling = blocks[0].tiling
    if tiling is None or tiling.count != len(blocks):  # placed one under another by hand
        step = blocks[1].top - blocks[0].top if len(blocks) > 1 else 0
        tiling = Tiling(len(blocks), 1, step, 0)
    for n, block in enumerate(blocks):
        if (block.top - blocks[0].top, block.left - blocks[0].left) != tiling.offset(n):
            raise AssertionError(f"{block.name} is not where its tiling puts it")
    return tiling


def _plus(offset: str, rest: str) -> str:
    return rest if offset == "0" else f"{offset}+{rest}"


def _scalar(name: str, kind: str, value: object) -> Block:
    return Block(name, (1, 1), kind, Values(np.array([[value]], dtype=object)),
                 colour_scale=False)


def _formula(name: str, expr: str) -> Block:
    return Block(name, (1, 1), COMPUTED, Formula(lambda _h, t=expr: t), colour_scale=False,
                 style="cs_computed")


def _highlights(ex: Exploration, names: dict[str, str]) -> list[tuple[Block, str]]:
    """Conditional formats (through the selection's workbook-scope names, so they work on any
    sheet in Excel 2010+, LibreOffice and Gnumeric), each with the block it goes on: the
    window's taps on the source blocks, the kernels of the selected filter, the selected
    output cell."""
    rules: list[tuple[Block, str]] = []
    c, r, k, valid = (names[key] for key in ("used_channel", "used_row", "used_col", "valid"))
    (sh, sw), (oh_, ow_), (dh, dw) = ex.stride, ex.offset, ex.dilation
    kh, kw = ex.kernel
    for index, src in enumerate(ex.sources):
        row = f"ROW()-{src.top}-({r}*{sh}+{oh_})"
        col = f"COLUMN()-{src.left}-({k}*{sw}+{ow_})"
        group = f"INT({c}/{ex.per_out})*{ex.per_in}"
        channel = f"{index}>={group},{index}<{group}+{ex.per_in}"
        rules.append((src,
            f"AND({valid}=1,{channel},{row}>=0,{row}<={(kh - 1) * dh},MOD({row},{dh})=0,"
            f"{col}>=0,{col}<={(kw - 1) * dw},MOD({col},{dw})=0)"))
    if ex.kernels is not None and ex.kernel_cell is not None:
        for a, line in enumerate(ex.kernels):
            for b, block in enumerate(line):
                conditions = [f"({ex.kernel_cell(c, j)[0]})={a}" for j in range(ex.per_in)]
                column = [f"({ex.kernel_cell(c, j)[1]})={b}" for j in range(ex.per_in)]
                either = ",".join(f"AND({x},{y})" for x, y in zip(conditions, column,
                                                                  strict=True))
                rules.append((block, f"AND({valid}=1,OR({either}))"))
    for o, out in enumerate(ex.outputs):
        rules.append((out, f"AND({valid}=1,{c}={o},ROW()-{out.top}={r},"
                      f"COLUMN()-{out.left}={k})"))
    return rules


def explore_values(op: Op, x: np.ndarray, tensors: dict[str, np.ndarray], y: np.ndarray,
                   c: int, r: int, k: int) -> dict[str, np.ndarray]:
    """Every explorer block at output (c, r, k), by local name, from the op's reference: the
    taps of its window source (`op.window_source`: padded, zero-inserted, ... by the
    reference's helpers) that PyTorch's definition of the window gives, the kernels
    (`op.window_kernels`), their products and sums; a tap outside the source (pooling's
    padding) is NaN, a blank cell. The total is the reference output itself."""
    window = op.window()
    assert window is not None
    source = op.window_source(x)
    kernels = op.window_kernels(tensors)
    (kh, kw), (sh, sw), (oh, ow), (dh, dw) = (window.kernel, window.stride, window.offset,
                                              window.dilation)
    rows, cols = r * sh + oh + dh * np.arange(kh), k * sw + ow + dw * np.arange(kw)
    first = c // window.per_out * window.per_in
    out: dict[str, np.ndarray] = {}
    for j in range(window.per_in):
        channel = source[first + j]
        taps = np.full((kh, kw), np.nan)
        inside_r = (rows >= 0) & (rows < channel.shape[0])
        inside_c = (cols >= 0) & (cols < channel.shape[1])
        taps[np.ix_(inside_r, inside_c)] = channel[np.ix_(rows[inside_r], cols[inside_c])]
        out[f"explore_window_{j}"] = taps
        if kernels is not None:
            out[f"explore_kernel_{j}"] = kernels[c][j]
            out[f"explore_products_{j}"] = taps * kernels[c][j]
            if (kh, kw) != (1, 1):  # (a 1x1 kernel: the products are one dot product)
                out[f"explore_channel_sum_{j}"] = np.array([[np.sum(taps * kernels[c][j])]])
    if kernels is not None and tensors.get("bias") is not None:
        out["explore_bias"] = np.array([[tensors["bias"][c]]])
    out["explore_sum"] = out["explore_output"] = np.array([[y[c, r, k]]])
    return out


def exploration(drawn: Drawn) -> Exploration:
    """What the explorer of a drawn layer reads: the op's declared window over the stage the
    drawer recorded as its window source, with the kernels and bias it drew."""
    window = drawn.op.window()
    assert window is not None and drawn.windowed is not None
    per_in, per_out = window.per_in, window.per_out
    kernel_cell: Callable[[str, int], tuple[str, str]] | None = None
    if window.kernels_by == "out":  # weight[out][in/groups]: row c, column j
        def kernel_cell(c: str, j: int) -> tuple[str, str]:
            return c, str(j)
    elif window.kernels_by == "in":  # weight[in][out/groups]: the group's j-th input row
        def kernel_cell(c: str, j: int) -> tuple[str, str]:
            group = f"INT({c}/{per_out})"
            return f"{group}*{per_in}+{j}", f"{c}-{group}*{per_out}"
    return Exploration(
        drawn.windowed, window.kernel, window.stride, window.offset, window.dilation,
        drawn.outputs, per_in=per_in, per_out=per_out,
        kernels=drawn.kernels if kernel_cell is not None else None, kernel_cell=kernel_cell,
        bias=drawn.bias if kernel_cell is not None else None, reduce=window.reduce,
        what=window.source_label, kernel_what=window.kernel_label, overhang=window.overhang,
        origins=_origins(drawn) if kernel_cell is not None else ())


def _origins(drawn: Drawn) -> tuple[str, ...]:
    """Where each input channel of a layer that reads a concatenation comes from ("from up2
    ch. 1"), when one filter sees every channel (groups=1: a panel's channel is then the
    layer's input channel); empty for any other layer."""
    from .ops import Cat

    network, layer = drawn.ctx.plan.network, drawn.ctx.layer
    index = next(n for n, other in enumerate(network.layers) if other is layer)
    (source,) = network.sources(index) if len(network.sources(index)) == 1 else (None,)
    cat = next((other for other in network.layers if other.label == source), None)
    if cat is None or not isinstance(cat.op, Cat) or \
            drawn.op.window().per_in != cat.out_shape[0]:  # type: ignore[union-attr]
        return ()
    return tuple(f"from {label} ch. {c}" for label, shape in zip(cat.inputs, cat.in_shapes,
                                                                  strict=True)
                 for c in range(shape[0]))
