"""openpyxl rendering of a `Plan`: rows, styles, colour scales, defined names, metadata.

One writer mode for every size: openpyxl's `write_only` streams each sheet row by row, so a
ResNet stem and a 5x5 toy go through the same code and produce the same kind of file. Styles are
a handful of named styles (editable, structural zeros, titles); formula cells carry none, and
each computed block gets one colour-scale conditional format.

Output is reproducible: fixed document timestamps and zip entry times, so the same arguments
give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape

import numpy as np
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.formatting.rule import ColorScaleRule, DataBarRule, FormulaRule
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.workbook.properties import CalcProperties
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.dimensions import ColumnDimension
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.writer.excel import ExcelWriter

from ._version import __version__
from .layout import ANSWER, COMPUTED, EDIT, PARAM, Block, SheetPlan, Styled, col_letter
from .plan import Plan
from .stages import Gather, Values, Zero

GENERATOR = "convsheets"  # document creator: how a build recognises a file it may replace
MAX_METADATA_BYTES = 16_000_000  # a larger metadata part is not ours (untrusted files)
METADATA_KEY = "convsheets"  # custom document property holding the layer as JSON
FIXED_TIME = dt.datetime(2024, 1, 1, 0, 0, 0)
ZIP_TIME = (2024, 1, 1, 0, 0, 0)
_MAX_CF_RANGES = 400  # beyond this, a block's colour scale covers it whole

_THIN = Side(style="thin", color="BFBFBF")
# The explorer's (and scatter's) pick: magenta, a hue no structural cell (padding grey, inserted
# zeros orange, holes blue, editable yellow), colour scale or answer frame uses, with a dark
# frame that still tells it apart in a grey-scale print.
_HIGHLIGHT_FILL = PatternFill("solid", fgColor="FF66FF", bgColor="FF66FF")
_LIT_FILL = PatternFill("solid", fgColor="FFB347", bgColor="FFB347")  # receptive field: orange
_THICK = Side(style="medium", color="000000")
_HIGHLIGHT_BORDER = Border(_THICK, _THICK, _THICK, _THICK)
# the Walk's output cells: done (shaded as conv_arithmetic's output), not yet (no text shown)
_SHADES: dict[str, dict[str, object]] = {
    "done": {"fill": PatternFill("solid", fgColor="BDE5F8", bgColor="BDE5F8")},
    "hidden": {"font": Font(color="FFFFFF")},
}
_ANSWER_SIDE = Side(style="medium", color="2E75B6")


def _styles(number_format: str) -> list[NamedStyle]:
    def style(name: str, fill: str | None, font: Font, border: bool = False,
              fmt: str = "General") -> NamedStyle:
        return NamedStyle(
            name=name, font=font,
            fill=PatternFill("solid", fgColor=fill) if fill else PatternFill(),
            border=Border(_THIN, _THIN, _THIN, _THIN) if border else Border(),
            number_format=fmt, alignment=Alignment(horizontal="center") if border else
            Alignment())

    return [
        style("cs_edit", "FFF2CC", Font(bold=True, color="1F4E79"), True, number_format),
        style("cs_computed", None, Font(color="000000"), True, number_format),
        style("cs_pad", "D9D9D9", Font(color="7F7F7F", italic=True), True),
        style("cs_insert", "FBE2D5", Font(color="C55A11", italic=True), True),
        style("cs_hole", "DDEBF7", Font(color="2E75B6", italic=True), True),
        style("cs_struct", "EDEDED", Font(color="A6A6A6"), True),
        style("cs_cropped", "F2F2F2", Font(color="A6A6A6"), True, number_format),
        style("cs_param", "EDEDED", Font(bold=True), True),
        style("cs_count", None, Font(color="000000"), True, "#,##0"),
        style("cs_ratio", None, Font(color="000000"), True, "0.00"),
        style("cs_title", None, Font(bold=True)),
        style("cs_group", None, Font(bold=True, color="1F4E79")),
        style("cs_heading", None, Font(bold=True, size=14)),
        style("cs_label", None, Font()),
        style("cs_note", None, Font(italic=True, color="595959")),
    ]


def _mirror_style(number_format: str) -> NamedStyle:
    """Padding that repeats input cells (a conv's padding_mode reflect, replicate, circular):
    a formula like the rest, in its own colour. Added only to workbooks that use it, so the
    others keep their bytes."""
    return NamedStyle(name="cs_mirror", font=Font(color="5B3F86", italic=True),
                      fill=PatternFill("solid", fgColor="E4DFEC"),
                      border=Border(_THIN, _THIN, _THIN, _THIN), number_format=number_format,
                      alignment=Alignment(horizontal="center"))


def _exercise_styles(number_format: str) -> list[NamedStyle]:
    """An exercise's answer cells (white, a blue frame) and its self-check marks."""
    answer = NamedStyle(name="cs_answer", font=Font(bold=True, color="000000"),
                        fill=PatternFill("solid", fgColor="FFFFFF"),
                        border=Border(_ANSWER_SIDE, _ANSWER_SIDE, _ANSWER_SIDE, _ANSWER_SIDE),
                        number_format=number_format, alignment=Alignment(horizontal="center"))
    answer.protection.locked = False
    check = NamedStyle(name="cs_check", font=Font(bold=True, color="595959"),
                       border=Border(_THIN, _THIN, _THIN, _THIN),
                       alignment=Alignment(horizontal="center"))
    title = NamedStyle(name="cs_answer_title", font=Font(bold=True, color="2E75B6"))
    return [answer, check, title]


@dataclass
class RenderStats:
    cells: int = 0
    formulas: int = 0


class _FixedTimeZip(zipfile.ZipFile):
    """A ZipFile whose entries all carry one fixed timestamp: same content, same bytes.

    It also stores formula values: openpyxl's write-only writer can only write an empty value
    after each formula (``</f><v></v>``); while a worksheet is streamed into the archive, each
    of those, in document order, receives the value the sheet's writer recorded for it."""

    stored: dict[str, _Sink] = {}  # worksheet part -> its formulas' values, in document order

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):  # type: ignore[override]
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            zinfo_or_arcname = self._info(zinfo_or_arcname)
        if zinfo_or_arcname.filename == "docProps/custom.xml":
            data = _portable_custom_xml(data)
        super().writestr(zinfo_or_arcname, data)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):  # type: ignore[override]
        # Streams the file (a worksheet written to a temporary file) without loading it whole.
        name = str(arcname or filename)
        values = self.stored.get(name)
        with open(filename, "rb") as src, self.open(self._info(name), "w",
                                                   force_zip64=True) as dst:
            if values is None:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
                return
            _fill_values(src, dst, values, name)

    @staticmethod
    def _info(name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(str(name), date_time=ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        return info


_VT = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
_CUSTOM = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"


def _portable_custom_xml(data: bytes | str) -> bytes:
    """Declare the `vt` namespace on the root element, as Excel does. openpyxl (with lxml)
    declares it on each value instead, and Gnumeric then drops every custom property, which
    would strip our metadata from a workbook saved in Gnumeric."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    text = text.replace(f' xmlns:vt="{_VT}"', "")
    text = text.replace(f'<Properties xmlns="{_CUSTOM}">',
                        f'<Properties xmlns="{_CUSTOM}" xmlns:vt="{_VT}">', 1)
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + text).encode("utf-8")


_EMPTY_VALUE = b"</f><v></v>"
_CELL = b"<c "


@dataclass
class _Sink:
    """One worksheet's formula values in document order: numbers, and the text of the
    formulas whose value is text (by their position; their number is NaN)."""

    numbers: array = field(default_factory=lambda: array("d"))
    texts: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.numbers)


def _fill_values(src: IO[bytes], dst: IO[bytes], values: _Sink, part: str) -> None:
    """Copy a worksheet, giving the n-th formula the n-th value: a number, or a text result
    (`t="str"` on its cell, as Excel writes a formula that shows text, so every viewer shows
    it without recalculating). Formula and label text is XML-escaped, so neither the marker
    nor a cell's opening tag can occur inside any text."""
    buffer = b""
    n = 0
    while chunk := src.read(1 << 20):
        pieces = (buffer + chunk).split(_EMPTY_VALUE)
        out = []
        for piece in pieces[:-1]:
            value = values.numbers[n]
            if value != value:  # text: mark the cell (its opening tag is in this piece)
                start = piece.rfind(_CELL)
                if start < 0:
                    raise AssertionError(f"{part}: formula {n} has no cell tag before it")
                end = piece.index(b">", start)
                if piece[end - 1:end] == b"/":
                    raise AssertionError(f"{part}: formula {n} in an empty cell tag")
                text = escape(values.texts.get(n, "")).encode("utf-8")
                out += [piece[:end], b' t="str"', piece[end:], b"</f><v>", text, b"</v>"]
            else:
                out += [piece, b"</f><v>", _number(value), b"</v>"]
            n += 1
        last = pieces[-1]
        # keep back the last cell's opening tag (its formula's marker may be in the next
        # chunk) or, with no tag, the bytes a marker split by the boundary starts in
        cut = last.rfind(_CELL)
        if cut < 0:
            cut = max(0, len(last) - (len(_EMPTY_VALUE) - 1))
        out.append(last[:cut])
        buffer = last[cut:]
        dst.write(b"".join(out))
    dst.write(buffer)
    if n != len(values):
        raise AssertionError(f"{part}: {n} formulas but {len(values)} stored values")


def _number(value: float) -> bytes:
    """How a spreadsheet stores a number: whole numbers without a decimal point, the rest as
    the shortest text that reads back as the same double."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value)).encode()
    return repr(value).encode()


def render(plan: Plan, out: IO[bytes] | Path,
           progress: Callable[[int], None] | None = None,
           stored: dict[str, np.ndarray] | None = None) -> RenderStats:
    """Write `plan` as an .xlsx to `out` (a path or a binary file object).

    `stored` holds the value of every computed block by name (`expected.stored_values`): each
    formula is written with its value, so the file shows its numbers without a recalculation;
    NaN marks a cell whose value is text, which `stored.texts` (by block name, an object
    array) gives ("" when it has none).
    `progress(n)` is called with the number of rows just written, for progress bars."""
    values = plan.network.values
    wb = Workbook(write_only=True)
    number_format = "General" if values == "integers" else "0.000"
    for style in _styles(number_format):
        wb.add_named_style(style)
    if any(layer.op.zero_styles(layer.in_shape) & {"cs_mirror"}
           for layer in plan.network.layers):
        wb.add_named_style(_mirror_style(number_format))
    if plan.exercise is not None:
        for style in _exercise_styles(number_format):
            wb.add_named_style(style)
    stats = RenderStats()
    formats = number_formats(plan, stored, number_format) if stored is not None else {}
    for sheet in plan.sheets:  # (the widths are final: a view larger than a page is clipped)
        sheet.finish_clip()
    parts: dict[str, _Sink] = {}
    try:
        for n, sheet in enumerate(plan.sheets, 1):
            ws = wb.create_sheet(sheet.name)
            sink = _Sink() if stored is not None else None
            _write_sheet(ws, sheet, stats, progress, style_formulas=values != "integers",
                         stored=stored, sink=sink, colour_scale=plan.colour_scale,
                         formats=formats)
            if sink is not None:
                parts[f"xl/worksheets/sheet{n}.xml"] = sink
    except BaseException:
        _discard(wb)
        raise
    for block in plan.blocks():
        if not block.public:
            continue
        for name in (block.name, *block.aliases):
            wb.defined_names[name] = DefinedName(name, attr_text=block.area())
    _metadata(wb, plan, stored=stored is not None)
    if stored is not None:
        # The values are stored: an application shows them at once and recalculates only
        # what an edit touches (no full recalculation on load).
        wb.calculation = CalcProperties(calcId=191029, fullCalcOnLoad=False)
    archive = _FixedTimeZip(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
    archive.stored = parts
    ExcelWriter(wb, archive).save()
    return stats


def _discard(wb: Workbook) -> None:
    """Close the half-written sheets' row writers now, while their temporary files are still
    open, instead of at interpreter exit (where they would print an ignored-exception trace)."""
    for ws in wb.worksheets:
        rows = getattr(ws, "_rows", None)
        if rows is not None:
            try:
                rows.close()
            except Exception:  # noqa: BLE001 - the build is being abandoned anyway
                pass


def _write_sheet(ws, sheet: SheetPlan, stats: RenderStats,
                 progress: Callable[[int], None] | None, style_formulas: bool,
                 stored: dict[str, np.ndarray] | None = None,
                 sink: _Sink | None = None, colour_scale: str = "block",
                 formats: dict[str, str] | None = None) -> None:
    # every column up to the print area's last (text runs over into the columns right of
    # the blocks): those the file leaves out take the application's default width, which
    # the page setup did not count on
    max_col = max(sheet.max_col, sheet.print_extent()[0])
    _page_setup(ws, sheet)
    ws.column_dimensions["A"] = ColumnDimension(ws, index="A", width=sheet.col_width(1))
    for col in range(2, max_col + 1):
        hidden = sheet.hidden_from is not None and col >= sheet.hidden_from
        ws.column_dimensions[col_letter(col)] = ColumnDimension(
            ws, index=col_letter(col), width=sheet.col_width(col), hidden=hidden)
    if sheet.zoom:
        ws.sheet_view.zoomScale = sheet.zoom
    if sheet.hidden:
        ws.sheet_state = "hidden"
    if sheet.protected:
        ws.protection.sheet = True
    if sheet.row_height:
        ws.sheet_format.defaultRowHeight = sheet.row_height
        ws.sheet_format.customHeight = True
    for block in sheet.blocks:
        if block.validation is not None:
            low, high = block.validation
            rule = DataValidation(type="whole", operator="between", formula1=str(low),
                                  formula2=str(high), allow_blank=True, showErrorMessage=True,
                                  errorTitle="Out of range",
                                  error=f"A whole number from {low} to {high} (0-based).")
            rule.add(block.area(from_sheet=block.sheet))
            ws.data_validations.append(rule)
    for line in sheet.note_lines:
        note = WriteOnlyCell(ws, line)
        note.style = "cs_note"
        ws.append([note])
    if sheet.note:
        ws.append([])
    first = sheet.first_row
    pending = 0
    for row in _rows(ws, sheet, first, stats, style_formulas, stored, sink, formats or {}):
        ws.append(row)
        pending += 1
        if progress is not None and pending >= 512:
            progress(pending)
            pending = 0
    if progress is not None and pending:
        progress(pending)
    for block in sheet.blocks:  # highlights first: they outrank the colour scales
        for formula in block.highlights:
            ws.conditional_formatting.add(block.area(from_sheet=block.sheet), FormulaRule(
                formula=[formula], fill=_HIGHLIGHT_FILL, font=Font(bold=True),
                border=_HIGHLIGHT_BORDER))
    for block in sheet.blocks:  # a bar as long as the value, from 0 (empty) to 1 (full)
        if block.data_bar:
            ws.conditional_formatting.add(block.area(from_sheet=block.sheet), DataBarRule(
                start_type="num", start_value=0, end_type="num", end_value=1,
                color=DATA_BAR, showValue=True, minLength=0, maxLength=100))
    for block in sheet.blocks:  # the receptive field: below the explorer's own highlight
        for formula in block.lit:
            ws.conditional_formatting.add(block.area(from_sheet=block.sheet), FormulaRule(
                formula=[formula], fill=_LIT_FILL, font=Font(bold=True)))
        for formula, look in block.shades:
            ws.conditional_formatting.add(block.area(from_sheet=block.sheet), FormulaRule(
                formula=[formula], **_SHADES[look]))
    scaled: dict[tuple[str, str], list[str]] = {}
    signs: dict[tuple[str, str], list[float]] = {}
    for block in sheet.blocks:
        if block.colour_scale and (block.kind == COMPUTED or block.scale):
            key = block.tensor if colour_scale == "tensor" and block.tensor else block.name
            scaled.setdefault((key, block.scale), []).extend(_value_ranges(block))
            values = stored.get(block.name) if stored is not None else None
            if values is not None and np.isfinite(values).any():
                bounds = signs.setdefault((key, block.scale), [np.inf, -np.inf])
                bounds[0] = min(bounds[0], float(np.nanmin(values)))
                bounds[1] = max(bounds[1], float(np.nanmax(values)))
    for (key, scale), ranges in scaled.items():  # one rule over several ranges: one scale
        low, high = signs.get((key, scale), (-1.0, 1.0))
        ws.conditional_formatting.add(" ".join(ranges), _colour_scale(scale, low, high))


PAGE_FOOTER = "&A · page &P of &N"  # render.py finds each page's sheet by this footer


def _page_setup(ws, sheet: SheetPlan) -> None:
    """Printing and PDF export: the sheet's own page setup (layout.SheetPlan.page_setup: one
    page when readable, else breaks between blocks), small margins, the sheet's name and the
    page number in the footer."""
    if sheet.hidden:  # (an exercise's metadata copy) never printed, nor counted in "of N":
        # its print area is one empty cell below its text (beside it, the text would flow
        # into it), a page LibreOffice and Excel leave out
        ws.print_area = f"A{sheet.max_row + 2}"
        return
    setup = sheet.page_setup()
    ws.page_setup.orientation = setup.orientation
    if setup.fit:
        ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
        ws.page_setup.fitToWidth = setup.pages_wide
        ws.page_setup.fitToHeight = 1
    else:  # a fixed scale (Excel ignores page breaks on a sheet fitted to pages)
        if setup.fit_width:
            ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
            ws.page_setup.fitToWidth = 1
            ws.page_setup.fitToHeight = 0
        else:
            ws.page_setup.scale = setup.scale
        for row in setup.breaks:
            ws.row_breaks.append(Break(id=row))
        for col in setup.col_breaks:
            ws.col_breaks.append(Break(id=col))
        if setup.title_rows:
            ws.print_title_rows = f"1:{setup.title_rows}"
    ws.print_area = setup.area
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.5, bottom=0.6, header=0.2,
                                  footer=0.25)
    ws.oddFooter.center.text = PAGE_FOOTER
    ws.oddFooter.center.size = 8


_SCALE_ENDS = {"grey": "595959", "red": "FF0000", "green": "00B050", "blue": "0070C0"}
NEGATIVE, ZERO, POSITIVE = "B4A7D6", "FFFFFF", "93C47D"  # every computed block's scale
DATA_BAR = "6FA8DC"  # the probabilities' bars (a blue apart from the colour scale's hues)


def _colour_scale(kind: str = "", low: float = -1.0, high: float = 1.0) -> ColorScaleRule:
    """One scale for every computed block of every sheet (convolution outputs, ReLU,
    pooling, stages and views alike): purple below 0, white at 0, green above, so a zero
    always reads as nothing and a sign as a hue; blocks that hold no negative value (`low`,
    `high`: the values the file stores) go from white at 0 to green, none positive from
    purple to white. A picture's channels: grey from dark (low) to white (high), or a
    colour channel from black at 0 to the channel's colour at 255, so an RGB picture's three
    blocks look like its three channels."""
    if kind == "grey":
        return ColorScaleRule(start_type="min", start_color=_SCALE_ENDS[kind],
                              end_type="max", end_color="FFFFFF")
    if kind in _SCALE_ENDS:
        return ColorScaleRule(start_type="num", start_value=0, start_color="000000",
                              end_type="num", end_value=255, end_color=_SCALE_ENDS[kind])
    if low >= 0:
        return ColorScaleRule(start_type="num", start_value=0, start_color=ZERO,
                              end_type="max", end_color=POSITIVE)
    if high <= 0:
        return ColorScaleRule(start_type="min", start_color=NEGATIVE, end_type="num",
                              end_value=0, end_color=ZERO)
    return ColorScaleRule(start_type="min", start_color=NEGATIVE, mid_type="num",
                          mid_value=0, mid_color=ZERO, end_type="max", end_color=POSITIVE)


def _rows(ws, sheet: SheetPlan, first: int, stats: RenderStats,
          style_formulas: bool, stored: dict[str, np.ndarray] | None = None,
          sink: _Sink | None = None, formats: dict[str, str] | None = None,
          ) -> Iterator[list[object]]:
    """Merge the rows of every block and label into sheet rows, top to bottom.

    Formula cells carry no style (the block's colour scale serves) unless `style_formulas`:
    fractional values need a fixed number format (General both reads badly and, next to a
    colour scale, makes LibreOffice's PDF export of a never-calculated file fail)."""
    pieces: list[tuple[int, int, int, Iterator[list[object]], str | None,
                       Iterator[np.ndarray] | None, str | None]] = []
    formats = formats or {}
    for block in sheet.blocks:
        style = _block_style(block, style_formulas)
        fmt = formats.get(block.name)
        if fmt is not None and style is None:
            style = "cs_computed"  # (a fraction needs its number format: a styled cell)
        known = None
        if block.kind == COMPUTED and sink is not None:
            if stored is None or block.name not in stored:
                raise AssertionError(f"no stored value for block {block.name}")
            texts = getattr(stored, "texts", {}).get(block.name)
            known = zip(stored[block.name], texts if texts is not None else
                        _no_texts(block.shape), strict=True)
        pieces.append((block.top, block.bottom, block.left, block.content.rows(block), style,
                       known, fmt))
    for label in sheet.labels:
        if isinstance(label.value, str) and label.value.startswith("="):
            raise AssertionError(f"sheet {sheet.name}: the label {label.value!r} would be "
                                 "written as a formula")
        pieces.append((label.row, label.row, label.col, iter([[label.value]]), label.style,
                       None, None))
    pieces.sort(key=lambda p: (p[0], p[2]))
    if not pieces:
        return
    last = max(p[1] for p in pieces)
    if pieces[0][0] < first:
        raise AssertionError(f"sheet {sheet.name}: content above row {first}")
    active: list[tuple[int, int, int, Iterator[list[object]], str | None,
                       Iterator[np.ndarray] | None, str | None]] = []
    nxt = 0
    for r in range(first, last + 1):
        while nxt < len(pieces) and pieces[nxt][0] == r:
            active.append(pieces[nxt])
            nxt += 1
        if not active:
            yield []
            continue
        active.sort(key=lambda p: p[2])
        row: list[object] = []
        for _top, _bottom, left, rows, style, known, fmt in active:
            values = next(rows)
            if known is not None:
                _record(values, next(known), sink)  # type: ignore[arg-type]
            if len(row) < left - 1:
                row.extend([None] * (left - 1 - len(row)))
            elif len(row) > left - 1:
                raise AssertionError(f"sheet {sheet.name}: overlapping content in row {r}")
            row.extend(_cells(ws, values, style, stats, fmt))
        active = [p for p in active if p[1] > r]
        yield row


def _block_style(block: Block, style_formulas: bool) -> str | None:
    """The named style a block's cells carry (None: unstyled formula cells)."""
    style = {EDIT: "cs_edit", PARAM: "cs_param", ANSWER: "cs_answer"}.get(block.kind)
    if block.kind == COMPUTED and (block.shape == (1, 1) or style_formulas):
        style = "cs_computed"
    return block.style or style


MAX_PLACES = 4  # a value with at most this many decimals is shown in full
ROUNDED_PLACES = 3  # decimals shown of a block whose values have more than MAX_PLACES
_STYLE_FORMATS = {"cs_count": "#,##0", "cs_ratio": "0.00"}  # styles with a format of their own
ROUNDING_NOTE = (f"Numbers: a value with at most {MAX_PLACES} decimals is shown in full; a "
                 f"longer one (an average over 9 cells, normal random values) is shown rounded "
                 f"to {ROUNDED_PLACES} or {MAX_PLACES} decimals, one of 10^15 or more (a "
                 "loss that overshoots) in scientific notation: the cell holds the exact "
                 "value (select it, or widen the column, to see more).")
HUGE = 1e15  # a spreadsheet shows 15 significant digits: beyond, fixed decimals say nothing
SCIENTIFIC = "0.000E+00"


def decimals(values: np.ndarray) -> tuple[int, bool]:
    """(the decimals that show every value of at most MAX_PLACES decimals in full, whether
    some value has more and is shown rounded)."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    need = np.full(v.shape, MAX_PLACES + 1)
    for places in range(MAX_PLACES, -1, -1):
        need[np.abs(np.round(v, places) - v) <= 1e-12 * np.maximum(1.0, np.abs(v))] = places
    exact = need <= MAX_PLACES
    places = int(need[exact].max(initial=0))
    rounded = bool((~exact).any())
    return (max(places, ROUNDED_PLACES) if rounded else places), rounded


def shown_text(value: float, fmt: str) -> str:
    """A number as a cell with format `fmt` shows it (the formats `number_formats` uses;
    General only for whole numbers)."""
    if fmt == SCIENTIFIC:
        return f"{value:.3E}"
    grouped = fmt.startswith("#,##")
    places = len(fmt.split(".")[1]) if "." in fmt else 0
    if fmt == "General":
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    text = f"{value:,.{places}f}" if grouped else f"{value:.{places}f}"
    return "0" if text in ("-0", "") else text


def number_formats(plan: Plan, stored: dict[str, np.ndarray],
                   default: str) -> dict[str, str]:
    """A number format per block, chosen from the values it holds (and, for a view that
    follows a selection, those it may show: `stored.shows`): enough fixed decimals to show
    each value of at most MAX_PLACES decimals in full; and every column wide enough for the
    text. Returns only the formats that differ from the block's style's own."""
    shows = getattr(stored, "shows", {})
    formats: dict[str, str] = {}
    for sheet in plan.sheets:
        for block in sheet.blocks:
            if block.kind == COMPUTED:
                if block.name not in stored:
                    continue
                values = np.asarray(stored[block.name], dtype=float)
            elif isinstance(block.content, Values) and block.kind in (EDIT, PARAM):
                values = np.array([[np.nan if v is None else v for v in row]
                                   for row in block.content.array.tolist()], dtype=float)
            else:
                continue
            if block.name in shows:
                values = np.concatenate([values.ravel(), shows[block.name]])
            style = _block_style(block, plan.network.values != "integers")
            own = _STYLE_FORMATS.get(style or "", default if style in (
                "cs_edit", "cs_computed", "cs_answer") else "General")
            places, _rounded = decimals(values)
            fmt = own
            if np.any(np.abs(values[np.isfinite(values)]) >= HUGE):
                fmt = SCIENTIFIC  # (not 118 digits of 1.2E+117 in a column as wide)
            elif places:
                fmt = ("#,##0." if own.startswith("#,##") else "0.") + "0" * places
            elif own not in ("General", "#,##0"):
                fmt = "0"
            if fmt != own:
                formats[block.name] = fmt
            finite = values[np.isfinite(values)]
            if finite.size:
                width = max(len(shown_text(float(v), fmt if fmt != "General" else "0"))
                            for v in (finite.min(), finite.max())) + 1.5
                if style == "cs_heading":  # bold 14 pt: about 1.5 times as wide as 10 pt
                    width *= 1.5
                for col in range(block.left, block.right + 1):
                    if sheet.col_width(col) < width:
                        sheet.widths[col] = width
    return formats


def _no_texts(shape: tuple[int, int]) -> Iterator[list[str]]:
    for _ in range(shape[0]):
        yield [""] * shape[1]


def _record(values: list[object], known: tuple[np.ndarray, Sequence[object]],
            sink: _Sink) -> None:
    """Append the value of every formula of one block row, in the order it is written (NaN,
    a cell that shows text, with its text)."""
    numbers, texts = known
    for j, v in enumerate(values):
        if isinstance(v, Styled):
            v = v.value
        if isinstance(v, str) and v.startswith("="):
            value = float(numbers[j])
            if value != value:
                sink.texts[len(sink.numbers)] = str(texts[j])
            sink.numbers.append(value)


def _cells(ws, values: list[object], style: str | None, stats: RenderStats,
           fmt: str | None = None) -> list[object]:
    stats.cells += len(values)
    if style is None:
        out: list[object] = []
        for v in values:
            if isinstance(v, Styled):
                cell = WriteOnlyCell(ws, v.value)
                cell.style = v.style
                stats.formulas += isinstance(v.value, str) and v.value.startswith("=")
                out.append(cell)
            elif isinstance(v, Zero):
                cell = WriteOnlyCell(ws, 0)
                cell.style = v.style
                out.append(cell)
            else:
                if isinstance(v, str) and v.startswith("="):
                    stats.formulas += 1
                out.append(v)
        return out
    cells = []
    for v in values:
        own = v.style if isinstance(v, (Zero, Styled)) else None
        if isinstance(v, Styled):
            v = v.value
        cell = WriteOnlyCell(ws, 0 if isinstance(v, Zero) else v)
        cell.style = own or style
        if fmt is not None and not isinstance(v, Zero):
            cell.number_format = fmt
        if isinstance(v, str) and v.startswith("="):
            stats.formulas += 1
        cells.append(cell)
    return cells


def _value_ranges(block: Block) -> list[str]:
    """The block's cells that hold real values (structural zeros excluded), as few rectangles
    as possible, so the colour scale is not washed out by padding."""
    content = block.content
    inside = getattr(content, "scaled", None)  # a content that says which cells are values
    if inside is not None:
        return [block.range(*rect, absolute=False, from_sheet=block.sheet)
                for rect in inside(block)]
    if not isinstance(content, Gather):
        return [block.area(from_sheet=block.sheet)]
    rows = [i for i, r in enumerate(content.row_map) if not isinstance(r, Zero)]
    cols = [j for j, c in enumerate(content.col_map) if not isinstance(c, Zero)]
    row_runs, col_runs = _runs(rows), _runs(cols)
    if len(row_runs) * len(col_runs) > _MAX_CF_RANGES:
        return [block.area(from_sheet=block.sheet)]
    return [block.range(r0, c0, r1 - r0 + 1, c1 - c0 + 1, absolute=False,
                        from_sheet=block.sheet)
            for r0, r1 in row_runs for c0, c1 in col_runs]


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def metadata_json(plan: Plan, stored: bool) -> str:
    """The metadata record as JSON: the custom property's value (and, in an exercise, the
    text of its hidden metadata sheet)."""
    record: dict[str, object] = {"generator": GENERATOR, "version": __version__,
                                 "views": sorted(plan.views), "stored_values": stored,
                                 "colour_scale": plan.colour_scale, **plan.network.record()}
    # what every named block means (role, layer, kind, key, index): the features that read a
    # workbook select blocks by these, never by the spelling of their names
    record["blocks"] = {block.name: block.meaning.record() for block in plan.blocks()
                        if block.public and block.meaning is not None}
    if plan.all_views:  # (recorded only when given: a default build's record is unchanged)
        record["all_views"] = True
    if plan.exercise is not None:
        record["exercise"] = plan.exercise
    return json.dumps(record, sort_keys=True)


def _metadata(wb: Workbook, plan: Plan, stored: bool) -> None:
    """Record the computation machine-readably (custom property) and mark the file as ours.

    A variant's workbook records its flat request ("layer", format 1, as the first release
    did: the variant's preset rebuilds its layers); a network's records every layer, its op,
    options and names ("network", format 2)."""
    network, spec = plan.network, plan.spec
    described = spec.as_options() if spec is not None else network.as_options()
    wb.custom_doc_props.append(StringProperty(name=METADATA_KEY,
                                              value=metadata_json(plan, stored)))
    props = wb.properties
    props.creator = GENERATOR
    props.lastModifiedBy = GENERATOR
    props.title = (f"{spec.variant} convolution (convsheets)" if spec is not None else
                   f"a network of {len(network.layers)} layers (convsheets)")
    props.subject = "CNN convolution computed by live spreadsheet formulas"
    props.keywords = "convsheets"
    props.description = json.dumps(described, sort_keys=True)
    props.created = FIXED_TIME
    props.modified = FIXED_TIME
