"""What a learner sees first is true and readable (issue 22, items 1-4), on every preset and
shipped network as `convsheets build --all` writes them, recalculated by LibreOffice (one run):

* the Overview: every relation it draws (each `→` with the blocks on its left and the block
  on its right, `⊛` pairs, `+` terms) is recomputed with `torch.nn.functional` from the
  displayed blocks, plus the terms the sheet names (read from the workbook's own blocks);
* the explorer's highlight is a colour no structural or editable cell uses, with a border;
* the explorer opens on the output cell of largest magnitude, shows the position in use (big,
  under the yellow cells) and labels every cell;
* pooling explorers speak of windows and maxima / means and mark the winner of a max as
  PyTorch picks it (the first maximum in row-major order); a 1x1 kernel is one dot product.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import openpyxl
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from openpyxl.utils.cell import column_index_from_string, range_boundaries

from convsheets.build import make_plan, write_atomically
from convsheets.engines import get_engine
from convsheets.network import Network
from convsheets.networks import network_from_template
from convsheets.xlsxread import KIND_NUMBER, XlsxFile, parse_ref

NAMES = ("basic", "depthwise", "dilated", "grouped", "pointwise", "separable", "transposed",
         "digit_edges", "edges", "encoder_decoder", "lenet")
TIES = network_from_template({  # max-pool windows with tied maxima, with and without padding
    "input_size": [5, 6], "in_channels": 2, "seed": 1, "values": "integers",
    "input": [[[1, 3, 3, 0, 2, 2], [3, 1, 0, 3, 2, 2], [0, 0, 5, 5, 1, 1],
               [4, 4, 5, 5, 0, 1], [4, 4, 0, 0, 1, 0]],
              [[0, 0, 0, 0, 0, 0], [0, 7, 0, 7, 0, 0], [7, 0, 7, 0, 0, 0],
               [0, 0, 0, 0, 2, 2], [1, 1, 1, 1, 2, 2]]],
    "layers": [{"op": "max_pool2d", "kernel_size": 2, "name": "plain"},
               {"op": "max_pool2d", "kernel_size": 3, "stride": 1, "padding": 1,
                "name": "padpool"}]}, "ties")
TIE_PICKS = [(0, 0, 0), (0, 0, 1), (0, 1, 1), (1, 0, 0), (1, 1, 1), (1, 0, 2), (0, 1, 2)]


class Book:
    """A workbook by defined name: the recalculated values, the original's formulas, styles
    and metadata."""

    def __init__(self, original: Path, computed: Path) -> None:
        self.xf = XlsxFile(computed)
        self.names = self.xf.defined_names()
        self.sheets: dict[str, object] = {}
        self.wb = openpyxl.load_workbook(original)
        record = json.loads(self.wb.custom_doc_props["convsheets"].value)
        self.meanings: dict[str, list[object]] = record["blocks"]
        self.network = Network.from_record(record)

    def where(self, name: str) -> tuple[str, int, int, int, int]:
        return parse_ref(self.names[name])  # type: ignore[return-value]

    def cells(self, name: str):  # type: ignore[no-untyped-def]
        sheet, r0, c0, r1, c1 = self.where(name)
        if sheet not in self.sheets:
            self.sheets[sheet] = self.xf.read_sheet(sheet)
        return self.sheets[sheet].region(r0, c0, r1, c1)  # type: ignore[attr-defined]

    def values(self, name: str) -> np.ndarray:
        cells = self.cells(name)
        assert np.all(cells.kind == KIND_NUMBER), (name, cells.kind)
        return cells.values

    def tensor(self, name: str) -> torch.Tensor:
        return torch.tensor(self.values(name), dtype=torch.float64)

    def named(self, role: str, layer: str, kind: str, index: tuple[int, ...]) -> str | None:
        """The block of this meaning, if the workbook has one."""
        for name, (r, lay, k, _key, idx) in self.meanings.items():
            if (r, lay, k, tuple(idx)) == (role, layer, kind, tuple(index)):
                return name
        return None

    def layer_input(self, position: int, c: int) -> torch.Tensor:
        """Channel c of the input of the layer at `position`, from the workbook's blocks."""
        if position == 0:
            return self.tensor(f"input_c{c}")
        before = self.network.layers[position - 1].label
        name = self.named("output", before, "", (c,))
        assert name is not None
        return self.tensor(name)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """`convsheets build --all`, copies with a typed step and with tied max-pool windows, all
    recalculated by LibreOffice in one run."""
    folder = tmp_path_factory.mktemp("screens")
    subprocess.run([sys.executable, "-m", "convsheets", "build", "--all"], cwd=folder,
                   check=True, capture_output=True)
    paths = {name: folder / "output" / f"{name}.xlsx" for name in NAMES}
    assert all(p.exists() for p in paths.values()), sorted((folder / "output").iterdir())
    # the digit's conv explorer with a step typed (its yellow cells keep their values)
    wb = openpyxl.load_workbook(paths["digit_edges"])
    _cell(wb, "sobel_explore_step").value = 2 * 28 * 28 - 28 - 2  # (1, 26, 26)
    paths["stepped"] = folder / "stepped.xlsx"
    wb.save(paths["stepped"])
    for n, pick in enumerate(TIE_PICKS):
        path = folder / f"ties{n}.xlsx"
        write_atomically(make_plan(TIES), path)
        wb = openpyxl.load_workbook(path)
        for prefix in ("plain_", "padpool_"):
            for key, v in zip(("channel", "row", "col"), pick, strict=True):
                _cell(wb, f"{prefix}explore_{key}").value = v
            _add_winner_checks(wb, prefix)
        wb.save(path)
        paths[f"ties{n}"] = path
    names = list(paths)
    copies = get_engine("libreoffice").recalculate([paths[n] for n in names], folder / "lo",
                                                   timeout=900)
    return {name: (paths[name], copy) for name, copy in zip(names, copies, strict=True)}


