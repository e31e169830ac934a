"""The Matrix view: a convolution as a matrix multiplication, with live cells.

Two lessons, one per op:

* conv2d, the way frameworks compute it (im2col): the *patch matrix* has one row per output
  position and one column per input channel × kernel tap, each cell a reference to the padded
  input; the weights reshaped to one column per filter; the output is their product (one MMULT
  of a patch row and a filter column per output cell).
* conv_transpose2d, why it has its name: the direct convolution with the same kernel, stride,
  padding and dilation is a multiplication by a sparse matrix C (an output-sized image in, an
  input-sized image out); the transposed convolution multiplies by Cᵀ. The sheet shows C, one
  block per (input channel, output channel) pair whose cells point at the weight cells, the
  input flattened to a column, and each output cell as SUMPRODUCT(a column of C, the column).

Matrices grow as (input pixels × output pixels): above `MAX_MATRIX_CELLS` the view is left
out and the guide says why; so is a view with a formula longer than Excel allows
(`limits.view_fits`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import reference as ref
from .layout import (
    CHAR_POINTS,
    CLIP_MIN,
    COMPUTED,
    FIRST_COL,
    PAGES,
    Block,
    Label,
    SheetPlan,
    print_points,
)
from .limits import view_fits
from .plan import LayerContext, title
from .stages import PAD, STRUCT, Gather, PerCell, Zero, last_cell

MAX_MATRIX_CELLS = 20_000  # cells of one layer's matrices; above it the view is left out


def position(i: int, j: int) -> str:
    return f"({i},{j})"


def too_large(ctx: LayerContext, cells: int, how: str) -> bool:
    """Leave the view out (and say so on the guide) when its matrices would be too large."""
    if cells <= MAX_MATRIX_CELLS:
        return False
    ctx.plan.notes.append(
        f"{ctx.layer.label}: the Matrix view is left out: its matrices would hold {cells:,} "
        f"cells (more than {MAX_MATRIX_CELLS:,}, too many to read). {how}")
    return True


def _header(sheet: SheetPlan, row: int, left: int, texts: Sequence[str]) -> None:
    for j, text in enumerate(texts):
        sheet.labels.append(Label(row, left + j, text, "cs_note"))


def _put(sheet: SheetPlan, block: Block, top: int, left: int) -> Block:
    block.place(sheet.name, top, left)
    sheet.blocks.append(block)
    return block


# ---------------------------------------------------------------------------- printing
MATRIX_WIDTH = 4.5  # characters: a small integer, or "i,j"; number formats widen as needed
def _explorer_names(ctx: LayerContext) -> dict[str, str] | None:
    """The workbook names of the layer's explorer selection (used_channel, used_row,
    used_col, valid), when the layer has an explorer (drawn before this view)."""
    prefix = ctx.names.tensor
    names = {key: f"{prefix}explore_{key}" for key in ("used_channel", "used_row", "used_col",
                                                       "valid")}
    present = {block.name for block in ctx.plan.blocks()}
    return names if all(name in present for name in names.values()) else None


# ---------------------------------------------------------------------------- conv2d: im2col
def direct_matrix_stage(ctx: LayerContext, padded: Sequence[Block],
                        kernels: Sequence[Sequence[Block]], bias: Block | None, *,
                        stride: tuple[int, int], dilation: tuple[int, int], groups: int,
                        out_size: tuple[int, int], outputs: Sequence[Block]) -> None:
    """im2col (patches × taps), the weights as one column per filter, and the output as
    their product, next to the sliding-window result (`outputs`). The weights sit right of
    im2col when that fits a readable page, else under it; a sheet larger than a page prints
    its top left (with a line saying how much more is on screen)."""
    kh, kw = kernels[0][0].shape
    channels, filters = len(padded), len(kernels)
    per_in, per_out = channels // groups, filters // groups
    oh, ow = out_size
    taps = [(c, i, j) for c in range(channels) for i in range(kh) for j in range(kw)]
    patches, k = oh * ow, len(taps)
    if too_large(ctx, patches * k + k * filters, "Build a smaller layer (a smaller input or "
                 "fewer channels) to see it."):
        return
    names = ctx.names.tensor
    note = ("im2col: how frameworks compute a convolution. Each row of the patch matrix is one "
            "output position's window (every input channel × kernel tap, read from the padded "
            "input; grey: padding); each column of the weight matrix is one filter (f0, f1, "
            "...). Output cell = patch row × filter column (MMULT): the same numbers as the "
            "sliding window.")
    sheet = ctx.add_sheet("Matrix", note)
    sheet.reserve_clip()  # (a sheet larger than a page prints its top left)
    if ctx.plan.network.values == "integers":  # (decimals keep the wider default)
        sheet.default_width = MATRIX_WIDTH
    colw = print_points(sheet.default_width)
    top = sheet.first_row
    # the weights right of im2col when both fit a readable page's width (the output, right
    # of them, may run off the print); else under im2col, with the output beside them
    beside = (print_points(9) + (k + filters + 3) * colw) * CLIP_MIN <= PAGES["landscape"][0]
    titles = [f"{names}im2col  ({patches}×{k}): one row per output position (row, column), "
              "one column per input channel × tap (i, j)",
              f"{names}im2col  ({patches}×{k}): a row per output position",
              f"{names}im2col  ({patches}×{k})", f"{names}im2col"]
    room = (k + (1 if beside else 40)) * colw  # (up to the weights' title)
    sheet.labels.append(Label(top, FIRST_COL, next(
        (t for t in titles if len(t) * CHAR_POINTS <= room), titles[-1]), "cs_title"))
    for c in range(channels):
        sheet.labels.append(Label(top + 1, FIRST_COL + c * kh * kw, f"c{c}", "cs_note"))
    _header(sheet, top + 2, FIRST_COL, [f"{i},{j}" for _c, i, j in taps])
    for q in range(patches):
        sheet.labels.append(Label(top + 3 + q, 1, position(*divmod(q, ow)), "cs_note"))

    def patch_cell(here: str, q: int, t: int) -> str | Zero:
        c, i, j = taps[t]
        y, x = divmod(q, ow)
        r, col = y * stride[0] + i * dilation[0], x * stride[1] + j * dilation[1]
        content = padded[c].content
        if isinstance(content, Gather) and (isinstance(content.row_map[r], Zero)
                                            or isinstance(content.col_map[col], Zero)):
            return PAD  # the tap reads the padding: a structural zero, grey as there
        return padded[c].ref(r, col, from_sheet=here)

    im2col = _put(sheet, Block(f"{names}im2col", (patches, k), COMPUTED, PerCell(patch_cell),
                               colour_scale=False), top + 3, FIRST_COL)
    if beside:
        wtop, wleft = top, FIRST_COL + k + 2
        sheet.widths[wleft - 1] = 7.0  # the taps' labels
    else:
        wtop, wleft = top + 3 + patches + 1, FIRST_COL
    sheet.labels.append(Label(wtop, wleft, f"{names}matrix_weights  ({k}×{filters}): one "
                              "column per filter", "cs_title"))
    _header(sheet, wtop + 2, wleft, [f"f{o}" for o in range(filters)])
    for t, (c, i, j) in enumerate(taps):
        sheet.labels.append(Label(wtop + 3 + t, wleft - 1, f"c{c} {i},{j}", "cs_note"))

    def weight_cell(here: str, t: int, o: int) -> str | Zero:
        c, i, j = taps[t]
        g = o // per_out
        if not g * per_in <= c < (g + 1) * per_in:
            return STRUCT  # the filter does not see this channel (groups)
        return kernels[o][c - g * per_in].ref(i, j, absolute=True, from_sheet=here)

    weights = _put(sheet, Block(f"{names}matrix_weights", (k, filters), COMPUTED,
                                PerCell(weight_cell), colour_scale=False), wtop + 3, wleft)
    oleft = wleft + filters + 1
    row = wtop + 1 if beside else wtop + 2
    products = []
    for o in range(filters):
        g = o // per_out
        rows = slice(g * per_in * kh * kw, (g + 1) * per_in * kh * kw)  # the group's taps

        def product(here: str, y: int, x: int, o: int = o, rows: slice = rows) -> str:
            q = y * ow + x
            patch = im2col.range(q, rows.start, 1, rows.stop - rows.start, from_sheet=here)
            column = weights.range(rows.start, o, rows.stop - rows.start, 1, absolute=True,
                                   from_sheet=here)
            plus = ("+" + bias.ref(0, o, absolute=True, from_sheet=here)
                    if bias is not None else "")
            if rows.stop - rows.start == 1:  # one tap per filter: a plain product
                return f"{patch}*{column}{plus}"
            return f"MMULT({patch},{column}){plus}"

        name = f"{names}matrix_output_c{o}"
        sheet.labels.append(Label(row, oleft, f"{name}  ({oh}×{ow}) = im2col × f{o}"
                                  + (" + bias" if bias is not None else "")
                                  + f" = {outputs[o].name}", "cs_title"))
        products.append(_put(sheet, Block(name, out_size, COMPUTED,
                                          PerCell(product, last_cell)), row + 1, oleft))
        row += oh + 2
    selected = _explorer_names(ctx)
    if selected is not None:  # the explorer's output cell: its patch row, filter, product
        c, r, x, valid = (selected[key] for key in ("used_channel", "used_row", "used_col",
                                                    "valid"))
        taps_per = per_in * kh * kw
        group = (f",INT((COLUMN()-{im2col.left})/{taps_per})=INT({c}/{per_out})"
                 if groups > 1 else "")
        im2col.highlights.append(f"AND({valid}=1,ROW()-{im2col.top}={r}*{ow}+{x}{group})")
        weights.highlights.append(
            f"AND({valid}=1,COLUMN()-{weights.left}={c},"
            f"INT((ROW()-{weights.top})/{taps_per})=INT({c}/{per_out}))")
        for o, block in enumerate(products):
            block.highlights.append(f"AND({valid}=1,{c}={o},ROW()-{block.top}={r},"
                                    f"COLUMN()-{block.left}={x})")
    if view_fits(ctx, sheet, "Matrix view", sheet.blocks) and groups > 1:
        ctx.plan.legend.add("cs_struct")


def direct_matrix_values(x: np.ndarray, weight: np.ndarray, y: np.ndarray, *,
                         stride: tuple[int, int], padding: tuple[int, int],
                         dilation: tuple[int, int], groups: int, rule: str = "",
                         ) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Expected im2col view, from the reference alone: column (c, i, j) of the patch matrix is
    the convolution of the input with a one-hot kernel at (c, i, j) (what that tap sees at
    every output position); the weight matrix is the weight tensor reshaped."""
    channels = x.shape[0]
    filters, per_in, kh, kw = weight.shape
    per_out = filters // groups

    def patches(image: np.ndarray) -> np.ndarray:
        columns = []
        for c in range(channels):
            for i in range(kh):
                for j in range(kw):
                    one_hot = np.zeros((1, channels, kh, kw))
                    one_hot[0, c, i, j] = 1.0
                    if rule:  # padding as text ("same", "causal"): PyTorch's own sides
                        sides = ref.conv_string_padding(rule, (kh, kw), dilation)
                        seen = ref.conv2d(ref.pad_or_crop(image, *sides), one_hot, None,
                                          stride=stride, dilation=dilation)
                    else:
                        seen = ref.conv2d(image, one_hot, None, stride=stride,
                                          padding=padding, dilation=dilation)
                    columns.append(seen.reshape(-1))
        return np.stack(columns, axis=1)

    im2col = patches(x)
    padding_taps = patches(np.ones_like(x, dtype=float)) == 0  # taps that read the padding
    wmat = np.zeros((channels * kh * kw, filters))
    mask = np.ones(wmat.shape, dtype=bool)
    for o in range(filters):
        g = o // per_out
        rows = slice(g * per_in * kh * kw, (g + 1) * per_in * kh * kw)
        wmat[rows, o] = weight[o].reshape(-1)
        mask[rows, o] = False
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {
        "im2col": (im2col, padding_taps if padding_taps.any() else None),
        "matrix_weights": (wmat, mask)}
    for o in range(filters):
        out[f"matrix_output_c{o}"] = (y[o], None)
    return out


