"""The guide sheet: what the variant is, the seed's steps, the arithmetic with this workbook's
numbers (as live formulas), a colour legend and an index of the other sheets.

Its formula cells (output size, parameter counts, the pointwise bottleneck arithmetic) are named
blocks like any other, so `verify` checks them too.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import numpy as np

from .layout import COMPUTED, EDIT, PARAM, Block, Label, SheetPlan
from .spec import LayerSpec
from .stages import Formula, Values
from .variants import VARIANTS
from .variants.pipeline import Plan

COL_TEXT, COL_VALUE = 2, 3  # text in B, values in C (and D for the width axis of pairs)
TEXT_WIDTH = 110  # characters per guide line

# The seed's 1x1 bottleneck example (a 128x128 input; editable on the pointwise guide).
BOTTLENECK = (("bottleneck_in_channels", "input channels C", 256),
              ("bottleneck_out_channels", "k x k kernels K (output channels)", 512),
              ("bottleneck_kernel", "kernel size k", 3),
              ("bottleneck_mid_channels", "1x1 kernels M in between", 64))

LEGEND = (("cs_edit", 3, "editable input, weight or bias: change it and watch the sheets "
           "recompute"),
          ("cs_computed", 7, "live formula (colour scale per block: purple low, green high)"),
          ("cs_pad", 0, "padding zero"),
          ("cs_insert", 0, "zero inserted between pixels (transposed convolution)"),
          ("cs_hole", 0, "hole of a dilated kernel"),
          ("cs_param", 2, "layer parameter fixed by the build (rebuild to change it)"))


def _legend_applies(style: str, spec: LayerSpec) -> bool:
    """Only the colours this workbook uses."""
    if style == "cs_pad":
        return spec.padding != (0, 0) or spec.is_transposed
    if style == "cs_insert":
        return spec.is_transposed and spec.stride != (1, 1)
    if style == "cs_hole":
        return spec.dilation != (1, 1)
    return True


class _Cursor:
    """Writes the guide top to bottom."""

    def __init__(self, sheet: SheetPlan) -> None:
        self.sheet, self.row = sheet, 1

    def text(self, value: str, style: str = "cs_label", col: int = COL_TEXT,
             width: int = TEXT_WIDTH) -> None:
        """Write a paragraph, wrapped so it stays inside the printed page."""
        for line in textwrap.wrap(value, width) or [""]:
            self.sheet.labels.append(Label(self.row, col, line, style))
            self.row += 1

    def gap(self) -> None:
        self.row += 1

    def block(self, label: str, block: Block, col: int = COL_VALUE, note: str = "") -> Block:
        self.sheet.labels.append(Label(self.row, COL_TEXT, label, "cs_label"))
        block.place(self.sheet.name, self.row, col)
        self.sheet.blocks.append(block)
        if note:
            self.sheet.labels.append(Label(self.row, col + 2, note, "cs_note"))
        self.row += 1
        return block


def add_guide(plan: Plan) -> None:
    """Insert the guide as the first sheet of `plan` (the other sheets must already exist)."""
    spec = plan.spec
    variant = VARIANTS[spec.variant]
    sheet = SheetPlan("Guide", widths={1: 2, COL_TEXT: 34, COL_VALUE: 9, 4: 9}, note="")
    sheet.default_width = 12
    plan.sheets.insert(0, sheet)
    cur = _Cursor(sheet)
    cur.text(f"convsheets: {spec.variant} convolution", "cs_heading")
    cur.text(variant.summary[0].upper() + variant.summary[1:] + ".")
    cur.text(f"PyTorch: {variant.torch}", "cs_note")
    cur.text("Edit the yellow cells on any sheet: every formula downstream recomputes. "
             "Grey, orange and blue cells (where present) are structural zeros.", "cs_title")
    cur.gap()
    cur.text("Steps", "cs_title")
    for n, step in enumerate(variant.steps, 1):
        cur.text(f"{n}. {step}")
    cur.gap()
    params = _parameters_table(cur, spec)
    cur.gap()
    _arithmetic(cur, spec, params)
    if spec.variant == "pointwise":
        cur.gap()
        _bottleneck(cur)
    cur.gap()
    cur.text("Colours", "cs_title")
    for style, value, meaning in LEGEND:
        if not _legend_applies(style, spec):
            continue
        sheet.labels.append(Label(cur.row, COL_VALUE, value, style))
        cur.text(meaning, col=COL_VALUE + 2, width=TEXT_WIDTH - 50)
    cur.gap()
    cur.text("Sheets", "cs_title")
    for other in plan.sheets[1:]:
        sheet.labels.append(Label(cur.row, COL_TEXT, other.name, "cs_label"))
        cur.text(other.note, col=COL_VALUE, width=TEXT_WIDTH - 34)
    cur.gap()
    cur.text("Every block has a workbook-scope defined name (Formulas > Name Manager), e.g. "
             "input_c0, weight_0_0, output_c0. The command convsheets verify FILE recomputes "
             "everything in a spreadsheet application and compares it with NumPy.", "cs_note")


def parameter_rows(spec: LayerSpec) -> list[tuple[str, str, object]]:
    """(key, label, value) of the guide's parameter table; pairs are (height, width)."""
    rows: list[tuple[str, str, object]] = [
        ("in_channels", "input channels C", spec.in_channels),
        ("out_channels", "output channels O", spec.out_channels),
        ("input", "input size H, W", spec.input_size),
        ("kernel", "kernel size kH, kW", spec.kernel_size),
        ("stride", "stride s", spec.stride),
        ("padding", "padding p", spec.padding),
        ("dilation", "dilation d", spec.dilation),
    ]
    if spec.is_transposed:
        rows.append(("output_padding", "output padding", spec.output_padding))
    rows.append(("groups", "groups g" + (" (depth-wise stage)" if spec.variant == "separable"
                                          else ""), spec.conv_groups))
    if spec.variant in ("depthwise", "separable"):
        rows.append(("depth_multiplier", "depth multiplier m", spec.depth_multiplier))
    rows.append(("bias", "bias (1 = yes, 0 = no)", int(spec.bias)))
    return rows


