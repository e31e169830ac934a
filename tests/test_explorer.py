"""The window explorer: for selections at random output cells (coordinates and step), after a
real engine's recalculation, the explorer's total is the output cell, its windows are the
padded / upsampled / raw input's taps (computed here with NumPy, PyTorch's definitions), its
kernels are the weights and its products are window x kernel; an invalid selection shows a
message and no error; verify checks it all."""

from __future__ import annotations

import tomllib
import warnings
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from engine_copies import verify_keeping_copies

from convsheets.build import make_plan, write_atomically
from convsheets.networks import network_from_template, shipped_networks
from convsheets.presets import preset
from convsheets.spec import LayerSpec
from convsheets.variants import VARIANTS
from convsheets.verify import verify_files
from convsheets.xlsxread import KIND_ERROR, KIND_NUMBER, XlsxFile, parse_ref


def _cell(wb: openpyxl.Workbook, name: str):  # type: ignore[no-untyped-def]
    sheet, ref = next(iter(wb.defined_names[name].destinations))
    return wb[sheet][ref.replace("$", "").split(":")[0]]


class Book:
    """A recalculated copy, read by defined name."""

    def __init__(self, path: Path) -> None:
        self.xf = XlsxFile(path)
        self.names = self.xf.defined_names()
        self.sheets: dict[str, object] = {}

    def cells(self, name: str):  # type: ignore[no-untyped-def]
        sheet, r0, c0, r1, c1 = parse_ref(self.names[name])
        if sheet not in self.sheets:
            self.sheets[sheet] = self.xf.read_sheet(sheet)
        return self.sheets[sheet].region(r0, c0, r1, c1)  # type: ignore[attr-defined]

    def values(self, name: str) -> np.ndarray:
        cells = self.cells(name)
        assert np.all(cells.kind == KIND_NUMBER), (name, cells.kind)
        return cells.values


def _sources() -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = [(v, LayerSpec.create(v, {}, preset(v)).network())
                                          for v in VARIANTS]
    found.append(("dilated_grouped", LayerSpec.create(
        "grouped", {"dilation": 2, "stride": "2x1", "in_channels": 4, "out_channels": 6,
                    "input_size": "7x6"}, preset("grouped")).network()))
    found.append(("transposed_dilated", LayerSpec.create(
        "transposed", {"dilation": 2, "groups": 2, "in_channels": 2, "output_padding": 0,
                       "stride": 2, "padding": 0}, preset("transposed")).network()))
    for name in ("lenet", "encoder_decoder"):
        found.append((name, network_from_template(tomllib.loads(shipped_networks()[name]),
                                                  name)))
    found.append(("pooled", network_from_template({
        "input_size": [7, 6], "in_channels": 2, "seed": 4, "values": "normal", "layers": [
            {"op": "max_pool2d", "kernel_size": [3, 2], "stride": [2, 1], "padding": [1, 1],
             "dilation": [1, 2]},
            {"op": "avg_pool2d", "kernel_size": 2, "padding": 1, "count_include_pad": False},
        ]}, "pooled")))
    return found


SOURCES = _sources()
# The default run moves the explorers of these sources (a preset of each kind of layer the
# explorer reads differently: padded, zero-inserted, grouped with dilation and stride, pooled,
# a network); the other sources are the slow half (CI runs it with -m slow). The presets'
# explorers are also moved at random by verify's probe in the session's run of every preset
# in every engine (conftest's `verified_all`).
FAST = ("basic", "transposed", "dilated_grouped", "pooled", "lenet")


def _explorers(source):  # type: ignore[no-untyped-def]
    return [(layer.names.tensor, layer) for layer in source.layers
            if layer.op.op not in ("relu", "leaky_relu")]


@pytest.fixture(scope="module", params=[pytest.param("fast", marks=pytest.mark.slow),
                                        pytest.param("rest", marks=pytest.mark.slow)])