# ---------------------------------------------------------------------------- transposed: Cᵀ
def transposed_matrix_stage(ctx: LayerContext, sources: Sequence[Block],
                            weights: Sequence[Sequence[Block]], bias: Block | None, *,
                            stride: tuple[int, int], padding: tuple[int, int],
                            dilation: tuple[int, int], groups: int,
                            out_size: tuple[int, int], outputs: Sequence[Block]) -> list[Block]:
    """The matrix C of the direct convolution this layer transposes, the flattened input and
    the output as Cᵀ · x. Returns the matrix outputs (none if the view is too large)."""
    channels, per_out = len(sources), len(weights[0])
    per_in = channels // groups
    filters = per_out * groups
    h, w = sources[0].shape
    oh, ow = out_size
    kh, kw = weights[0][0].shape
    if too_large(ctx, channels * per_out * h * w * oh * ow, "Build a smaller layer (a smaller "
                 "input or fewer channels) to see it."):
        return []
    names = ctx.names.tensor
    sheet = ctx.add_sheet(
        "Matrix", "Why \"transposed\": the direct convolution with this kernel, stride, padding "
        "and dilation maps an output-sized image to an input-sized one, and it is a "
        "multiplication by the sparse matrix C below (one row per input pixel, one column per "
        "output pixel; each cell is a weight, or a grey 0 where no kernel tap joins the two "
        "pixels). The transposed convolution multiplies by Cᵀ: each output cell is "
        "SUMPRODUCT(its column of C, the flattened input x); columns are output pixels (row, "
        "column).")
    sheet.reserve_clip()  # (a sheet larger than a page prints its top left)
    if ctx.plan.network.values == "integers":
        sheet.default_width = MATRIX_WIDTH
    top = sheet.first_row
    sheet.labels.append(Label(top, FIRST_COL, "x", "cs_title"))  # (named matrix_input)
    sheet.labels.append(Label(top + 1, FIRST_COL, "input", "cs_note"))
    pixels = [(c, i, j) for c in range(channels) for i in range(h) for j in range(w)]
    for p, (c, i, j) in enumerate(pixels):
        sheet.labels.append(Label(top + 2 + p, 1, f"c{c} {position(i, j)}", "cs_note"))

    def input_cell(here: str, p: int, _j: int) -> str:
        c, i, j = pixels[p]
        return sources[c].ref(i, j, from_sheet=here)

    column = _put(sheet, Block(f"{names}matrix_input", (len(pixels), 1), COMPUTED,
                               PerCell(input_cell), colour_scale=False), top + 2, FIRST_COL)
    left0 = FIRST_COL + 2
    matrices: dict[tuple[int, int], Block] = {}
    for b in range(filters):
        left = left0 + b * (oh * ow + 1)
        sheet.labels.append(Label(top, left, f"C: columns of output channel {b}; rows of the "
                                  "input channels of its group", "cs_title"))
        _header(sheet, top + 1, left, [f"{y},{x}" for y, x in map(lambda q: divmod(q, ow),
                                                                   range(oh * ow))])
        g = b // per_out
        for a in range(g * per_in, (g + 1) * per_in):
            kernel = weights[a][b - g * per_out]

            def cell(here: str, p: int, q: int, kernel: Block = kernel) -> str | Zero:
                i, j = divmod(p, w)
                y, x = divmod(q, ow)
                ti, ri = divmod(y + padding[0] - i * stride[0], dilation[0])
                tj, rj = divmod(x + padding[1] - j * stride[1], dilation[1])
                if ri or rj or not (0 <= ti < kh and 0 <= tj < kw):
                    return STRUCT
                return kernel.ref(ti, tj, absolute=True, from_sheet=here)

            matrices[a, b] = _put(sheet, Block(f"{names}conv_matrix_{a}_{b}", (h * w, oh * ow),
                                               COMPUTED, PerCell(cell), colour_scale=False),
                                  top + 2 + a * h * w, left)
    row = top + 2 + channels * h * w + 1
    blocks = []
    for o in range(filters):
        g = o // per_out
        group = range(g * per_in, (g + 1) * per_in)

        def transposed(here: str, y: int, x: int, o: int = o, group: range = group) -> str:
            q = y * ow + x
            terms = [f"SUMPRODUCT({matrices[a, o].range(0, q, h * w, 1, from_sheet=here)},"
                     f"{column.range(a * h * w, 0, h * w, 1, absolute=True, from_sheet=here)})"
                     for a in group]
            if bias is not None:
                terms.append(bias.ref(0, o, absolute=True, from_sheet=here))
            return "+".join(terms)

        name = f"{names}matrix_output_c{o}"
        sheet.labels.append(Label(row, FIRST_COL, title(
            name, out_size, "= Cᵀ · x (column of C for each cell)"
            + (" + bias" if bias is not None else "") + f"; equals {outputs[o].name}"),
            "cs_title"))
        blocks.append(_put(sheet, Block(name, out_size, COMPUTED,
                                        PerCell(transposed, last_cell)), row + 1, FIRST_COL))
        row += oh + 2
    if not view_fits(ctx, sheet, "Matrix view", sheet.blocks):
        return []
    ctx.plan.legend.add("cs_struct")
    selected = _explorer_names(ctx)
    if selected is not None:  # the explorer's output cell: its column of C, and the result
        c, r, x, valid = (selected[key] for key in ("used_channel", "used_row", "used_col",
                                                    "valid"))
        for (_a, b), block in matrices.items():
            block.highlights.append(f"AND({valid}=1,{c}={b},COLUMN()-{block.left}={r}*{ow}+{x})")
        for o, block in enumerate(blocks):
            block.highlights.append(f"AND({valid}=1,{c}={o},ROW()-{block.top}={r},"
                                    f"COLUMN()-{block.left}={x})")
    return blocks


