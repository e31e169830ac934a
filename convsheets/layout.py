"""Where each tensor block sits: sheets, positions, A1 references and defined names.

A `Block` is one 2-D tensor slice (an input channel, one kernel, one output channel). Layout gives
it a sheet and a top-left cell; everything that needs an address (formulas, defined names,
conditional formats) asks the block, so no other module does A1 arithmetic.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from openpyxl.utils.cell import get_column_letter

from .errors import LimitError

# Block kinds, which decide a cell's style and whether `verify` expects formulas there.
EDIT = "edit"  # a value the learner may change (input, weights, bias)
COMPUTED = "computed"  # a live formula
PARAM = "param"  # a layer parameter fixed by the build (shown, not meant to be edited)
ANSWER = "answer"  # an exercise's answer cell: written empty, the student fills it in
EMPTY = "empty"  # an exercise's text-only cell downstream of an answer: written empty


# What a block means (`Meaning.role`): features select blocks by these, never by their names.
TENSOR = "tensor"  # a slice of an editable tensor: the input, a weight, a bias
STAGE = "stage"  # an intermediate step of a layer: padded, upsampled, flipped, dilated
OUTPUT = "output"  # one channel of a layer's output
VIEW = "view"  # a block an optional view draws (explorer, matrix, scatter, overview)
SELECTION = "selection"  # a view's selection cell (which output cell, which input pixel)
GUIDE = "guide"  # the guide's parameters and live arithmetic
GRADIENT = "gradient"  # the backward pass: loss, gradients, the update step (--backward)
ROLES = (TENSOR, STAGE, OUTPUT, VIEW, SELECTION, GUIDE, GRADIENT)


@dataclass(frozen=True)
class Meaning:
    """What a block is, recorded in the metadata: its role, the layer it belongs to (its label;
    "" for the network input and workbook-wide blocks), its kind within the role (input,
    weight, bias; padded, upsampled, flipped, dilated; explorer, matrix, scatter, overview,
    three_ways), for view and selection blocks its local key (the defined name without the
    layer's prefix: ``explore_window_0``, ``scatter_row``), and for slices their index."""

    role: str
    layer: str = ""
    kind: str = ""
    key: str = ""
    index: tuple[int, ...] = ()  # a tensor's, stage's or output's slice: (c,) or (a, b)

    def record(self) -> list[object]:
        return [self.role, self.layer, self.kind, self.key, list(self.index)]


class Content(Protocol):
    """What fills a block: produces its rows, top to bottom, once the block is placed. Most
    also report `longest(block)`, their longest formula (`limits.longest_formula` measures
    the rows of one that does not)."""

    def rows(self, block: Block) -> Iterator[list[object]]: ...


EXCEL_MAX_COLS = 16_384


def col_letter(n: int) -> str:
    """1 -> A, 28 -> AB (openpyxl's own, cached, conversion); beyond Excel's last column a
    LimitError, since a reference there could never be written."""
    if n > EXCEL_MAX_COLS:
        raise LimitError(f"the workbook would need {n:,} columns; Excel allows "
                         f"{EXCEL_MAX_COLS:,}")
    return get_column_letter(n)


def quote_sheet(sheet: str) -> str:
    """A sheet name as it must appear in a formula."""
    if sheet.replace("_", "").isalnum() and not sheet[0].isdigit():
        return sheet
    return "'" + sheet.replace("'", "''") + "'"


@dataclass(eq=False)
class Block:
    """One named 2-D block of cells: its identity, its content and (after layout) its place."""

    name: str
    shape: tuple[int, int]
    kind: str
    content: Content
    title: str = ""
    short: str = ""  # label used when the block is too narrow for its full title
    colour_scale: bool = True
    style: str | None = None  # a named style overriding the one its kind implies
    aliases: tuple[str, ...] = ()  # further defined names of the same cells (output_c0)
    highlights: list[str] = field(default_factory=list)  # conditional-format formulas (explorer)
    data_bar: bool = False  # a data bar from 0 to 1 in each cell (the prediction's probabilities)
    lit: list[str] = field(default_factory=list)  # the receptive-field view's, a fill of its own
    # further conditional formats, (formula, look): "done" (shaded), "hidden" (white text: the
    # Walk's output cells after its step)
    shades: list[tuple[str, str]] = field(default_factory=list)
    scale: str = ""  # "" (or "diverging"): purple-white(0)-green; picture: "grey", "red"/...
    validation: tuple[int, int] | None = None  # whole numbers allowed (explorer selection)
    public: bool = True  # has a workbook-scope defined name (an exercise's key has none)
    tensor: str = ""  # the tensor it is a slice of, for one colour scale per tensor ("": own)
    tiling: Tiling | None = None  # how it and its siblings were placed (stack, grid)
    meaning: Meaning | None = None  # what it is (every block of a plan has one)
    sheet: str = ""
    top: int = 0  # 1-based row of the first data cell
    left: int = 0  # 1-based column of the first data cell

    def place(self, sheet: str, top: int, left: int) -> None:
        self.sheet, self.top, self.left = sheet, top, left

    def prefix(self, from_sheet: str | None) -> str:
        """'Sheet!' unless the reference is written on the block's own sheet."""
        return "" if from_sheet == self.sheet else quote_sheet(self.sheet) + "!"

    def ref(self, i: int, j: int, *, absolute: bool = False, from_sheet: str | None = None) -> str:
        """A1 reference to cell (i, j) of the block (0-based within the block)."""
        d = "$" if absolute else ""
        return f"{self.prefix(from_sheet)}{d}{col_letter(self.left + j)}{d}{self.top + i}"

    def range(
        self, i: int, j: int, height: int, width: int, *, absolute: bool = False,
        from_sheet: str | None = None,
    ) -> str:
        """A1 reference to the height x width rectangle whose top-left is (i, j)."""
        if height == width == 1:
            return self.ref(i, j, absolute=absolute, from_sheet=from_sheet)
        d = "$" if absolute else ""
        r0, c0 = self.top + i, self.left + j
        return (f"{self.prefix(from_sheet)}{d}{col_letter(c0)}{d}{r0}:"
                f"{d}{col_letter(c0 + width - 1)}{d}{r0 + height - 1}")

    def area(self, *, from_sheet: str | None = None) -> str:
        """Absolute reference to the whole block (defined names, conditional formats)."""
        return self.range(0, 0, *self.shape, absolute=True, from_sheet=from_sheet)

    @property
    def bottom(self) -> int:
        return self.top + self.shape[0] - 1

    @property
    def right(self) -> int:
        return self.left + self.shape[1] - 1


@dataclass(frozen=True)
class Styled:
    """A cell of a block's content with a named style of its own (a formula: "=..."), e.g.
    the Scatter canvas's cropped border, computed like the rest but greyed."""

    value: object
    style: str


@dataclass
class Label:
    """A piece of text (or a fixed value) on a sheet, with a style name."""

    row: int
    col: int
    value: object
    style: str = "cs_label"


@dataclass(frozen=True)
class Tiling:
    """Where the n-th of equally shaped items (blocks, or the lines of a kernel grid) sits,
    relative to the first one: items fill grid rows `across` wide; with bands (groups), each
    band of `per_band` items starts its own grid row `band_step` rows below the previous one.
    The same arithmetic places the blocks and, as formulas, lets the explorer INDEX them."""

    count: int
    across: int
    row_step: int
    col_step: int
    per_band: int = 0  # 0: no bands
    band_step: int = 0

    def offset(self, n: int) -> tuple[int, int]:
        band, m = divmod(n, self.per_band) if self.per_band else (0, n)
        return (band * self.band_step + (m // self.across) * self.row_step,
                (m % self.across) * self.col_step)

    def row_expr(self, n: str) -> str:
        """The row offset of item `n` (a formula expression), as `offset` computes it."""
        terms = []
        within = n
        if self.per_band and self.per_band < self.count:
            terms.append(f"INT(({n})/{self.per_band})*{self.band_step}")
            within = f"MOD({n},{self.per_band})"
        length = self.per_band or self.count
        if self.across == 1:
            terms.append(f"({within})*{self.row_step}")
        elif self.across < length:
            terms.append(f"INT(({within})/{self.across})*{self.row_step}")
        return "+".join(terms) or "0"

    def col_expr(self, n: str) -> str:
        within = f"MOD({n},{self.per_band})" if self.per_band and self.per_band < self.count \
            else n
        length = self.per_band or self.count
        if self.across == 1:
            return "0"
        if self.across >= length:
            return f"({within})*{self.col_step}"
        return f"MOD({within},{self.across})*{self.col_step}"


@dataclass
class SheetPlan:
    """One worksheet: its blocks, labels and column widths, in reading order."""

    name: str
    blocks: list[Block] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    widths: dict[int, float] = field(default_factory=dict)  # column -> width; default below
    default_width: float = 6.0
    note: str = ""  # what the sheet shows, in the top rows (wrapped)
    zoom: int | None = None  # percent, so a large picture fits a screen
    row_height: float | None = None  # points; with default_width, square cells for a picture
    hidden: bool = False  # a hidden sheet (an exercise's key and its metadata copy)
    protected: bool = False  # sheet protection on (the metadata copy)
    hidden_from: int | None = None  # columns from here on are hidden (a self-check's key)
    layer: str = ""  # the label of the layer whose sheet this is ("": the input, guide, ...)
    # print only the top-left rows x columns (`clip`: a view larger than any readable page)
    print_rows: int | None = None
    print_cols: int | None = None
    # fitted on one page only when the estimate clears MIN_SCALE by this much (the Walk: its
    # columns widened for 7-digit numbers estimated 50 % and printed at 49 %)
    fit_margin: float = 0.0
    clip_note: str | None = None  # a clippable sheet's note without the line `clip` adds

    def reserve_clip(self) -> None:
        """Make the sheet clippable (before placing its blocks): its note keeps room for the
        line saying how much the printed page leaves to the screen (`finish_clip`)."""
        self.clip_note = self.note
        self.note = f"{self.note} {_on_screen(1, 1)}{_MORE}"

    def finish_clip(self) -> None:
        """Once every column has its final width (workbook.render): clip the print if the
        sheet is larger than a readable page, and say so in its note."""
        if self.clip_note is None:
            return
        reserved = len(textwrap.wrap(f"{self.clip_note} {_on_screen(1, 1)}{_MORE}",
                                     NOTE_WIDTH))
        more = self.clip()
        self.note = self.clip_note + (f" {_on_screen(*more)}" if more and any(more) else "")
        if len(self.note_lines) > reserved:  # (the blocks sit below the reserved lines)
            raise AssertionError(f"{self.name}: the note grew after the blocks were placed")

    @property
    def note_lines(self) -> list[str]:
        return textwrap.wrap(self.note, NOTE_WIDTH) if self.note else []

    @property
    def first_row(self) -> int:
        """First row free for blocks: below the note and one blank row."""
        return len(self.note_lines) + 2 if self.note else 1

    @property
    def max_row(self) -> int:
        rows = [b.bottom for b in self.blocks] + [lab.row for lab in self.labels]
        return max(rows + [len(self.note_lines)], default=1)

    @property
    def max_col(self) -> int:
        cols = [b.right for b in self.blocks] + [lab.col for lab in self.labels]
        return max(cols, default=1)

    def col_width(self, col: int) -> float:
        """Width of a column in characters (column A fits its labels)."""
        if col in self.widths:
            return self.widths[col]
        if col == 1:
            texts = [str(lab.value) for lab in self.labels if lab.col == 1]
            return float(min(40, max([len(t) + 2 for t in texts], default=3)))
        return self.default_width

    # ------------------------------------------------------------ how it prints
    def print_extent(self) -> tuple[int, float, float]:
        """(last column, width, height in points) of what the sheet shows, text that runs
        over into empty columns on its right included (notes, the guide's paragraphs)."""
        reach = [(1, len(line) * CHAR_POINTS) for line in self.note_lines]
        reach += [(lab.col, len(str(lab.value)) * CHAR_POINTS) for lab in self.labels
                  if isinstance(lab.value, str) and not lab.value.startswith("=")]
        reach += [(b.left, 0.0) for b in self.blocks]
        last = self.max_col
        for col, text in reach:
            end = col
            while text > print_points(self.col_width(end)) and end < last + 60:
                text -= print_points(self.col_width(end))
                end += 1
            last = max(last, end)
        if self.print_cols is not None:
            last = min(last, self.print_cols)
        width = sum(print_points(self.col_width(c)) for c in range(1, last + 1))
        return last, width, self.print_height * self.row_points

    @property
    def print_height(self) -> int:
        """Rows the print shows (all, unless `clip` limited them)."""
        return self.max_row if self.print_rows is None else min(self.max_row, self.print_rows)

    def clip(self, scale: float | None = None) -> tuple[int, int] | None:
        """When the sheet cannot print on one page at a readable scale (MIN_SCALE), limit
        its print area to the top-left part that prints at `scale` (CLIP_SCALE) on one
        page, in the orientation that shows the most columns (a view's blocks stand side by
        side: im2col, the weights, the output; its rows go on down), then the most rows.
        Returns the (rows, columns) left to the screen, or None when the whole sheet fits."""
        scale = scale or CLIP_SCALE
        self.print_rows = self.print_cols = None
        last, width, height = self.print_extent()
        if max(min(1.0, pw / width, ph / height) for pw, ph in PAGES.values()) >= MIN_SCALE:
            return None
        options = []
        for page_w, page_h in PAGES.values():
            # every column if that stays readable (down to CLIP_MIN), else the top left
            fits = min(scale, max(CLIP_MIN, page_w / width))
            cols, room = 0, page_w / fits
            for col in range(1, last + 1):
                room -= print_points(self.col_width(col))
                if room < 0:
                    break
                cols = col
            rows = min(self.max_row, int(page_h / fits / self.row_points))
            options.append(((cols >= last, cols, rows), rows, cols))  # columns first
        _key, rows, cols = max(options)
        self.print_rows, self.print_cols = rows, cols
        return self.max_row - rows, max(0, self.max_col - cols)

    @property
    def row_points(self) -> float:
        return self.row_height or ROW_POINTS

    def bands(self) -> list[tuple[int, int]]:
        """Row spans that must print on one page: runs of rows with something in them
        (a block with its title and group label, a grid row of blocks, a paragraph of the
        guide), as blank rows separate them."""
        used = set(range(1, len(self.note_lines) + 1))
        used.update(lab.row for lab in self.labels)
        for b in self.blocks:
            used.update(range(b.top, b.bottom + 1))
        spans: list[tuple[int, int]] = []
        for row in sorted(used):
            if spans and row == spans[-1][1] + 1:
                spans[-1] = (spans[-1][0], row)
            else:
                spans.append((row, row))
        return spans

    def page_setup(self) -> PageSetup:
        """How the sheet prints: on one page at a readable scale when it can, in landscape
        or portrait, whichever is larger; otherwise fitted to the width, on as few pages as
        it takes, with page breaks only between bands (never through a block, between a title
        and its block, or inside a paragraph) and the note repeated at the top of every
        page."""
        last, width, height = self.print_extent()
        area = f"$A$1:${col_letter(last)}${self.print_height}"
        if self.print_rows is not None or self.print_cols is not None:
            return PageSetup(max(PAGES, key=lambda o: min(PAGES[o][0] / width,
                                                           PAGES[o][1] / height)), area, fit=True)
        options = []
        for orientation, (page_w, page_h) in PAGES.items():
            options.append((min(1.0, page_w / width, page_h / height), orientation))
        scale, orientation = max(options)
        if scale >= MIN_SCALE + self.fit_margin:
            return PageSetup(orientation, area, fit=True)
        wide = self._pages_wide(width, height)
        if wide is not None:
            return wide
        candidates = []
        for orientation, (page_w, page_h) in PAGES.items():
            fits = min(1.0, page_w / width)
            scale = fits * SAFETY
            capacity = int(page_h / scale / self.row_points)
            breaks = _breaks(self.bands(), capacity, len(self.note_lines))
            setup = PageSetup(orientation, area, scale=max(10, int(scale * 100)), breaks=breaks,
                              title_rows=len(self.note_lines))
            if fits >= MIN_SCALE > scale:  # readable only at the exact width: let the
                # application fit the width (LibreOffice keeps the breaks between bands;
                # Excel, fitting, places its own)
                capacity = int(page_h / fits / self.row_points)
                setup = PageSetup(orientation, area, fit_width=True, title_rows=setup.title_rows,
                                  breaks=_breaks(self.bands(), capacity, len(self.note_lines)))
                scale = fits
            # readable first, then the fewest pages, then the larger print
            candidates.append(((fits < MIN_SCALE, len(setup.breaks), -scale), setup))
        best = min(candidates, key=lambda c: c[0])[1]
        if candidates and min(candidates, key=lambda c: c[0])[0][0]:  # too wide to read
            tiled = self._tiled(area)
            if tiled is not None:
                return tiled
        if not best.breaks:  # one page after all (a large picture): let the application fit it
            return PageSetup(best.orientation, area, fit=True)
        return best

    def _tiled(self, area: str) -> PageSetup | None:
        """A sheet too wide and too tall for any readable fit (the Update sheet of a U-Net,
        its rows of eight kernels with wide numbers): printed at TILE_SCALE in pages across
        and down, the rows broken between bands and the columns, in each page's right half,
        where the fewest blocks span the break (rows of blocks at other offsets may leave no
        column free in all of them). None when one column is wider than a page at that scale."""
        page_w, page_h = PAGES["landscape"]
        room = page_w / TILE_SCALE
        spanning: dict[int, int] = {}  # c -> blocks holding both c and c + 1
        for b in self.blocks:
            for c in range(b.left, b.right):
                spanning[c] = spanning.get(c, 0) + 1
        last = self.print_extent()[0]
        col_breaks: list[int] = []
        start, used = 1, 0.0
        for col in range(1, last + 1):
            used += print_points(self.col_width(col))
            if used > room:
                if col == start:
                    return None
                half = start + (col - start) // 2  # a page at least half full
                cut = min(range(half, col), key=lambda c: (spanning.get(c, 0), -c))
                col_breaks.append(cut)
                start = cut + 1
                used = sum(print_points(self.col_width(c)) for c in range(start, col + 1))
        capacity = int(page_h / TILE_SCALE / self.row_points)
        breaks = _breaks(self.bands(), capacity, len(self.note_lines))
        return PageSetup("landscape", area, scale=int(TILE_SCALE * 100), breaks=breaks,
                         title_rows=len(self.note_lines), col_breaks=col_breaks)


    def _pages_wide(self, width: float, height: float) -> PageSetup | None:
        """A short sheet too wide for one page (a linear layer's row of 32 features): fitted
        to 2 to 4 pages side by side, one page tall, at a readable scale; None if that does not
        make it readable."""
        last = self.print_extent()[0]
        area = f"$A$1:${col_letter(last)}${self.print_height}"
        for pages in range(2, MAX_PAGES_WIDE + 1):
            options = [(min(1.0, pages * page_w / width, page_h / height), orientation)
                       for orientation, (page_w, page_h) in PAGES.items()]
            scale, orientation = max(options)
            if scale * SAFETY >= MIN_SCALE:
                return PageSetup(orientation, area, fit=True, pages_wide=pages)
        return None


_MORE = "999,999 more rows and 99,999 more columns"  # the longest `_on_screen` can say


def _on_screen(rows: int, cols: int) -> str:
    parts = ([f"{rows:,} more row{'s' if rows > 1 else ''}"] if rows else []) + (
        [f"{cols:,} more column{'s' if cols > 1 else ''}"] if cols else [])
    return f"The printed page shows the top left of this sheet: {' and '.join(parts)} on screen."


@dataclass
class PageSetup:
    """A sheet's page setup (workbook.py writes it)."""

    orientation: str  # "landscape" or "portrait"
    area: str  # the print area, absolute A1
    fit: bool = False  # fit the print area on one page (`pages_wide` pages side by side)
    pages_wide: int = 1
    fit_width: bool = False  # fit its width on one page, as many pages down as it takes
    scale: int = 100  # percent, when not fitted
    breaks: list[int] = field(default_factory=list)  # rows after which a new page starts
    title_rows: int = 0  # rows 1..n repeat at the top of every page
    col_breaks: list[int] = field(default_factory=list)  # columns after which one starts


def _breaks(bands: list[tuple[int, int]], capacity: int, repeated: int) -> list[int]:
    """Greedy page breaks: fill each page with whole bands (the repeated title rows take
    their room on every page after the first)."""
    breaks: list[int] = []
    start = 1
    for top, bottom in bands:
        room = capacity - (repeated + 1 if breaks else 0)
        if bottom - start + 1 > room and top > start:
            breaks.append(top - 1)
            start = top
    return breaks


# Printing geometry, in points. Pages: the smaller of A4 and Letter, less the margins
# workbook.py sets (0.4 in left and right, 0.5 in top, 0.6 in bottom with the footer).
PAGES = {"landscape": (792 - 58, 595 - 79), "portrait": (595 - 58, 792 - 79)}
SAFETY = 0.85  # a fixed scale leaves this much room for the estimate's error
MIN_SCALE = 0.5  # below this a sheet is printed on several pages rather than shrunk
MAX_PAGES_WIDE = 4  # a short, wide sheet may print on this many pages side by side
TILE_SCALE = 0.6  # a sheet too wide and too tall for one readable page: tiled at this scale
CLIP_SCALE = 0.62  # a clipped sheet's print (`SheetPlan.clip`): its top-left at this scale
CLIP_MIN = 0.55  # ... or down to this one, if that shows every column (MIN_SCALE, with room)
ROW_POINTS = 15.0  # default row height
CHAR_POINTS = 6.0  # an average character of the default font, as text runs over cells


def col_points(chars: float) -> float:
    """A column `chars` characters wide, in points (Excel's 7-pixel digit plus padding)."""
    return (chars * 7 + 5) * 0.75


def print_points(chars: float) -> float:
    """A column `chars` characters wide as printed, in points: the wider of Excel's and
    LibreOffice's (whose PDF export measures a character 6.85 pt, plus 1.1 pt a column:
    fitted to 66 sheets' printed scales, within 4 %), so a page setup fits both."""
    return max(col_points(chars), chars * 6.85 + 1.1)


# Blocks start at column B: column A holds row labels ("filter 0") and keeps blocks off the edge.
FIRST_COL = 2
NOTE_WIDTH = 90  # characters per line of a sheet's note
MAX_ACROSS = 8  # blocks side by side at most


def _across(sheet: SheetPlan, count: int, height: int, width: int, top: int) -> int:
    """How many items (each `height` x `width` cells with its gaps) to put side by side so the
    sheet fits a landscape page at the largest scale; the fewest that reach it. When no
    arrangement fits one page readably, the widest that stays readable across the page (it
    then prints on several pages, broken between rows of items)."""
    col = print_points(sheet.default_width)  # as printed: LibreOffice's are the wider
    page_w, page_h = PAGES["landscape"]
    best, choice, readable = 0.0, 1, 1
    for across in range(1, min(count, MAX_ACROSS) + 1):
        rows = -(-count // across)
        w = print_points(sheet.col_width(1)) + across * width * col
        h = (top + rows * height) * sheet.row_points
        scale = min(1.0, page_w / w, page_h / h)
        if scale > best + 1e-9:
            best, choice = scale, across
        if page_w / w >= MIN_SCALE:
            readable = across
    return choice if best >= MIN_SCALE else readable


def stack(sheet: SheetPlan, blocks: Sequence[Block], *, top: int | None = None,
          left: int = FIRST_COL, groups: Sequence[str] = ()) -> int:
    """Place equally shaped blocks (one per channel) each under its title row, in a grid of
    blocks that wraps so the sheet fits a page (a single column when that fits). With
    `groups` (one label per group of channels), each group starts its own grid row under
    its label, so the groups stand apart. Returns the next free row."""
    row = sheet.first_row if top is None else top
    if not blocks:
        return row
    height, width = blocks[0].shape
    per_band = len(blocks) // len(groups) if groups else 0
    label_rows = 1 if groups else 0
    across = _across(sheet, per_band or len(blocks), height + 2, width + 1, row + label_rows)
    if groups and per_band <= 4:
        across = per_band  # each group on one grid row
    lines = -(-(per_band or len(blocks)) // across)
    tiling = Tiling(len(blocks), across, height + 2, width + 1, per_band,
                    lines * (height + 2) + label_rows)
    first = row + label_rows + 1
    for n, block in enumerate(blocks):
        dr, dc = tiling.offset(n)
        if per_band and n % per_band == 0:
            sheet.labels.append(Label(first + dr - 2, left + dc, groups[n // per_band],
                                      "cs_group"))
        room = (width + 1) * col_points(sheet.default_width)  # up to the next block's title
        fits = [t for t in (block.title, f"{block.name}  ({height}×{width})")
                if t and (across == 1 or len(t) * CHAR_POINTS <= room)]
        text = fits[0] if fits else block.short or block.name
        sheet.labels.append(Label(first + dr - 1, left + dc, text, "cs_title"))
        block.place(sheet.name, first + dr, left + dc)
        block.tiling = tiling
        block.tensor = block.tensor or f"{sheet.name}!{blocks[0].name}"
        sheet.blocks.append(block)
    return first + tiling.offset(len(blocks) - 1)[0] + height + 1


def grid(sheet: SheetPlan, blocks: Sequence[Sequence[Block]], row_labels: Sequence[str], *,
         top: int | None = None, left: int = FIRST_COL) -> int:
    """Place a 2-D arrangement of equally shaped blocks (kernels: one grid line per filter).
    Narrow (1-column) blocks sit side by side with no gap, so 1x1 kernels read as a matrix.
    Lines are labelled in column A; when there are many short lines (depth-wise kernels) they
    wrap side by side, each under its own label. Returns the next free row."""
    height, width = blocks[0][0].shape
    gap = 0 if width == 1 else 1
    row = sheet.first_row if top is None else top
    line_width = len(blocks[0]) * (width + gap) - gap
    across = _across(sheet, len(blocks), height + 3, line_width + 2, row)
    if across == 1:
        tiling = Tiling(len(blocks), 1, height + 2, 0)
        first = row + 1
    else:
        tiling = Tiling(len(blocks), across, height + 3, line_width + 2)
        first = row + 2
    for a, (label, line) in enumerate(zip(row_labels, blocks, strict=True)):
        dr, dc = tiling.offset(a)
        if across == 1:
            sheet.labels.append(Label(first + dr, 1, label, "cs_title"))
        else:
            sheet.labels.append(Label(first + dr - 2, left + dc, label, "cs_group"))
        for k, block in enumerate(line):
            col = left + dc + k * (width + gap)
            text = block.short if width == 1 and block.short else block.title or block.name
            sheet.labels.append(Label(first + dr - 1, col, text, "cs_title"))
            block.place(sheet.name, first + dr, col)
            block.tiling = tiling
            block.tensor = block.tensor or f"{sheet.name}!{blocks[0][0].name}"
            sheet.blocks.append(block)
    return first + tiling.offset(len(blocks) - 1)[0] + height + 1


def row_block(sheet: SheetPlan, block: Block, *, top: int, left: int = FIRST_COL) -> int:
    """Place a single block (e.g. the bias row) under its title. Returns the next free row."""
    sheet.labels.append(Label(top, left, block.title or block.name, "cs_title"))
    block.place(sheet.name, top + 1, left)
    sheet.blocks.append(block)
    return top + block.shape[0] + 2
