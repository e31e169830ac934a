"""The streaming xlsx reader: correct on what openpyxl, LibreOffice and Gnumeric write,
and a one-line WorkbookReadError (quickly) on anything broken or hostile."""

from __future__ import annotations

import hashlib
import io
import time
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.packaging.custom import StringProperty
from openpyxl.workbook.defined_name import DefinedName

from convsheets.engines import ENGINES
from convsheets.xlsxread import (
    KIND_BOOL,
    KIND_EMPTY,
    KIND_ERROR,
    KIND_NO_CACHED_VALUE,
    KIND_NUMBER,
    KIND_STRING,
    SheetCells,
    WorkbookReadError,
    XlsxFile,
    cell_address,
    col_index,
    col_letter,
    parse_ref,
)

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
WORKSHEET = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"


# -- helpers ------------------------------------------------------------------------------


def raw_xlsx(
    path: Path,
    sheet_data: str = "",
    *,
    sheet_xml: str | None = None,
    workbook_xml: str | None = None,
    target: str = "worksheets/sheet1.xml",
    sheet_part: str = "xl/worksheets/sheet1.xml",
    extra: dict[str, bytes | str] | None = None,
) -> Path:
    """A minimal hand-made xlsx, so tests control every byte of the XML."""
    if sheet_xml is None:
        sheet_xml = f'<worksheet xmlns="{MAIN}"><sheetData>{sheet_data}</sheetData></worksheet>'
    if workbook_xml is None:
        workbook_xml = (
            f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
            f'<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
        )
    parts: dict[str, bytes | str] = {
        "[Content_Types].xml": "<Types/>",
        "_rels/.rels": (
            f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{OFFICE_DOC}" '
            f'Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": workbook_xml,
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{WORKSHEET}" '
            f'Target="{target}"/></Relationships>'
        ),
        sheet_part: sheet_xml,
    }
    parts.update(extra or {})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


def read(path: Path, sheet: str = "S") -> SheetCells:
    with XlsxFile(path) as xf:
        return xf.read_sheet(sheet)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- references and column letters -------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("Input!$B$3:$F$7", ("Input", 3, 2, 7, 6)),
        ("Input!B3:F7", ("Input", 3, 2, 7, 6)),
        ("Input!$B$3", ("Input", 3, 2, 3, 2)),
        ("'My Sheet'!$A$1", ("My Sheet", 1, 1, 1, 1)),
        ("'It''s'!$A$1:$B$2", ("It's", 1, 1, 2, 2)),
        ("=Kernel!$XFD$1048576", ("Kernel", 1048576, 16384, 1048576, 16384)),
        ("S!F7:B3", ("S", 3, 2, 7, 6)),  # reversed corners are normalised
        ("S!$A$1:S!$C$2", ("S", 1, 1, 2, 3)),
        ("'Ünïcode 表'!a1", ("Ünïcode 表", 1, 1, 1, 1)),
    ],
)
def test_parse_ref(ref: str, expected: tuple[str, int, int, int, int]) -> None:
    assert parse_ref(ref) == expected


@pytest.mark.parametrize(
    "ref",
    [
        "S!A1,S!B2",  # multi-area
        "$A$1",  # no sheet
        "S!$A:$A",  # whole column
        "S!1:1",  # whole row
        "#REF!",
        "S!#REF!",
        "S!$XFE$1",  # beyond the last column
        "S!A0",
        "S!A1048577",
        "Sheet1:Sheet3!A1",  # 3-D
        "A!A1:B!B2",  # two sheets
        "'unterminated!A1",
        "",
    ],
)
def test_parse_ref_rejects(ref: str) -> None:
    with pytest.raises(WorkbookReadError) as info:
        parse_ref(ref)
    assert "\n" not in str(info.value)


def test_col_letters() -> None:
    assert [col_letter(n) for n in (1, 26, 27, 52, 53, 702, 703, 16384)] == [
        "A",
        "Z",
        "AA",
        "AZ",
        "BA",
        "ZZ",
        "AAA",
        "XFD",
    ]
    assert col_index("xfd") == 16384
    assert cell_address(3, 2) == "B3"
    for bad in ("", "A1", "XFE", "AAAA", "É"):
        with pytest.raises(ValueError):
            col_index(bad)
    for bad_n in (0, -1, 16385):
        with pytest.raises(ValueError):
            col_letter(bad_n)