def _cell(wb: openpyxl.Workbook, name: str):  # type: ignore[no-untyped-def]
    sheet, ref = next(iter(wb.defined_names[name].destinations))
    return wb[sheet][ref.replace("$", "").split(":")[0]]


# ---------------------------------------------------------------------------- the Overview
_FORMULA_REF = re.compile(r"^=(?:'((?:[^']|'')+)'|([A-Za-z_][A-Za-z0-9_]*))!\$?([A-Z]+)\$?(\d+)$")


def _source(book: Book, name: str) -> tuple[str, tuple[int, int]]:
    """The workbook block an Overview copy shows (by its first formula), and the offset of
    the copy's top-left cell in it (a single bias cell: (0, o))."""
    sheet, r0, c0, r1, c1 = book.where(name)
    ws = book.wb[sheet]
    for r in range(r0, r1 + 1):
        for c in range(c0, c1 + 1):
            formula = ws.cell(r, c).value
            if not (isinstance(formula, str) and formula.startswith("=")):
                continue  # a structural zero
            m = _FORMULA_REF.match(formula)
            assert m, (name, formula)
            src_sheet = (m.group(1) or "").replace("''", "'") or m.group(2)
            row, col = int(m.group(4)), column_index_from_string(m.group(3))
            for other in book.meanings:
                if other.startswith("overview_") or other not in book.names:
                    continue
                s, a0, b0, a1, b1 = book.where(other)
                if s == src_sheet and a0 <= row <= a1 and b0 <= col <= b1:
                    return other, (row - a0 - (r - r0), col - b0 - (c - c0))
            raise AssertionError(f"{name}: {formula} is in no block")
    raise AssertionError(f"{name} has no formula")


