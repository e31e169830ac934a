"""The default view budget (`convsheets/budget.py`): explorers and matrices of model-sized
layers are left out by default, the guide says which, why, and that --all-views adds them;
--all-views brings them back and the workbook still verifies; presets and shipped networks
keep every view."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

import convsheets
from convsheets.build import make_plan
from convsheets.cli import cli
from convsheets.request import API, every_preset, resolve

# A model-sized chain whose sizes the test states by hand (not from the budget's code):
# c1 reads 1 channel of 5x5 (a readable explorer) but its im2col is 784 patches x 25 taps
# (19,600 cells + 25 x 2 weights: past a readable page, under the hard 20,000 limit);
# c2 1x1 over 2 channels and c3 1x1 over 20 channels on 14x14 (matrices of 432 and 3,960
# cells: readable), c3's explorer reading 20 channels (a column longer than a screen).
MODEL = {
    "input_size": "28x28", "in_channels": 1, "seed": 3,
    "layers": [
        {"op": "conv2d", "name": "c1", "out_channels": 2, "kernel_size": 5, "padding": 2},
        {"op": "max_pool2d", "name": "s2", "kernel_size": 2},
        {"op": "conv2d", "name": "c2", "out_channels": 20, "kernel_size": 1},
        {"op": "relu", "name": "r2"},
        {"op": "conv2d", "name": "c3", "out_channels": 2, "kernel_size": 1},
    ],
}
VIEW_SHEETS = {"c1 Explorer", "c1 Matrix", "s2 Explorer", "c2 Explorer", "c2 Matrix",
               "c3 Explorer", "c3 Matrix"}
LEFT_OUT = {"c1 Matrix", "c3 Explorer"}


def _guide_lines(path: Path) -> list[str]:
    sheet = load_workbook(path, read_only=True)["Guide"]
    return [str(cell) for row in sheet.iter_rows(values_only=True) for cell in row
            if isinstance(cell, str)]


def _view_sheets(path: Path) -> set[str]:
    names = load_workbook(path, read_only=True).sheetnames
    return {name for name in names if name.split(" ")[-1] in ("Explorer", "Matrix")}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("budget")
    default = convsheets.build(template=MODEL, output=folder / "default.xlsx").path
    template = folder / "model.toml"
    lines = [f'input_size = "{MODEL["input_size"]}"', "in_channels = 1", "seed = 3"]
    for layer in MODEL["layers"]:  # type: ignore[union-attr]
        lines.append("[[layers]]")
        lines += [f"{k} = {v!r}".replace("'", '"') for k, v in layer.items()]
    template.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(cli, ["build", "--template", str(template), "--all-views",
                                      "-o", str(folder / "all.xlsx")])
    assert result.exit_code == 0, result.output
    return {"default": default, "all": folder / "all.xlsx"}


def test_the_budget_leaves_out_unreadable_views_and_the_guide_names_the_option(built):
    assert _view_sheets(built["default"]) == VIEW_SHEETS - LEFT_OUT
    text = " ".join(_guide_lines(built["default"]))  # (the guide wraps long lines)
    matrix = re.findall(r"c1: the Matrix sheet is left out by default: (.*?) adds it\.", text)
    explorer = re.findall(r"c3: the Explorer sheet is left out by default: (.*?) adds it\.",
                          text)
    assert len(matrix) == 1 and "19,650 cells" in matrix[0] and "--all-views" in matrix[0]
    assert len(explorer) == 1 and "20 input channels" in explorer[0]
    assert "--all-views" in explorer[0]
    # no other layer's views are said to be left out by the budget
    assert text.count("sheet is left out by default") == 2
    # c1's Walk (a hard one-screen limit) stays out whatever the options, and the guide says so
    assert "c1: the Walk sheet is left out:" in text
    assert "--all-views adds only the views left out by default" in text

def test_all_views_brings_them_back_and_the_workbook_verifies(built):
    assert _view_sheets(built["all"]) == VIEW_SHEETS
    assert "left out by default" not in " ".join(_guide_lines(built["all"]))
    (report,) = convsheets.verify(built["all"], engine="gnumeric")
    assert report.ok, report
    compared = {block.name: block.ok for run in report.runs for block in run.blocks}
    # the views the budget had left out are among the blocks compared with NumPy
    assert compared.get("c1_im2col") is True and compared.get("c3_explore_sum") is True

def test_presets_and_shipped_networks_keep_every_view():
    """The budget is for model-sized layers: on every workbook `build --all` writes, the
    default plan has the same sheets as the plan with every view."""
    for name, resolved in every_preset().items():
        default = [sheet.name for sheet in make_plan(resolved.network).sheets]
        every = [sheet.name for sheet in make_plan(resolved.network, all_views=True).sheets]
        assert default == every, name


@pytest.mark.parametrize(("channels", "by_budget"), [(200, True), (400, False)])
def test_the_budget_promises_all_views_only_where_no_hard_limit_applies(channels, by_budget):
    """A 1x1 layer over 200 channels: its explorer fits Excel (every kernel cell's highlight
    rule an OR over 200 channels) and --all-views draws it; over 400 channels that rule would
    pass 8,192 characters, so the guide gives the hard limit's note, not the option."""
    network = resolve("pointwise", None, None, None, None,
                      {"in_channels": channels, "input_size": "2x2"}, API).network
    default, every = make_plan(network), make_plan(network, all_views=True)
    assert "Explorer" not in [sheet.name for sheet in default.sheets]
    budget = [note for note in default.notes if "left out by default" in note]
    hard = [note for note in default.notes if "8,192" in note]
    assert ("Explorer" in [sheet.name for sheet in every.sheets]) == by_budget
    assert (len(budget), len(hard)) == ((1, 0) if by_budget else (0, 1))


