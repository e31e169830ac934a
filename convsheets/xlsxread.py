"""Streaming, defensive reader for the cell values of .xlsx workbooks.

Why not openpyxl: `convsheets verify` reads workbooks that a spreadsheet application has
just recalculated, often with a million formula cells. openpyxl builds a Python object per
cell (slow, memory hungry) and trusts its input. This module streams each worksheet part
through expat straight into flat arrays and only then builds dense NumPy arrays, so a
million numeric cells take a few seconds.

Why defensive: the files come from outside (another application, a user's disk), so every
failure mode -- not a zip, corrupt zip, missing parts, zip bombs, DTD/entity tricks, absurd
cell addresses -- ends in a one-line `WorkbookReadError` that tells the user what to do,
never a traceback, a hang or an out-of-memory kill. Files are opened read-only.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote
from xml.parsers import expat

import numpy as np
from openpyxl.utils.cell import get_column_letter

from .errors import WorkbookReadError, one_line

__all__ = [
    "KIND_BOOL",
    "KIND_EMPTY",
    "KIND_ERROR",
    "KIND_NO_CACHED_VALUE",
    "KIND_NUMBER",
    "KIND_STRING",
    "SheetCells",
    "WorkbookReadError",
    "XlsxFile",
    "cell_address",
    "col_index",
    "col_letter",
    "parse_ref",
]

# Cell kind codes stored in SheetCells.kind.
KIND_EMPTY = 0
KIND_NUMBER = 1
KIND_STRING = 2
KIND_BOOL = 3
KIND_ERROR = 4
KIND_NO_CACHED_VALUE = 5  # a formula that nobody has calculated yet (e.g. written by openpyxl)

MAX_ROW = 1_048_576  # Excel's sheet limits; anything beyond is a corrupt or hostile file
MAX_COL = 16_384

# Zip-bomb guards. A legitimate million-cell sheet is a few hundred MB of XML and deflates
# at ratios of 5-50; classic deflate bombs sit near the format's maximum of ~1030.
MAX_MEMBER_BYTES = 2 * 1024**3
MAX_SMALL_PART_BYTES = 64 * 1024**2  # workbook.xml, rels, docProps: never legitimately huge
MAX_COMPRESSION_RATIO = 400
RATIO_CHECK_MIN_BYTES = 1024**2  # tiny members can have silly ratios harmlessly
# Dense arrays are allocated over the used range; cap it so a single cell at XFD1048576
# cannot make us allocate 17 billion cells.
DEFAULT_MAX_CELLS = 50_000_000
MAX_XML_DEPTH = 100
_CHUNK = 1 << 20

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# Namespaces: transitional (what everybody writes) and strict ISO 29500 (rare, but legal).
_NS_MAIN = (
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "http://purl.oclc.org/ooxml/spreadsheetml/main",
)
_NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_REL_OFFICE_DOC = "/officeDocument"
_REL_CORE = "/metadata/core-properties"
_REL_CUSTOM = "/custom-properties"


def col_letter(n: int) -> str:
    """1 -> 'A', 27 -> 'AA'. Raises ValueError outside 1..16384 (Excel's column range)."""
    if not 1 <= n <= MAX_COL:
        raise ValueError(f"column number {n} is outside 1..{MAX_COL}")
    return get_column_letter(n)


def col_index(letters: str) -> int:
    """'A' -> 1, 'aa' -> 27. Raises ValueError for anything that is not a column in A..XFD."""
    if not 1 <= len(letters) <= 3 or not letters.isascii() or not letters.isalpha():
        raise ValueError(f"invalid column letters {letters!r}")
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    if n > MAX_COL:
        raise ValueError(f"column {letters!r} is beyond XFD")
    return n


def cell_address(row: int, col: int) -> str:
    """(3, 2) -> 'B3', for messages."""
    return f"{col_letter(col)}{row}"


_SHEET_PART = r"(?:'(?P<q{n}>(?:[^']|'')+)'|(?P<u{n}>[^'!:,;\s()\[\]*?/\\]+))"
_REF_RE = re.compile(
    rf"^{_SHEET_PART.format(n=1)}!\$?(?P<c0>[A-Za-z]{{1,3}})\$?(?P<r0>[0-9]{{1,7}})"
    rf"(?::(?:{_SHEET_PART.format(n=2)}!)?\$?(?P<c1>[A-Za-z]{{1,3}})\$?(?P<r1>[0-9]{{1,7}}))?$"
)


def _sheet_of(m: re.Match[str], n: int) -> str | None:
    quoted = m.group(f"q{n}")
    if quoted is not None:
        return quoted.replace("''", "'")
    return m.group(f"u{n}")


def parse_ref(ref: str) -> tuple[str, int, int, int, int]:
    """Parse one rectangular reference such as ``'My Sheet'!$B$3:$F$7``.

    Returns (sheet, row0, col0, row1, col1), 1-based and inclusive, normalised so that
    row0 <= row1 and col0 <= col1. Defined names are how convsheets finds its blocks in a
    recalculated workbook, so anything we cannot map to exactly one rectangle on one sheet
    (multi-area, 3-D, whole rows/columns, #REF!) is an error rather than a guess.
    """
    text = ref.strip()
    if text.startswith("="):
        text = text[1:].strip()
    m = _REF_RE.match(text)
    if m is None:
        if "#REF!" in text:
            hint = "the range it pointed to was deleted; regenerate the workbook"
        elif "," in text.replace("''", ""):
            hint = "multi-area references are not supported; use one rectangle per name"
        else:
            hint = "expected something like Sheet!$B$3:$F$7; regenerate the workbook"
        raise WorkbookReadError(f"cannot use reference {ref!r}: {hint}")
    sheet = _sheet_of(m, 1)
    assert sheet is not None
    sheet2 = _sheet_of(m, 2)
    if sheet2 is not None and sheet2 != sheet:
        raise WorkbookReadError(
            f"cannot use reference {ref!r}: it spans two sheets; use a range on one sheet"
        )
    try:
        c0 = col_index(m.group("c0"))
        c1 = col_index(m.group("c1")) if m.group("c1") else c0
    except ValueError as exc:
        raise WorkbookReadError(f"cannot use reference {ref!r}: {exc}") from None
    r0 = int(m.group("r0"))
    r1 = int(m.group("r1")) if m.group("r1") else r0
    for r in (r0, r1):
        if not 1 <= r <= MAX_ROW:
            raise WorkbookReadError(
                f"cannot use reference {ref!r}: row {r} is outside 1..{MAX_ROW}"
            )
    return sheet, min(r0, r1), min(c0, c1), max(r0, r1), max(c0, c1)


@dataclass
class SheetCells:
    """Dense view of a worksheet's cells.

    Array index [i, j] is sheet cell (origin[0] + i, origin[1] + j); `read_sheet` returns
    the used range starting at A1, so there index = (row - 1, col - 1). Dense arrays make
    comparing a block with NumPy a slice away; `kind` and `is_formula` let the verifier tell
    "wrong number" from "not a number at all" and "constant where a formula should be".
    `errors` is keyed by absolute sheet (row, col) so messages can name the real cell.
    """

    values: np.ndarray  # float64, NaN where empty or not numeric (strings, booleans, errors)
    is_formula: np.ndarray  # bool, the cell has an <f> element (shared-formula children too)
    kind: np.ndarray  # uint8 KIND_* code
    errors: dict[tuple[int, int], str] = field(default_factory=dict)
    origin: tuple[int, int] = (1, 1)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.values.shape[0]), int(self.values.shape[1]))

    def region(self, row0: int, col0: int, row1: int, col1: int) -> SheetCells:
        """Cells of the inclusive rectangle (sheet coordinates), padded with empty cells.

        Padding matters because trailing empty cells are outside the used range, yet a
        defined name may still cover them.
        """
        if row1 < row0 or col1 < col0:
            raise ValueError(f"empty region ({row0},{col0})-({row1},{col1})")
        shape = (row1 - row0 + 1, col1 - col0 + 1)
        values = np.full(shape, np.nan)
        is_formula = np.zeros(shape, dtype=bool)
        kind = np.zeros(shape, dtype=np.uint8)
        # overlap of the requested rectangle with what we hold, in sheet coordinates
        o_r, o_c = self.origin
        h, w = self.shape
        lo_r, hi_r = max(row0, o_r), min(row1, o_r + h - 1)
        lo_c, hi_c = max(col0, o_c), min(col1, o_c + w - 1)
        if lo_r <= hi_r and lo_c <= hi_c:
            src = (slice(lo_r - o_r, hi_r - o_r + 1), slice(lo_c - o_c, hi_c - o_c + 1))
            dst = (slice(lo_r - row0, hi_r - row0 + 1), slice(lo_c - col0, hi_c - col0 + 1))
            values[dst] = self.values[src]
            is_formula[dst] = self.is_formula[src]
            kind[dst] = self.kind[src]
        errors = {
            (r, c): text
            for (r, c), text in self.errors.items()
            if row0 <= r <= row1 and col0 <= c <= col1
        }
        return SheetCells(values, is_formula, kind, errors, (row0, col0))