def recalculated(request: pytest.FixtureRequest,  # type: ignore[no-untyped-def]
                 tmp_path_factory: pytest.TempPathFactory):
    """Each source (FAST, or the rest: the slow half) with its explorers moved to random cells
    (one by step, the rest by coordinates) and one copy of basic with an invalid row,
    verified in every engine (one start each, with the probes); LibreOffice's and Gnumeric's
    recalculated copies are kept."""
    folder = tmp_path_factory.mktemp("explorer")
    rng = np.random.default_rng(11)
    books, chosen = [], {}
    for name, source in SOURCES:
        # (every source draws its picks, so each keeps its positions whichever half runs)
        picks = [(int(rng.integers(0, c)), int(rng.integers(0, h)), int(rng.integers(0, w)))
                 for c, h, w in (layer.out_shape for _, layer in _explorers(source))]
        if (name in FAST) != (request.param == "fast"):
            continue
        built = folder / f"{name}.xlsx"
        write_atomically(make_plan(source), built)  # type: ignore[arg-type]
        wb = openpyxl.load_workbook(built)
        for n, ((prefix, layer), pick) in enumerate(zip(_explorers(source), picks,
                                                        strict=True)):
            c, h, w = layer.out_shape
            if n == 0:  # the first explorer by step: step n = channel, row, column order
                _cell(wb, f"{prefix}explore_step").value = pick[0] * h * w + pick[1] * w + pick[2]
                _cell(wb, f"{prefix}explore_channel").value = 99  # ignored while step is set
            else:
                for key, v in zip(("channel", "row", "col"), pick, strict=True):
                    _cell(wb, f"{prefix}explore_{key}").value = v
        chosen[name] = picks
        edited = folder / f"{name}-moved.xlsx"
        wb.save(edited)
        books.append((name, edited))
    write_atomically(make_plan(dict(SOURCES)["basic"]), folder / "plain.xlsx")  # type: ignore[arg-type]
    wb = openpyxl.load_workbook(folder / "plain.xlsx")
    _cell(wb, "explore_row").value = 99
    wb.save(folder / "outside.xlsx")
    paths = [p for _, p in books] + [folder / "outside.xlsx"]
    reports, kept = verify_keeping_copies(paths, folder / "kept")
    copies = {engine: [kept[engine][p] for p in paths] for engine in ("libreoffice", "gnumeric")}
    return books, chosen, copies, paths, reports


@pytest.mark.parametrize("engine", ["libreoffice", "gnumeric"])
def test_explorer_shows_the_selected_output_cell(recalculated, engine: str) -> None:
    books, chosen, copies, _, _ = recalculated
    for (name, _path), copy in zip(books, copies[engine], strict=False):
        source = dict(SOURCES)[name]
        book = Book(copy)
        for (prefix, layer), (c, r, k) in zip(_explorers(source), chosen[name], strict=True):
            used = [book.values(f"{prefix}explore_used_{key}")[0, 0]
                    for key in ("channel", "row", "col")]
            assert used == [c, r, k], (name, prefix, used)
            output = book.values(f"{layer.names.output_c(c)}")[r, k]
            total = book.values(f"{prefix}explore_sum")[0, 0]
            assert abs(total - output) <= 1e-9 * max(1, abs(output)), (name, prefix)
            assert book.values(f"{prefix}explore_output")[0, 0] == output
            _check_window(book, name, source, prefix, layer, c, r, k)


