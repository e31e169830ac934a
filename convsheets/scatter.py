"""The Scatter view of a transposed convolution, and the guide's "three ways, one result".

Scatter: every input pixel stamps a copy of the kernel, scaled by the pixel, into the output,
at stride steps (shifted up-left by the padding, taps spread by the dilation), and the stamps
add up. So each output cell is written as the explicit sum of the (input pixel × kernel tap)
products that land on it, on the original input: no inserted zeros, no flipped kernel. Three
yellow cells choose an input pixel; its stamp (the kernel times the pixel) is shown and its
footprint highlighted on the outputs.

The guide then shows the zero-insertion result (the seed's recipe), the scatter result and the
matrix result (Cᵀ·x, `matrix.py`) side by side, with a live cell holding the largest
difference between them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .explorer import index
from .layout import (
    COMPUTED,
    EDIT,
    FIRST_COL,
    VIEW,
    Block,
    Label,
    Meaning,
    Styled,
    print_points,
)
from .limits import EXCEL_MAX_FORMULA, left_out_note, longest_of, view_fits
from .plan import LayerContext, title
from .stages import (
    Formula,
    PerCell,
    Values,
    col_letters,
    last_cell,
    products,
    representatives,
    row_digits,
)

if TYPE_CHECKING:
    from .guide import GuideWriter

SELECT = ("channel", "row", "col")
TEXT_WIDTH_CHARS = 120  # the guide's printed width, in characters (its text's, and a margin)
COL_TEXT, COL_VALUE = 2, 3  # the guide's label and value columns (guide.py)


def scatter_names(prefix: str) -> dict[str, str]:
    """The public names of one scatter view's selection and results."""
    keys = (*SELECT, "valid", "pixel", "top", "left")
    return {key: f"{prefix}scatter_{key}" for key in keys}


def landing(out: int, tap: int, stride: int, padding: int, dilation: int, size: int,
            ) -> int | None:
    """The input index whose stamp puts kernel tap `tap` on output index `out`, if any:
    out = pixel * stride - padding + tap * dilation."""
    pixel, rest = divmod(out + padding - tap * dilation, stride)
    return pixel if rest == 0 and 0 <= pixel < size else None


def canvas_shape(in_size: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
                 padding: tuple[int, int], dilation: tuple[int, int],
                 out_size: tuple[int, int]) -> tuple[int, int]:
    """The stamps' canvas before the crop: every stamp whole ((in - 1)·stride + the kernel's
    span), and down to the output's last row (output_padding adds rows no stamp reaches)."""
    return tuple(max((in_size[a] - 1) * stride[a] + dilation[a] * (kernel[a] - 1) + 1,
                     padding[a] + out_size[a]) for a in (0, 1))  # type: ignore[return-value]


@dataclass
class _Canvas:
    """Canvas cell (Y, X) is output cell (Y - padding, X - padding) computed by the same sum of
    the stamps landing there; the cells the padding crops are greyed."""

    cell: Callable[[str, int, int], str]
    padding: tuple[int, int]
    out_size: tuple[int, int]

    def longest(self, block: Block) -> int:
        """(for the formula-length limit: the canvas's cells, grey ones included)"""
        return max((len(str(v.value if isinstance(v, Styled) else v))
                    for line in self.rows(block) for v in line), default=0)

    def scaled(self, block: Block) -> list[tuple[int, int, int, int]]:
        """The colour scale covers the output's cells (the cropped border stays grey)."""
        (ph, pw), (oh, ow) = self.padding, self.out_size
        return [(ph, pw, min(oh, block.shape[0] - ph), min(ow, block.shape[1] - pw))]

    def rows(self, block: Block) -> Iterator[list[object]]:
        (ph, pw), (oh, ow) = self.padding, self.out_size
        for i in range(block.shape[0]):
            line: list[object] = []
            for j in range(block.shape[1]):
                text = "=" + self.cell(block.sheet, i - ph, j - pw)
                inside = ph <= i < ph + oh and pw <= j < pw + ow
                line.append(text if inside else Styled(text, "cs_cropped"))
            yield line


