"""Issue 24's API: `convsheets.read` (blocks back as NumPy, stored or recalculated),
`from_module(..., check=...)` (the workbook recalculated by an engine against module(x)) and
the documented ``on_progress(done, total)`` callback. The oracle is PyTorch."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

import convsheets
from convsheets.errors import CheckError, SpecError

WEIGHTS = (Path(__file__).resolve().parent.parent / "convsheets" / "templates" / "networks"
           / "digit_classifier.safetensors")


def _net() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(OrderedDict([("c1", nn.Conv2d(1, 2, 3)), ("act", nn.Tanh()),
                                      ("flat", nn.Flatten()), ("fc", nn.Linear(18, 3))]))


def test_read_gives_blocks_and_stages_as_arrays(tmp_path: Path) -> None:
    path = tmp_path / "d.xlsx"
    steps: list[tuple[int, int]] = []
    convsheets.build(template="digit_classifier", output=path,
                     on_progress=lambda done, total: steps.append((done, total)))
    total = steps[0][1]
    assert steps[0] == (0, total) and steps[-1] == (total, total) and total > 0
    assert all(a[0] <= b[0] for a, b in zip(steps, steps[1:], strict=False))
    x = convsheets.read(path, "input_c0")
    assert x.shape == (8, 8)
    state = load_file(str(WEIGHTS))
    want = F.conv2d(torch.tensor(x)[None, None], state["conv1.weight"], state["conv1.bias"],
                    padding=1)[0].numpy()
    for engine in (None, "ironcalc"):
        got = convsheets.read(path, "conv1_output", engine=engine)
        assert got.shape == (4, 8, 8)
        assert np.allclose(got, want, rtol=1e-12, atol=1e-12), engine
    assert convsheets.read(path, "conv1_output_c2").shape == (8, 8)
    assert convsheets.read(path, "fc1_output").shape == (1, 10)
    probabilities = convsheets.read(path, "probabilities").reshape(-1)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(SpecError, match="conv9_output.*not a block of this workbook.*conv1"):
        convsheets.read(path, "conv9_output")
    with pytest.raises(SpecError, match="engine"):
        convsheets.read(path, "input_c0", engine="excel")


def test_from_module_check_compares_an_engine_with_the_module(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _net().eval()
    x = torch.tensor(np.random.default_rng(1).integers(0, 5, (1, 5, 5)), dtype=torch.float32)
    result = convsheets.from_module(model, x, tmp_path / "m.xlsx", check="ironcalc")
    assert result.layers["c1"] == "c1"
    with torch.no_grad():
        want = model.double()(x.double()[None])[0].numpy()
    assert np.allclose(convsheets.read(result.path, "output", engine="ironcalc").reshape(-1),
                       want, rtol=1e-12, atol=1e-12)
    # an engine that gets one value wrong by 1e-6 is caught, named and counted (a stand-in
    # engine: the stored values, one of them moved)
    import convsheets.readback as readback

    real = readback.read_blocks

    def off_by_a_little(path, names, engine=None, timeout=300.0):  # type: ignore[no-untyped-def]
        found = real(path, names, None, timeout)
        found["output"] = found["output"].copy()
        found["output"].reshape(-1)[1] += 1e-6
        return found

    monkeypatch.setattr(readback, "read_blocks", off_by_a_little)
    with pytest.raises(CheckError, match=r"recalculated by ironcalc, output value 1 .* 1 of 3 "
                       r"values differ by more than 1e-09"):
        convsheets.from_module(model, x, tmp_path / "m.xlsx", force=True, check="ironcalc")
