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


class Content(Protocol):
    """What fills a block: produces its rows, top to bottom, once the block is placed."""

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
    scale: str = ""  # colour scale: "" purple-green, "grey", "red"/"green"/"blue", "diverging"
    validation: tuple[int, int] | None = None  # whole numbers allowed (explorer selection)
    public: bool = True  # has a workbook-scope defined name (an exercise's key has none)
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


@dataclass
class Label:
    """A piece of text (or a fixed value) on a sheet, with a style name."""

    row: int
    col: int
    value: object
    style: str = "cs_label"


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
        return max(rows, default=1)

    @property
    def max_col(self) -> int:
        cols = [b.right for b in self.blocks] + [lab.col for lab in self.labels]
        return max(cols, default=1)


# Blocks start at column B: column A holds row labels ("filter 0") and keeps blocks off the edge.
FIRST_COL = 2
NOTE_WIDTH = 90  # characters per line of a sheet's note


def stack(sheet: SheetPlan, blocks: Sequence[Block], *, top: int | None = None,
          left: int = FIRST_COL) -> int:
    """Place blocks one under another, each under a title row, one blank row between.
    Returns the next free row."""
    row = sheet.first_row if top is None else top
    for block in blocks:
        sheet.labels.append(Label(row, left, block.title or block.name, "cs_title"))
        block.place(sheet.name, row + 1, left)
        sheet.blocks.append(block)
        row += block.shape[0] + 2
    return row


def grid(sheet: SheetPlan, blocks: Sequence[Sequence[Block]], row_labels: Sequence[str], *,
         top: int | None = None, left: int = FIRST_COL) -> int:
    """Place a 2-D arrangement of equally shaped blocks (kernels: one grid row per filter).
    Narrow (1-column) blocks sit side by side with no gap, so 1x1 kernels read as a matrix.
    Returns the next free row."""
    height, width = blocks[0][0].shape
    gap = 0 if width == 1 else 1
    row = sheet.first_row if top is None else top
    for label, line in zip(row_labels, blocks, strict=True):
        sheet.labels.append(Label(row + 1, 1, label, "cs_title"))
        for k, block in enumerate(line):
            col = left + k * (width + gap)
            text = block.short if width == 1 and block.short else block.title or block.name
            sheet.labels.append(Label(row, col, text, "cs_title"))
            block.place(sheet.name, row + 1, col)
            sheet.blocks.append(block)
        row += height + 2
    return row


def row_block(sheet: SheetPlan, block: Block, *, top: int, left: int = FIRST_COL) -> int:
    """Place a single block (e.g. the bias row) under its title. Returns the next free row."""
    return stack(sheet, [block], top=top, left=left)
