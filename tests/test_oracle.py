"""The oracle never includes the generator: a drawing bug in an intermediate stage is reported
at that stage, not only downstream.

Each test plants a bug in the *drawing* (the index maps the sheets are written from), builds a
workbook with it, evaluates every formula in process and compares with `expected_blocks`. The
expected values of stage blocks come from the reference's pad / zero-insert / crop / flip /
dilate helpers, so the planted stage itself must be reported wrong.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from test_formulas_inprocess import workbook_problems

from convsheets.build import make_plan, write_atomically
from convsheets.draw import conv as draw_conv
from convsheets.ops import ConvTranspose2d
from convsheets.presets import preset
from convsheets.spec import LayerSpec
from convsheets.stages import flip_map

# padding 3 > dilation*(k-1) = 2: the zero-inserted input is cropped by one row and column at
# the top/left (output_padding 1 keeps the bottom/right), the case the issue names
CROPPING = {"input_size": "4x4", "in_channels": 1, "out_channels": 1, "kernel_size": 3,
            "stride": 2, "padding": 3, "output_padding": 1}


def _problems(tmp_path: Path, given: dict[str, object]) -> list[str]:
    spec = LayerSpec.create("transposed", given, preset("transposed"))
    path = tmp_path / "planted.xlsx"
    write_atomically(make_plan(spec.network()), path)
    return workbook_problems(spec, openpyxl.load_workbook(path))


def test_the_clean_drawing_is_right(tmp_path: Path) -> None:
    assert _problems(tmp_path, CROPPING) == []


def test_cropping_on_the_wrong_side_is_reported_at_the_upsampled_stage(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    right = ConvTranspose2d.edges

    def swapped(self: ConvTranspose2d, axis: int) -> tuple[int, int]:
        before, after = right(self, axis)
        return after, before

    monkeypatch.setattr(ConvTranspose2d, "edges", swapped)
    problems = _problems(tmp_path, CROPPING)
    assert any(p.startswith("upsampled_c0") for p in problems), problems[:5]
    assert any(p.startswith("output_c0") for p in problems), problems[:5]


def test_a_kernel_flipped_one_way_only_is_reported_at_the_flipped_stage(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows reversed but columns not: the flipped blocks themselves are wrong."""
    calls = []

    def half(n: int):  # type: ignore[no-untyped-def]
        calls.append(n)
        return flip_map(n) if len(calls) % 2 else tuple(range(n))

    monkeypatch.setattr(draw_conv, "flip_map", half)
    problems = _problems(tmp_path, {**CROPPING, "kernel_size": "3x3"})
    assert calls and any(p.startswith("flipped_weight_0_0") for p in problems), problems[:5]
