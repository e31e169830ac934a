"""Every screen tells the truth (issue 22): what a learner sees first is right and readable.

Shown numbers are exact, colours keep their meaning from sheet to sheet, the flip of the
transposed preset shows, Matrix sheets print readably and mark the explorer's row, guides do
not waste the page, the Scatter sheet shows where a stamp is cropped."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from convsheets.build import make_plan, write_atomically
from convsheets.networks import network_from_template, shipped_networks
from convsheets.presets import preset
from convsheets.spec import LayerSpec
from convsheets.variants import VARIANTS


def _sources() -> dict[str, object]:
    found: dict[str, object] = {v: LayerSpec.create(v, {}, preset(v)).network()
                                for v in VARIANTS}
    for name, text in shipped_networks().items():
        found[name] = network_from_template(tomllib.loads(text), name)
    return found


SOURCES = _sources()


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("screens")
    paths = {}
    for name, source in SOURCES.items():
        paths[name] = folder / f"{name}.xlsx"
        write_atomically(make_plan(source), paths[name])  # type: ignore[arg-type]
    return paths


MAX_PLACES = 4


def shown_text(value: float, fmt: str) -> str:
    """A number as a cell formatted `fmt` shows it; General: only whole numbers are
    predictable (a fraction in General depends on the column's width)."""
    if fmt == "General":
        return str(int(value)) if float(value).is_integer() else f"General:{value!r}"
    body = fmt.split(";")[0]
    places = len(body.split(".")[1]) if "." in body else 0
    text = f"{value:,.{places}f}" if body.startswith("#,##") else f"{value:.{places}f}"
    return "0" if text == "-0" else text


def _places(value: float) -> int | None:
    """The decimals a value has, if at most MAX_PLACES."""
    for places in range(MAX_PLACES + 1):
        if abs(round(value, places) - value) <= 1e-9 * max(1.0, abs(value)):
            return places
    return None


# ---------------------------------------------------------------------------- 5. numbers
@pytest.mark.parametrize("name", list(SOURCES))
def test_shown_numbers_are_exact(books: dict[str, Path], name: str) -> None:
    """Every number a cell shows (its stored value, formatted as its number format says) is
    the exact value when that has at most 4 decimals, and fits its column (lenet showed
    -244.8 for -244.75 and 14.688 for 14.6875: General in narrow columns)."""
    formulas = openpyxl.load_workbook(books[name])
    values = openpyxl.load_workbook(books[name], data_only=True)
    checked = 0
    for ws in formulas.worksheets:
        shown = values[ws.title]
        for row in ws.iter_rows():
            for cell in row:
                value = shown[cell.coordinate].value
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue
                fmt = cell.number_format
                places = _places(float(value))
                if places is None:
                    continue  # more decimals: rounded, as the guide's legend says
                assert fmt == "General" and places == 0 or fmt != "General", (
                    name, ws.title, cell.coordinate, value, "a fraction in General")
                text = shown_text(float(value), fmt)
                assert not text.startswith("General"), (name, ws.title, cell.coordinate, text)
                assert float(text.replace(",", "")) == pytest.approx(value, abs=1e-9), (
                    name, ws.title, cell.coordinate, value, fmt, text)
                width = ws.column_dimensions[get_column_letter(cell.column)].width
                assert width is None or len(text) <= width, (
                    name, ws.title, cell.coordinate, text, width)
                checked += 1
    assert checked


def test_lenet_shows_quarter_values_in_full(books: dict[str, Path]) -> None:
    """The two values the issue names, as a teacher checking by hand reads them."""
    wb = openpyxl.load_workbook(books["lenet"])
    values = openpyxl.load_workbook(books["lenet"], data_only=True)
    seen = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                value = values[ws.title][cell.coordinate].value
                if isinstance(value, float) and not value.is_integer():
                    seen.add(shown_text(value, cell.number_format))
    assert {"-244.75", "14.6875"} <= seen, sorted(seen)[:20]


# ---------------------------------------------------------------------------- 6. colours
def _colour_scales(path: Path) -> list[tuple[str, str, list[tuple[str, object]], list[str]]]:
    """(sheet, range, [(cfvo type, value)], [colour]) of every colour scale of a workbook."""
    found = []
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        for cf in ws.conditional_formatting:
            for rule in cf.rules:
                if rule.type != "colorScale":
                    continue
                scale = rule.colorScale
                found.append((ws.title, str(cf.sqref),
                              [(v.type, v.val) for v in scale.cfvo],
                              [c.rgb[-6:].upper() for c in scale.color]))
    return found


def _zero_white(points: list[tuple[str, object]], colours: list[str]) -> bool:
    return any(kind == "num" and float(value) == 0 and colour == "FFFFFF"  # type: ignore[arg-type]
               for (kind, value), colour in zip(points, colours, strict=True))


@pytest.mark.parametrize("name", list(SOURCES))
def test_one_colour_scale_zero_white(books: dict[str, Path], name: str) -> None:
    """Every computed block, on every sheet, uses one scheme: one colour below 0, white at 0,
    one colour above (a ReLU's zeros are white, never the colour of negatives)."""
    hues: set[tuple[str, ...]] = set()
    for sheet, where, points, colours in _colour_scales(books[name]):
        if sheet == "Input" or colours[0] in ("595959", "000000"):
            continue  # a picture's channels (grey, or its colour) and their overview copy
        assert _zero_white(points, colours), (name, sheet, where, points, colours)
        hues.add(tuple(c for c in colours if c != "FFFFFF"))
    negative = {h[0] for h in hues if len(h) == 2}
    positive = {h[-1] for h in hues if len(h) == 2}
    assert len(negative) <= 1 and len(positive) <= 1, hues
    assert all(set(h) <= negative | positive for h in hues), hues


def test_relu_zeros_are_white(books: dict[str, Path]) -> None:
    scales = [s for s in _colour_scales(books["digit_edges"]) if s[0] == "relu1 Output"]
    assert scales
    for _sheet, _where, points, colours in scales:
        assert points[0] == ("num", 0) or points[0][0] == "num" and float(points[0][1]) == 0
        assert colours[0] == "FFFFFF", colours


def test_colour_picture_channels_go_from_black_to_their_colour(tmp_path: Path) -> None:
    """--image colour: channel c goes from black at 0 to the channel's colour at 255, so a
    red disc on black looks like a red disc on black (not white on dark red)."""
    import subprocess
    import sys

    path = tmp_path / "colour.xlsx"
    subprocess.run([sys.executable, "-m", "convsheets", "build", "--variant", "basic",
                    "--image", "colour", "--in-channels", "3", "-o", str(path)], check=True,
                   capture_output=True)
    inputs = {where: (points, colours) for sheet, where, points, colours
              in _colour_scales(path) if sheet == "Input"}
    assert len(inputs) == 3, inputs
    wb = openpyxl.load_workbook(path)
    order = []
    for where, (points, colours) in inputs.items():
        top_left = where.split(":")[0].replace("$", "")
        order.append((wb["Input"][top_left].row, wb["Input"][top_left].column, points,
                      colours))
    order.sort()
    for (_r, _c, points, colours), hue in zip(order, ((255, 0, 0), (0, 255, 0), (0, 0, 255)),
                                              strict=True):
        assert colours[0] == "000000", colours
        assert points[0] == ("num", 0) or float(points[0][1]) == 0  # type: ignore[arg-type]
        end = tuple(int(colours[-1][i:i + 2], 16) for i in (0, 2, 4))
        assert int(np.argmax(end)) == int(np.argmax(hue)) and max(end) >= 0xB0, (end, hue)


# ---------------------------------------------------------------------------- 7. the flip
def test_transposed_preset_kernels_show_their_flip() -> None:
    """Every kernel of the transposed preset differs from its 180° rotation in every cell
    but the centre, so the Flipped sheet visibly differs from the Weights sheet (seed 0's
    weight_0_0 kept rows 0 and 2 through the flip)."""
    from convsheets.tensors import random_tensors

    network = SOURCES["transposed"]
    weight = random_tensors(network)["weight"]  # type: ignore[arg-type]
    for a, line in enumerate(weight):
        for b, kernel in enumerate(line):
            flipped = kernel[::-1, ::-1]
            moved = np.ones(kernel.shape, bool)
            moved[(kernel.shape[0] - 1) // 2, (kernel.shape[1] - 1) // 2] = \
                kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0
            assert np.all(kernel[moved] != flipped[moved]), (a, b, kernel)
