"""Recalculation engines: real LibreOffice and Gnumeric runs (both are required, no skips).

One batch per engine is shared by most tests (module-scoped fixtures), because LibreOffice
start-up dominates the run time.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import re
import time
import typing
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from convsheets.engines import ENGINES, EngineError, get_engine, installed_engines
from convsheets.engines.base import Engine, output_paths
from convsheets.xlsxread import KIND_ERROR, KIND_NUMBER, XlsxFile

ENGINE_NAMES = sorted(ENGINES)


def make_book(path: Path, scale: float) -> Path:
    """A1:E2 inputs, SUMPRODUCT and cross-sheet formulas, and two error formulas."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    for r in range(1, 3):
        for c in range(1, 6):
            ws.cell(r, c, scale * (r * 10 + c))
    ws["A4"] = "=SUMPRODUCT(A1:B2,D1:E2)+C1"
    ws["A5"] = "=1/0"
    ws["A6"] = "=NOSUCHFUNC()"
    ws["B4"] = "=A4*2"
    out = wb.create_sheet("Out Sheet")
    out["A1"] = "=SUM(Data!A1:E2)"
    wb.save(path)
    return path


def expected(scale: float) -> tuple[float, float]:
    """(A4, Out Sheet!A1) computed with NumPy."""
    grid = scale * (np.arange(1, 3)[:, None] * 10 + np.arange(1, 6)[None, :])
    a4 = float(np.sum(grid[:, 0:2] * grid[:, 3:5]) + grid[0, 2])
    return a4, float(grid.sum())


