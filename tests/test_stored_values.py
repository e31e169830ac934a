"""Workbooks open with their numbers: every formula cell carries its value, written at build
time, equal to what a spreadsheet application computes; readers that never recalculate
(openpyxl data_only, pandas, python-calamine) see numbers; the XML follows the schema."""

from __future__ import annotations

import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from python_calamine import CalamineWorkbook
from test_sweep import layers

from convsheets.build import make_plan, write_atomically
from convsheets.engines import get_engine
from convsheets.networks import network_from_template, shipped_networks
from convsheets.presets import preset
from convsheets.spec import LayerSpec
from convsheets.variants import VARIANTS
from convsheets.xlsxread import KIND_NUMBER, XlsxFile

# CT_Worksheet's children, in the order the schema's sequence requires (ECMA-376 Part 1,
# 18.3.1.99). Excel "repairs" a file whose children are out of this order.
WORKSHEET_ORDER = (
    "sheetPr", "dimension", "sheetViews", "sheetFormatPr", "cols", "sheetData", "sheetCalcPr",
    "sheetProtection", "protectedRanges", "scenarios", "autoFilter", "sortState",
    "dataConsolidate", "customSheetViews", "mergeCells", "phoneticPr", "conditionalFormatting",
    "dataValidations", "hyperlinks", "printOptions", "pageMargins", "pageSetup", "headerFooter",
    "rowBreaks", "colBreaks", "customProperties", "cellWatches", "ignoredErrors", "smartTags",
    "drawing", "legacyDrawing", "legacyDrawingHF", "picture", "oleObjects", "controls",
    "webPublishItems", "tableParts", "extLst")


def _sources() -> dict[str, object]:
    found: dict[str, object] = {v: LayerSpec.create(v, {}, preset(v)).network()
                                  for v in VARIANTS}
    import tomllib

    for name, text in shipped_networks().items():
        found[name] = network_from_template(tomllib.loads(text), name)
    return found


SOURCES = _sources()


@pytest.fixture(scope="module")
def books(built_all) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    """Every preset and shipped network as `convsheets build --all` wrote them (the session's
    build, conftest's `built_all`; read-only)."""
    assert built_all.exit_code == 0, built_all.output
    assert set(built_all.paths) == set(SOURCES)
    return {name: built_all.paths[name] for name in SOURCES}


def _formula_cells(path: Path) -> dict[tuple[str, int, int], tuple[bool, int, float]]:
    """(sheet, row, col) of every formula -> (has a number, kind, value), by our own reader."""
    cells = {}
    with XlsxFile(path) as xf:
        for sheet in xf.sheet_names():
            data = xf.read_sheet(sheet)
            for i, j in np.argwhere(data.is_formula):
                key = (sheet, data.origin[0] + int(i), data.origin[1] + int(j))
                cells[key] = (bool(data.kind[i, j] == KIND_NUMBER), int(data.kind[i, j]),
                              float(data.values[i, j]))
    return cells


def _shown(path: Path) -> dict[tuple[str, int, int], object]:
    """What a viewer that never recalculates shows in every formula cell: the stored number,
    or the stored text ("" for an empty text result)."""
    shown: dict[tuple[str, int, int], object] = {}
    with XlsxFile(path) as xf:
        for sheet in xf.sheet_names():
            data = xf.read_sheet(sheet)
            texts = xf.read_texts(sheet)
            for i, j in np.argwhere(data.is_formula):
                row, col = data.origin[0] + int(i), data.origin[1] + int(j)
                if data.kind[i, j] == KIND_NUMBER:
                    shown[sheet, row, col] = float(data.values[i, j])
                else:
                    shown[sheet, row, col] = texts.get((row, col))
    return shown


def _compare_with_libreoffice(paths: dict[str, Path], tmp_path: Path) -> None:
    names = list(paths)
    copies = get_engine("libreoffice").recalculate([paths[n] for n in names], tmp_path, 600)
    _compare_copies(paths, dict(zip(names, copies, strict=True)))


def _compare_copies(paths: dict[str, Path], copies: dict[str, Path]) -> None:
    """Each book's stored values against its recalculated copy, text or number."""
    for name, copy in copies.items():
        stored, computed = _shown(paths[name]), _shown(copy)
        assert stored and set(stored) == set(computed), name
        for key, value in stored.items():
            want = computed[key]
            if isinstance(want, float):
                assert isinstance(value, float), (name, key, "no stored number", value, want)
                assert abs(value - want) <= 1e-9 * max(1.0, abs(want)), (name, key, value, want)
            else:  # text: the explorer's "equal" and notes, a self-check's "0 of 9 correct"
                assert value == (want or ""), (name, key, "stored text", value, want)


def test_stored_values_equal_libreoffices_recalculation(books: dict[str, Path],
                                                        verified_all) -> None:  # type: ignore[no-untyped-def]
    """Every formula cell of every preset and shipped network, text or number: the value
    stored at build time equals LibreOffice's recalculation (a private profile that
    recalculates on load; the copies LibreOffice wrote in the session's verify, conftest's
    `verified_all`), so a viewer that never recalculates shows what Calc shows."""
    names = list(books)
    _compare_copies(books, dict(zip(names, (verified_all.copies["libreoffice"][n]
                                            for n in names), strict=True)))


