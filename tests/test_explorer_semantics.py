"""What the explorer says and highlights, checked against PyTorch (fast, in process).

The explorer compares its own total with the selected output cell and shows "equal" or
"DIFFERENT": the word expected here comes from comparing numbers computed with PyTorch from the
workbook's inputs and weights (and from a tampered output cell), never from convsheets. Its
conditional formats highlight the window the selected output cell reads, the selected filter's
kernels and the output cell: every rule is evaluated at every cell of its range by the strict
in-process evaluator (tests/formula_eval.py; `ROW()`, `COLUMN()` and the selection's names
substituted per cell, relative references moved as a spreadsheet moves them), and the cells it
selects must be exactly the ones PyTorch's definition of the window gives (autograd of one
output value through `conv2d`, `F.unfold` for pooling): for the default selection and for a
step typed into the step cell. Everything is read through the built workbook's defined names,
sheets and conditional formats (the public outputs), never through convsheets' internals.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import openpyxl
import pytest
import torch
import torch.nn.functional as F
from formula_eval import Evaluator, Rect
from openpyxl.formula.translate import Translator
from openpyxl.utils.cell import get_column_letter

import convsheets

PROBE_SHEET = "HighlightProbe"
Cell = tuple[str, int, int]  # (sheet, row, column), 1-based


# ---------------------------------------------------------------------------- reading
def _first(wb: openpyxl.Workbook, name: str):  # type: ignore[no-untyped-def]
    rect = Evaluator(wb).name(name)
    return wb[rect.sheet].cell(rect.r0, rect.c0)


def _cells(rect: Rect) -> list[Cell]:
    return [(rect.sheet, r, c) for r in range(rect.r0, rect.r1 + 1)
            for c in range(rect.c0, rect.c1 + 1)]


def _count(ev: Evaluator, prefix: str) -> int:
    """How many blocks `prefix0`, `prefix1`, ... the workbook names."""
    n = 0
    while f"{prefix}{n}" in ev.wb.defined_names:
        n += 1
    return n


def highlighted(wb: openpyxl.Workbook, sheets: set[str]) -> set[Cell]:
    """Every cell of `sheets` that one of the workbook's formula-based conditional formats
    selects, evaluated per cell as a spreadsheet does. Relative references are moved from the
    range's top-left cell (openpyxl's Translator), ROW() and COLUMN() become the cell's row and
    column, workbook-scope names become the cells they name; the formulas go into a scratch
    sheet and the strict evaluator computes them (an unknown construct raises)."""
    names = {n: wb.defined_names[n].attr_text for n in wb.defined_names}
    pattern = re.compile(r"(?<![\w.!$'])(" + "|".join(
        re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")(?![\w(!])")
    probe = wb.create_sheet(PROBE_SHEET)
    targets: list[Cell] = []
    for sheet in sorted(sheets):
        for cf in wb[sheet].conditional_formatting:
            for rule in cf.rules:
                if rule.type != "expression":
                    continue
                assert len(rule.formula) == 1, rule.formula
                for cell_range in cf.sqref.ranges:
                    c0, r0, c1, r1 = cell_range.bounds
                    origin = f"{get_column_letter(c0)}{r0}"
                    for r in range(r0, r1 + 1):
                        for c in range(c0, c1 + 1):
                            text = Translator("=" + rule.formula[0], origin=origin) \
                                .translate_formula(f"{get_column_letter(c)}{r}")
                            text = text.replace("ROW()", str(r)).replace("COLUMN()", str(c))
                            text = pattern.sub(lambda m: names[m.group(1)], text)
                            targets.append((sheet, r, c))
                            probe.cell(len(targets), 1).value = text
    ev = Evaluator(wb)
    shown = {cell for n, cell in enumerate(targets, start=1)
             if _truthy(ev.value(PROBE_SHEET, n, 1))}
    del wb[PROBE_SHEET]
    return shown


def _truthy(value: object) -> bool:
    assert isinstance(value, (bool, float)), value  # a rule's result: TRUE/FALSE or a number
    return bool(value)


# ---------------------------------------------------------------------------- PyTorch
def _conv_expected(ev: Evaluator, *, groups: int, stride: tuple[int, int],
                   dilation: tuple[int, int], pick: tuple[int, int, int]) -> set[Cell]:
    """The cells a conv2d explorer at output (c, r, k) must highlight: the taps of the padded
    input that output reads (autograd of y[c, r, k] through F.conv2d on the padded input, all
    weights 1), the kernels of filter c (autograd with an input of ones) and the output cell."""
    c, r, k = pick
    c_in, c_out = _count(ev, "padded_c"), _count(ev, "output_c")
    padded = [ev.name(f"padded_c{i}") for i in range(c_in)]
    hp, wp = padded[0].shape
    weights = {(o, j): ev.name(f"weight_{o}_{j}") for o in range(c_out)
               for j in range(c_in // groups)}
    kh, kw = weights[0, 0].shape
    xp = torch.zeros(1, c_in, hp, wp, dtype=torch.float64, requires_grad=True)
    w = torch.ones(c_out, c_in // groups, kh, kw, dtype=torch.float64, requires_grad=True)
    F.conv2d(xp, w.detach(), None, stride, 0, dilation, groups)[0, c, r, k].backward()
    F.conv2d(torch.ones_like(xp), w, None, stride, 0, dilation, groups)[0, c, r, k].backward()
    want = {(padded[ch].sheet, padded[ch].r0 + i, padded[ch].c0 + j)
            for ch, i, j in torch.nonzero(xp.grad[0]).tolist()}
    want |= {(weights[o, j].sheet, weights[o, j].r0 + a, weights[o, j].c0 + b)
             for o, j, a, b in torch.nonzero(w.grad).tolist()}
    out = ev.name(f"output_c{c}")
    return want | {(out.sheet, out.r0 + r, out.c0 + k)}


def _pool_expected(ev: Evaluator, *, kernel: tuple[int, int], stride: tuple[int, int],
                   padding: tuple[int, int], dilation: tuple[int, int],
                   pick: tuple[int, int, int]) -> set[Cell]:
    """A max-pool explorer at output (c, r, k): the taps of input channel c inside the input
    that PyTorch's window (F.unfold with the pool's kernel, dilation, padding, stride) holds,
    and the output cell."""
    c, r, k = pick
    src = ev.name(f"input_c{c}")
    h, w = src.shape
    index = torch.arange(1, h * w + 1, dtype=torch.float64).reshape(1, 1, h, w)
    windows = F.unfold(index, kernel, dilation, padding, stride)[0]  # (kh*kw, positions)
    ow = F.max_pool2d(index, kernel, stride, padding, dilation).shape[-1]
    taps = [int(v) - 1 for v in windows[:, r * ow + k].tolist() if v != 0]  # 0: padding
    out = ev.name(f"output_c{c}")
    return {(src.sheet, src.r0 + t // w, src.c0 + t % w) for t in taps} | {
        (out.sheet, out.r0 + r, out.c0 + k)}


def _sheets(ev: Evaluator, *prefixes: str) -> set[str]:
    return {ev.name(n).sheet for n in ev.wb.defined_names
            if any(re.fullmatch(rf"{p}\d+(_\d+)?", n) for p in prefixes)}


# ---------------------------------------------------------------------------- highlights
CONV_CASES = {  # name: (build options, groups, stride, dilation)
    # 4 -> 6 channels in 2 groups, rectangular kernel, stride 2x1, padding 1x2, dilation 2x1
    "grouped": (dict(variant="grouped", in_channels=4, out_channels=6, groups=2,
                     kernel_size="3x2", stride="2x1", padding="1x2", dilation="2x1",
                     input_size="7x6"), 2, (2, 1), (2, 1)),
    # dilation 1 down the rows and 2 across, stride 1x2, padding 1
    "basic": (dict(variant="basic", in_channels=2, out_channels=2, kernel_size="2x3",
                   stride="1x2", padding=1, dilation="1x2", input_size="5x7"), 1, (1, 2),
              (1, 2)),
}


def _shape_of_output(ev: Evaluator) -> tuple[int, int, int]:
    first = ev.name("output_c0")
    return (_count(ev, "output_c"), *first.shape)


def _build(tmp_path: Path, name: str, **options: object) -> openpyxl.Workbook:
    path = tmp_path / f"{name}.xlsx"
    convsheets.build(output=path, **options)  # type: ignore[arg-type]
    return openpyxl.load_workbook(path)


def _selections(shape: tuple[int, int, int]) -> list[tuple[str, int, tuple[int, int, int]]]:
    """(how, step, (c, r, k)): the coordinates (0, 0, 0) typed in and a typed step in the
    middle of the layer, decoded as the explorer's note defines a step (channel, row, column
    order)."""
    step = int(np.prod(shape)) // 2 + shape[2] + 1
    step %= int(np.prod(shape))
    pick = np.unravel_index(step, shape)
    return [("coordinates", -1, (0, 0, 0)), ("step", step, tuple(int(v) for v in pick))]


def _select(wb: openpyxl.Workbook, how: str, step: int, pick: tuple[int, int, int],
            prefix: str = "") -> None:
    """Choose the explorer's cell as a student would: the three coordinates typed in (step
    cleared), or a step typed in (the coordinates then ignored)."""
    if how == "step":
        _first(wb, f"{prefix}explore_step").value = step
        _first(wb, f"{prefix}explore_channel").value = 1  # ignored while a step is typed in
    else:
        for key, value in zip(("channel", "row", "col"), pick, strict=True):
            _first(wb, f"{prefix}explore_{key}").value = value
        _first(wb, f"{prefix}explore_step").value = None


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv_explorer_highlights_exactly_pytorchs_window(tmp_path: Path, case: str) -> None:
    options, groups, stride, dilation = CONV_CASES[case]
    for how, step, pick in _selections(_shape_of_output(Evaluator(_build(
            tmp_path, case, **options)))):
        wb = _build(tmp_path, case, **options)
        _select(wb, how, step, pick)
        ev = Evaluator(wb)
        want = _conv_expected(ev, groups=groups, stride=stride, dilation=dilation, pick=pick)
        # the window is not at the padded input's bottom or right edge: a window one row too
        # tall or one column too wide would still land inside the block and show
        blocks = [ev.name(f"padded_c{i}") for i in range(_count(ev, "padded_c"))]
        inside = [[(r, c) for s, r, c in want if s == b.sheet and b.r0 <= r <= b.r1
                   and b.c0 <= c <= b.c1] for b in blocks]
        assert any(cells and max(r for r, _ in cells) < b.r1 and max(c for _, c in cells) < b.c1
                   for b, cells in zip(blocks, inside, strict=True)), (case, how)
        sheets = _sheets(ev, "padded_c", "weight_", "output_c")
        got = highlighted(wb, sheets)
        assert got == want, (case, how, pick, sorted(got - want)[:5], sorted(want - got)[:5])


POOL = {"kernel": (3, 2), "stride": (2, 1), "padding": (1, 1), "dilation": (1, 2)}


def test_pool_explorer_highlights_exactly_pytorchs_window(tmp_path: Path) -> None:
    template = {"input_size": [7, 6], "in_channels": 2, "seed": 4, "values": "normal",
                "layers": [{"op": "max_pool2d", "kernel_size": list(POOL["kernel"]),
                            "stride": list(POOL["stride"]), "padding": list(POOL["padding"]),
                            "dilation": list(POOL["dilation"])}]}
    wb = _build(tmp_path, "pool", template=template)
    ev = Evaluator(wb)
    explore = [n for n in wb.defined_names if n.endswith("explore_step")]
    assert len(explore) == 1, explore
    prefix = explore[0][: -len("explore_step")]
    for how, step, pick in _selections(_shape_of_output(ev)):
        wb = _build(tmp_path, "pool", template=template)
        _select(wb, how, step, pick, prefix)
        ev = Evaluator(wb)
        want = _pool_expected(ev, pick=pick, **POOL)  # type: ignore[arg-type]
        assert len(want) > 2, (how, want)  # the window holds more than one input cell
        got = highlighted(wb, _sheets(ev, "input_c", "output_c"))
        assert got == want, (how, pick, sorted(got - want)[:5], sorted(want - got)[:5])


# ---------------------------------------------------------------------------- equal / DIFFERENT
def _torch_output(ev: Evaluator, groups: int, stride: tuple[int, int], padding: int | tuple,
                  dilation: tuple[int, int]) -> np.ndarray:
    """PyTorch's conv2d of the workbook's input, weights and bias (read by name)."""
    c_in, c_out = _count(ev, "input_c"), _count(ev, "output_c")
    x = torch.tensor(np.stack([ev.rect(ev.name(f"input_c{i}")) for i in range(c_in)]))[None]
    w = torch.tensor(np.stack([np.stack([ev.rect(ev.name(f"weight_{o}_{j}"))
                                         for j in range(c_in // groups)])
                               for o in range(c_out)]))
    b = torch.tensor(ev.rect(ev.name("bias"))[0])
    return F.conv2d(x, w, b, stride, padding, dilation, groups)[0].numpy()


def _word(total: float, shown: float) -> str:
    """The explorer's verdict for two numbers, from its note: equal within 1e-9 relative."""
    return "equal" if abs(total - shown) <= 1e-9 * (1 + abs(shown)) else "DIFFERENT"


