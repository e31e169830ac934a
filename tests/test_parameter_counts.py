"""The guide's live parameter count equals PyTorch's (fast, in process).

The separable variant's guide counts depth-wise weights, point-wise weights and both stages'
biases with a formula over its parameter cells; the count the strict in-process evaluator
(tests/formula_eval.py) computes from the built workbook must equal
`sum(p.numel() for p in module.parameters())` of the equivalent PyTorch modules: a depth-wise
`nn.Conv2d(C, C*m, k, groups=C)` then a point-wise `nn.Conv2d(C*m, O, 1)`. With depth
multipliers above 1 and biases on (where a count that forgets the multiplier in the bias term
differs), for built workbooks and for other sizes typed into the guide's parameter cells.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
import torch.nn as nn
from formula_eval import Evaluator

import convsheets


def separable_parameters(c: int, m: int, o: int, kernel: tuple[int, int], bias: bool) -> int:
    depthwise = nn.Conv2d(c, c * m, kernel, groups=c, bias=bias)
    pointwise = nn.Conv2d(c * m, o, 1, bias=bias)
    return sum(p.numel() for module in (depthwise, pointwise) for p in module.parameters())


def guide_count(wb: openpyxl.Workbook) -> float:
    ev = Evaluator(wb)
    rect = ev.name("parameter_count")
    assert rect.shape == (1, 1)
    return ev.number(rect.sheet, rect.r0, rect.c0)


BUILT = [  # (in_channels C, depth_multiplier m, out_channels O, kernel, bias)
    (3, 2, 5, (3, 3), True),
    (2, 3, 4, (3, 2), True),
    (4, 2, 3, (1, 2), False),
    (1, 4, 2, (2, 2), True),
]


@pytest.mark.parametrize(("c", "m", "o", "kernel", "bias"), BUILT)
def test_separable_guide_counts_what_pytorch_counts(tmp_path: Path, c: int, m: int, o: int,
                                                   kernel: tuple[int, int], bias: bool) -> None:
    path = tmp_path / "separable.xlsx"
    convsheets.build("separable", in_channels=c, depth_multiplier=m, out_channels=o,
                     kernel_size=kernel, bias=bias, input_size="5x5", output=path)
    want = separable_parameters(c, m, o, kernel, bias)
    assert guide_count(openpyxl.load_workbook(path)) == want
    # the count the file stores for readers that never recalculate is the same number
    stored = openpyxl.load_workbook(path, data_only=True)
    sheet, ref = next(iter(stored.defined_names["parameter_count"].destinations))
    assert stored[sheet][ref.replace("$", "")].value == want


TYPED = [  # other layers typed into the guide's parameter cells (what-if)
    (5, 3, 7, (3, 1), True),
    (2, 2, 2, (2, 3), True),
    (6, 1, 4, (3, 3), True),
    (3, 4, 1, (1, 1), False),
]


def test_separable_guide_count_follows_typed_parameters(tmp_path: Path) -> None:
    path = tmp_path / "separable.xlsx"
    convsheets.build("separable", in_channels=2, depth_multiplier=2, out_channels=3,
                     kernel_size=3, bias=True, input_size="5x5", output=path)
    for c, m, o, (kh, kw), bias in TYPED:
        wb = openpyxl.load_workbook(path)
        cells = {"in_channels": c, "depth_multiplier": m, "out_channels": o,
                 "kernel_height": kh, "kernel_width": kw, "bias": int(bias)}
        for key, value in cells.items():
            sheet, ref = next(iter(wb.defined_names[f"param_{key}"].destinations))
            wb[sheet][ref.replace("$", "")].value = value
        assert guide_count(wb) == separable_parameters(c, m, o, (kh, kw), bias), cells