def test_exercise_texts_are_stored(tmp_path: Path) -> None:
    """A self-checking handout's counts ("0 of 9 correct") and blank marks are stored too."""
    from convsheets.build import build_exercise
    from convsheets.exercise import Exercise

    paths = {}
    for name in ("basic", "lenet"):
        paths[name] = tmp_path / f"{name}.xlsx"
        build_exercise(SOURCES[name], paths[name], Exercise(("output",), True))  # type: ignore[arg-type]
    texts = _shown(paths["basic"])
    assert any(isinstance(v, str) and v.endswith(" correct") for v in texts.values())
    _compare_with_libreoffice(paths, tmp_path / "lo")


@pytest.mark.slow  # two LibreOffice runs of 12 random layers each
@settings(max_examples=2, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
@given(specs=__import__("hypothesis").strategies.lists(layers(), min_size=12, max_size=12))
def test_random_layers_store_what_libreoffice_computes(specs: list[LayerSpec]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for n, spec in enumerate(specs):
            paths.append(Path(tmp) / f"{n}.xlsx")
            write_atomically(make_plan(spec.network()), paths[-1])
        copies = get_engine("libreoffice").recalculate(paths, Path(tmp) / "lo", 600)
        for spec, path, copy in zip(specs, paths, copies, strict=True):
            stored, computed = _formula_cells(path), _formula_cells(copy)
            for key, (has, _kind, value) in stored.items():
                if not computed[key][0]:
                    continue  # text (the explorer's notes and blank cells)
                want = computed[key][2]
                assert has and abs(value - want) <= 1e-9 * max(1.0, abs(want)), (
                    spec, key, value, want)
    # (few examples: each starts LibreOffice; the sweep and network tests also check stored
    # values through verify, which compares them with every engine's recalculation)


@pytest.mark.parametrize("name", list(SOURCES))
def test_readers_that_never_recalculate_see_numbers(books: dict[str, Path], name: str) -> None:
    path = books[name]
    formulas = _formula_cells(path)
    values = openpyxl.load_workbook(path, data_only=True)
    calamine = CalamineWorkbook.from_path(str(path))
    grids = {sheet: calamine.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
             for sheet in calamine.sheet_names}
    frames = {engine: pd.read_excel(path, sheet_name=None, header=None, engine=engine)
              for engine in ("openpyxl", "calamine")}
    for (sheet, row, col), (has, _kind, value) in formulas.items():
        if not has and "Explorer" in sheet:
            continue  # the explorer's notes are text: no stored number, by design
        seen = values[sheet].cell(row, col).value
        assert isinstance(seen, (int, float)) and seen == value, (sheet, row, col, seen)
        assert grids[sheet][row - 1][col - 1] == value, ("calamine", sheet, row, col)
        for engine, frame in frames.items():
            assert frame[sheet].iat[row - 1, col - 1] == value, (engine, sheet, row, col)


@pytest.mark.parametrize("name", list(SOURCES))
def test_worksheet_xml_follows_the_schema(books: dict[str, Path], name: str) -> None:
    with zipfile.ZipFile(books[name]) as zf:
        workbook = zf.read("xl/workbook.xml").decode()
        # values are stored: no full recalculation is needed to show them
        assert re.search(r'<calcPr[^>]*fullCalcOnLoad="0"', workbook)
        for part in (n for n in zf.namelist() if n.startswith("xl/worksheets/sheet")):
            xml = zf.read(part).decode()
            root = re.match(r"<worksheet[^>]*>(.*)</worksheet>$", xml, re.S)
            assert root, part
            children = re.findall(r"<(\w+)[\s/>]", _top_level(root.group(1)))
            order = [WORKSHEET_ORDER.index(c) for c in children]
            assert order == sorted(order), (part, children)
            # only formulas that can show text (the explorer's "" and notes) lack a value
            for formula in re.findall(r"<f>([^<]*)</f><v></v>", xml):
                assert "&quot;" in formula or '"' in formula, (part, formula)
            assert "<v/>" not in xml, part
            assert xml.count("<f>") == xml.count("</f><v>"), part


def _top_level(body: str) -> str:
    """The opening tags of the direct children only (nested elements removed)."""
    out, depth = [], 0
    for tag in re.finditer(r"<(/?)(\w+)([^>]*?)(/?)>", body):
        closing, selfclosing = tag.group(1), tag.group(4)
        if closing:
            depth -= 1
            continue
        if depth == 0:
            out.append(f"<{tag.group(2)}>")
        if not selfclosing:
            depth += 1
    return "".join(out)


def test_stored_values_follow_edited_inputs_only_after_recalculation(tmp_path: Path) -> None:
    """The file asks for no full recalculation on load, yet a real engine recalculates an
    edited input's dependants: verify of an edited copy matches (LibreOffice)."""
    from convsheets.verify import verify_files

    path = tmp_path / "b.xlsx"
    write_atomically(make_plan(SOURCES["basic"]), path)  # type: ignore[arg-type]
    wb = openpyxl.load_workbook(path)
    ws = wb["Input"]
    ws["B3"] = 7.25
    wb.save(tmp_path / "edited.xlsx")
    report = verify_files([tmp_path / "edited.xlsx"], engine="libreoffice")[0]
    assert report.ok, report.unusable