def _overview(book: Book) -> list[tuple[list[str], str, list[str]]]:
    """(operand copies, result copy, texts of the band) of every arrow on the Overview."""
    ws = book.wb["Overview"]
    blocks = {name: book.where(name)[1:] for name in book.names
              if name.startswith("overview_")}
    texts = {(cell.row, cell.column): cell.value for row in ws.iter_rows() for cell in row
             if isinstance(cell.value, str) and not cell.value.startswith("=")}
    used = {r for r, _c in texts} | {r for r0, _c0, r1, _c1 in blocks.values()
                                     for r in range(r0, r1 + 1)}
    bands: list[tuple[int, int]] = []
    for r in sorted(used):
        if bands and r == bands[-1][1] + 1:
            bands[-1] = (bands[-1][0], r)
        else:
            bands.append((r, r))
    relations = []
    for top, bottom in bands:
        inside = {n: b for n, b in blocks.items() if top <= b[0] <= bottom}
        band_texts = [t for (r, _c), t in texts.items() if top <= r <= bottom]
        arrows = sorted(c for (r, c), t in texts.items() if t == "→" and top <= r <= bottom)
        rows = {c: r for (r, c), t in texts.items() if t == "→" and top <= r <= bottom}
        for n, col in enumerate(arrows):
            start = arrows[n - 1] if n else 0
            operands = [name for name, (_r0, c0, _r1, c1) in inside.items()
                        if start < c0 and c1 < col]
            results = [name for name, (r0, c0, r1, _c1) in inside.items()
                       if c0 > col and r0 <= rows[col] <= r1]
            assert operands and results, (book.wb.path, col, operands, results)
            result = min(results, key=lambda name: inside[name][1])
            relations.append((operands, result, band_texts))
    for n, (top, bottom) in enumerate(bands):  # a relation too wide for a page, top to bottom:
        # its operands, then (after a blank row, where a page may break) `↓` over the result
        if texts.get((top, 2)) != "↓":
            continue
        before_top, before_bottom = bands[n - 1]
        arrow_above = [r for (r, c), t in texts.items()
                       if t == "↓" and before_top <= r <= before_bottom]
        start = max(arrow_above, default=before_top - 1)
        operands = [name for name, (r0, _c0, r1, _c1) in blocks.items()
                    if start < r0 and r1 <= before_bottom]
        below = [name for name, (r0, _c0, _r1, _c1) in blocks.items() if top < r0 <= bottom]
        assert operands and below, (book.wb.path, top, operands, below)
        band_texts = [t for (r, _c), t in texts.items() if before_top <= r <= bottom]
        relations.append((operands, min(below, key=lambda name: blocks[name][0]), band_texts))
    return relations


def _channels(channels: list[int]) -> str:
    if len(channels) == 1:
        return f"channel {channels[0]}"
    return f"channels {channels[0]}-{channels[-1]}"


