"""Excel's 8,192-character formula limit: no workbook convsheets writes holds a longer formula.

Every formula of a written file is read back from its XML (cells, conditional formats, data
validations, defined names), so nothing here trusts convsheets' own measuring; a layer is
either built within the limit (an optional view that would exceed it left out, and the guide
says so) or refused in one line that names the layer and the limit, leaving no file.
"""

from __future__ import annotations

import contextlib
import html
import io
import random
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from test_networks import networks

from convsheets.build import make_plan
from convsheets.cli import main
from convsheets.errors import ConvsheetsError
from convsheets.limits import longest_formula
from convsheets.network import Network
from convsheets.presets import preset
from convsheets.spec import LayerSpec
from convsheets.stages import measured
from convsheets.variants import VARIANTS

EXCEL = 8_192  # Excel's limit on the characters of one formula

WIDE_TRANSPOSED = ["--variant", "transposed", "--in-channels", "64", "--out-channels", "2",
                   "--input-size", "4x4", "--kernel-size", "4", "--stride", "1", "--padding",
                   "0", "--output-padding", "0"]

_FORMULA = re.compile(r"<(f|formula|formula1|formula2|definedName)\b[^>]*>([^<]*)</\1>")


def formulas(path: Path) -> list[tuple[str, str]]:
    """(part, formula) of every formula in the file: cells, conditional formats, data
    validations and defined names, read from the XML itself."""
    found = []
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.endswith(".xml") and name.startswith("xl/"):
                text = zf.read(name).decode("utf-8")
                found += [(name, html.unescape(m.group(2))) for m in _FORMULA.finditer(text)]
    return found


def too_long(path: Path) -> list[tuple[str, int]]:
    """Formulas longer than Excel allows ("=" counted, as a user types it)."""
    return [(part, 1 + len(f)) for part, f in formulas(path) if 1 + len(f) > EXCEL]


def guide_text(path: Path) -> str:
    """The guide's text, its wrapped lines joined."""
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return " ".join(" ".join(str(v) for row in wb["Guide"].iter_rows(values_only=True)
                                 for v in row if v is not None).split())
    finally:
        wb.close()


def sheet_names(path: Path) -> list[str]:
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return wb.sheetnames
    finally:
        wb.close()


