"""The matrix and scatter views (issue 13), recalculated by LibreOffice and Gnumeric and checked
against PyTorch itself, never against convsheets' own reference:

* transposed layers: the scatter result, the matrix result Cᵀ·x and the zero-insertion result
  all equal ``torch.nn.functional.conv_transpose2d``; each block of C equals the Jacobian of the
  direct ``conv2d`` (``torch.autograd.functional.jacobian``); the selected pixel's stamps are
  the pixel times its kernels; the guide's largest difference is 0;
* direct layers: the patch matrix equals ``torch.nn.functional.unfold`` and the matrix result
  equals ``conv2d``;
* verify checks every view block and its probe (random tensors, moved selections) passes;
* a layer too large for its matrices gets no Matrix sheet and the guide says why.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import openpyxl
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from engine_copies import verify_keeping_copies

from convsheets.build import make_plan, write_atomically
from convsheets.cli import cli
from convsheets.errors import ConvsheetsError
from convsheets.matrix import MAX_MATRIX_CELLS
from convsheets.networks import network_from_template, shipped_networks
from convsheets.presets import preset
from convsheets.spec import LayerSpec
from convsheets.xlsxread import KIND_NUMBER, XlsxFile, parse_ref

TOL = 1e-9


def _random_transposed(count: int, seed: int) -> list[tuple[str, LayerSpec]]:
    """Valid transposed layers over stride, padding, output_padding, dilation and groups."""
    rng = np.random.default_rng(seed)
    found: list[tuple[str, LayerSpec]] = []
    while len(found) < count:
        groups = int(rng.integers(1, 3))
        s, d = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        options = {
            "input_size": f"{rng.integers(2, 5)}x{rng.integers(2, 5)}",
            "in_channels": groups * int(rng.integers(1, 3)),
            "out_channels": groups * int(rng.integers(1, 3)), "groups": groups,
            "kernel_size": f"{rng.integers(1, 4)}x{rng.integers(1, 4)}",
            "stride": f"{s}x{rng.integers(1, 4)}", "padding": f"{rng.integers(0, 3)}x"
            f"{rng.integers(0, 2)}", "dilation": f"{d}x{rng.integers(1, 3)}",
            "output_padding": f"{rng.integers(0, max(s, d))}x0",
            "bias": bool(rng.integers(0, 2)), "seed": int(rng.integers(0, 1000)),
            "values": "normal"}
        try:
            spec = LayerSpec.create("transposed", options, preset("transposed"))
        except ConvsheetsError:
            continue
        found.append((f"random_transposed_{len(found)}", spec))
    return found


def _sources() -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = [
        (v, LayerSpec.create(v, {}, preset(v)).network())
        for v in ("transposed", "basic", "pointwise", "depthwise", "dilated", "grouped",
                  "separable")]
    found.append(("strided_grouped", LayerSpec.create("grouped", {
        "dilation": "2x1", "stride": "2x1", "in_channels": 4, "out_channels": 6,
        "input_size": "7x6", "values": "normal"}, preset("grouped")).network()))
    found += [(name, spec.network()) for name, spec in _random_transposed(5, seed=13)]
    found.append(("encoder_decoder", network_from_template(
        tomllib.loads(shipped_networks()["encoder_decoder"]), "encoder_decoder")))
    return found


SOURCES = dict(_sources())
PICKS: dict[str, dict[str, tuple[int, int, int]]] = {}
# Presets without a transposed layer: nothing here moves (no scatter view), so their engine
# copies and verdicts are the session's (conftest's `verified_all`: `build --all`, verified
# once in every engine), not a second recalculation of the same formulas.
UNMOVED = ("basic", "pointwise", "depthwise", "dilated", "grouped", "separable")


def _layers(source):  # type: ignore[no-untyped-def]
    return list(source.layers)


def _cell(wb: openpyxl.Workbook, name: str):  # type: ignore[no-untyped-def]
    sheet, ref = next(iter(wb.defined_names[name].destinations))
    return wb[sheet][ref.replace("$", "").split(":")[0]]


class Book:
    """A recalculated copy, read by defined name."""

    def __init__(self, path: Path) -> None:
        self.xf = XlsxFile(path)
        self.names = self.xf.defined_names()
        self.sheets: dict[str, object] = {}

    def values(self, name: str) -> np.ndarray:
        sheet, r0, c0, r1, c1 = parse_ref(self.names[name])
        if sheet not in self.sheets:
            self.sheets[sheet] = self.xf.read_sheet(sheet)
        cells = self.sheets[sheet].region(r0, c0, r1, c1)  # type: ignore[attr-defined]
        assert np.all(cells.kind == KIND_NUMBER), (name, cells.kind)
        return cells.values

    def tensor(self, prefix: str, count: int) -> torch.Tensor:
        return torch.tensor(np.stack([self.values(f"{prefix}{i}") for i in range(count)]))


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory: pytest.TempPathFactory, verified_all):  # type: ignore[no-untyped-def]
    """Every source with a transposed layer built, each scatter selection moved to a random
    pixel, verified in every engine (one batch each, with the probes); LibreOffice's and
    Gnumeric's recalculated copies are kept. The unmoved presets: the session's copies and
    reports."""
    folder = tmp_path_factory.mktemp("matrix")
    rng = np.random.default_rng(5)
    paths = []
    mine = [name for name in SOURCES if name not in UNMOVED]
    for name in mine:
        source = SOURCES[name]
        built = folder / f"{name}.xlsx"
        write_atomically(make_plan(source), built)  # type: ignore[arg-type]
        wb = openpyxl.load_workbook(built)
        PICKS[name] = {}
        for layer in _layers(source):
            if layer.op.op != "conv_transpose2d":
                continue
            pick = tuple(int(rng.integers(0, n)) for n in layer.in_shape)
            for key, v in zip(("channel", "row", "col"), pick, strict=True):
                _cell(wb, f"{layer.names.tensor}scatter_{key}").value = v
            PICKS[name][layer.names.tensor] = pick  # type: ignore[assignment]
        wb.save(built)
        paths.append(built)
    reports, kept = verify_keeping_copies(paths, folder / "kept")
    copies = {engine: {**dict(zip(mine, [kept[engine][p] for p in paths], strict=True)),
                       **{name: verified_all.copies[engine][name] for name in UNMOVED}}
              for engine in ("libreoffice", "gnumeric")}
    return paths, copies, reports + [verified_all.reports[name] for name in UNMOVED]


def _layer_input(book: Book, source, layer) -> torch.Tensor:  # type: ignore[no-untyped-def]
    layers = _layers(source)
    index = layers.index(layer)
    prefix = "input_c" if index == 0 else layers[index - 1].names.output_c(0)[:-1]
    return book.tensor(prefix, layer.in_shape[0])


def _weights(book: Book, layer) -> tuple[torch.Tensor, torch.Tensor | None]:  # type: ignore[no-untyped-def]
    prefix = layer.names.tensor
    shape = layer.tensor_shapes()[f"{prefix}weight"]
    w = torch.tensor(np.stack([np.stack([book.values(f"{prefix}weight_{a}_{b}")
                                         for b in range(shape[1])]) for a in range(shape[0])]))
    bias = (torch.tensor(book.values(f"{prefix}bias")[0]) if f"{prefix}bias" in
            layer.tensor_shapes() else None)
    return w, bias


@pytest.mark.parametrize("engine", ["libreoffice", "gnumeric"])
def test_transposed_three_ways_equal_pytorch(recalculated, engine: str) -> None:
    _, copies, _ = recalculated
    checked = 0
    for name, source in SOURCES.items():
        for layer in _layers(source):
            op = layer.op
            if op.op != "conv_transpose2d":
                continue
            book = Book(copies[engine][name])
            x = _layer_input(book, source, layer)
            w, bias = _weights(book, layer)
            want = F.conv_transpose2d(x[None], w, bias, stride=op.stride, padding=op.padding,
                                      output_padding=op.output_padding, groups=op.groups,
                                      dilation=op.dilation)[0].numpy()
            prefix = layer.names.tensor
            for o in range(op.out_channels):
                for block in (layer.names.output_c(o), f"{prefix}scatter_output_c{o}",
                              f"{prefix}matrix_output_c{o}"):
                    got = book.values(block)
                    assert np.allclose(got, want[o], rtol=TOL, atol=TOL), (engine, name, block)
            assert book.values(f"{prefix}three_ways_difference")[0, 0] <= TOL
            _check_conv_matrix(book, name, layer, w)
            _check_stamps(book, name, layer, x, w)
            checked += 1
    assert checked == 7  # the preset, five random layers, encoder_decoder's decoder


def _check_conv_matrix(book: Book, name: str, layer, w: torch.Tensor) -> None:  # type: ignore[no-untyped-def]
    """Each block of C is the Jacobian of the direct convolution (same kernel, stride,
    padding, dilation, groups) from an output-sized image, cropped to the input's size."""
    op = layer.op
    c, h, wd = layer.in_shape
    o, oh, ow = layer.out_shape
    z = torch.zeros((o, oh, ow), dtype=torch.float64)

    def direct(image: torch.Tensor) -> torch.Tensor:
        return F.conv2d(image[None], w, None, stride=op.stride, padding=op.padding,
                        dilation=op.dilation, groups=op.groups)[0, :, :h, :wd]

    jacobian = torch.autograd.functional.jacobian(direct, z).numpy()  # (c, h, w, o, oh, ow)
    per_in, per_out = c // op.groups, o // op.groups
    prefix = layer.names.tensor
    for a in range(c):
        for b in range(o):
            block = jacobian[a, :, :, b].reshape(h * wd, oh * ow)
            key = f"{prefix}conv_matrix_{a}_{b}"
            if a // per_in == b // per_out:
                assert np.allclose(book.values(key), block, rtol=TOL, atol=TOL), (name, key)
            else:  # another group: no block, and the Jacobian is zero there
                assert key not in book.names and not block.any(), (name, key)