def _recompute(book: Book, operands: list[str], result: str, texts: list[str]) -> torch.Tensor:
    """What the result must be, by torch, from the displayed operands (and named terms)."""
    source, offset = _source(book, result)
    role, layer_label, kind, _key, index = book.meanings[source]
    assert offset == (0, 0), (result, source, offset)
    assert role in ("stage", "output"), f"{result} shows {source}, which nothing computes"
    position = next(n for n, layer in enumerate(book.network.layers) if layer.label == layer_label)
    layer = book.network.layers[position]
    op = layer.op
    shown = {name: book.tensor(name) for name in operands}
    if role == "stage" or op.op in ("relu", "leaky_relu", "max_pool2d", "avg_pool2d"):
        assert len(operands) == 1, (result, operands)
        x = shown[operands[0]][None, None]
        if kind == "padded":
            (ph, pw) = op.padding
            return F.pad(x, (pw, pw, ph, ph))[0, 0]
        if kind == "upsampled":
            z = F.conv_transpose2d(x, torch.ones(1, 1, 1, 1, dtype=x.dtype), stride=op.stride)
            e = [op.dilation[a] * (op.kernel_size[a] - 1) - op.padding[a] for a in (0, 1)]
            return F.pad(z, (e[1], e[1] + op.output_padding[1], e[0],
                             e[0] + op.output_padding[0]))[0, 0]
        if kind == "flipped":
            return torch.flip(x, (2, 3))[0, 0]
        if kind == "dilated":
            return F.conv_transpose2d(x, torch.ones(1, 1, 1, 1, dtype=x.dtype),
                                      stride=op.dilation)[0, 0]
        if op.op == "relu":
            return F.relu(x)[0, 0]
        if op.op == "leaky_relu":
            return F.leaky_relu(x, op.negative_slope)[0, 0]
        if op.op == "max_pool2d":
            return F.max_pool2d(x, op.kernel_size, op.stride, op.padding, op.dilation)[0, 0]
        return F.avg_pool2d(x, op.kernel_size, op.stride, op.padding,
                            count_include_pad=op.count_include_pad)[0, 0]
    assert op.op in ("conv2d", "conv_transpose2d"), op.op
    (o,) = index
    bias = [n for n in operands if book.meanings[_source(book, n)[0]][2] == "bias"]
    terms = [n for n in operands if n not in bias]
    total = torch.zeros(book.values(result).shape, dtype=torch.float64)
    displayed = []
    stride = op.stride if op.op == "conv2d" else (1, 1)
    # window ⊛ kernel pairs: side by side (the window on the left) or, in a band drawn top
    # to bottom, the kernel above its window
    ordered = sorted(terms, key=lambda name: book.where(name)[1:3])
    pairs = [ordered[n:n + 2] for n in range(0, len(ordered), 2)]
    for pair in pairs:
        assert len(pair) == 2, f"{result}: {pair} is not a window ⊛ kernel pair"
        kinds = [book.meanings[_source(book, name)[0]][2] for name in pair]
        if kinds[0] in ("weight", "flipped", "dilated"):
            assert book.where(pair[0])[1] < book.where(pair[1])[1], (result, pair)
            pair = pair[::-1]
        else:
            assert kinds[1] in ("weight", "flipped", "dilated"), (result, pair, kinds)
            assert book.where(pair[0])[1] == book.where(pair[1])[1], (result, pair)
        window, kernel = shown[pair[0]], shown[pair[1]]
        displayed.append(book.meanings[_source(book, pair[0])[0]][4][0])
        term = F.conv2d(window[None, None], kernel[None, None], stride=stride)[0, 0]
        assert term.shape == total.shape, (result, pair, tuple(term.shape), tuple(total.shape))
        total = total + term
    per_in = op.in_channels // op.groups
    per_out = op.out_channels // op.groups
    group = range(o // per_out * per_in, (o // per_out + 1) * per_in)
    rest = [c for c in group if c not in displayed]
    if rest:  # named on the sheet, computed here from the layer's input and weights
        assert any(_channels(rest) in text for text in texts), (result, rest, texts)
        prefix = layer.names.tensor
        for c in rest:
            x = book.layer_input(position, c)[None, None]
            if op.op == "conv2d":
                w = book.tensor(f"{prefix}weight_{o}_{c - group[0]}")[None, None]
                total = total + F.conv2d(x, w, stride=op.stride, padding=op.padding,
                                         dilation=op.dilation)[0, 0]
            else:
                w = book.tensor(f"{prefix}weight_{c}_{o % per_out}")[None, None]
                total = total + F.conv_transpose2d(
                    x, w, stride=op.stride, padding=op.padding,
                    output_padding=op.output_padding, dilation=op.dilation)[0, 0]
    if op.bias:
        assert bias, f"{result}: the bias is not shown"
    for name in bias:
        total = total + shown[name][0, 0]
    return total


@pytest.mark.parametrize("name", NAMES)
def test_every_overview_relation_is_true(built, name: str) -> None:
    original, computed = built[name]
    book = Book(original, computed)
    relations = _overview(book)
    assert relations, "the Overview draws no relation"
    if name == "digit_edges":  # 28x28 beside 30x30 prints below 50 %: drawn top to bottom
        assert len(relations) == 2 and all("↓" in r[2] for r in relations), relations
    for operands, result, texts in relations:
        got = book.values(result)
        want = _recompute(book, operands, result, texts).numpy()
        assert got.shape == want.shape, (name, result, operands, got.shape, want.shape)
        assert np.allclose(got, want, rtol=1e-9, atol=1e-9), (name, result, operands)
    for public in ("overview_input", "overview_output"):
        assert public in book.names, public
    first = book.network.layers[0]
    if first.op.has_parameters:
        assert _source(book, "overview_kernel")[0] == f"{first.names.tensor}weight_0_0"


# ---------------------------------------------------------------------------- the explorer
def _lab(hex_colour: str) -> np.ndarray:
    """CIE L*a*b* (D65) of an sRGB colour "RRGGBB" (or "AARRGGBB")."""
    rgb = np.array([int(hex_colour[-6:][i:i + 2], 16) / 255 for i in (0, 2, 4)])
    rgb = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ rgb / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


@pytest.mark.parametrize("name", ["transposed", "dilated", "basic", "digit_edges"])
def test_the_highlight_is_unlike_every_structural_and_editable_fill(built, name: str) -> None:
    """Its fill is far (CIE76 distance >= 40) from every named style's fill (padding grey,
    inserted zeros orange, holes blue, editable yellow) and every colour scale's colours,
    and it has a border, so it reads as "the selection" on every sheet, also in print."""
    wb = openpyxl.load_workbook(built[name][0])
    others = {style.fill.fgColor.rgb for style in wb._named_styles
              if style.fill is not None and style.fill.fill_type == "solid"}
    highlights = set()
    for ws in wb.worksheets:
        for rules in ws.conditional_formatting:
            for rule in rules.rules:
                if rule.type == "expression" and rule.dxf.border is None:
                    # the Walk's output cells and the Stamps' input pixels, not a selection:
                    # done (shaded, which the highlight must stand out from) and not yet
                    # (white text, no fill)
                    assert ws.title.endswith(("Walk", "Stamps")), (ws.title, rule.formula)
                    if rule.dxf.fill is not None:
                        others.add(rule.dxf.fill.bgColor.rgb)
                elif rule.type == "expression":
                    fill = rule.dxf.fill
                    highlights.add(fill.bgColor.rgb if fill.bgColor is not None
                                   and fill.bgColor.rgb != "00000000" else fill.fgColor.rgb)
                    assert rule.dxf.border is not None and rule.dxf.border.left.style
                elif rule.colorScale is not None:
                    others |= {c.rgb for c in rule.colorScale.color}
    assert highlights and others
    for colour in highlights:
        for other in others:
            distance = float(np.linalg.norm(_lab(colour) - _lab(other)))
            assert distance >= 40, (name, colour, other, round(distance, 1))


def _explorers(book: Book) -> list[tuple[str, object, int]]:
    return [(layer.names.tensor, layer, n) for n, layer in enumerate(book.network.layers)
            if layer.op.window() is not None]


def _torch_forward(book: Book) -> list[torch.Tensor]:
    """Every layer's output by torch, from the workbook's input and weights."""
    c = book.network.layers[0].in_shape[0]
    x = torch.stack([book.tensor(f"input_c{i}") for i in range(c)])[None]
    outs = []
    for layer in book.network.layers:
        op, prefix = layer.op, layer.names.tensor
        if op.op in ("conv2d", "conv_transpose2d"):
            shape = op.tensor_shapes()["weight"]
            w = torch.stack([torch.stack([book.tensor(f"{prefix}weight_{a}_{b}")
                                          for b in range(shape[1])]) for a in range(shape[0])])
            b = book.tensor(f"{prefix}bias")[0] if op.bias else None
            if op.op == "conv2d":
                x = F.conv2d(x, w, b, op.stride, op.padding, op.dilation, op.groups)
            else:
                x = F.conv_transpose2d(x, w, b, op.stride, op.padding, op.output_padding,
                                       op.groups, op.dilation)
        elif op.op == "relu":
            x = F.relu(x)
        elif op.op == "leaky_relu":
            x = F.leaky_relu(x, op.negative_slope)
        elif op.op == "max_pool2d":
            x = F.max_pool2d(x, op.kernel_size, op.stride, op.padding, op.dilation)
        else:
            x = F.avg_pool2d(x, op.kernel_size, op.stride, op.padding,
                             count_include_pad=op.count_include_pad)
        outs.append(x[0])
    return outs


@pytest.mark.parametrize("name", NAMES)
def test_the_explorer_opens_on_the_largest_output_cell(built, name: str) -> None:
    book = Book(*built[name])
    outs = _torch_forward(book)
    for prefix, _layer, n in _explorers(book):
        y = outs[n]
        want = np.unravel_index(int(torch.argmax(y.abs())), tuple(y.shape))
        got = tuple(int(book.values(f"{prefix}explore_{key}")[0, 0])
                    for key in ("channel", "row", "col"))
        assert got == tuple(int(v) for v in want), (name, prefix, got, want)
        assert book.cells(f"{prefix}explore_step").kind[0, 0] != KIND_NUMBER


def test_a_typed_step_shows_in_big_numbers_under_the_yellow_cells(built) -> None:
    """The digit's explorer with step 1538 typed: the cells in use are the step's channel,
    row and column (not the yellow cells' values), big, right under the yellow cells."""
    book = Book(*built["stepped"])
    used = [book.values(f"sobel_explore_used_{key}")[0, 0] for key in ("channel", "row", "col")]
    assert used == [1, 26, 26]
    typed = [book.values(f"sobel_explore_{key}")[0, 0] for key in ("channel", "row", "col")]
    assert typed != used
    wb = book.wb
    for key in ("channel", "row", "col"):
        cell, yellow = _cell(wb, f"sobel_explore_used_{key}"), _cell(wb, f"sobel_explore_{key}")
        assert (cell.row, cell.column) == (yellow.row + 1, yellow.column), key
        assert cell.font.b and cell.font.sz >= 14, (key, cell.font.sz)


def _labellers(ws, covered: set[tuple[int, int]]):  # type: ignore[no-untyped-def]
    """(the text label left of a cell, past empty cells; the label above a column of
    blocks), or None."""
    def text(r: int, c: int) -> str | None:
        v = ws.cell(r, c).value
        return v if isinstance(v, str) and not v.startswith("=") and (r, c) not in covered \
            else None

    def left_label(r: int, c: int) -> str | None:
        c -= 1
        while c >= 1 and ws.cell(r, c).value is None and (r, c) not in covered:
            c -= 1
        return text(r, c) if c >= 1 else None

    def upper_label(r: int, c: int) -> str | None:
        r -= 1
        while r >= 1 and (r, c) in covered:
            r -= 1
        return text(r, c) if r >= 1 else None

    return left_label, upper_label


@pytest.mark.parametrize("name", NAMES)
def test_every_explorer_cell_is_labelled(built, name: str) -> None:
    """Each block of an explorer sheet has a text label on its left (past empty cells) or
    heads a column of blocks under a label; the warning, "inside" and "in use" cells say
    what they are."""
    book = Book(*built[name])
    for prefix, _layer, _n in _explorers(book):
        sheet = book.where(f"{prefix}explore_sum")[0]
        ws = book.wb[sheet]
        blocks = {name: book.where(name)[1:] for name in book.names
                  if book.where(name)[0] == sheet}
        covered = {(r, c) for r0, c0, r1, c1 in blocks.values() for r in range(r0, r1 + 1)
                   for c in range(c0, c1 + 1)}

        left_label, upper_label = _labellers(ws, covered)
        for block, (r0, c0, _r1, _c1) in blocks.items():
            assert left_label(r0, c0) or upper_label(r0, c0), (name, block)
        for key, word in (("valid", "inside"), ("message", "warning"),
                          ("used_channel", "in use")):
            r0, c0 = blocks[f"{prefix}explore_{key}"][:2]
            assert word in (left_label(r0, c0) or "").lower(), (name, key, left_label(r0, c0))


@pytest.mark.parametrize("name", ["digit_edges", "lenet", "ties0"])
def test_pooling_explorers_speak_of_windows_and_maxima(built, name: str) -> None:
    book = Book(*built[name])
    for prefix, layer, _n in _explorers(book):
        if layer.op.op not in ("max_pool2d", "avg_pool2d"):
            continue
        ws = book.wb[book.where(f"{prefix}explore_sum")[0]]
        words = " ".join(str(cell.value) for row in ws.iter_rows() for cell in row
                         if isinstance(cell.value, str) and not cell.value.startswith("="))
        for wrong in ("kernel", "product", "explorer total"):
            assert wrong not in words, (name, prefix, wrong)
        assert ("max" if layer.op.op == "max_pool2d" else "mean") in words, (name, prefix)
        assert "window" in words
        if layer.op.padding != (0, 0):
            assert "blank" in words and "padding" in words, (name, prefix)


def _add_winner_checks(wb: openpyxl.Workbook, prefix: str) -> None:
    """Beside a max-pool explorer's window, one cell per tap that evaluates (in LibreOffice)
    every conditional format the window has, at that tap (ROW() and COLUMN() as the tap's):
    1 where a rule marks the tap."""
    sheet, ref = next(iter(wb.defined_names[f"{prefix}explore_window_0"].destinations))
    ws = wb[sheet]
    c0, r0, c1, r1 = range_boundaries(ref.replace("$", ""))
    formulas = [rule.formula[0] for rules in ws.conditional_formatting
                if str(rules.sqref) == ref.replace("$", "") for rule in rules.rules
                if rule.type == "expression"]
    for r in range(r0, r1 + 1):  # (no rule: no tap marked, and the test fails)
        for c in range(c0, c1 + 1):
            conds = [f.replace("ROW()", str(r)).replace("COLUMN()", str(c)) for f in formulas]
            ws.cell(r + 40, c + 40).value = f"=IF(OR({','.join(conds)}),1,0)" if conds else 0


@pytest.mark.parametrize("n", range(len(TIE_PICKS)))
def test_the_max_pool_explorer_marks_pytorchs_winner(built, n: int) -> None:
    """Exactly one tap of the window is marked, the one max_pool2d's indices name (the first
    maximum in row-major order; padding never)."""
    book = Book(*built[f"ties{n}"])
    x = torch.stack([book.tensor(f"input_c{i}") for i in range(2)])[None]
    for prefix, layer, _n in _explorers(book):  # plain, then padpool on plain's output
        op = layer.op
        y, indices = F.max_pool2d(x, op.kernel_size, op.stride, op.padding, op.dilation,
                                  return_indices=True)
        c, r, k = TIE_PICKS[n]
        sheet, r0, c0, r1, c1 = book.where(f"{prefix}explore_window_0")
        region = book.xf.read_sheet(sheet).region(r0 + 40, c0 + 40, r1 + 40, c1 + 40)
        marked = np.argwhere(region.values == 1).tolist()
        row, col = divmod(int(indices[0, c, r, k]), x.shape[3])
        tap = [(row - (r * op.stride[0] - op.padding[0])) // op.dilation[0],
               (col - (k * op.stride[1] - op.padding[1])) // op.dilation[1]]
        assert marked == [tap], (prefix, TIE_PICKS[n], marked, tap)
        x = y


def test_the_pointwise_explorer_is_one_dot_product(built) -> None:
    """A 1x1 kernel: the pixel's channels in one column, the filter's weights beside them,
    their products beside those; the total is their sum plus the bias."""
    book = Book(*built["pointwise"])
    per_in = book.network.layers[0].op.in_channels
    where = {key: [book.where(f"explore_{key}_{j}")[1:3] for j in range(per_in)]
             for key in ("window", "kernel", "products")}
    for key, cells in where.items():
        assert [c for _r, c in cells] == [cells[0][1]] * per_in, key  # one column
        assert [r for r, _c in cells] == list(range(cells[0][0], cells[0][0] + per_in)), key
    assert where["kernel"][0][1] == where["window"][0][1] + 1
    assert where["products"][0][1] == where["kernel"][0][1] + 1
    assert not any(name.startswith("explore_channel_sum") for name in book.names)
    window = np.array([book.values(f"explore_window_{j}")[0, 0] for j in range(per_in)])
    weight = np.array([book.values(f"explore_kernel_{j}")[0, 0] for j in range(per_in)])
    bias = book.values("explore_bias")[0, 0]
    assert book.values("explore_sum")[0, 0] == float(window @ weight) + bias
    assert book.values("explore_sum")[0, 0] == book.values("explore_output")[0, 0]