def test_explorer_says_equal_or_different_as_the_numbers_do(tmp_path: Path) -> None:
    """The total is PyTorch's value at the selected cell (the explorer recomputes it from the
    input); the cell it is compared with is the output cell as the file holds it: untouched
    (PyTorch's value: "equal"), or overwritten with PyTorch's value + 1 ("DIFFERENT"), or
    with a change at another output cell only ("equal")."""
    options = dict(variant="grouped", in_channels=4, out_channels=6, groups=2,
                   kernel_size="3x2", stride="2x1", padding=1, dilation="2x1",
                   input_size="7x6", values="normal", seed=3)
    ev = Evaluator(_build(tmp_path, "agree", **options))
    y = _torch_output(ev, 2, (2, 1), 1, (2, 1))
    pick = (4, 1, 2)
    other = (4, 2, 0)
    seen = []
    for change in ("none", "selected", "other"):
        wb = _build(tmp_path, "agree", **options)
        for key, v in zip(("channel", "row", "col"), pick, strict=True):
            _first(wb, f"explore_{key}").value = v
        shown = float(y[pick])
        if change != "none":
            at = pick if change == "selected" else other
            rect = Evaluator(wb).name(f"output_c{at[0]}")
            wb[rect.sheet].cell(rect.r0 + at[1], rect.c0 + at[2]).value = float(y[at]) + 1
            if change == "selected":
                shown = float(y[at]) + 1
        ev = Evaluator(wb)
        # the explorer's total is PyTorch's value (so the comparison below is the real one)
        total = ev.rect(ev.name("explore_sum"))[0, 0]
        assert abs(total - y[pick]) <= 1e-9 * max(1.0, abs(y[pick])), (change, total)
        agree = ev.name("explore_agree")
        word = ev.value(agree.sheet, agree.r0, agree.c0)
        assert word == _word(float(y[pick]), shown), (change, word)
        seen.append(word)
    assert seen == ["equal", "DIFFERENT", "equal"]