def _check_window(book: Book, name: str, source, prefix: str, layer, c: int, r: int,  # type: ignore[no-untyped-def]
                  k: int) -> None:
    """The window, kernels and products against NumPy slicing of the layer's own input."""
    op = layer.op
    network_prefix = layer.names.tensor
    network = source
    index = list(network.layers).index(layer)
    if index == 0:
        names = [f"input_c{i}" for i in range(layer.in_shape[0])]
    else:
        names = [network.layers[index - 1].names.output_c(i) for i in range(layer.in_shape[0])]
    x = np.stack([book.values(n) for n in names])
    (kh, kw) = op.kernel_size
    if op.op == "conv2d":
        per_in, per_out = op.in_channels // op.groups, op.out_channels // op.groups
        ph, pw = op.padding
        xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw)))
        rows = r * op.stride[0] + op.dilation[0] * np.arange(kh)
        cols = k * op.stride[1] + op.dilation[1] * np.arange(kw)
        g = c // per_out
        for j in range(per_in):
            window = xp[g * per_in + j][np.ix_(rows, cols)]
            got = book.values(f"{prefix}explore_window_{j}")
            assert np.allclose(got, window, rtol=1e-12, atol=1e-12), (name, prefix, j)
            weight = book.values(f"{network_prefix}weight_{c}_{j}")
            assert np.array_equal(book.values(f"{prefix}explore_kernel_{j}"), weight)
            assert np.allclose(book.values(f"{prefix}explore_products_{j}"), window * weight,
                               rtol=1e-12, atol=1e-12)
    elif op.op in ("max_pool2d", "avg_pool2d"):
        (sh, sw), (ph, pw) = op.stride, op.padding
        (dh, dw) = getattr(op, "dilation", (1, 1))
        rows, cols = r * sh - ph + dh * np.arange(kh), k * sw - pw + dw * np.arange(kw)
        cells = book.cells(f"{prefix}explore_window_0")
        for i, row in enumerate(rows):
            for j, col in enumerate(cols):
                inside = 0 <= row < x.shape[1] and 0 <= col < x.shape[2]
                if inside:
                    assert cells.values[i, j] == x[c, row, col], (name, i, j)
                else:  # padding never enters a pooled value: the cell shows nothing
                    assert cells.kind[i, j] != KIND_NUMBER, (name, i, j)
    # (conv_transpose2d: its windows are checked against the reference by verify below)


def test_outside_the_output_shows_a_message_not_an_error(recalculated) -> None:
    _, _, copies, _, _ = recalculated
    for engine, paths in copies.items():
        book = Book(paths[-1])
        assert book.values("explore_valid")[0, 0] == 0
        message = book.cells("explore_message")
        assert message.kind[0, 0] != KIND_ERROR
        for name in [n for n in book.names if n.startswith("explore_")]:
            assert not np.any(book.cells(name).kind == KIND_ERROR), (engine, name)
        with warnings.catch_warnings():  # openpyxl on Gnumeric's styles
            warnings.simplefilter("ignore")
            shown = openpyxl.load_workbook(paths[-1], data_only=True)
        assert "outside the output" in str(_cell(shown, "explore_message").value), engine


def test_verify_checks_the_moved_and_the_invalid_selections(recalculated) -> None:
    """verify reads each explorer's selection (and step) back, and its probe moves it."""
    _, _, _, paths, reports = recalculated
    assert [r.path for r in reports] == [str(p) for p in paths]
    for report in reports:
        assert sorted(run.engine for run in report.runs) == ["gnumeric", "ironcalc",
                                                              "libreoffice"]
        assert report.ok, (report.path, report.unusable, [
            (b.name, b.problem) for run in report.runs for b in run.blocks if not b.ok][:3])
        assert all(run.probed for run in report.runs)
        names = {b.name for run in report.runs for b in run.blocks}
        assert any(name.endswith("explore_window_0") for name in names)


def test_a_wrong_explorer_formula_fails_verify(tmp_path: Path) -> None:
    path = tmp_path / "basic.xlsx"
    write_atomically(make_plan(dict(SOURCES)["basic"]), path)  # type: ignore[arg-type]
    wb = openpyxl.load_workbook(path)
    cell = _cell(wb, "explore_products_1")
    cell.value = cell.value.replace("*", "+")
    wb.save(tmp_path / "broken.xlsx")
    report = verify_files([tmp_path / "broken.xlsx"], engine="libreoffice")[0]
    assert not report.ok
    assert [b.name for run in report.runs for b in run.blocks if not b.ok][:1] == [
        "explore_products_1"]


def test_no_explorer_leaves_the_sheet_out(tmp_path: Path) -> None:
    from convsheets.build import build

    build(dict(SOURCES)["basic"], tmp_path / "a.xlsx", views=())  # type: ignore[arg-type]
    wb = openpyxl.load_workbook(tmp_path / "a.xlsx")
    assert "Explorer" not in wb.sheetnames
    assert not any(n.startswith("explore_") for n in wb.defined_names)
    assert verify_files([tmp_path / "a.xlsx"], engine="ironcalc")[0].ok
