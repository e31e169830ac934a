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

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .explorer import index
from .layout import COMPUTED, EDIT, FIRST_COL, VIEW, Block, Label, Meaning
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
        "on it, on the original input: no inserted zeros, no flipped kernel. Choose an input "
        "pixel in the yellow cells: its stamp is shown and highlighted on the outputs.")
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
    outputs = []
    oh, ow = out_size
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
        conditions = []
        for axis, (pos, fn) in enumerate(((r, "ROW"), (k, "COLUMN"))):
            start = block.top if axis == 0 else block.left
            t = f"({fn}()-{start}+{padding[axis]}-{pos}*{stride[axis]})"
            extent = (weights[0][0].shape[axis] - 1) * dilation[axis]
            conditions.append(f"{t}>=0,{t}<={extent},MOD({t},{dilation[axis]})=0")
        block.highlights.append(f"AND({names['valid']}=1,INT({names['channel']}/{per_in})={g},"
                                + ",".join(conditions) + ")")
        outputs.append(block)
        row += oh + 2
    rules = [f"AND({names['valid']}=1,{names['channel']}={a},ROW()-{src.top}={names['row']},"
             f"COLUMN()-{src.left}={names['col']})" for a, src in enumerate(sources)]
    if not view_fits(ctx, sheet, "Scatter view", sheet.blocks, rules):
        return []
    for src, rule in zip(sources, rules, strict=True):
        src.highlights.append(rule)
    return outputs


def scatter_values(x: np.ndarray, weight: np.ndarray, y: np.ndarray, selection: Sequence[float],
                   stride: tuple[int, int], padding: tuple[int, int],
                   ) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Expected scatter view: the outputs are the reference's; the stamps are the selected
    pixel times its kernels (blank for a position outside the input)."""
    channels, h, w = x.shape
    per_out = weight.shape[1]
    c, r, k = selection
    valid = all(float(v).is_integer() and 0 <= v < n for v, n in ((c, channels), (r, h), (k, w)))
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {
        f"scatter_output_c{o}": (y[o], None) for o in range(y.shape[0])}
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
    """On the guide: the results side by side, per output channel, and the largest
    difference between them (a live cell that shows 0)."""
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
        cur.text("The transposed convolution computed " + ", ".join(
            f"by {text} (sheet {blocks[0].sheet})" for text, _key, blocks in ways)
            + ", and the largest |difference| between them, per cell.")
        oh, ow = outputs[0].shape
        first = 8 if ctx.plan.network.is_network else 5  # right of the guide's text columns
        for col in range(first, first + 2 * (ow + 1)):
            cur.sheet.widths.setdefault(col, 5.5)
        gaps = []
        for o in range(len(outputs)):
            top = cur.row + 1
            shown: list[Block] = []

            def place(block: Block, n: int, text: str, top: int = top) -> Block:
                """Two blocks per row, so the guide stays one page wide."""
                row, col = top + (n // 2) * (oh + 2), first + (n % 2) * (ow + 1)
                cur.sheet.labels.append(Label(row - 1, col, text, "cs_title"))
                block.place(cur.sheet.name, row, col)
                cur.sheet.blocks.append(block)
                return block

            for n, (text, key, blocks) in enumerate(ways):
                shown.append(place(Block(
                    f"{prefix}guide_{key}_c{o}", (oh, ow), COMPUTED,
                    PerCell(lambda here, i, j, src=blocks[o]: src.ref(i, j, from_sheet=here),
                            last_cell),
                    meaning=meaning(f"guide_{key}_c{o}")), n, f"{text} c{o}"))

            def gap(here: str, i: int, j: int, shown: list[Block] = shown) -> str:
                first = shown[0].ref(i, j, from_sheet=here)
                gaps = [f"ABS({s.ref(i, j, from_sheet=here)}-{first})" for s in shown[1:]]
                if len(gaps) == 1:
                    return gaps[0]
                return f"IF({gaps[0]}>{gaps[1]},{gaps[0]},{gaps[1]})"

            gaps.append(place(Block(f"{prefix}guide_difference_c{o}", (oh, ow), COMPUTED,
                                    PerCell(gap, last_cell), colour_scale=False,
                                    style="cs_computed",
                                    meaning=meaning(f"guide_difference_c{o}")),
                              len(ways), f"largest |difference| c{o}"))
            cur.row = top + ((len(ways) + 1 + 1) // 2) * (oh + 2) - 1
        areas = ",".join(g.area(from_sheet=cur.sheet.name) for g in gaps)
        total = cur.formula(f"{prefix}three_ways_difference", f"MAX({areas})")
        total.meaning = meaning("three_ways_difference")
        longest = longest_of([total])
        if longest <= EXCEL_MAX_FORMULA:
            cur.block("largest difference, all channels", total, note="0 when the ways agree")
        else:  # (the guide's notes are written after its parts)
            ctx.plan.notes.append(left_out_note(
                ctx.layer.label, "cell with the largest difference over all channels",
                longest))

    ctx.plan.guide_parts.append(write)


def three_ways_values(y: np.ndarray, keys: Sequence[str],
                      ) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for o in range(y.shape[0]):
        for key in keys:
            out[f"guide_{key}_c{o}"] = (y[o], None)
        out[f"guide_difference_c{o}"] = (np.zeros(y.shape[1:]), None)
    out["three_ways_difference"] = (np.zeros((1, 1)), None)
    return out