def parameter_cells(spec: LayerSpec) -> dict[str, int]:
    """The parameter table by defined name (param_stride_height, param_bias, ...)."""
    cells: dict[str, int] = {}
    for key, _label, value in parameter_rows(spec):
        if isinstance(value, tuple):
            cells[f"param_{key}_height"], cells[f"param_{key}_width"] = value
        else:
            cells[f"param_{key}"] = int(value)  # type: ignore[call-overload]
    return cells


def _parameters_table(cur: _Cursor, spec: LayerSpec) -> dict[str, Block]:
    """The layer parameters as named cells (height in C, width in D for pairs)."""
    cur.text("Layer parameters (height, width)", "cs_title")
    params: dict[str, Block] = {}
    rows = parameter_rows(spec)
    for key, label, value in rows:
        if isinstance(value, tuple):
            cur.sheet.labels.append(Label(cur.row, COL_TEXT, label, "cs_label"))
            for axis, suffix in enumerate(("height", "width")):
                name = f"param_{key}_{suffix}"
                params[name] = _scalar(name, PARAM, value[axis])
                params[name].place(cur.sheet.name, cur.row, COL_VALUE + axis)
                cur.sheet.blocks.append(params[name])
            cur.row += 1
        else:
            params[f"param_{key}"] = cur.block(label, _scalar(f"param_{key}", PARAM, value))
    return params