@given(st.integers(min_value=1, max_value=16384))
def test_col_roundtrip(n: int) -> None:
    assert col_index(col_letter(n)) == n


# -- what openpyxl writes --------------------------------------------------------------------


@pytest.fixture(scope="module")
def openpyxl_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workbook exercising every cell kind, as convsheets' own writer would produce it."""
    path = tmp_path_factory.mktemp("opx") / "book.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Input"
    for r in range(1, 3):
        for c in range(1, 6):
            ws.cell(r, c, r * 10 + c + 0.5)
    ws["A4"] = "=SUMPRODUCT(A1:B2,D1:E2)+C1"
    ws["A5"] = "=1/0"
    ws["A6"] = "=NOSUCHFUNC()"
    ws["A7"] = '="abc"'
    ws["A8"] = "=1>0"
    ws["A9"] = "plain text"
    ws["A10"] = True
    ws["C12"] = -1.25e-300
    other = wb.create_sheet("My Sheet")
    other["B2"] = "=Input!A4*2"
    wb.defined_names["input_c0"] = DefinedName("input_c0", attr_text="Input!$A$1:$E$2")
    wb.defined_names["other"] = DefinedName("other", attr_text="'My Sheet'!$B$2")
    wb.custom_doc_props.append(StringProperty(name="convsheets", value='{"layer": "x"}'))
    wb.properties.creator = "convsheets"
    wb.properties.description = "test book"
    wb.save(path)
    return path


def test_openpyxl_book(openpyxl_book: Path) -> None:
    before = digest(openpyxl_book)
    with XlsxFile(openpyxl_book) as xf:
        assert xf.sheet_names() == ["Input", "My Sheet"]
        assert xf.defined_names() == {
            "input_c0": "Input!$A$1:$E$2",
            "other": "'My Sheet'!$B$2",
        }
        assert xf.custom_properties() == {"convsheets": '{"layer": "x"}'}
        core = xf.core_properties()
        assert core["creator"] == "convsheets"
        assert core["description"] == "test book"
        cells = xf.read_sheet("Input")
        other = xf.read_sheet("My Sheet")
    assert cells.shape == (12, 5)
    assert cells.values[0, 0] == 11.5 and cells.values[1, 4] == 25.5
    assert cells.values[11, 2] == -1.25e-300
    assert list(cells.kind[3:10, 0]) == [KIND_NO_CACHED_VALUE] * 5 + [KIND_STRING, KIND_BOOL]
    assert cells.is_formula[3:8, 0].all() and not cells.is_formula[:3].any()
    assert not cells.is_formula[8:, 0].any()
    assert np.isnan(cells.values[3:10, 0]).all()  # no cached values, strings, booleans
    assert cells.kind[2, 0] == KIND_EMPTY and cells.kind[0, 0] == KIND_NUMBER
    assert cells.errors == {}
    assert other.shape == (2, 2) and other.kind[1, 1] == KIND_NO_CACHED_VALUE
    assert digest(openpyxl_book) == before  # never written


def test_region_pads_and_keeps_sheet_coordinates(openpyxl_book: Path) -> None:
    cells = read(openpyxl_book, "Input")
    block = cells.region(2, 4, 3, 7)  # D2:G3, partly outside the used range
    assert block.origin == (2, 4) and block.shape == (2, 4)
    assert block.values[0, 0] == 24.5 and block.values[0, 1] == 25.5
    assert np.isnan(block.values[:, 2:]).all() and (block.kind[:, 2:] == KIND_EMPTY).all()
    assert (block.kind[1] == KIND_EMPTY).all()
    far = cells.region(100, 100, 101, 101)
    assert far.shape == (2, 2) and (far.kind == KIND_EMPTY).all()
    nested = block.region(2, 5, 2, 5)
    assert nested.values[0, 0] == 25.5


# -- what LibreOffice and Gnumeric write -------------------------------------------------