def _check_stamps(book: Book, name: str, layer, x: torch.Tensor, w: torch.Tensor) -> None:  # type: ignore[no-untyped-def]
    c, r, k = PICKS[name][layer.names.tensor]
    prefix = layer.names.tensor
    assert book.values(f"{prefix}scatter_pixel")[0, 0] == float(x[c, r, k])
    for b in range(w.shape[1]):
        stamp = book.values(f"{prefix}scatter_stamp_{b}")
        assert np.allclose(stamp, float(x[c, r, k]) * w[c, b].numpy(), rtol=TOL, atol=TOL)
    assert book.values(f"{prefix}scatter_top")[0, 0] == r * layer.op.stride[0] - \
        layer.op.padding[0]


@pytest.mark.parametrize("engine", ["libreoffice", "gnumeric"])
def test_direct_matrix_view_is_unfold_times_weights(recalculated, engine: str) -> None:
    _, copies, _ = recalculated
    checked = 0
    for name, source in SOURCES.items():
        for layer in _layers(source):
            op = layer.op
            if op.op != "conv2d":
                continue
            book = Book(copies[engine][name])
            x = _layer_input(book, source, layer)
            w, bias = _weights(book, layer)
            prefix = layer.names.tensor
            patches = F.unfold(x[None], op.kernel_size, dilation=op.dilation,
                               padding=op.padding, stride=op.stride)[0].T.numpy()
            assert np.allclose(book.values(f"{prefix}im2col"), patches, rtol=TOL, atol=TOL), \
                (engine, name)
            want = F.conv2d(x[None], w, bias, stride=op.stride, padding=op.padding,
                            dilation=op.dilation, groups=op.groups)[0].numpy()
            for o in range(op.out_channels):
                got = book.values(f"{prefix}matrix_output_c{o}")
                assert np.allclose(got, want[o], rtol=TOL, atol=TOL), (engine, name, o)
            checked += 1
    assert checked == 9  # five direct presets, separable (two layers), strided_grouped, encoder