def transposed_matrix_values(x: np.ndarray, weight: np.ndarray, y: np.ndarray, *,
                             stride: tuple[int, int], padding: tuple[int, int],
                             dilation: tuple[int, int], groups: int,
                             ) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Expected matrix view of a transposed convolution, from the direct convolution's
    reference alone: column (b, q) of C is the direct convolution of a one-hot output-sized
    image at (b, q) (its Jacobian, cropped to the input's size); the structural zeros are
    where it vanishes for all-ones weights."""
    channels, h, w = x.shape
    filters, oh, ow = y.shape
    per_in, per_out = channels // groups, filters // groups

    def jacobian(kernel: np.ndarray) -> np.ndarray:
        cols = []
        for b in range(filters):
            for q in range(oh * ow):
                z = np.zeros((filters, oh, ow))
                z[b].flat[q] = 1.0
                out = ref.conv2d(z, kernel, None, stride=stride, padding=padding,
                                 dilation=dilation, groups=groups)
                cols.append(out[:, :h, :w].reshape(-1))
        return np.stack(cols, axis=1)  # (channels*h*w, filters*oh*ow)

    full, pattern = jacobian(weight), jacobian(np.ones_like(weight)) == 0
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {
        "matrix_input": (x.reshape(-1, 1), None)}
    for a in range(channels):
        g = a // per_in
        for b in range(g * per_out, (g + 1) * per_out):
            rows = slice(a * h * w, (a + 1) * h * w)
            cols = slice(b * oh * ow, (b + 1) * oh * ow)
            out[f"conv_matrix_{a}_{b}"] = (full[rows, cols], pattern[rows, cols])
    for o in range(filters):
        out[f"matrix_output_c{o}"] = (y[o], None)
    return out
