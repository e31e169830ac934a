"""The few kinds of content a block can have, and the formulas they write.

Every variant is a composition of these:

* `Values`  - editable numbers (input, weights, bias).
* `Gather`  - each cell is a reference to one source cell or a structural zero. Padding,
  zero-insertion, cropping, kernel flipping and kernel dilation are all gathers; they differ only
  in their per-axis index maps, built by the small functions below and composable with `compose`.
* `Conv`    - one output channel of a direct convolution: per cell, one SUMPRODUCT of equal-sized
  rectangles per input channel of the group, plus the bias cell. Literal references only, so
  Trace Precedents shows the receptive field. A 1x1 kernel is written as plain products.
* `Formula` - a single cell with a hand-written formula (the guide's arithmetic).

Index maps: a tuple with one entry per output position along an axis: the source index, or a
`Zero` saying why that position is a constant zero (padding, inserted by a stride, dilation hole).

Every content also reports `longest(block)`: the length, "=" included, of the longest formula
it writes (0: none), without writing them all: from its arithmetic, or from the few cells that
provably include the longest (`representatives`). `build.check_limits` holds every block to
Excel's 8,192 characters with it; the optional views check themselves with it before they are
added (`limits.view_fits`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .layout import Block, Styled, col_letter


@dataclass(frozen=True)
class Zero:
    """A structural zero: a constant 0 cell whose style says why it is there."""

    why: str  # "pad" | "insert" | "hole" | "struct" (no kernel tap joins the two pixels)

    @property
    def style(self) -> str:
        return f"cs_{self.why}"


PAD, INSERT, HOLE, STRUCT = Zero("pad"), Zero("insert"), Zero("hole"), Zero("struct")
IndexMap = tuple["int | Zero", ...]


# ---------------------------------------------------------------------------- index maps
def pad_map(n: int, before: int, after: int) -> IndexMap:
    """Zeros around n items; a negative amount crops that many items from that side."""
    core: list[int | Zero] = list(range(max(0, -before), n - max(0, -after)))
    return (PAD,) * max(0, before) + tuple(core) + (PAD,) * max(0, after)


def mode_map(n: int, pad: int, mode: str) -> IndexMap:
    """n items with `pad` more on each side that repeat items (a conv's padding_mode, as
    `F.pad`): reflect mirrors without repeating the edge, replicate repeats the edge,
    circular wraps around."""
    def source(i: int) -> int:
        if mode == "reflect":
            return -i if i < 0 else 2 * (n - 1) - i if i >= n else i
        if mode == "replicate":
            return min(max(i, 0), n - 1)
        return i % n  # circular
    return tuple(source(i) for i in range(-pad, n + pad))


def identity_map(n: int) -> IndexMap:
    """Every item as it is (a live copy of a block)."""
    return tuple(range(n))


def insert_map(n: int, stride: int) -> IndexMap:
    """stride - 1 zeros between neighbours (the seed's 'add 0s at each alternate position')."""
    out: list[int | Zero] = []
    for i in range(n):
        if i:
            out.extend([INSERT] * (stride - 1))
        out.append(i)
    return tuple(out)


def flip_map(n: int) -> IndexMap:
    return tuple(range(n - 1, -1, -1))


def dilate_map(n: int, dilation: int) -> IndexMap:
    """The kernel with holes: dilation - 1 zeros between taps."""
    return tuple(HOLE if isinstance(i, Zero) else i for i in insert_map(n, dilation))


def compose(outer: IndexMap, inner: IndexMap) -> IndexMap:
    """Apply `inner` to the source first, then `outer` to the result."""
    return tuple(i if isinstance(i, Zero) else inner[i] for i in outer)


# ---------------------------------------------------------------------------- measuring
def formula_length(value: object) -> int:
    """Characters of a cell's formula ("=" included, a styled one's too); 0 for a value."""
    if isinstance(value, Styled):
        value = value.value
    return len(value) if isinstance(value, str) and value.startswith("=") else 0


def measured(rows: Iterable[Iterable[object]]) -> int:
    """The longest formula among the rows, every cell measured (small blocks, or cells chosen
    by `representatives`)."""
    return max((formula_length(v) for row in rows for v in row), default=0)


def representatives(n: int, feature: Callable[[int], Hashable]) -> list[int]:
    """One position per distinct `feature` among 0..n-1 (the first one). When a formula's
    length is a function of its row's feature and its column's feature (the lengths of the
    references it holds), measuring the product of both axes' representatives measures every
    length the block has."""
    first: dict[Hashable, int] = {}
    for i in range(n):
        first.setdefault(feature(i), i)
    return list(first.values())


def row_digits(top: int, index: int) -> int:
    """Characters of the row number of item `index` of a block whose first row is `top`."""
    return len(str(top + index))


def col_letters(left: int, index: int) -> int:
    """Characters of the column letters of item `index` of a block whose first column is
    `left`."""
    return len(col_letter(left + index))


# ---------------------------------------------------------------------------- contents
@dataclass
class Values:
    """Editable numbers (Python ints stay ints so the sheet shows 3, not 3.0)."""

    array: np.ndarray

    def rows(self, block: Block) -> Iterator[list[object]]:
        yield from self.array.tolist()

    def longest(self, block: Block) -> int:
        return 0


@dataclass
class Gather:
    """Each cell refers to one cell of `source`, or is a structural zero."""

    source: Block
    row_map: IndexMap
    col_map: IndexMap
    # padding that repeats input cells (padding_mode): the rows and columns of the ring, whose
    # references take this style of their own
    ring: tuple[frozenset[int], frozenset[int], str] | None = None

    def rows(self, block: Block) -> Iterator[list[object]]:
        src = self.source
        prefix = "=" + src.prefix(block.sheet)
        cols = [c if isinstance(c, Zero) else col_letter(src.left + c) for c in self.col_map]
        for i, r in enumerate(self.row_map):
            if isinstance(r, Zero):
                # A padding column outranks an inserted-zero row: the cell is in the padding ring.
                yield [PAD if c == PAD else r for c in cols]
                continue
            row = str(src.top + r)
            line: list[object] = [c if isinstance(c, Zero) else prefix + c + row for c in cols]
            if self.ring is not None:
                ring_rows, ring_cols, style = self.ring
                line = [Styled(v, style) if i in ring_rows or j in ring_cols else v
                        for j, v in enumerate(line)]
            yield line

    def longest(self, block: Block) -> int:
        """The "=", the prefix, the longest column letters and the longest row number (both
        grow with the index)."""
        rows = [r for r in self.row_map if not isinstance(r, Zero)]
        cols = [c for c in self.col_map if not isinstance(c, Zero)]
        if not rows or not cols:
            return 0
        src = self.source
        return (1 + len(src.prefix(block.sheet)) + col_letters(src.left, max(cols))
                + row_digits(src.top, max(rows)))


@dataclass
class Conv:
    """One output channel: sum over the group's input channels of SUMPRODUCT(window, kernel),
    plus the bias cell. `sources[k]` is convolved with `kernels[k]`; windows advance by stride."""

    sources: Sequence[Block]
    kernels: Sequence[Block]
    bias: Block | None
    bias_index: int
    stride: tuple[int, int]

    def rows(self, block: Block) -> Iterator[list[object]]:
        return self._rows(block, range(block.shape[0]))

    def longest(self, block: Block) -> int:
        """The last row's: every reference's row number and column letters grow with the
        output position, the rest of a formula is the same in every cell."""
        return measured(self._rows(block, [block.shape[0] - 1]))

    def _rows(self, block: Block, ys: Iterable[int]) -> Iterator[list[object]]:
        kh, kw = self.kernels[0].shape
        sh, sw = self.stride
        here = block.sheet
        bias = ("+" + self.bias.ref(0, self.bias_index, absolute=True, from_sheet=here)
                if self.bias is not None else "")
        out_h, out_w = block.shape
        if kh == kw == 1:
            yield from self._products(block, bias, ys)
            return
        terms = []  # per source: (column prefixes, column ends, kernel ref, top row)
        for src, ker in zip(self.sources, self.kernels, strict=True):
            lead = src.prefix(here)
            starts = [lead + col_letter(src.left + x * sw) for x in range(out_w)]
            ends = [":" + col_letter(src.left + x * sw + kw - 1) for x in range(out_w)]
            terms.append((starts, ends, "," + ker.area(from_sheet=here) + ")", src.top))
        for y in ys:
            parts = [(starts, ends, kref, str(top + y * sh), str(top + y * sh + kh - 1))
                     for starts, ends, kref, top in terms]
            yield ["=" + "+".join(
                f"SUMPRODUCT({starts[x]}{r0}{ends[x]}{r1}{kref}"
                for starts, ends, kref, r0, r1 in parts) + bias
                for x in range(out_w)]

    def _products(self, block: Block, bias: str, ys: Iterable[int]) -> Iterator[list[object]]:
        """1x1 kernels: the 'MLP at every pixel', written as a weighted sum of channels."""
        sh, sw = self.stride
        here = block.sheet
        out_h, out_w = block.shape
        weights = ["*" + k.ref(0, 0, absolute=True, from_sheet=here) for k in self.kernels]
        for y in ys:
            yield ["=" + "+".join(src.ref(y * sh, x * sw, from_sheet=here) + w
                                  for src, w in zip(self.sources, weights, strict=True)) + bias
                   for x in range(out_w)]


@dataclass
class Formula:
    """A single cell whose formula is built from other blocks' addresses once they are placed."""

    make: Callable[[Block], str]

    def rows(self, block: Block) -> Iterator[list[object]]:
        yield ["=" + self.make(block)]

    def longest(self, block: Block) -> int:
        return 1 + len(self.make(block))


@dataclass
class PerCell:
    """Any block whose cells each have their own formula (the matrix and scatter views): `make`
    gets the sheet the block is written on and the cell's (row, column) within the block, once
    every block is placed, and gives the formula without "=" or a structural `Zero`."""

    make: Callable[[str, int, int], str | Zero]
    # The cells that include a longest formula, by construction (given the block's shape);
    # None: every cell is measured.
    worst: Callable[[tuple[int, int]], Iterable[tuple[int, int]]] | None = None

    def rows(self, block: Block) -> Iterator[list[object]]:
        for i in range(block.shape[0]):
            line: list[object] = []
            for j in range(block.shape[1]):
                cell = self.make(block.sheet, i, j)
                line.append(cell if isinstance(cell, Zero) else "=" + cell)
            yield line

    def longest(self, block: Block) -> int:
        if self.worst is None:
            return measured(self.rows(block))
        cells = (self.make(block.sheet, i, j) for i, j in self.worst(block.shape))
        return max((1 + len(c) for c in cells if not isinstance(c, Zero)), default=0)


def last_cell(shape: tuple[int, int]) -> list[tuple[int, int]]:
    """`PerCell.worst` of a block whose formulas differ only by references that grow with the
    cell's row and column."""
    return [(shape[0] - 1, shape[1] - 1)]


def products(pairs: Sequence[tuple[str, str]], extra: str = "") -> str:
    """a1*b1+a2*b2+... (+ extra); 0 when nothing lands on the cell."""
    text = "+".join(f"{a}*{b}" for a, b in pairs)
    if extra:
        text = f"{text}+{extra}" if text else extra
    return text or "0"


@dataclass
class Pool:
    """One channel of a pooling layer: per output cell, one portable function over the source
    cells its window covers. Padding positions are left out of the arguments, which is exactly
    PyTorch's rule for max pooling (padding never wins) and, with `divisor` = kH*kW, average
    pooling with count_include_pad (without it: AVERAGE of the covered cells)."""

    source: Block
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    function: str  # "MAX" | "SUM" | "AVERAGE"
    divisor: int | None = None  # SUM(...)/divisor
    # per output row and column, the divisor's factors, when windows differ (ceil_mode)
    lengths: tuple[tuple[int, ...], tuple[int, ...]] | None = None

    def taps(self, axis: int, out: int) -> list[int]:
        """Source indices of output position `out`'s window along `axis` (inside the input)."""
        start = out * self.stride[axis] - self.padding[axis]
        n = self.source.shape[axis]
        return [t for t in (start + i * self.dilation[axis] for i in range(self.kernel[axis]))
                if 0 <= t < n]

    def arguments(self, rows: list[int], cols: list[int], here: str) -> list[str]:
        """The fewest literal arguments: one rectangle if the taps are contiguous, else one
        range per row, else single cells."""
        src = self.source
        if self.dilation[1] == 1:
            if self.dilation[0] == 1:
                return [src.range(rows[0], cols[0], len(rows), len(cols), from_sheet=here)]
            return [src.range(r, cols[0], 1, len(cols), from_sheet=here) for r in rows]
        return [src.ref(r, c, from_sheet=here) for r in rows for c in cols]

    def rows(self, block: Block) -> Iterator[list[object]]:
        return self._rows(block, range(block.shape[0]), range(block.shape[1]))

    def longest(self, block: Block) -> int:
        """A cell's formula is a function of its window's taps, and its length of how many
        there are along each axis and the length of each tap's row number / column letters:
        one row and one column per distinct such pattern measure every length there is."""
        src = self.source
        ys = representatives(block.shape[0], lambda y: tuple(
            row_digits(src.top, t) for t in self.taps(0, y)))
        xs = representatives(block.shape[1], lambda x: tuple(
            col_letters(src.left, t) for t in self.taps(1, x)))
        return measured(self._rows(block, ys, xs))

    def _rows(self, block: Block, ys: Iterable[int], xs: Iterable[int],
              ) -> Iterator[list[object]]:
        here = block.sheet
        xs = list(xs)
        col_taps = [self.taps(1, x) for x in xs]
        for y in ys:
            rows = self.taps(0, y)
            line: list[object] = []
            for x, cols in zip(xs, col_taps, strict=True):
                call = f"{self.function}({','.join(self.arguments(rows, cols, here))})"
                divisor = (self.divisor if self.lengths is None
                           else self.lengths[0][y] * self.lengths[1][x])
                line.append("=" + call + (f"/{divisor}" if divisor else ""))
            yield line