def convsheets(*args: str) -> tuple[int, str]:
    """The command's real entry point, in-process: its exit status and what it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        try:
            main(list(args))
        except SystemExit as exc:
            return int(exc.code or 0), printed.getvalue()
    raise AssertionError("the entry point returned without an exit status")


def build(tmp_path: Path, *args: str) -> tuple[int, str, Path]:
    out = tmp_path / "out.xlsx"
    exit_code, output = convsheets("build", *args, "-o", str(out))
    return exit_code, output, out


# ---------------------------------------------------------------------------- the reported case
def test_the_reader_finds_long_formulas(tmp_path: Path) -> None:
    """The check below can fail: the same layer with all its views, its scatter formula
    forced through, would hold one of 25,489 characters (the figure of the bug report)."""
    exit_code, output, out = build(tmp_path, "--variant", "basic", "--in-channels", "2")
    assert exit_code == 0, output
    with zipfile.ZipFile(out) as zf, zipfile.ZipFile(tmp_path / "long.xlsx", "w") as dst:
        for item in zf.infolist():
            data = zf.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b"<row r=\"999\"><c r=\"A999\"><f>"
                                    + b"+".join([b"A1*B1"] * 5000) + b"</f></c></row>"
                                    b"</sheetData>", 1)
            dst.writestr(item, data)
    assert too_long(tmp_path / "long.xlsx") == [("xl/worksheets/sheet1.xml", 30_000)]
    assert too_long(out) == []


def test_wide_transposed_layer_builds_within_the_limit(tmp_path: Path) -> None:
    # (--all-views: its 64-channel explorer too, which the view budget leaves out by default)
    exit_code, output, out = build(tmp_path, *WIDE_TRANSPOSED, "--all-views")
    assert exit_code == 0, output
    assert too_long(out) == []
    assert len(formulas(out)) > 6000  # (the layer and its explorer are all there)
    sheets = sheet_names(out)
    assert "Scatter" not in sheets and "Output" in sheets
    guide = guide_text(out)
    # the scatter view would hold a ~25,000-character sum (64 channels x 16 taps of products;
    # the exact count depends on where the blocks are placed)
    assert "the Scatter view is left out" in guide
    said = re.search(r"Scatter view is left out: one of its formulas would be ([\d,]+) "
                     r"characters, and Excel allows at most 8,192", guide)
    assert said and 20_000 < int(said[1].replace(",", "")) < 30_000, guide


def test_a_layer_whose_own_formulas_are_too_long_is_refused_by_name(tmp_path: Path) -> None:
    template = tmp_path / "wide.toml"
    template.write_text('input_size = "2x2"\nin_channels = 200\n\n[[layers]]\n'
                        'op = "conv2d"\nname = "wide"\nout_channels = 1\nkernel_size = 3\n'
                        'padding = 1\n')
    exit_code, output = convsheets("build", "--template", str(template), "-o",
                                   str(tmp_path / "wide.xlsx"))
    assert exit_code == 2, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: layer wide: "), output
    assert "8,192" in lines[0] and "Traceback" not in output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wide.toml"]


def test_a_refused_variant_names_its_layer_and_writes_nothing(tmp_path: Path) -> None:
    exit_code, output, out = build(tmp_path, "--variant", "basic", "--in-channels", "200",
                                   "--input-size", "3", "--kernel-size", "3")
    assert exit_code == 2, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: layer conv2d: "), output
    assert "8,192" in lines[0]
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- random layers
def _draw(rng: random.Random) -> tuple[str, dict[str, object]]:
    """A random valid layer of a random variant (its options); channels now and then in the
    hundreds (with small images), where formulas grow past Excel's limit."""
    while True:
        variant = rng.choice(sorted(VARIANTS))
        wide = rng.random() < 0.5
        k = (rng.randint(1, 4), rng.randint(1, 4))
        d = (rng.randint(1, 3), rng.randint(1, 3))
        p = (rng.randint(0, 2), rng.randint(0, 2))
        s = (rng.randint(1, 3), rng.randint(1, 3))
        groups = rng.choice([1, 2, 4])
        channels = rng.choice([24, 64, 120, 200, 320]) if wide else rng.randint(1, 3)
        given = {
            "kernel_size": k, "dilation": d, "padding": p, "stride": s, "groups": groups,
            "in_channels": groups * max(1, channels // groups),
            "out_channels": groups * rng.randint(1, 2),
            "depth_multiplier": rng.randint(1, 2),
            "output_padding": (rng.randint(0, max(s[0], d[0]) - 1),
                               rng.randint(0, max(s[1], d[1]) - 1)),
            "bias": rng.random() < 0.5,
            "seed": rng.randint(0, 10_000),
        }
        if variant == "transposed":
            given["input_size"] = ((rng.randint(1, 3), rng.randint(1, 3)) if wide else
                                   (rng.randint(1, 5), rng.randint(1, 5)))
        else:
            given["input_size"] = tuple(max(1, d[a] * (k[a] - 1) + 1 - 2 * p[a])
                                        + rng.randint(0, 1 if wide else 4) for a in (0, 1))
        honoured = {key: v for key, v in given.items() if key in VARIANTS[variant].honoured}
        try:
            LayerSpec.create(variant, honoured, preset(variant))
        except ConvsheetsError:
            continue
        return variant, honoured


def _args(variant: str, options: dict[str, object]) -> list[str]:
    """The same layer as `convsheets build` options."""
    args = ["--variant", variant]
    for key, value in options.items():
        if key == "bias":
            args.append("--bias" if value else "--no-bias")
        else:
            shown = "x".join(map(str, value)) if isinstance(value, tuple) else str(value)
            args += ["--" + key.replace("_", "-"), shown]
    return args


def _sweep(tmp_path: Path, seed: int, count: int) -> dict[str, int]:
    rng = random.Random(seed)
    failures, outcomes = [], {"built": 0, "left out": 0, "refused": 0}
    for n in range(count):
        args = _args(*_draw(rng))
        where = tmp_path / f"{n}"
        where.mkdir()
        exit_code, output, out = build(where, *args)
        line = " ".join(args)
        if exit_code == 0:
            outcomes["built"] += 1
            long = too_long(out)
            if long:
                failures.append(f"{line}: {long[:2]}")
            if "is left out: one of its formulas" in guide_text(out):
                outcomes["left out"] += 1
        else:
            outcomes["refused"] += 1
            lines = output.strip().splitlines()
            if exit_code != 2 or len(lines) != 1 or "Traceback" in output:
                failures.append(f"{line}: exit {exit_code}: {output[-300:]}")
            elif not (lines[0].startswith("Error: layer ") and "8,192" in lines[0]):
                failures.append(f"{line}: refused for another reason: {lines[0]}")
            if list(where.iterdir()):
                failures.append(f"{line}: a refused build left {list(where.iterdir())}")
    assert not failures, "\n".join(failures)
    return outcomes


def test_random_layers_of_every_variant_fit_or_are_refused(tmp_path: Path) -> None:
    outcomes = _sweep(tmp_path, seed=8192, count=16)
    # (it reaches the limit, else it would prove nothing about it)
    assert outcomes["built"] and outcomes["left out"] + outcomes["refused"], outcomes


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_random_layers_long_sweep(tmp_path: Path, seed: int) -> None:
    outcomes = _sweep(tmp_path, seed=seed, count=80)
    assert all(outcomes.values()), outcomes


# ---------------------------------------------------------------------------- the measuring
def _exact(source: Network) -> list[str]:
    """Every block's reported longest formula is the longest it writes, cell by cell."""
    wrong = []
    for block in make_plan(source).blocks():
        every = max([measured(block.content.rows(block)),
                     *(1 + len(rule) for rule in block.highlights),
                     *(1 + len(rule) for rule, _look in block.shades)])
        if longest_formula(block) != every:
            wrong.append(f"{block.name}: reported {longest_formula(block)}, writes {every}")
    return wrong


def test_reported_lengths_are_exact_for_random_layers() -> None:
    rng = random.Random(17)
    for _ in range(8):
        variant, options = _draw(rng)
        assert _exact(LayerSpec.create(variant, options, preset(variant)).network()) == [], options


@settings(max_examples=8, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(networks())
def test_reported_lengths_are_exact_for_random_networks(network: Network) -> None:
    """(Pooling with padding and dilation, ReLU, chains: the contents the variants lack.)"""
    assert _exact(network) == []