def scatter_stage(ctx: LayerContext, sources: Sequence[Block],
                  weights: Sequence[Sequence[Block]], bias: Block | None, *,
                  stride: tuple[int, int], padding: tuple[int, int],
                  dilation: tuple[int, int], groups: int, out_size: tuple[int, int],
                  ) -> list[Block]:
    """The Scatter sheet: the selector, the selected pixel's stamps, and every output cell as
    the sum of the products that land on it. Returns the scatter outputs."""
    names = scatter_names(ctx.names.tensor)
    channels, per_out = len(sources), len(weights[0])
    per_in = channels // groups
    h, w = sources[0].shape
    kh, kw = weights[0][0].shape
    sheet = ctx.add_sheet(
        "Scatter", "The scatter view: every input pixel stamps a copy of the kernel, scaled by "
        "the pixel, into the output (at stride steps, shifted up-left by the padding), and the "
        "stamps add up. Each output cell below is the explicit sum of the products that land "
        "on it, on the original input: no inserted zeros, no flipped kernel. Right of each "
        "output, the canvas before the padding crops it (grey: cropped), where a stamp that "
        "lands at row -1 is seen whole. Choose an input pixel in the yellow cells: its stamp "
        "is shown and highlighted on the outputs and canvases.")
    sheet.default_width = max(sheet.default_width, 7.0)
    here = sheet.name

    def put(block: Block, row: int, col: int) -> Block:
        block.place(here, row, col)
        sheet.blocks.append(block)
        return block

    def formula(name: str, text: str) -> Block:
        return Block(name, (1, 1), COMPUTED, Formula(lambda _b, t=text: t), colour_scale=False,
                     style="cs_computed")

    def ref(block: Block) -> str:
        return block.ref(0, 0, absolute=True, from_sheet=here)

    row = sheet.first_row
    sheet.labels.append(Label(row, FIRST_COL, f"Input pixel: channel 0-{channels - 1}, row "
                              f"0-{h - 1}, column 0-{w - 1}", "cs_title"))
    row += 1
    chosen = {}
    for col, key, limit in ((2, "channel", channels - 1), (4, "row", h - 1), (6, "col", w - 1)):
        sheet.labels.append(Label(row, col, key if key != "col" else "column"))
        block = Block(names[key], (1, 1), EDIT, Values(np.array([[0]])), colour_scale=False)
        block.validation = (0, limit)
        chosen[key] = put(block, row, col + 1)
    c, r, k = (ref(chosen[key]) for key in SELECT)
    checks = ",".join(f"{v}>=0,{v}<{n},INT({v})={v}" for v, n in ((c, channels), (r, h),
                                                                    (k, w)))
    sheet.labels.append(Label(row, 8, "valid"))
    valid = ref(put(formula(names["valid"], f"IF(AND({checks}),1,0)"), row, 9)) + "=1"
    row += 1

    def guarded(expr: str) -> str:
        return f'IF({valid},{expr},"")'

    pixel_of = ",".join(index(s.area(from_sheet=here), f"{r}+1", f"{k}+1") for s in sources)
    sheet.labels.append(Label(row, FIRST_COL, "pixel"))
    pixel = ref(put(formula(names["pixel"], guarded(
        f"CHOOSE({c}+1,{pixel_of})" if channels > 1 else pixel_of)), row, 3))
    sheet.labels.append(Label(row, 4, "lands at row"))
    put(formula(names["top"], guarded(f"{r}*{stride[0]}-{padding[0]}")), row, 6)
    sheet.labels.append(Label(row, 7, "column"))
    put(formula(names["left"], guarded(f"{k}*{stride[1]}-{padding[1]}")), row, 8)
    sheet.labels.append(Label(row, 9, f"(its top-left tap; taps {dilation[0]}×{dilation[1]} "
                              "apart)", "cs_note"))
    row += 2
    for b in range(per_out):
        def stamp(sheet_name: str, i: int, j: int, b: int = b) -> str:
            taps = ",".join(weights[a][b].ref(i, j, absolute=True, from_sheet=sheet_name)
                            for a in range(channels))
            tap = f"CHOOSE({c}+1,{taps})" if channels > 1 else taps
            return guarded(f"{pixel}*{tap}")

        sheet.labels.append(Label(row, FIRST_COL + b * (kw + 1),
                                  f"stamp onto output c{b}" if groups == 1 else
                                  f"stamp {b} of the group", "cs_title"))
        put(Block(f"{ctx.names.tensor}scatter_stamp_{b}", (kh, kw), COMPUTED, PerCell(stamp),
                  colour_scale=False, style="cs_computed"), row + 1, FIRST_COL + b * (kw + 1))
    sheet.labels.append(Label(row + kh + 1, FIRST_COL, "stamp = pixel × the kernel "
                              "weight[channel][out] it meets" + (
                                  "" if groups == 1 else f"; stamp b lands on output channel "
                                  f"INT(channel/{per_in})·{per_out}+b"), "cs_note"))
    row += kh + 3
    outputs, canvases = [], []
    oh, ow = out_size
    canvas_size = canvas_shape((h, w), (kh, kw), stride, padding, dilation, out_size)
    if any(canvas_size[a] > out_size[a] for a in (0, 1)):
        ctx.plan.legend.add("cs_cropped")
    worst_of: dict[int, list[tuple[int, int]]] = {}

    def worst(g: int) -> list[tuple[int, int]]:
        """The cells of group g's outputs that include a longest formula: a cell's formula is
        a function of which taps land on its row and column and of the length of each landing
        pixel's row number and column letters, so one row and one column per distinct such
        pattern measure every length there is."""
        if g not in worst_of:
            group = range(g * per_in, (g + 1) * per_in)

            def along(axis: int, size: int, measure: Callable[[Block, int], int]) -> list[int]:
                def feature(out: int) -> tuple[tuple[int, tuple[int, ...]], ...]:
                    lands = []
                    for tap in range((kh, kw)[axis]):
                        p = landing(out, tap, stride[axis], padding[axis], dilation[axis],
                                    (h, w)[axis])
                        if p is not None:
                            lands.append((tap, tuple(measure(sources[a], p) for a in group)))
                    return tuple(lands)
                return representatives(size, feature)

            ys = along(0, oh, lambda b, p: row_digits(b.top, p))
            xs = along(1, ow, lambda b, p: col_letters(b.left, p))
            worst_of[g] = [(y, x) for y in ys for x in xs]
        return worst_of[g]

    for o in range(per_out * groups):
        g = o // per_out
        b = o - g * per_out
        group = range(g * per_in, (g + 1) * per_in)

        def cell(sheet_name: str, y: int, x: int, b: int = b, group: range = group,
                 o: int = o) -> str:
            pairs = []
            for a in group:
                for i in range(kh):
                    py = landing(y, i, stride[0], padding[0], dilation[0], h)
                    if py is None:
                        continue
                    for j in range(kw):
                        px = landing(x, j, stride[1], padding[1], dilation[1], w)
                        if px is not None:
                            pairs.append((sources[a].ref(py, px, from_sheet=sheet_name),
                                          weights[a][b].ref(i, j, absolute=True,
                                                            from_sheet=sheet_name)))
            extra = (bias.ref(0, o, absolute=True, from_sheet=sheet_name)
                     if bias is not None else "")
            return products(pairs, extra)

        name = f"{ctx.names.tensor}scatter_output_c{o}"
        sheet.labels.append(Label(row, FIRST_COL, title(
            name, out_size, "= Σ input pixel × kernel tap, over the stamps landing here"
            + (" + bias" if bias is not None else "")), "cs_title"))
        block = put(Block(name, out_size, COMPUTED, PerCell(cell, lambda _shape, g=g: worst(g))),
                    row + 1, FIRST_COL)
        # the canvas before the crop, right of the output: where a stamp that "lands at
        # row -1" is seen whole; the cropped border greyed
        canvas = put(Block(f"{ctx.names.tensor}scatter_canvas_c{o}", canvas_size, COMPUTED,
                           _Canvas(cell, padding, out_size)),
                     row + 2, FIRST_COL + ow + 2)
        sheet.labels.append(Label(row + 1, canvas.left, f"before the crop (c{o}, "
                                  f"{canvas_size[0]}×{canvas_size[1]}; grey: cropped)",
                                  "cs_title"))
        canvases.append(canvas)
        conditions = []
        for axis, (pos, fn) in enumerate(((r, "ROW"), (k, "COLUMN"))):
            start = block.top if axis == 0 else block.left
            t = f"({fn}()-{start}+{padding[axis]}-{pos}*{stride[axis]})"
            extent = (weights[0][0].shape[axis] - 1) * dilation[axis]
            conditions.append(f"{t}>=0,{t}<={extent},MOD({t},{dilation[axis]})=0")
        block.highlights.append(f"AND({names['valid']}=1,INT({names['channel']}/{per_in})={g},"
                                + ",".join(conditions) + ")")
        outputs.append(block)
        conditions = []
        for axis, (pos, fn) in enumerate(((r, "ROW"), (k, "COLUMN"))):
            start = canvas.top if axis == 0 else canvas.left
            t = f"({fn}()-{start}-{pos}*{stride[axis]})"
            extent = (weights[0][0].shape[axis] - 1) * dilation[axis]
            conditions.append(f"{t}>=0,{t}<={extent},MOD({t},{dilation[axis]})=0")
        canvas.highlights.append(f"AND({names['valid']}=1,INT({names['channel']}/{per_in})={g},"
                                 + ",".join(conditions) + ")")
        row += max(oh, canvas_size[0] + 1) + 2
    rules = [f"AND({names['valid']}=1,{names['channel']}={a},ROW()-{src.top}={names['row']},"
             f"COLUMN()-{src.left}={names['col']})" for a, src in enumerate(sources)]
    if not view_fits(ctx, sheet, "Scatter view", sheet.blocks, rules):
        return []
    for src, rule in zip(sources, rules, strict=True):
        src.highlights.append(rule)
    return outputs


