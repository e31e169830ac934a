"""What a built workbook contains, read back with openpyxl (no formula engine needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import openpyxl
import pytest

from convsheets.build import make_plan, write_atomically
from convsheets.layout import COMPUTED
from convsheets.presets import preset
from convsheets.spec import LayerSpec
from convsheets.variants import VARIANTS

FORBIDDEN = re.compile(r"\b(OFFSET|INDIRECT|ROW|COLUMN|LET|LAMBDA)\s*\(", re.I)
# INDEX is allowed on one literal rectangle only (the explorer's computed positions)
INDEX = re.compile(r"INDEX\(([^,()]*),")
RECTANGLE = re.compile(r"^('[^']+'|\w+)?!?\$[A-Z]+\$\d+:\$[A-Z]+\$\d+$")
TERM = re.compile(r"SUMPRODUCT\((\w+)!([A-Z]+)(\d+):([A-Z]+)(\d+),(\w+)!\$([A-Z]+)\$(\d+):"
                  r"\$([A-Z]+)\$(\d+)\)")


def build(tmp_path: Path, variant: str, **given: object):
    spec = LayerSpec.create(variant, given, preset(variant))
    path = tmp_path / f"{variant}.xlsx"
    write_atomically(make_plan(spec.network()), path)
    return spec, openpyxl.load_workbook(path)


def cells(wb, name: str):
    dest = next(iter(wb.defined_names[name].destinations))
    ws = wb[dest[0]]
    rng = ws[dest[1].replace("$", "")]
    if not isinstance(rng, tuple):
        return [[rng]]
    if not isinstance(rng[0], tuple):
        return [list(rng)]
    return [list(r) for r in rng]


def test_guide_is_first_and_metadata_records_the_layer(tmp_path):
    spec, wb = build(tmp_path, "transposed")
    assert wb.sheetnames[0] == "Guide"
    record = json.loads(wb.custom_doc_props["convsheets"].value)
    assert record["layer"] == spec.as_options()
    assert wb.properties.creator == "convsheets"


@pytest.mark.parametrize("variant", VARIANTS)
def test_contract_names_exist_with_pytorch_shapes(tmp_path, variant):
    spec, wb = build(tmp_path, variant)
    for tensor, shape in spec.source_shapes().items():
        if tensor == "input":
            for c in range(shape[0]):
                assert len(cells(wb, f"input_c{c}")) == shape[1]
        elif len(shape) == 4:
            for a in range(shape[0]):
                for b in range(shape[1]):
                    block = cells(wb, f"{tensor}_{a}_{b}")
                    assert (len(block), len(block[0])) == shape[2:]
        else:
            assert len(cells(wb, tensor)[0]) == shape[0]
    oh, ow = spec.output_size
    for o in range(spec.out_channels):
        block = cells(wb, f"output_c{o}")
        assert (len(block), len(block[0])) == (oh, ow)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_computed_cell_is_a_portable_formula(tmp_path, variant):
    spec = LayerSpec.create(variant, {}, preset(variant))
    plan = make_plan(spec.network())
    path = tmp_path / "w.xlsx"
    write_atomically(plan, path)
    wb = openpyxl.load_workbook(path)
    for block in plan.blocks():
        for row in cells(wb, block.name):
            for cell in row:
                value = cell.value
                if block.kind != COMPUTED:
                    if block.name.endswith("explore_step"):  # blank: the coordinates rule
                        assert value is None, (block.name, value)
                        continue
                    assert isinstance(value, (int, float)), (block.name, cell.coordinate)
                    continue
                if isinstance(value, str):
                    assert value.startswith("="), (block.name, value)
                    assert not FORBIDDEN.search(value), value
                    for first in INDEX.findall(value):
                        assert RECTANGLE.match(first), (value, first)
                else:  # a structural zero: constant 0, styled as such
                    assert value == 0, (block.name, cell.coordinate, value)
                    assert cell.style in ("cs_pad", "cs_insert", "cs_hole", "cs_struct"), cell.style


def test_output_formula_reads_like_the_issue(tmp_path):
    """One SUMPRODUCT of equal-sized rectangles per input channel, plus the bias cell."""
    spec, wb = build(tmp_path, "basic", stride=(2, 1), kernel_size=(3, 2), padding=(1, 0),
                     input_size=(7, 5), in_channels=3, out_channels=2)
    first = cells(wb, "output_c1")[0][0].value
    second = cells(wb, "output_c1")[1][1].value  # one row down (stride 2), one right (1)
    terms = TERM.findall(first)
    assert len(terms) == 3
    for sheet, c0, r0, c1, r1, ksheet, kc0, kr0, kc1, kr1 in terms:
        assert sheet == "Padded" and ksheet == "Kernels"
        assert int(r1) - int(r0) + 1 == 3 and int(kr1) - int(kr0) + 1 == 3
        assert ord(c1) - ord(c0) + 1 == 2 and ord(kc1) - ord(kc0) + 1 == 2
    assert first.endswith(f"+Kernels!{_abs(cells(wb, 'bias')[0][1].coordinate)}")
    moved = TERM.findall(second)
    for a, b in zip(terms, moved, strict=True):
        assert int(b[2]) == int(a[2]) + 2 and ord(b[1]) == ord(a[1]) + 1
        assert a[5:] == b[5:]  # the kernel reference does not move


def _abs(coord: str) -> str:
    m = re.match(r"([A-Z]+)(\d+)", coord)
    assert m
    return f"${m.group(1)}${m.group(2)}"


def test_no_bias_means_no_bias_block(tmp_path):
    _, wb = build(tmp_path, "basic", bias=False)
    assert "bias" not in wb.defined_names
    formula = cells(wb, "output_c0")[0][0].value
    kernel_refs = re.findall(r"Kernels!\$[A-Z]+\$\d+(:\$[A-Z]+\$\d+)?", formula)
    assert kernel_refs and all(kernel_refs), formula  # only kernel ranges, no single bias cell


def test_grouped_filters_see_only_their_groups_channels(tmp_path):
    """Every output cell of every filter: one SUMPRODUCT per input channel of its group, in
    order, of the strided window with weight[o][k], plus bias[o] -- and nothing else."""
    c_in, c_out, groups = 6, 4, 2  # 3 input channels and 2 filters per group
    (h, w), (kh, kw), (sh, sw), (ph, pw) = (7, 5), (3, 2), (2, 1), (1, 0)
    _, wb = build(tmp_path, "grouped", in_channels=c_in, out_channels=c_out, groups=groups,
                  input_size=(h, w), kernel_size=(kh, kw), stride=(sh, sw), padding=(ph, pw))
    per_in, per_out = c_in // groups, c_out // groups
    out_h, out_w = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    letter = openpyxl.utils.get_column_letter

    def sheet_of(name):
        return next(iter(wb.defined_names[name].destinations))[0]

    bias = cells(wb, "bias")[0]
    assert len(bias) == c_out
    for o in range(c_out):
        group = o // per_out
        output = cells(wb, f"output_c{o}")
        assert (len(output), len(output[0])) == (out_h, out_w)
        bias_ref = f"{sheet_of('bias')}!{_abs(bias[o].coordinate)}"
        for i in range(out_h):
            for j in range(out_w):
                terms = []
                for k in range(per_in):
                    channel = group * per_in + k  # the k-th input channel of o's group
                    padded = cells(wb, f"padded_c{channel}")
                    assert (len(padded), len(padded[0])) == (h + 2 * ph, w + 2 * pw)
                    top, left = padded[0][0].row + i * sh, padded[0][0].column + j * sw
                    window = (f"{sheet_of(f'padded_c{channel}')}!{letter(left)}{top}:"
                              f"{letter(left + kw - 1)}{top + kh - 1}")
                    weight = f"weight_{o}_{k}"  # PyTorch's weight[o][k]
                    block = cells(wb, weight)
                    assert (len(block), len(block[0])) == (kh, kw)
                    terms.append(f"SUMPRODUCT({window},{wb.defined_names[weight].attr_text})")
                want = "=" + "+".join(terms) + "+" + bias_ref
                got = output[i][j].value
                assert got == want, (o, i, j, got, want)


def test_editable_and_structural_cells_are_styled(tmp_path):
    _, wb = build(tmp_path, "transposed")
    assert cells(wb, "input_c0")[0][0].style == "cs_edit"
    assert cells(wb, "weight_1_0")[2][2].style == "cs_edit"
    up = cells(wb, "upsampled_c0")
    assert up[0][0].style == "cs_pad"  # padding ring
    assert up[1][2].style == "cs_insert"  # zero inserted between two input pixels
    assert up[1][1].value.startswith("=Input!")


def test_every_computed_block_gets_a_colour_scale(tmp_path):
    spec = LayerSpec.create("separable", {"padding": 1}, preset("separable"))
    plan = make_plan(spec.network())
    write_atomically(plan, tmp_path / "s.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "s.xlsx")
    for block in plan.blocks():
        if block.kind == COMPUTED and block.colour_scale:
            formats = wb[block.sheet].conditional_formatting
            first = block.ref(block.shape[0] // 2, block.shape[1] // 2)
            assert any(first in rng for rng in formats), block.name


def test_progress_reporting_path_writes_the_same_bytes(tmp_path):
    """Big builds report progress while streaming; that must not change a single byte."""
    spec = LayerSpec.create("separable", {"padding": 1, "stride": 2}, preset("separable"))
    plain, reported = tmp_path / "plain.xlsx", tmp_path / "reported.xlsx"
    write_atomically(make_plan(spec.network()), plain)
    rows: list[int] = []
    write_atomically(make_plan(spec.network()), reported, progress=rows.append)
    assert plain.read_bytes() == reported.read_bytes()
    wb = openpyxl.load_workbook(plain)
    total_rows = sum(ws.max_row for ws in wb.worksheets)
    assert 0.8 * total_rows < sum(rows) <= total_rows  # every row but the sheets' notes


def test_pointwise_guide_reproduces_the_seeds_bottleneck_arithmetic():
    """The numbers are the blog post's own (1,179,648 / 16,384 + 294,912 = 311,296)."""
    from formula_eval import Evaluator

    wb = openpyxl.load_workbook(Path(__file__).resolve().parent.parent / "output" /
                                "pointwise.xlsx")
    ev = Evaluator(wb)

    def value(name: str) -> float:
        return float(ev.rect(ev.name(name))[0, 0])

    assert value("bottleneck_direct_weights") == 1_179_648
    assert value("bottleneck_reduce_weights") == 16_384
    assert value("bottleneck_conv_weights") == 294_912
    assert value("bottleneck_total_weights") == 311_296
    assert round(value("bottleneck_reduction"), 2) == 3.79  # "almost a factor of 4"


def test_depthwise_preset_is_the_seeds_worked_example():
    """6x6 input with 16 channels, 16 kernels of 3x3 and depth 1 -> 4x4 output, 16 channels."""
    wb = openpyxl.load_workbook(Path(__file__).resolve().parent.parent / "output" /
                                "depthwise.xlsx")
    names = set(wb.defined_names)
    assert {f"input_c{c}" for c in range(16)} <= names and "input_c16" not in names
    assert {f"weight_{o}_0" for o in range(16)} <= names and "weight_0_1" not in names
    assert all(len(cells(wb, f"input_c{c}")) == 6 for c in range(16))
    assert all(len(cells(wb, f"weight_{o}_0")[0]) == 3 for o in range(16))
    for o in range(16):
        block = cells(wb, f"output_c{o}")
        assert (len(block), len(block[0])) == (4, 4)
    assert "output_c16" not in names