def with_cell_value(src: Path, dst: Path, cell: str, old: str, new: str) -> Path:
    """Copy src, changing one constant cell's <v> in the sheet XML (cached formulas untouched).

    This is exactly a stale workbook: the inputs changed after the last calculation.
    """
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                start = text.index(f'<c r="{cell}"')
                end = text.index("</c>", start)
                cell_xml = text[start:end]
                assert f"<v>{old}</v>" in cell_xml, cell_xml
                text = (
                    text[:start] + cell_xml.replace(f"<v>{old}</v>", f"<v>{new}</v>") + text[end:]
                )
                data = text.encode()
            zout.writestr(info, data)
    return dst


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def value(path: Path, sheet: str, row: int, col: int) -> float:
    with XlsxFile(path) as xf:
        return float(xf.read_sheet(sheet).values[row - 1, col - 1])


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Inputs, including the same file name in two folders and two stale workbooks."""
    root = tmp_path_factory.mktemp("inputs")
    books = {
        "a": make_book(root / "one" / "book.xlsx", 1.0),
        "b": make_book(root / "two" / "book.xlsx", 2.0),  # same basename, other folder
    }
    # Stale workbook 1: calculated once by LibreOffice (every engine reads its files; IronCalc
    # cannot read Gnumeric's), then A1 changed from 11 to 111.
    calc = ENGINES["libreoffice"].recalculate([books["a"]], root / "seed", timeout=120)[0]
    assert value(calc, "Data", 4, 1) == expected(1.0)[0]
    books["stale"] = with_cell_value(calc, root / "stale.xlsx", "A1", "11", "111")
    # Stale workbook 2: the openpyxl file with an invented cached value for A4.
    fake = root / "fake.xlsx"
    with zipfile.ZipFile(books["a"]) as zin, zipfile.ZipFile(fake, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data, n = re.subn(rb"(\+C1</f>)(<v ?/>|<v></v>)", rb"\1<v>-1</v>", data)
                assert n == 1
            zout.writestr(info, data)
    books["fake"] = fake
    return books


@pytest.fixture(scope="module")
def digests(inputs: dict[str, Path]) -> dict[str, str]:
    return {key: digest(path) for key, path in inputs.items()}


@pytest.fixture(scope="module")
def runs(
    inputs: dict[str, Path], digests: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Path]]:
    """engine -> input key -> recalculated copy; one recalculate() call (batch) per engine."""
    keys = list(inputs)
    result = {}
    for name in ENGINE_NAMES:
        outdir = tmp_path_factory.mktemp(f"out-{name}")
        copies = ENGINES[name].recalculate([inputs[k] for k in keys], outdir, timeout=300)
        result[name] = dict(zip(keys, copies, strict=True))
    return result


def test_registry() -> None:
    # What a type checker would check of `engine: Engine`, checked at run time instead:
    # every member the protocol declares exists, data members have the declared type, and
    # methods take the protocol's parameters (names, kinds, defaults) in its order.
    hints = typing.get_type_hints(Engine)
    methods = {
        name: member
        for name, member in vars(Engine).items()
        if inspect.isfunction(member) and not name.startswith("_")
    }
    assert set(hints) >= {"name", "install_hint"}
    assert set(methods) >= {"available", "recalculate"}
    assert set(ENGINES) == {"libreoffice", "gnumeric", "ironcalc"}
    for name, engine in ENGINES.items():
        assert engine.name == name
        assert engine.install_hint and "\n" not in engine.install_hint
        assert engine.available()
        assert get_engine(name) is engine
        for attr, kind in hints.items():
            assert isinstance(getattr(engine, attr, None), kind), (name, attr, kind)
        for method, declared in methods.items():
            impl = getattr(type(engine), method, None)
            assert inspect.isfunction(impl), (name, method, "missing or not a method")
            assert impl is not declared, (name, method, "only the protocol's stub")
            want, got = inspect.signature(declared), inspect.signature(impl)
            assert [(p.name, p.kind, p.default) for p in got.parameters.values()] == [
                (p.name, p.kind, p.default) for p in want.parameters.values()
            ], (name, method, str(got), str(want))
    assert installed_engines() == list(ENGINES)
    with pytest.raises(EngineError, match="unknown engine 'excel'"):
        get_engine("excel")


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_formulas_are_calculated(engine: str, runs: dict[str, dict[str, Path]]) -> None:
    for key, scale in (("a", 1.0), ("b", 2.0)):
        a4, total = expected(scale)
        with XlsxFile(runs[engine][key]) as xf:
            data = xf.read_sheet("Data")
            out = xf.read_sheet("Out Sheet")
        assert data.values[3, 0] == a4 and data.kind[3, 0] == KIND_NUMBER
        assert data.values[3, 1] == 2 * a4
        assert out.values[0, 0] == total


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_batch_outputs(engine: str, inputs: dict[str, Path], runs: dict[str, dict]) -> None:
    copies = list(runs[engine].values())
    assert len(set(copies)) == len(copies)  # same basename from two folders: no collision
    assert all(p.is_file() and p.suffix == ".xlsx" for p in copies)
    assert len({p.parent for p in copies}) == 1
    assert runs[engine]["a"].name == f"book.{engine}.xlsx"
    assert runs[engine]["b"].name == f"book-2.{engine}.xlsx"
    assert not set(copies) & set(inputs.values())


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_stale_cached_values_are_recalculated(engine: str, runs: dict[str, dict]) -> None:
    a4, _ = expected(1.0)
    with XlsxFile(runs[engine]["stale"]) as xf:
        data = xf.read_sheet("Data")
    assert data.values[0, 0] == 111
    assert data.values[3, 0] == a4 + 100 * 14  # A1 * D1 moved by 100 * 14
    assert data.values[3, 1] == 2 * (a4 + 1400)
    assert value(runs[engine]["fake"], "Data", 4, 1) == a4  # not the invented -1


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_error_cells(engine: str, runs: dict[str, dict]) -> None:
    with XlsxFile(runs[engine]["a"]) as xf:
        data = xf.read_sheet("Data")
    assert data.kind[4, 0] == KIND_ERROR and data.kind[5, 0] == KIND_ERROR
    assert data.errors == {(5, 1): "#DIV/0!", (6, 1): "#NAME?"}


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_inputs_unchanged(engine: str, inputs: dict[str, Path], tmp_path: Path) -> None:
    """Every input keeps its bytes, and nothing appears or vanishes beside the inputs.

    The engine runs here, between the two snapshots, so the check cannot be satisfied by
    fixture order or by an engine that never ran.
    """
    root = Path(os.path.commonpath([p.parent for p in inputs.values()]))

    def snapshot() -> dict[str, str]:
        return {str(p.relative_to(root)): digest(p) for p in sorted(root.rglob("*"))
                if p.is_file()}

    before = snapshot()
    assert {str(p.relative_to(root)) for p in inputs.values()} <= set(before)
    copies = ENGINES[engine].recalculate(list(inputs.values()), tmp_path, timeout=300)
    assert len(copies) == len(inputs) and all(p.is_file() for p in copies)  # it did run
    assert snapshot() == before


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_corrupt_input_fails_cleanly(engine: str, tmp_path: Path, inputs: dict) -> None:
    bad = tmp_path / "bad.xlsx"
    bad.write_text("this is not a spreadsheet\n")
    with pytest.raises(EngineError) as info:
        ENGINES[engine].recalculate([inputs["a"], bad], tmp_path / "out", timeout=120)
    message = str(info.value)
    assert "bad.xlsx" in message and "\n" not in message
    assert not list((tmp_path / "out").glob("*"))  # all or nothing


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_missing_input(engine: str, tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="input workbook not found"):
        ENGINES[engine].recalculate([tmp_path / "nope.xlsx"], tmp_path, timeout=10)


def test_empty_batch(tmp_path: Path) -> None:
    for engine in ENGINES.values():
        assert engine.recalculate([], tmp_path / engine.name, timeout=10) == []


def test_timeout_is_enforced(tmp_path: Path, inputs: dict[str, Path]) -> None:
    start = time.monotonic()
    with pytest.raises(EngineError, match="timeout|did not finish|ran out of time"):
        ENGINES["libreoffice"].recalculate([inputs["a"]], tmp_path, timeout=0.3)
    assert time.monotonic() - start < 15
    with pytest.raises(EngineError, match="timeout must be positive"):
        ENGINES["gnumeric"].recalculate([inputs["a"]], tmp_path, timeout=0)


def test_ironcalc_names_a_file_it_cannot_read_and_survives_its_panic(
        tmp_path: Path, inputs: dict[str, Path]) -> None:
    """IronCalc panics (a BaseException) on Gnumeric-written files: the child process turns
    that into one EngineError line naming the file, and the caller goes on."""
    gnumeric = ENGINES["gnumeric"].recalculate([inputs["a"]], tmp_path / "gnm", timeout=60)[0]
    with pytest.raises(EngineError) as info:
        ENGINES["ironcalc"].recalculate([inputs["a"], gnumeric], tmp_path / "out", timeout=60)
    message = str(info.value)
    assert str(gnumeric) in message and "Panic" in message and "\n" not in message
    assert not list((tmp_path / "out").glob("*"))  # all or nothing
    # the same engine still works afterwards
    copy = ENGINES["ironcalc"].recalculate([inputs["b"]], tmp_path / "again", timeout=60)[0]
    assert value(copy, "Out Sheet", 1, 1) == expected(2.0)[1]


def test_ironcalc_timeout_is_enforced(tmp_path: Path, inputs: dict[str, Path]) -> None:
    with pytest.raises(EngineError, match="timeout|did not finish|ran out of time"):
        ENGINES["ironcalc"].recalculate([inputs["a"]] * 3, tmp_path, timeout=0.05)


def test_outputs_never_overwrite_inputs(tmp_path: Path) -> None:
    first = tmp_path / "a.xlsx"
    second = tmp_path / "a.gnumeric.xlsx"  # would be first's natural output name
    third = tmp_path / "sub" / "a.xlsx"
    outs = output_paths([first, second, third], tmp_path, "gnumeric")
    assert outs == [
        tmp_path / "a-2.gnumeric.xlsx",
        tmp_path / "a.gnumeric.gnumeric.xlsx",
        tmp_path / "a-3.gnumeric.xlsx",
    ]