@pytest.fixture(scope="module")
def recalculated(openpyxl_book: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The openpyxl book after one pass through each engine (one process start each)."""
    outdir = tmp_path_factory.mktemp("recalc")
    return {
        name: engine.recalculate([openpyxl_book], outdir, timeout=180)[0]
        for name, engine in ENGINES.items()
    }


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_engine_written_book(engine: str, recalculated: dict[str, Path]) -> None:
    expected_a4 = (11.5 * 14.5 + 12.5 * 15.5 + 21.5 * 24.5 + 22.5 * 25.5) + 13.5
    with XlsxFile(recalculated[engine]) as xf:
        assert xf.sheet_names() == ["Input", "My Sheet"]
        names = xf.defined_names()
        assert names["input_c0"] == "Input!$A$1:$E$2"
        assert parse_ref(names["other"]) == ("My Sheet", 2, 2, 2, 2)
        cells = xf.read_sheet("Input")
        other = xf.read_sheet("My Sheet")
    assert cells.values[3, 0] == pytest.approx(expected_a4, rel=1e-15)
    assert other.values[1, 1] == pytest.approx(2 * expected_a4, rel=1e-15)
    assert cells.kind[3, 0] == KIND_NUMBER and cells.is_formula[3, 0]
    assert cells.errors == {(5, 1): "#DIV/0!", (6, 1): "#NAME?"}
    assert list(cells.kind[4:10, 0]) == [KIND_ERROR, KIND_ERROR, KIND_STRING, KIND_BOOL] + [
        KIND_STRING,
        KIND_BOOL,
    ]
    assert cells.is_formula[4:8, 0].all()
    assert cells.values[11, 2] == -1.25e-300
    assert not (cells.kind == KIND_NO_CACHED_VALUE).any()


def test_libreoffice_keeps_custom_properties(recalculated: dict[str, Path]) -> None:
    with XlsxFile(recalculated["libreoffice"]) as xf:
        assert xf.custom_properties()["convsheets"] == '{"layer": "x"}'
        assert xf.core_properties()["creator"] == "convsheets"


# -- XML variants other writers produce ------------------------------------------------------


def test_shared_formulas_inline_strings_and_types(tmp_path: Path) -> None:
    data = (
        '<row r="1"><c r="A1"><v>2</v></c><c r="B1"><f t="shared" ref="B1:B3" si="0">A1*2</f>'
        '<v>4</v></c><c r="C1" t="inlineStr"><is><t>hi</t></is></c>'
        '<c r="D1" t="str"><f>""</f><v></v></c><c r="E1" t="e"><f>1/0</f><v>#DIV/0!</v></c>'
        '<c r="F1" t="s"><v>0</v></c><c r="G1" t="b"><v>0</v></c><c r="H1" s="3"/></row>'
        '<row r="2"><c r="B2"><f t="shared" si="0"/><v>6.5E-3</v></c>'
        '<c r="E2" t="e"><v>Err:502</v></c><c r="F2" t="n"><v/></c><c r="G2" t="d">'
        "<v>2024-01-01T00:00:00</v></c></row>"
        '<row r="3"><c r="B3"><f t="shared" si="0"/></c></row>'
        '<row r="40" spans="1:30"><c r="Z40" s="1"/></row>'  # styled, empty: not content
    )
    cells = read(raw_xlsx(tmp_path / "x.xlsx", data))
    assert cells.shape == (3, 7)
    assert cells.values[0, 1] == 4 and cells.values[1, 1] == 0.0065
    assert list(cells.is_formula[:, 1]) == [True, True, True]
    assert list(cells.kind[:, 1]) == [KIND_NUMBER, KIND_NUMBER, KIND_NO_CACHED_VALUE]
    assert list(cells.kind[0]) == [
        KIND_NUMBER,
        KIND_NUMBER,
        KIND_STRING,
        KIND_STRING,
        KIND_ERROR,
        KIND_STRING,
        KIND_BOOL,
    ]
    assert cells.kind[1, 5] == KIND_EMPTY  # <v/> and no formula
    assert cells.kind[1, 6] == KIND_STRING
    assert cells.errors == {(1, 5): "#DIV/0!", (2, 5): "Err:502"}


def test_positional_cells_without_r(tmp_path: Path) -> None:
    data = (
        "<row><c><v>1</v></c><c><v>2</v></c></row>"
        '<row r="3"><c r="B3"><v>3</v></c><c><v>4</v></c></row>'
        "<row><c><f>A1</f><v>5</v></c></row>"
    )
    cells = read(raw_xlsx(tmp_path / "p.xlsx", data))
    expected = np.array([[1, 2, np.nan], [np.nan] * 3, [np.nan, 3, 4], [5, np.nan, np.nan]])
    np.testing.assert_array_equal(cells.values, expected)
    assert cells.is_formula[3, 0]


def test_prefixed_namespace_absolute_target_and_pretty_printing(tmp_path: Path) -> None:
    sheet = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<x:worksheet xmlns:x="{MAIN}">\n'
        '  <x:sheetData>\n    <x:row r="2">\n      <x:c r="B2">\n        <x:f>1+1</x:f>\n'
        "        <x:v> 2 </x:v>\n      </x:c>\n    </x:row>\n  </x:sheetData>\n</x:worksheet>"
    )
    path = raw_xlsx(
        tmp_path / "n.xlsx",
        sheet_xml=sheet,
        target="/xl/worksheets/other%20name.xml",
        sheet_part="xl/worksheets/other name.xml",
    )
    cells = read(path)
    assert cells.shape == (2, 2) and cells.values[1, 1] == 2 and cells.is_formula[1, 1]


def test_strict_namespace(tmp_path: Path) -> None:
    strict = "http://purl.oclc.org/ooxml/spreadsheetml/main"
    sheet = f'<worksheet xmlns="{strict}"><sheetData><row r="1"><c r="A1"><v>7</v></c></row>'
    sheet += "</sheetData></worksheet>"
    assert read(raw_xlsx(tmp_path / "s.xlsx", sheet_xml=sheet)).values[0, 0] == 7


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scratch")


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.lists(st.one_of(st.none(), st.floats(allow_nan=False, width=64)), max_size=30),
        min_size=1,
        max_size=20,
    )
)
def test_addressed_and_positional_cells_agree(
    scratch: Path, rows: list[list[float | None]]
) -> None:
    """Both decoders, the vectorised one (cells with r="B3") and the cell-by-cell one (cells
    without r), read back exactly the numbers written, each in its own cell."""
    addressed, positional = [], []
    for r, row in enumerate(rows, start=1):
        a_cells, p_cells = [], []
        for c, value in enumerate(row, start=1):
            v = "" if value is None else f"<v>{value!r}</v>"
            a_cells.append(f'<c r="{col_letter(c)}{r}">{v}</c>')
            p_cells.append(f"<c>{v}</c>")
        addressed.append(f'<row r="{r}">{"".join(a_cells)}</row>')
        positional.append(f"<row>{''.join(p_cells)}</row>")
    buffers = []
    for data in ("".join(addressed), "".join(positional)):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            sheet = f'<worksheet xmlns="{MAIN}"><sheetData>{data}</sheetData></worksheet>'
            zf.writestr("xl/workbook.xml", _WORKBOOK)
            zf.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
            zf.writestr("xl/worksheets/sheet1.xml", sheet)
        buffers.append(buf.getvalue())
    results = []
    for i, blob in enumerate(buffers):
        path = scratch / f"h{i}.xlsx"
        path.write_bytes(blob)
        results.append(read(path))
    # Expected arrays from the written values alone: the used range ends at the last row and
    # the last column holding a number; every other cell of it is empty (NaN, KIND_EMPTY).
    written = {
        (r, c): value
        for r, row in enumerate(rows)
        for c, value in enumerate(row)
        if value is not None
    }
    shape = (
        (max(r for r, _ in written) + 1, max(c for _, c in written) + 1) if written else (0, 0)
    )
    want_values = np.full(shape, np.nan)
    want_kind = np.full(shape, KIND_EMPTY, dtype=np.uint8)
    for (r, c), value in written.items():
        want_values[r, c] = value
        want_kind[r, c] = KIND_NUMBER
    for decoder, cells in zip(("addressed", "positional"), results, strict=True):
        assert cells.shape == shape, decoder
        np.testing.assert_array_equal(cells.values, want_values, err_msg=decoder)
        np.testing.assert_array_equal(np.signbit(cells.values), np.signbit(want_values),
                                      err_msg=f"{decoder}: sign of zero")
        np.testing.assert_array_equal(cells.kind, want_kind, err_msg=decoder)
        assert not cells.is_formula.any() and cells.errors == {}, decoder


_WORKBOOK = (
    f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets><sheet name="S" sheetId="1" '
    f'r:id="rId1"/></sheets></workbook>'
)
_WB_RELS = (
    f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{WORKSHEET}" '
    f'Target="worksheets/sheet1.xml"/></Relationships>'
)


def test_missing_package_rels_falls_back_to_default_names(tmp_path: Path) -> None:
    path = tmp_path / "norels.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("xl/workbook.xml", _WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        zf.writestr("xl/worksheets/sheet1.xml", f'<worksheet xmlns="{MAIN}"/>')
    with XlsxFile(path) as xf:
        assert xf.custom_properties() == {} and xf.core_properties() == {}
        assert xf.defined_names() == {}
        assert xf.read_sheet("s").shape == (0, 0)  # sheet names are case-insensitive


def test_sheet_local_names_are_skipped(tmp_path: Path) -> None:
    wb_xml = (
        f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets><sheet name="S" sheetId="1" '
        'r:id="rId1"/></sheets><definedNames><definedName name="g">S!$A$1</definedName>'
        '<definedName name="_xlnm.Print_Area" localSheetId="0">S!$A$1:$B$2</definedName>'
        "</definedNames></workbook>"
    )
    with XlsxFile(raw_xlsx(tmp_path / "d.xlsx", workbook_xml=wb_xml)) as xf:
        assert xf.defined_names() == {"g": "S!$A$1"}


# -- broken and hostile files ----------------------------------------------------------------


def assert_read_error(path: Path, fragment: str, sheet: str | None = "S") -> str:
    start = time.monotonic()
    with pytest.raises(WorkbookReadError) as info:
        with XlsxFile(path) as xf:
            if sheet is not None:
                xf.read_sheet(sheet)
    message = str(info.value)
    assert time.monotonic() - start < 5, "hostile input must fail fast"
    assert "\n" not in message and ": " in message
    assert fragment in message, message
    return message


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "text.xlsx"
    path.write_text("a,b\n1,2\n")
    assert_read_error(path, "not an xlsx workbook")


def test_truncated_zip(tmp_path: Path, openpyxl_book: Path) -> None:
    path = tmp_path / "cut.xlsx"
    path.write_bytes(openpyxl_book.read_bytes()[:2000])
    assert_read_error(path, "not an xlsx workbook")


def test_empty_and_missing_and_directory(tmp_path: Path) -> None:
    (tmp_path / "empty.xlsx").write_bytes(b"")
    assert_read_error(tmp_path / "empty.xlsx", "not an xlsx workbook")
    assert_read_error(tmp_path / "nope.xlsx", "file not found")
    assert_read_error(tmp_path, "directory")


def test_legacy_or_encrypted(tmp_path: Path) -> None:
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    assert_read_error(path, "legacy .xls or an encrypted")


def test_corrupt_member_crc(tmp_path: Path) -> None:
    path = raw_xlsx(tmp_path / "crc.xlsx", '<row r="1"><c r="A1"><v>1</v></c></row>' * 50)
    blob = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
    local = info.header_offset
    name_len = int.from_bytes(blob[local + 26 : local + 28], "little")
    extra_len = int.from_bytes(blob[local + 28 : local + 30], "little")
    data_start = local + 30 + name_len + extra_len
    assert info.compress_size > 30
    blob[data_start + 20] ^= 0xFF  # flip bits in the compressed sheet data
    path.write_bytes(bytes(blob))
    message = assert_read_error(path, "")
    assert "sheet1.xml" in message or "malformed" in message


def test_foreign_office_file(tmp_path: Path) -> None:
    path = tmp_path / "doc.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{OFFICE_DOC}" '
            'Target="word/document.xml"/></Relationships>',
        )
        zf.writestr("word/document.xml", "<document/>")
    assert_read_error(path, "without a workbook part", sheet=None)


def test_missing_sheet_part_and_unknown_sheet(tmp_path: Path) -> None:
    path = raw_xlsx(tmp_path / "m.xlsx", sheet_part="xl/worksheets/elsewhere.xml")
    assert_read_error(path, "missing part xl/worksheets/sheet1.xml")
    ok = raw_xlsx(tmp_path / "ok.xlsx")
    assert_read_error(ok, "no sheet named 'Nope'", sheet="Nope")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ('<row r="1"><c r="A1"><v>12abc</v></c></row>', "malformed number"),
        ('<row r="1"><c r="1A"><v>1</v></c></row>', "bad cell reference"),
        ('<row r="1"><c r="XFE1"><v>1</v></c></row>', "outside the sheet limits"),
        ('<row r="1"><c r="AAAA1"><v>1</v></c></row>', "bad cell reference"),
        ('<row r="1"><c r="A0"><v>1</v></c></row>', "outside the sheet limits"),
        ('<row r="1"><c r="A1"><v>1</v></c>', "malformed XML"),
        ('<row r="1"><c r="XFD1048576"><v>1</v></c></row>', "more than the limit"),
    ],
)
def test_bad_cells(tmp_path: Path, data: str, fragment: str) -> None:
    assert_read_error(raw_xlsx(tmp_path / "bad.xlsx", data), fragment)


def test_billion_laughs(tmp_path: Path) -> None:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        '<!ENTITY lol%d "%s">' % (i, f"&lol{i - 1};" * 10)  # noqa: UP031
        for i in range(1, 10)
    )
    sheet = (
        f'<?xml version="1.0"?><!DOCTYPE worksheet [{entities}]>'
        f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="str"><v>&lol9;</v></c>'
        "</row></sheetData></worksheet>"
    )
    assert_read_error(raw_xlsx(tmp_path / "lol.xlsx", sheet_xml=sheet), "DTD")
    # in the workbook part too (read when the file is opened)
    wb_xml = f'<?xml version="1.0"?><!DOCTYPE workbook [{entities}]>' + _WORKBOOK
    assert_read_error(raw_xlsx(tmp_path / "lol2.xlsx", workbook_xml=wb_xml), "DTD", sheet=None)


def test_external_entity(tmp_path: Path) -> None:
    sheet = (
        '<?xml version="1.0"?><!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        f'<worksheet xmlns="{MAIN}"><sheetData>&x;</sheetData></worksheet>'
    )
    assert_read_error(raw_xlsx(tmp_path / "xxe.xlsx", sheet_xml=sheet), "DTD")


def test_deep_nesting(tmp_path: Path) -> None:
    sheet = f'<worksheet xmlns="{MAIN}">' + "<a>" * 100_000 + "</a>" * 100_000 + "</worksheet>"
    assert_read_error(raw_xlsx(tmp_path / "deep.xlsx", sheet_xml=sheet), "nesting")


def test_zip_bomb_member(tmp_path: Path) -> None:
    """50 MB of zeros deflates ~1000:1; refused from the header, before inflating."""
    bomb = b"<worksheet>" + b" " * 50_000_000 + b"</worksheet>"
    path = raw_xlsx(tmp_path / "bomb.xlsx", extra={"xl/worksheets/sheet1.xml": bomb})
    assert path.stat().st_size < 200_000
    assert_read_error(path, "compression ratio")


def test_oversized_declared_member(tmp_path: Path) -> None:
    """A central directory that claims a 3 GB member is refused without reading it."""
    path = raw_xlsx(tmp_path / "huge.xlsx", '<row r="1"><c r="A1"><v>1</v></c></row>')
    blob = bytearray(path.read_bytes())
    target = b"xl/worksheets/sheet1.xml"
    pos = blob.find(b"PK\x01\x02")  # central directory entries
    while True:
        assert pos >= 0
        name_len = int.from_bytes(blob[pos + 28 : pos + 30], "little")
        if blob[pos + 46 : pos + 46 + name_len] == target:
            break
        pos = blob.find(b"PK\x01\x02", pos + 4)
    blob[pos + 24 : pos + 28] = (3 * 1024**3).to_bytes(4, "little")  # uncompressed size
    path.write_bytes(bytes(blob))
    assert_read_error(path, "would expand to")


def test_huge_cell_count_is_refused(tmp_path: Path) -> None:
    data = '<row r="1">' + '<c r="A1"><v>1</v></c>' * 2000 + "</row>"
    path = raw_xlsx(tmp_path / "many.xlsx", data)
    with XlsxFile(path, max_cells=1000) as xf, pytest.raises(WorkbookReadError, match="cells"):
        xf.read_sheet("S")