def test_verify_checks_every_view_and_its_probe(recalculated) -> None:
    paths, _, reports = recalculated
    assert [r.path for r in reports][:len(paths)] == [str(p) for p in paths]
    assert len(reports) == len(SOURCES)
    for report in reports:
        assert sorted(run.engine for run in report.runs) == ["gnumeric", "ironcalc",
                                                              "libreoffice"]
        assert report.ok, (report.path, report.unusable, [
            (b.name, b.problem) for run in report.runs for b in run.blocks if not b.ok][:3])
        assert all(run.probed for run in report.runs), report.path
    names = {b.name for report in reports for run in report.runs for b in run.blocks}
    for name in ("scatter_output_c0", "matrix_output_c0", "conv_matrix_0_0", "matrix_input",
                 "im2col", "matrix_weights", "scatter_stamp_0", "three_ways_difference",
                 "decode_scatter_output_c0", "decode_conv_matrix_0_0", "encode_im2col"):
        assert name in names, name


def test_a_layer_too_large_for_its_matrices_says_so() -> None:
    spec = LayerSpec.create("transposed", {"input_size": "12x12", "in_channels": 2,
                                           "out_channels": 2}, preset("transposed"))
    c, h, w = spec.network().layers[0].in_shape
    _, oh, ow = spec.network().layers[0].out_shape
    assert c * 2 * h * w * oh * ow > MAX_MATRIX_CELLS
    plan = make_plan(spec.network())
    assert "Matrix" not in [s.name for s in plan.sheets]
    assert "Scatter" in [s.name for s in plan.sheets]
    guide = " ".join(str(label.value) for label in plan.sheets[0].labels)
    assert "Matrix view is left out" in guide and "smaller" in guide
    names = {b.name for b in plan.blocks()}
    assert "guide_scatter_c0" in names and "guide_matrix_c0" not in names


def test_views_can_be_left_out(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "t.xlsx"
    result = runner.invoke(cli, ["build", "--variant", "transposed", "--no-matrix",
                                  "--no-scatter", "-o", str(target)])
    assert result.exit_code == 0, result.output
    sheets = openpyxl.load_workbook(target).sheetnames
    assert "Matrix" not in sheets and "Scatter" not in sheets and "Explorer" in sheets
    result = runner.invoke(cli, ["build", "--variant", "basic", "-o", str(target), "--force"])
    assert result.exit_code == 0, result.output
    assert "Matrix" in openpyxl.load_workbook(target).sheetnames