class _Bad(Exception):
    """Raised inside expat callbacks; turned into WorkbookReadError with file context."""


def _local(name: str) -> str:
    """'nsuri local' (expat namespace mode, separator ' ') -> 'local'."""
    return name.rpartition(" ")[2]


def _secure_parser() -> Any:
    """An expat parser that refuses DTDs outright.

    Office Open XML parts never carry a DOCTYPE, so refusing any DTD is the simplest
    complete defence against entity expansion (billion laughs) and external entities.
    """
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.buffer_size = 1 << 16

    def forbid_dtd(*_args: object) -> None:
        raise _Bad("it contains a DTD (not allowed in xlsx; possible entity-expansion attack)")

    parser.StartDoctypeDeclHandler = forbid_dtd
    parser.EntityDeclHandler = forbid_dtd
    parser.ExternalEntityRefHandler = forbid_dtd
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return parser


_T_STR_FORMULA = 250  # internal code: t="str" (formula string result; an empty <v/> is "")
_T_INLINE = 251  # internal code: t="inlineStr" (text lives in <is>, not <v>)


def _type_codes() -> defaultdict[str | None, int]:
    """Cell t attribute -> kind code; unknown types count as strings (not numbers)."""
    codes: defaultdict[str | None, int] = defaultdict(lambda: KIND_STRING)
    codes.update(
        {
            None: KIND_NUMBER,
            "n": KIND_NUMBER,
            "s": KIND_STRING,
            "d": KIND_STRING,  # ISO 8601 date text; not a number we can compare
            "str": _T_STR_FORMULA,
            "inlineStr": _T_INLINE,
            "b": KIND_BOOL,
            "e": KIND_ERROR,
        }
    )
    return codes


