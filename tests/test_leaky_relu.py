"""leaky_relu: the op added to prove the one-pipeline design (one module under ops/).

The oracle is PyTorch (`torch.nn.functional.leaky_relu`, `nn.LeakyReLU`'s own forward and
repr), never convsheets' reference: the workbooks are recalculated by LibreOffice, Gnumeric and
the in-process evaluator; verify (explorer, stored values, probe), exercises and grading and
`from_module` are run on networks that hold it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import openpyxl
import pytest
import torch
import torch.nn.functional as F
from exercise_fill import fill, typed
from formula_eval import Evaluator
from test_networks import TOLERANCE, _compare, _tensors, torch_outputs

import convsheets
from convsheets.engines import get_engine
from convsheets.grade import grade_files
from convsheets.networks import network_from_template
from convsheets.verify import verify_files
from convsheets.xlsxread import XlsxFile, parse_ref

TEMPLATE = {
    "input_size": "6x6", "in_channels": 2, "seed": 11, "values": "normal",
    "layers": [
        {"op": "conv2d", "name": "conv1", "out_channels": 2, "kernel_size": 3, "padding": 1},
        {"op": "leaky_relu", "name": "leaky1", "negative_slope": 0.2},
        {"op": "conv2d", "name": "conv2", "out_channels": 2, "kernel_size": 2},
        {"op": "leaky_relu", "name": "leaky2"},  # PyTorch's default slope
        {"op": "max_pool2d", "name": "pool", "kernel_size": 2},
    ]}


def _reader(xf: XlsxFile):  # type: ignore[no-untyped-def]
    names, sheets = xf.defined_names(), {}

    def read(name: str) -> np.ndarray:
        sheet, r0, c0, r1, c1 = parse_ref(names[name])
        if sheet not in sheets:
            sheets[sheet] = xf.read_sheet(sheet)
        return sheets[sheet].region(r0, c0, r1, c1).values
    return read


def test_unset_slope_is_pytorchs_default_and_prints_as_pytorch() -> None:
    network = network_from_template(TEMPLATE, "leaky")
    assert str(network.layers[3].op) == repr(torch.nn.LeakyReLU())
    assert str(network.layers[1].op) == repr(torch.nn.LeakyReLU(negative_slope=0.2))
    assert network.layers[3].op.negative_slope == torch.nn.LeakyReLU().negative_slope


@pytest.mark.parametrize("slope", [0.01, 0.2, 1.5, -0.5, 0.0, 3e-05])
def test_reference_equals_pytorch(slope: float) -> None:
    x = np.random.default_rng(0).normal(size=(3, 5, 5)) * 10
    x[0, 0, :3] = (0.0, -0.0, -1e-300)
    op = network_from_template({**TEMPLATE, "layers": [
        {"op": "leaky_relu", "negative_slope": slope}]}, "leaky").layers[0].op
    want = F.leaky_relu(torch.tensor(x), slope).numpy()
    got = op.reference(x, {})
    assert np.array_equal(got, want) and np.array_equal(np.signbit(got), np.signbit(want))


def test_workbook_equals_pytorch_in_process_and_in_every_engine(tmp_path: Path) -> None:
    network = network_from_template(TEMPLATE, "leaky")
    path = tmp_path / "leaky.xlsx"
    convsheets.build(template=TEMPLATE, output=path)
    ev = Evaluator(openpyxl.load_workbook(path))
    ev.evaluate_all()
    assert _compare(network, lambda name: ev.rect(ev.name(name))) == []
    with XlsxFile(path) as xf:  # the values stored with the formulas, before any engine
        read = _reader(xf)
        assert _compare(network, read) == []
        want = torch_outputs(network, _tensors(network, read))
        assert np.any(want["leaky1_output_c0"] < 0)  # the slope is exercised
    for engine in ("libreoffice", "gnumeric"):
        (copy,) = get_engine(engine).recalculate([path], tmp_path / engine, timeout=300)
        with XlsxFile(copy) as xf:
            assert _compare(network, _reader(xf)) == [], engine
    (report,) = verify_files([path], engine="gnumeric")
    assert report.ok and all(run.probed for run in report.runs)
    checked = {b.name for run in report.runs for b in run.blocks}
    # the explorer of the conv that reads leaky1's output, and leaky2's own output
    assert {"conv2_explore_sum", "conv2_explore_window_1", "leaky2_output_c1"} <= checked


def test_from_module_equals_the_modules_forward(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1),
                                torch.nn.LeakyReLU(0.125), torch.nn.MaxPool2d(2),
                                torch.nn.LeakyReLU()).double().eval()
    x = torch.randn(1, 1, 6, 6, dtype=torch.float64)
    path = tmp_path / "m.xlsx"
    convsheets.from_module(model, x, path)
    with torch.no_grad():
        want = model(x)[0].numpy()
    with XlsxFile(path) as xf:
        read = _reader(xf)
        got = np.stack([read(f"output_c{o}") for o in range(want.shape[0])])
    assert np.all(np.abs(got - want) <= TOLERANCE * np.maximum(1.0, np.abs(want)))
    refused = torch.nn.Sequential(torch.nn.LeakyReLU(1 / 3))
    with pytest.raises(convsheets.errors.ConvsheetsError, match="negative_slope"):
        convsheets.from_module(refused, torch.zeros(1, 1, 2, 2), tmp_path / "r.xlsx")
    assert not (tmp_path / "r.xlsx").exists()


def test_exercise_on_leaky_outputs_graded_from_pytorch(tmp_path: Path) -> None:
    """The handout's answers are filled from PyTorch's values (not the key under test): all
    right grades 100 %, one wrong answer loses exactly one cell."""
    network = network_from_template(TEMPLATE, "leaky")
    handout = tmp_path / "hw.xlsx"
    convsheets.build(template=TEMPLATE, output=handout, exercise=True, blank="leaky1,leaky2")
    with XlsxFile(handout) as xf:
        tensors = _tensors(network, _reader(xf))
    want = torch_outputs(network, tensors)
    answers = {name: value for name, value in want.items() if name.startswith("leaky")}
    right, wrong = tmp_path / "right.xlsx", tmp_path / "wrong.xlsx"
    fill(handout, right, lambda block, i, j, _key: typed(float(answers[block][i, j]))
         if block in answers else None)
    fill(handout, wrong, lambda block, i, j, _key: typed(
        float(answers[block][i, j]) + (1 if (block, i, j) == ("leaky1_output_c0", 0, 0) else 0))
        if block in answers else None)
    graded = {Path(g.file).name: g for g in grade_files([right, wrong])}
    leaky_cells = sum(v.size for v in answers.values())
    for name, missed in (("right.xlsx", 0), ("wrong.xlsx", 1)):
        blocks = [b for b in graded[name].blocks if b.name.startswith("leaky")]
        assert sum(b.total for b in blocks) == leaky_cells
        assert sum(b.total - b.correct for b in blocks) == missed, name


def test_bad_slope_is_one_line_exit_2(tmp_path: Path) -> None:
    for value, words in (('"steep"', "must be a number"),
                         ("0.1234567890123456", "15 significant digits")):
        template = tmp_path / "t.toml"
        template.write_text('input_size = 4\nin_channels = 1\n[[layers]]\nop = "leaky_relu"\n'
                            f"negative_slope = {value}\n")
        out = tmp_path / "t.xlsx"
        done = subprocess.run([sys.executable, "-m", "convsheets", "build", "--template",
                               str(template), "-o", str(out)], capture_output=True, text=True)
        assert done.returncode == 2 and "negative_slope" in done.stderr and words in \
            done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert not out.exists()
