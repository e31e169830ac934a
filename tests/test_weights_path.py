"""Issue 24, the weights path: a weights file's unused tensors are a warning (an error with
--strict / strict=True), and a template may leave out what the input and the tensors fix
(in_channels, input_size, out_channels, kernel_size, out_features, bias). The oracle for the
values is the PyTorch module the file was saved from."""

from __future__ import annotations

import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file
from torch import nn

import convsheets
from convsheets.api import UnusedWeightsWarning
from convsheets.cli import cli
from convsheets.errors import WeightsError
from convsheets.xlsxread import XlsxFile, parse_ref


def _model() -> nn.Sequential:
    torch.manual_seed(5)
    return nn.Sequential(OrderedDict([
        ("conv", nn.Conv2d(2, 3, (2, 3), bias=False)), ("relu", nn.ReLU()),
        ("flat", nn.Flatten()), ("head", nn.Linear(3 * 3 * 3, 4)),
        ("bn", nn.BatchNorm1d(4))])).double().eval()


TEMPLATE = '''input = {input}
[[layers]]
op = "conv2d"
weights = "conv"
[[layers]]
op = "relu"
[[layers]]
op = "flatten"
[[layers]]
op = "linear"
name = "head"
weights = "head"
'''


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, torch.Tensor]:
    model = _model()
    weights = tmp_path / "m.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    x = torch.tensor(np.random.default_rng(2).integers(-4, 5, (2, 4, 5)), dtype=torch.float64)
    template = tmp_path / "t.toml"
    template.write_text(TEMPLATE.format(input=x.to(torch.int64).tolist()))
    return template, weights, x


def _output(path: Path) -> np.ndarray:
    with XlsxFile(path) as xf:
        sheet, r0, c0, r1, c1 = parse_ref(xf.defined_names()["output"])
        return np.asarray(xf.read_sheet(sheet).region(r0, c0, r1, c1).values,
                          dtype=float).reshape(-1)


def test_options_come_from_the_input_and_the_tensors(files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    template, weights, x = files
    out = tmp_path / "w.xlsx"
    with pytest.warns(UnusedWeightsWarning, match=r"4 tensor\(s\) no layer reads: bn\."):
        result = convsheets.build(template=template, weights=weights, output=out)
    assert result.path == out
    model = _model()
    with torch.no_grad():  # the module's own layers, up to the linear one the template draws
        want = model.head(model.flat(model.relu(model.conv(x[None]))))[0].numpy()
    assert np.allclose(_output(out), want, rtol=1e-12, atol=1e-12)
    with XlsxFile(out) as xf:
        names = xf.defined_names()
    assert "conv1_bias" not in names and "conv1_weight_2_1" in names  # bias=False: none drawn
    assert "head_bias" in names


def test_unused_tensors_warn_on_the_command_line_and_strict_refuses(files,  # type: ignore[no-untyped-def]
                                                                    tmp_path: Path) -> None:
    template, weights, _ = files
    runner = CliRunner()
    out = tmp_path / "cli.xlsx"
    done = runner.invoke(cli, ["build", "--template", str(template), "--weights", str(weights),
                               "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert "no layer reads" not in done.stdout
    assert f"warning: --weights {weights}: 4 tensor(s) no layer reads: bn." in done.stderr
    assert all(f"bn.{n}" in done.stderr for n in ("weight", "bias", "running_mean",
                                                   "running_var"))
    assert "--strict makes this an error" in done.stderr
    strict = tmp_path / "strict.xlsx"
    done = subprocess.run([sys.executable, "-m", "convsheets", "build", "--template",
                           str(template), "--weights", str(weights), "-o", str(strict),
                           "--strict"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: --weights "), done.stderr
    assert "4 tensor(s) no layer reads: bn." in lines[0] and "bn.running_mean" in lines[0]
    assert "with --strict every tensor" in lines[0]
    assert not strict.exists()
    with pytest.raises(WeightsError, match="with strict= every tensor"):
        convsheets.build(template=template, weights=weights, output=strict, strict=True)
    assert not strict.exists()


def test_a_file_with_every_tensor_used_builds_quietly_under_strict(tmp_path: Path) -> None:
    model = _model()
    state = {k: v.contiguous() for k, v in model.state_dict().items() if not k.startswith("bn")}
    weights = tmp_path / "m.safetensors"
    save_file(state, str(weights))
    template = tmp_path / "t.toml"
    template.write_text(TEMPLATE.format(input=np.ones((2, 4, 5), dtype=int).tolist()))
    done = CliRunner().invoke(cli, ["build", "--template", str(template), "--weights",
                                    str(weights), "-o", str(tmp_path / "q.xlsx"), "--strict"])
    assert done.exit_code == 0 and "warning" not in done.stderr, done.output