class _SheetCollector:
    """Expat callbacks for one worksheet part, then vectorised decoding.

    Speed is the design driver (a verify run reads millions of cells): the per-cell
    callbacks only append raw attribute/text strings to lists, and the decoding of cell
    references, types and numbers happens afterwards in bulk with NumPy. The callbacks are
    closures over locals because attribute lookups on every callback are measurably slower.
    """

    def __init__(self, max_cells: int) -> None:
        self.max_cells = max_cells
        self.refs: list[str | None] = []  # r attribute per cell (None: positional cell)
        self.types: list[str | None] = []  # t attribute per cell
        self.vals: list[str | None] = []  # <v> text per cell (None: no <v> element)
        self.formula_at = array("q")  # 1-based cell numbers that have an <f>
        self.inline_at = array("q")  # 1-based cell numbers that have an <is>
        self.row_first = array("q")  # number of cells seen before each <row> started
        self.row_refs: list[str | None] = []  # r attribute per <row>

    def install(self, parser: Any) -> None:
        refs_append = self.refs.append
        types_append = self.types.append
        vals = self.vals
        vals_append = vals.append
        formula_append = self.formula_at.append
        inline_append = self.inline_at.append
        row_first_append = self.row_first.append
        row_refs_append = self.row_refs.append
        # tag codes (literals in the handlers: faster than closure lookups)
        # 1 row, 2 c, 3 f, 4 v, 5 is
        tags: dict[str, int] = {}
        for ns in _NS_MAIN:
            tags.update({f"{ns} row": 1, f"{ns} c": 2, f"{ns} f": 3, f"{ns} v": 4, f"{ns} is": 5})
        max_depth = MAX_XML_DEPTH
        max_cells = self.max_cells
        depth = 0
        n = 0  # cells seen so far
        in_v = False  # inside a <v>: character data is the cached value

        def start(name: str, attrs: dict[str, str]) -> None:
            nonlocal depth, n, in_v
            depth += 1
            if depth > max_depth:
                raise _Bad(f"XML nesting deeper than {max_depth} levels")
            code = tags.get(name)
            if code == 2:
                n += 1
                if n > max_cells:
                    raise _Bad(f"more than {max_cells:,} cells")
                refs_append(attrs.get("r"))
                types_append(attrs.get("t"))
                vals_append(None)
            elif code == 3:
                formula_append(n)
            elif code == 4:
                if n:
                    vals[-1] = ""
                    in_v = True
            elif code == 1:
                row_first_append(n)
                row_refs_append(attrs.get("r"))
            elif code == 5:
                inline_append(n)

        def end(name: str) -> None:
            nonlocal depth, in_v
            depth -= 1
            in_v = False

        def chars(data: str) -> None:
            if in_v:
                vals[-1] += data  # type: ignore[operator]

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = chars

    def build(self, where: str) -> SheetCells:
        n = len(self.refs)
        if n == 0:
            return SheetCells(
                np.full((0, 0), np.nan), np.zeros((0, 0), bool), np.zeros((0, 0), np.uint8)
            )
        rows, cols = self._positions()
        tcode = np.fromiter(map(_type_codes().__getitem__, self.types), np.uint8, n)
        vobj = np.empty(n, dtype=object)
        vobj[:] = self.vals
        no_v = np.equal(vobj, None)
        novalue = no_v | ((vobj == "") & (tcode != _T_STR_FORMULA))
        is_formula = np.zeros(n, dtype=bool)
        is_formula[_cell_indices(self.formula_at)] = True
        kind = np.where(novalue, np.uint8(KIND_EMPTY), tcode)
        kind[kind == _T_STR_FORMULA] = KIND_STRING
        inline = tcode == _T_INLINE
        if inline.any():
            has_is = np.zeros(n, dtype=bool)
            has_is[_cell_indices(self.inline_at)] = True
            kind[inline] = np.where(has_is[inline], KIND_STRING, KIND_EMPTY)
        kind[(kind == KIND_EMPTY) & is_formula] = KIND_NO_CACHED_VALUE
        values = np.full(n, np.nan)
        numeric = kind == KIND_NUMBER
        try:
            values[numeric] = vobj[numeric].astype(np.float64)
        except (ValueError, TypeError):
            for i in np.flatnonzero(numeric):
                try:
                    float(vobj[i])
                except ValueError:
                    text = str(vobj[i])[:30]
                    raise _Bad(
                        f"cell {cell_address(int(rows[i]), int(cols[i]))} has a malformed "
                        f"number {text!r}"
                    ) from None
            raise  # pragma: no cover - astype failed but every float() succeeded
        errors = {
            (int(rows[i]), int(cols[i])): str(vobj[i]).strip()
            for i in np.flatnonzero(kind == KIND_ERROR)
        }
        keep = kind != KIND_EMPTY  # styled-only cells are not content, not in the used range
        rows, cols = rows[keep], cols[keep]
        if rows.size == 0:
            return SheetCells(
                np.full((0, 0), np.nan), np.zeros((0, 0), bool), np.zeros((0, 0), np.uint8)
            )
        nrows, ncols = int(rows.max()), int(cols.max())
        if nrows * ncols > self.max_cells:
            raise _Bad(
                f"its used range A1:{cell_address(nrows, ncols)} has {nrows * ncols:,} cells, "
                f"more than the limit of {self.max_cells:,}"
            )
        shape = (nrows, ncols)
        ri, ci = rows - 1, cols - 1
        dense_values = np.full(shape, np.nan)
        dense_values[ri, ci] = values[keep]
        dense_kind = np.zeros(shape, dtype=np.uint8)
        dense_kind[ri, ci] = kind[keep]
        dense_formula = np.zeros(shape, dtype=bool)
        dense_formula[ri, ci] = is_formula[keep]
        return SheetCells(dense_values, dense_formula, dense_kind, errors)

    def _positions(self) -> tuple[np.ndarray, np.ndarray]:
        """1-based (rows, cols) of every cell, from r attributes or position in the row."""
        if None in self.refs:
            return self._positions_slow()
        try:
            raw = np.array(self.refs, dtype="S")
        except UnicodeEncodeError:  # non-ASCII reference: let the slow path name it
            return self._positions_slow()
        width = raw.dtype.itemsize
        if width > 10:  # three letters + seven digits
            return self._positions_slow()
        m = raw.view(np.uint8).reshape(len(self.refs), width)
        m = np.where((m >= 97) & (m <= 122), m - np.uint8(32), m)  # accept lowercase
        digit = m - np.uint8(48)
        letter = m - np.uint8(64)
        is_digit = digit < 10
        is_letter = (letter >= 1) & (letter <= 26)
        n_letters = is_letter.sum(axis=1)
        n_digits = is_digit.sum(axis=1)
        pos = np.arange(width)
        well_formed = (
            (n_letters >= 1)
            & (n_letters <= 3)
            & (n_digits >= 1)
            & (n_digits <= 7)
            & ((m != 0).sum(axis=1) == n_letters + n_digits)
            & (is_letter == (pos < n_letters[:, None])).all(axis=1)
        )
        if not well_formed.all():
            return self._positions_slow()
        rows = np.zeros(len(self.refs), dtype=np.int64)
        cols = np.zeros(len(self.refs), dtype=np.int64)
        for j in range(width):  # Horner's rule, one character column at a time
            rows = np.where(is_digit[:, j], rows * 10 + digit[:, j], rows)
            cols = np.where(is_letter[:, j], cols * 26 + letter[:, j], cols)
        self._check_limits(rows, cols)
        return rows, cols

    def _positions_slow(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell by cell: handles cells without r (they follow the previous cell in the row)."""
        n = len(self.refs)
        rows = np.zeros(n, dtype=np.int64)
        cols = np.zeros(n, dtype=np.int64)
        row_starts = list(self.row_first) + [n]
        row_no = 0
        for k, row_ref in enumerate(self.row_refs):
            if row_ref is None:
                row_no += 1
            else:
                try:
                    row_no = int(row_ref)
                except ValueError:
                    raise _Bad(f"bad row number {row_ref[:20]!r}") from None
            col_no = 0
            for i in range(row_starts[k], row_starts[k + 1]):
                ref = self.refs[i]
                if ref is None:
                    col_no += 1
                    rows[i], cols[i] = row_no, col_no
                else:
                    rows[i], cols[i] = _split_ref(ref)
                    col_no = int(cols[i])
        for i in range(min(row_starts[0], n)):  # cells outside any <row>: need an r
            ref = self.refs[i]
            if ref is None:
                raise _Bad("a cell outside any row has no address")
            rows[i], cols[i] = _split_ref(ref)
        self._check_limits(rows, cols)
        return rows, cols

    @staticmethod
    def _check_limits(rows: np.ndarray, cols: np.ndarray) -> None:
        if rows.min() < 1 or rows.max() > MAX_ROW or cols.min() < 1 or cols.max() > MAX_COL:
            raise _Bad(f"a cell lies outside the sheet limits (A1:XFD{MAX_ROW})")


def _cell_indices(numbers: array[int]) -> np.ndarray:
    """1-based cell numbers recorded by the callbacks -> 0-based indices (drop strays: 0)."""
    idx = np.frombuffer(numbers, dtype=np.int64) - 1
    return idx[idx >= 0]


def _split_ref(ref: str) -> tuple[int, int]:
    """'AB12' -> (12, 28), for the slow path; raises _Bad for anything else."""
    letters = ref.rstrip("0123456789")
    digits = ref[len(letters) :]
    try:
        if not digits.isascii() or not 1 <= len(digits) <= 7:
            raise ValueError
        return int(digits), col_index(letters)
    except ValueError:
        raise _Bad(f"bad cell reference {ref[:20]!r}") from None


class _TreeNode:
    """Minimal element for the small parts (rels, workbook, docProps)."""

    __slots__ = ("tag", "attrs", "parts", "children")

    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parts: list[str] = []  # character data; joined on demand (no quadratic +=)
        self.children: list[_TreeNode] = []

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def iter(self) -> Iterator[_TreeNode]:
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def attr(self, local: str) -> str | None:
        """Attribute by local name whatever its namespace (r:id has one, name has none)."""
        if local in self.attrs:
            return self.attrs[local]
        for key, value in self.attrs.items():
            if _local(key) == local:
                return value
        return None


class XlsxFile:
    """Read-only access to one .xlsx file: sheet names, defined names, properties, cells.

    Opening parses the package structure (relationships, workbook part) eagerly so a file
    that is not a workbook fails at once with a clear message; worksheets are streamed on
    demand by `read_sheet`.
    """

    def __init__(self, path: Path | str, *, max_cells: int = DEFAULT_MAX_CELLS) -> None:
        self.path = Path(path)
        self.max_cells = max_cells
        self._zip = self._open_zip()
        try:
            self._members = {info.filename.lower(): info for info in self._zip.infolist()}
            self._package_rels = self._read_rels("")
            self._workbook_part = self._find_package_rel(_REL_OFFICE_DOC) or "xl/workbook.xml"
            self._sheets, self._defined_names = self._read_workbook()
        except BaseException:
            self._zip.close()
            raise

    # -- context manager -------------------------------------------------------------

    def __enter__(self) -> XlsxFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    # -- public API ------------------------------------------------------------------

    def sheet_names(self) -> list[str]:
        """Sheet names in workbook (tab) order."""
        return [name for name, _part in self._sheets]

    def defined_names(self) -> dict[str, str]:
        """Workbook-scope defined names -> reference text as stored (sheet-local ones skipped)."""
        return dict(self._defined_names)

    def custom_properties(self) -> dict[str, str]:
        """docProps/custom.xml name -> value text (whatever its vt: type); {} when absent."""
        part = self._find_package_rel(_REL_CUSTOM) or "docProps/custom.xml"
        if self._member(part) is None:
            return {}
        root = self._parse_tree(part)
        props: dict[str, str] = {}
        for prop in root.children:
            name = prop.attr("name")
            if _local(prop.tag) != "property" or name is None:
                continue
            props[name] = prop.children[0].text if prop.children else prop.text
        return props

    def core_properties(self) -> dict[str, str]:
        """docProps/core.xml local element name -> text, e.g. {'creator': ..., 'title': ...}."""
        part = self._find_package_rel(_REL_CORE) or "docProps/core.xml"
        if self._member(part) is None:
            return {}
        root = self._parse_tree(part)
        return {_local(child.tag): child.text for child in root.children}

    def read_sheet(self, name: str) -> SheetCells:
        """Stream one worksheet into dense arrays over its used range (from A1)."""
        part = self._sheet_part(name)
        collector = _SheetCollector(self.max_cells)
        where = f"sheet {name!r}"
        self._stream(part, collector.install, MAX_MEMBER_BYTES, where)
        try:
            return collector.build(where)
        except _Bad as exc:
            raise self._fail(
                f"{where}: {exc}", "the file is corrupt or hostile; regenerate it"
            ) from None

    def read_texts(self, name: str, *, limit: int = 4 * 1024**2) -> dict[tuple[int, int], str]:
        """The text of every string cell of one small sheet, by 1-based (row, col): inline
        strings, shared strings and formula strings. For small sheets only (an exercise's
        metadata copy, its self-check marks): a sheet part over `limit` bytes is refused."""
        part = self._sheet_part(name)
        info = self._member(part)
        if info is not None and info.file_size > limit:
            raise self._fail(f"sheet {name!r} is {info.file_size:,} bytes (limit {limit:,})",
                             "the file is corrupt or hostile; regenerate it")
        shared: list[str] | None = None
        texts: dict[tuple[int, int], str] = {}
        for cell in self._parse_tree(part).iter():
            if _local(cell.tag) != "c" or cell.attr("r") is None:
                continue
            kind = cell.attr("t")
            if kind not in ("s", "str", "inlineStr"):
                continue
            try:
                row, col = _split_ref(cell.attr("r") or "")
            except (_Bad, ValueError):
                continue
            parts = {_local(child.tag): child for child in cell.children}
            if kind == "inlineStr" and "is" in parts:
                texts[row, col] = "".join(node.text for node in parts["is"].iter()
                                          if _local(node.tag) == "t")
            elif kind == "str" and "v" in parts:
                texts[row, col] = parts["v"].text
            elif kind == "s" and "v" in parts:
                if shared is None:
                    shared = self._shared_strings()
                try:
                    texts[row, col] = shared[int(parts["v"].text)]
                except (ValueError, IndexError):
                    continue
        return texts

    def _shared_strings(self) -> list[str]:
        rels = self._read_rels(self._workbook_part)
        part = next((target for _rid, kind, target in rels
                     if kind.endswith("/sharedStrings")), "xl/sharedStrings.xml")
        if self._member(part) is None:
            return []
        return ["".join(node.text for node in item.iter() if _local(node.tag) == "t")
                for item in self._parse_tree(part).children if _local(item.tag) == "si"]

    # -- package plumbing ------------------------------------------------------------

    def _fail(self, problem: str, advice: str) -> WorkbookReadError:
        return WorkbookReadError(f"{problem}: {advice}")

    def _open_zip(self) -> zipfile.ZipFile:
        try:
            with open(self.path, "rb") as fh:
                magic = fh.read(8)
        except FileNotFoundError:
            raise self._fail("file not found", "check the path") from None
        except IsADirectoryError:
            raise self._fail("a directory, not a workbook", "pass an .xlsx file") from None
        except OSError as exc:
            raise self._fail(f"cannot open ({exc.strerror or exc})", "check permissions") from None
        if magic == _OLE_MAGIC:
            raise self._fail(
                "a legacy .xls or an encrypted workbook, not an xlsx file",
                "save it as an unencrypted .xlsx",
            )
        try:
            return zipfile.ZipFile(self.path, "r")
        except zipfile.BadZipFile:
            raise self._fail(
                "not an xlsx workbook (not a zip archive, or truncated)",
                "pass an .xlsx file or regenerate it",
            ) from None
        except (OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
            raise self._fail(
                f"cannot read zip archive ({_one_line(exc)})", "regenerate the file"
            ) from None

    def _member(self, part: str) -> zipfile.ZipInfo | None:
        # OPC part names are case-insensitive
        return self._members.get(part.lstrip("/").lower())

    def _stream(
        self,
        part: str,
        install: Callable[[Any], None],
        limit: int,
        where: str,
    ) -> None:
        """Feed one zip member through a secure expat parser, enforcing the bomb limits."""
        info = self._member(part)
        if info is None:
            raise self._fail(f"missing part {part}", "the file is incomplete; regenerate it")
        if info.file_size > limit:
            raise self._fail(
                f"part {info.filename} would expand to {info.file_size:,} bytes (limit {limit:,})",
                "refusing a possible zip bomb; check where the file came from",
            )
        if info.file_size > RATIO_CHECK_MIN_BYTES and info.file_size > MAX_COMPRESSION_RATIO * max(
            info.compress_size, 1
        ):
            raise self._fail(
                f"part {info.filename} has compression ratio "
                f"{info.file_size / max(info.compress_size, 1):.0f}:1",
                "refusing a possible zip bomb; check where the file came from",
            )
        parser = _secure_parser()
        install(parser)
        total = 0
        try:
            with self._zip.open(info) as fh:
                while True:
                    chunk = fh.read(_CHUNK)
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > limit:  # belt and braces: zipfile already caps at file_size
                        raise _Bad(f"part expands beyond {limit:,} bytes")
                    parser.Parse(chunk, False)
            parser.Parse(b"", True)
        except _Bad as exc:
            raise self._fail(
                f"{where}: {exc}", "the file is corrupt or hostile; regenerate it"
            ) from None
        except expat.ExpatError as exc:
            raise self._fail(
                f"malformed XML in {info.filename} ({expat.errors.messages[exc.code]} at line "
                f"{exc.lineno}, column {exc.offset})",
                "the file is corrupt; regenerate it",
            ) from None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise self._fail(
                f"corrupt zip member {info.filename} ({_one_line(exc)})",
                "the file is damaged; regenerate it",
            ) from None
        except (NotImplementedError, RuntimeError) as exc:  # unsupported method, encryption
            raise self._fail(
                f"cannot decompress {info.filename} ({_one_line(exc)})",
                "re-save it as a standard .xlsx",
            ) from None
        except RecursionError:
            raise self._fail(f"{where}: XML too deeply nested", "regenerate the file") from None

    def _parse_tree(self, part: str) -> _TreeNode:
        """Parse a small part into a tiny tree (size-capped, DTD-free)."""
        root = _TreeNode("", {})
        stack = [root]
        count = 0

        def install(parser: Any) -> None:
            def start(name: str, attrs: dict[str, str]) -> None:
                nonlocal count
                count += 1
                if len(stack) > MAX_XML_DEPTH:
                    raise _Bad(f"XML nesting deeper than {MAX_XML_DEPTH} levels")
                if count > 1_000_000:
                    raise _Bad("too many XML elements")
                node = _TreeNode(name, attrs)
                stack[-1].children.append(node)
                stack.append(node)

            def end(name: str) -> None:
                stack.pop()

            def chars(data: str) -> None:
                stack[-1].parts.append(data)

            parser.StartElementHandler = start
            parser.EndElementHandler = end
            parser.CharacterDataHandler = chars

        self._stream(part, install, MAX_SMALL_PART_BYTES, part)
        if not root.children:
            raise self._fail(f"part {part} is empty", "the file is corrupt; regenerate it")
        return root.children[0]

    def _read_rels(self, source_part: str) -> list[tuple[str, str, str]]:
        """Relationships of a part as (id, type, absolute target part); [] if none."""
        folder, base = posixpath.split(source_part)
        rels_part = posixpath.join(folder, "_rels", f"{base}.rels")
        if self._member(rels_part) is None:
            return []
        rels = []
        for node in self._parse_tree(rels_part).iter():
            if _local(node.tag) != "Relationship":
                continue
            if (node.attr("TargetMode") or "").lower() == "external":
                continue
            rid, rtype, target = node.attr("Id"), node.attr("Type"), node.attr("Target")
            if rid is None or rtype is None or target is None:
                continue
            rels.append((rid, rtype, _resolve_target(folder, target)))
        return rels

    def _find_package_rel(self, type_suffix: str) -> str | None:
        for _rid, rtype, target in self._package_rels:
            if rtype.endswith(type_suffix):
                return target
        return None

    def _read_workbook(self) -> tuple[list[tuple[str, str]], dict[str, str]]:
        if self._member(self._workbook_part) is None:
            raise self._fail(
                "an Office file without a workbook part (xl/workbook.xml)",
                "it is not a spreadsheet (a Word or PowerPoint file?); pass an .xlsx workbook",
            )
        targets = {rid: target for rid, _t, target in self._read_rels(self._workbook_part)}
        root = self._parse_tree(self._workbook_part)
        if _local(root.tag) != "workbook":
            raise self._fail(
                f"an Office file without a workbook part (its main part is "
                f"<{_local(root.tag)[:30]}>)",
                "it is not a spreadsheet (a Word or PowerPoint file?); pass an .xlsx workbook",
            )
        sheets: list[tuple[str, str]] = []
        names: dict[str, str] = {}
        for node in root.iter():
            tag = _local(node.tag)
            if tag == "sheet":
                name, rid = node.attr("name"), node.attr("id")
                if name is None or rid is None or rid not in targets:
                    raise self._fail(
                        f"sheet entry {name!r} has no valid relationship",
                        "the file is corrupt; regenerate it",
                    )
                sheets.append((name, targets[rid]))
            elif tag == "definedName":
                name = node.attr("name")
                if name is not None and node.attr("localSheetId") is None:
                    names[name] = node.text.strip()
        if not sheets:
            raise self._fail("workbook has no sheets", "the file is corrupt; regenerate it")
        return sheets, names

    def _sheet_part(self, name: str) -> str:
        for sheet, part in self._sheets:
            if sheet == name:
                return part
        for sheet, part in self._sheets:  # sheet names are case-insensitive in Excel
            if sheet.lower() == name.lower():
                return part
        listing = ", ".join(repr(s) for s, _ in self._sheets[:10])
        if len(self._sheets) > 10:
            listing += ", ..."
        raise self._fail(
            f"no sheet named {name!r} (sheets: {listing})",
            "check the file was generated by convsheets and not renamed",
        )


def _resolve_target(folder: str, target: str) -> str:
    """Relationship target -> zip part path; targets may be relative or absolute ('/xl/..')."""
    target = unquote(target.replace("\\", "/"))
    path = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
    return posixpath.normpath(path).lstrip("/")


def _one_line(exc: BaseException) -> str:
    return one_line(exc, 200) or type(exc).__name__