def stamped_canvas(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                   out_size: tuple[int, int], stride: tuple[int, int],
                   padding: tuple[int, int], dilation: tuple[int, int],
                   groups: int) -> list[np.ndarray]:
    """Expected canvases: every input pixel adds pixel × kernel at (row·stride, column·stride)
    of an uncropped canvas, taps dilation apart, plus the bias (NumPy, pixel by pixel)."""
    channels, h, w = x.shape
    per_in, per_out = channels // groups, weight.shape[1]
    kh, kw = weight.shape[2:]
    shape = canvas_shape((h, w), (kh, kw), stride, padding, dilation, out_size)
    canvases = [np.full(shape, float(bias[o]) if bias is not None else 0.0)
                for o in range(per_out * groups)]
    for a in range(channels):
        g = a // per_in
        for b in range(per_out):
            canvas = canvases[g * per_out + b]
            for i in range(h):
                for j in range(w):
                    rows = i * stride[0] + dilation[0] * np.arange(kh)
                    cols = j * stride[1] + dilation[1] * np.arange(kw)
                    canvas[np.ix_(rows, cols)] += x[a, i, j] * weight[a, b]
    return canvases


def scatter_values(x: np.ndarray, weight: np.ndarray, y: np.ndarray, selection: Sequence[float],
                   stride: tuple[int, int], padding: tuple[int, int],
                   dilation: tuple[int, int] = (1, 1), groups: int = 1,
                   bias: np.ndarray | None = None,
                   ) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Expected scatter view: the outputs are the reference's; the stamps are the selected
    pixel times its kernels (blank for a position outside the input)."""
    channels, h, w = x.shape
    per_out = weight.shape[1]
    c, r, k = selection
    valid = all(float(v).is_integer() and 0 <= v < n for v, n in ((c, channels), (r, h), (k, w)))
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {
        f"scatter_output_c{o}": (y[o], None) for o in range(y.shape[0])}
    for o, canvas in enumerate(stamped_canvas(x, weight, bias, y.shape[1:], stride, padding,
                                              dilation, groups)):
        out[f"scatter_canvas_c{o}"] = (canvas, None)
    out["scatter_valid"] = (np.array([[float(valid)]]), None)
    blank = np.array([[np.nan]])
    if valid:
        pixel = x[int(c), int(r), int(k)]
        out["scatter_pixel"] = (np.array([[pixel]]), None)
        out["scatter_top"] = (np.array([[r * stride[0] - padding[0]]]), None)
        out["scatter_left"] = (np.array([[k * stride[1] - padding[1]]]), None)
        for b in range(per_out):
            out[f"scatter_stamp_{b}"] = (pixel * weight[int(c), b], None)
    else:
        out["scatter_pixel"] = out["scatter_top"] = out["scatter_left"] = (blank, None)
        for b in range(per_out):
            out[f"scatter_stamp_{b}"] = (np.full(weight.shape[2:], np.nan), None)
    return out


def three_ways(ctx: LayerContext, outputs: Sequence[Block], scatter: Sequence[Block],
               matrix: Sequence[Block]) -> None:
    """On the guide: the results side by side for output channel 0, and for every channel one
    live cell, the sum over its cells of the squared differences between the ways (0 when
    they agree cell by cell); `three_ways_difference` is the largest of those."""
    prefix = ctx.names.tensor
    ways = [("zero insertion", "insertion", outputs), ("scatter", "scatter", scatter),
            ("the matrix Cᵀ·x", "matrix", matrix)]
    ways = [w for w in ways if w[2]]
    if len(ways) < 2:
        return

    def meaning(key: str) -> Meaning:
        return Meaning(VIEW, ctx.layer.label, "three_ways", key)

    def write(cur: GuideWriter) -> None:
        cur.gap()
        label = ctx.layer.label if ctx.plan.network.is_network else "this layer"
        cur.text(f"Three ways, one result ({label})", "cs_title")
        network = ctx.plan.network.is_network  # (a network's guide: the cells alone)
        cur.text("The transposed convolution computed " + ", ".join(
            f"by {text} (sheet {blocks[0].sheet})" for text, _key, blocks in ways)
            + (": output channel 0 side by side, and" if not network else ";")
            + " for each output channel Σ (difference)², summed over its cells and the ways "
            "(0 when they agree cell by cell).")
        if not network:
            _side_by_side(cur, ways, outputs[0].shape, prefix, meaning)
        cells: list[Block] = []
        per_row = 4
        for o in range(len(outputs)):
            if o % per_row == 0:
                cur.label(COL_TEXT, "Σ (difference)²" if o == 0 else "")
            col = COL_VALUE + 2 * (o % per_row)
            cur.label(col, f"c{o}", "cs_note")
            here = cur.sheet.name
            base = ways[0][2][o].area(from_sheet=here)
            gap = "+".join(f"SUMPRODUCT({base}-{other},{base}-{other})"
                           for other in (blocks[o].area(from_sheet=here)
                                         for _text, _key, blocks in ways[1:]))
            cell = cur.formula(f"{prefix}guide_difference_c{o}", gap, "cs_computed")
            cell.meaning = meaning(f"guide_difference_c{o}")
            cells.append(cur.place(cell, col + 1))
            if o % per_row == per_row - 1 or o == len(outputs) - 1:
                cur.row += 1
        total = cur.formula(f"{prefix}three_ways_difference",
                            "MAX(" + ",".join(c.ref(0, 0, from_sheet=cur.sheet.name)
                                              for c in cells) + ")", "cs_computed")
        total.meaning = meaning("three_ways_difference")
        longest = longest_of([total])
        if longest <= EXCEL_MAX_FORMULA:
            cur.block("largest, all channels", total, note="0 when the ways agree")
        else:  # (the guide's notes are written after its parts)
            ctx.plan.notes.append(left_out_note(
                ctx.layer.label, "cell with the largest difference over all channels",
                longest))

    ctx.plan.guide_parts.append(write)


def _side_by_side(cur: GuideWriter, ways: Sequence[tuple[str, str, Sequence[Block]]],
                  shape: tuple[int, int], prefix: str,
                  meaning: Callable[[str], Meaning]) -> None:
    """Output channel 0 by each way, side by side (as many as the guide's width holds)."""
    oh, ow = shape
    first, width = 5, 4.5  # right of the guide's text columns
    for col in range(first, first + len(ways) * (ow + 1)):
        cur.sheet.widths.setdefault(col, width)
    left = sum(print_points(cur.sheet.col_width(c)) for c in range(1, first))
    room = print_points(1) * TEXT_WIDTH_CHARS - left
    across = max(1, min(len(ways), int(room // ((ow + 1) * print_points(width)))))
    top = cur.row + 1
    for n, (text, key, blocks) in enumerate(ways):
        row, col = top + (n // across) * (oh + 2), first + (n % across) * (ow + 1)
        cur.sheet.labels.append(Label(row - 1, col, f"{text} c0", "cs_title"))
        block = Block(f"{prefix}guide_{key}_c0", (oh, ow), COMPUTED,
                      PerCell(lambda here, i, j, src=blocks[0]: src.ref(i, j, from_sheet=here),
                              last_cell), meaning=meaning(f"guide_{key}_c0"))
        block.place(cur.sheet.name, row, col)
        cur.sheet.blocks.append(block)
    cur.row = top + (-(-len(ways) // across)) * (oh + 2) - 1


def three_ways_values(y: np.ndarray, keys: Sequence[str],
                      ) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for key in keys:  # (channel 0, side by side)
        out[f"guide_{key}_c0"] = (y[0], None)
    for o in range(y.shape[0]):
        out[f"guide_difference_c{o}"] = (np.zeros((1, 1)), None)
    out["three_ways_difference"] = (np.zeros((1, 1)), None)
    return out