def test_a_workbook_from_before_the_budget_is_checked_with_every_view(tmp_path, monkeypatch):
    """A file built before the budget holds views it now leaves out, and its metadata has no
    all_views: verify sees those views in the file's block record and checks them too."""
    import json

    import convsheets.workbook as workbook

    original = workbook.metadata_json

    def without_the_flag(plan, stored):  # (what a build before the budget recorded)
        record = json.loads(original(plan, stored))
        del record["all_views"]
        return json.dumps(record, sort_keys=True)

    monkeypatch.setattr(workbook, "metadata_json", without_the_flag)
    path = convsheets.build("pointwise", in_channels=20, input_size="2x2", all_views=True,
                            output=tmp_path / "old.xlsx").path
    monkeypatch.undo()
    assert "Explorer" in load_workbook(path, read_only=True).sheetnames
    (report,) = convsheets.verify(path, engine="gnumeric")
    compared = {block.name: block.ok for run in report.runs for block in run.blocks}
    assert report.ok and compared.get("explore_sum") is True, report


def test_a_sequence_whose_last_explorer_is_left_out_has_no_receptive_field_sheet():
    """The Receptive field sheet is driven by the last layer's explorer: without it (20
    channels, past the budget) the sheet is not drawn; --all-views draws both."""
    network = resolve(None, {"input_size": 16, "in_channels": 1, "seed": 1, "layers": [
        {"op": "conv1d", "name": "wide", "out_channels": 20, "kernel_size": 2},
        {"op": "conv1d", "name": "last", "out_channels": 1, "kernel_size": 2}]},
        None, None, None, {}, API).network
    default = [sheet.name for sheet in make_plan(network).sheets]
    every = [sheet.name for sheet in make_plan(network, all_views=True).sheets]
    assert "last Explorer" not in default and "Receptive field" not in default
    assert "wide Explorer" in default  # (it reads one channel)
    assert "last Explorer" in every and "Receptive field" in every


def test_an_exercise_on_explorers_the_budget_left_out_says_so(tmp_path: Path) -> None:
    """A handout draws the default views: asking for explorer answers where the budget left
    out every explorer is one line that names the budget, not a bare "names no block"."""
    template = tmp_path / "wide.toml"
    template.write_text('input_size = "4x4"\nin_channels = 20\nseed = 1\n\n[[layers]]\n'
                        'op = "conv2d"\nname = "c1"\nout_channels = 1\nkernel_size = 1\n')
    result = subprocess.run([sys.executable, "-m", "convsheets", "build", "--template",
                             str(template), "--exercise", "--blank", "explore", "-o",
                             str(tmp_path / "h.xlsx")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2, result.stderr
    assert "view budget" in result.stderr and "--blank" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "h.xlsx").exists()