def _arithmetic(cur: _Cursor, spec: LayerSpec, p: dict[str, Block]) -> None:
    """Output size and parameter count as live formulas over the parameter cells."""
    def r(name: str) -> Callable[[Block], str]:
        return lambda here: p[name].ref(0, 0, absolute=True, from_sheet=here.sheet)

    cur.text("Arithmetic (live formulas)", "cs_title")
    for axis, suffix in enumerate(("height", "width")):
        size, k, s, pad, d = (r(f"param_{n}_{suffix}")
                              for n in ("input", "kernel", "stride", "padding", "dilation"))
        numbers = (spec.input_size[axis], spec.kernel_size[axis], spec.stride[axis],
                   spec.padding[axis], spec.dilation[axis])
        if spec.is_transposed:
            op = r(f"param_output_padding_{suffix}")
            formula = Formula(lambda h, size=size, k=k, s=s, pad=pad, d=d, op=op:
                              f"({size(h)}-1)*{s(h)}-2*{pad(h)}+{d(h)}*({k(h)}-1)+{op(h)}+1")
            n, kk, ss, pp, dd = numbers
            text = (f"(H-1)·s - 2p + d·(k-1) + output_padding + 1 = ({n}-1)·{ss} - 2·{pp} + "
                    f"{dd}·({kk}-1) + {spec.output_padding[axis]} + 1")
        else:
            formula = Formula(lambda h, size=size, k=k, s=s, pad=pad, d=d:
                              f"INT(({size(h)}+2*{pad(h)}-{d(h)}*({k(h)}-1)-1)/{s(h)})+1")
            n, kk, ss, pp, dd = numbers
            text = (f"floor((H + 2p - d·(k-1) - 1) / s) + 1 = floor(({n} + 2·{pp} - "
                    f"{dd}·({kk}-1) - 1) / {ss}) + 1")
        cur.block(f"output {suffix}", _formula_block(f"output_{suffix}", formula, "cs_count"),
                  note=text)

    c, o, g, kh, kw, b = (r(n) for n in ("param_in_channels", "param_out_channels",
                                          "param_groups", "param_kernel_height",
                                          "param_kernel_width", "param_bias"))
    if spec.variant == "separable":
        m = r("param_depth_multiplier")
        count = Formula(lambda h: f"{c(h)}*{m(h)}*{kh(h)}*{kw(h)}+{c(h)}*{m(h)}*{o(h)}"
                        f"+{b(h)}*({c(h)}*{m(h)}+{o(h)})")
        text = "depth-wise C·m·kH·kW + point-wise C·m·O (+ biases C·m + O)"
    elif spec.is_transposed:
        count = Formula(lambda h: f"{c(h)}*({o(h)}/{g(h)})*{kh(h)}*{kw(h)}+{b(h)}*{o(h)}")
        text = "weights C·(O/g)·kH·kW (+ O biases)"
    else:
        count = Formula(lambda h: f"{o(h)}*({c(h)}/{g(h)})*{kh(h)}*{kw(h)}+{b(h)}*{o(h)}")
        text = "weights O·(C/g)·kH·kW (+ O biases)"
    cur.block("parameters (weights + biases)",
              _formula_block("parameter_count", count, "cs_count"),
              note=text)
    if spec.variant == "separable":
        basic = Formula(lambda h: f"{o(h)}*{c(h)}*{kh(h)}*{kw(h)}+{b(h)}*{o(h)}")
        cur.block("same shape as a basic conv",
                  _formula_block("basic_parameter_count", basic, "cs_count"),
                  note="a simple convolution of the same shape needs O·C·kH·kW (+ O)")


def _bottleneck(cur: _Cursor) -> None:
    """The seed's arithmetic: a 1x1 bottleneck cuts 1,179,648 weights to 311,296."""
    cur.text("Bottleneck arithmetic from the seed (edit the yellow cells)", "cs_title")
    cur.text("A 128x128 input with C channels, K kernels of k x k: weights needed directly, and "
             "with a 1x1 convolution of M kernels first (the input size does not matter).")
    cells = {name: cur.block(label, _scalar(name, EDIT, value))
             for name, label, value in BOTTLENECK}

    def r(name: str) -> Callable[[Block], str]:
        return lambda h: cells[name].ref(0, 0, absolute=True, from_sheet=h.sheet)

    cin, cout, k, mid = (r(f"bottleneck_{n}") for n in
                         ("in_channels", "out_channels", "kernel", "mid_channels"))
    formulas = (
        ("bottleneck_direct_weights", "k x k conv directly: k·k·C·K",
         lambda h: f"{k(h)}*{k(h)}*{cin(h)}*{cout(h)}"),
        ("bottleneck_reduce_weights", "1x1 conv first: 1·1·C·M",
         lambda h: f"1*1*{cin(h)}*{mid(h)}"),
        ("bottleneck_conv_weights", "then the k x k conv: k·k·M·K",
         lambda h: f"{k(h)}*{k(h)}*{mid(h)}*{cout(h)}"),
    )
    made = {name: cur.block(label, _formula_block(name, Formula(make), "cs_count"))
            for name, label, make in formulas}

    def m(name: str) -> Callable[[Block], str]:
        return lambda h: made[name].ref(0, 0, absolute=True, from_sheet=h.sheet)

    total = cur.block("total with the bottleneck", _formula_block(
        "bottleneck_total_weights",
        Formula(lambda h: f"{m('bottleneck_reduce_weights')(h)}+"
                          f"{m('bottleneck_conv_weights')(h)}"), "cs_count"))
    made["bottleneck_total_weights"] = total
    cur.block("reduction factor", _formula_block(
        "bottleneck_reduction",
        Formula(lambda h: f"{m('bottleneck_direct_weights')(h)}/"
                          f"{m('bottleneck_total_weights')(h)}"), "cs_ratio"))


def _scalar(name: str, kind: str, value: object) -> Block:
    return Block(name, (1, 1), kind, Values(np.array([[value]])), colour_scale=False)


def _formula_block(name: str, formula: Formula, style: str | None = None) -> Block:
    return Block(name, (1, 1), COMPUTED, formula, colour_scale=False, style=style)
