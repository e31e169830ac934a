"""Issue 14's newcomer findings: the messages and behaviours a first-time user met."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl


def run_main(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "convsheets", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_template_without_variant_names_the_template(tmp_path):
    (tmp_path / "layer.toml").write_text('input_size = "5x5"\n')
    result = run_main(tmp_path, "build", "--template", "layer.toml", "-o", "x.xlsx")
    assert result.returncode == 2
    assert "--template layer.toml" in result.stderr and "variant =" in result.stderr
    assert "--template FILE or --all" not in result.stderr
    assert not (tmp_path / "x.xlsx").exists()


def test_edited_workbook_is_called_edited_not_foreign(tmp_path):
    assert run_main(tmp_path, "build", "--variant", "basic", "-o", "b.xlsx").returncode == 0
    book = tmp_path / "b.xlsx"
    wb = openpyxl.load_workbook(book)  # a student edits a cell and saves
    wb["Input"]["B4"] = 1
    wb.save(book)
    result = run_main(tmp_path, "build", "--variant", "basic", "-o", "b.xlsx")
    assert result.returncode == 2
    assert "was written by convsheets and edited" in result.stderr and "--force" in \
        result.stderr
    (tmp_path / "other.xlsx").write_bytes(b"not ours")
    result = run_main(tmp_path, "build", "--variant", "basic", "-o", "other.xlsx")
    assert result.returncode == 2 and "was not written by convsheets" in result.stderr


def test_created_folders_are_named(tmp_path):
    result = run_main(tmp_path, "build", "--variant", "dilated", "-o", "new/deeper/d.xlsx")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "created folders new, new/deeper"
    result = run_main(tmp_path, "build", "--variant", "dilated", "-o", "new/deeper/e.xlsx")
    assert "created folder" not in result.stdout


def test_verify_without_files_shows_usage_and_help_hint(tmp_path):
    result = run_main(tmp_path, "verify")
    assert result.returncode == 2
    assert result.stderr.startswith("Usage: convsheets verify [OPTIONS] FILES...")
    assert "Try 'convsheets verify --help' for help." in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("Error: Missing argument")


def test_variant_names_in_any_case(tmp_path):
    result = run_main(tmp_path, "build", "--variant", "Grouped", "-o", "g.xlsx")
    assert result.returncode == 0, result.stderr
    (tmp_path / "t.toml").write_text('variant = "DEPTHWISE"\n')
    result = run_main(tmp_path, "build", "--template", "t.toml", "-o", "t.xlsx")
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(tmp_path / "t.xlsx") as zf:
        assert '"variant": "depthwise"' in zf.read("docProps/custom.xml").decode()


def test_list_help_says_two_lines_per_variant(tmp_path):
    result = run_main(tmp_path, "list", "--help")
    assert "two lines each" in " ".join(result.stdout.split())
    listing = run_main(tmp_path, "list").stdout.splitlines()
    assert listing[0].startswith("basic") and listing[1].lstrip().startswith("preset:")


def test_normal_values_get_wider_cells(tmp_path):
    run_main(tmp_path, "build", "--variant", "pointwise", "--values", "normal", "-o", "n.xlsx")
    run_main(tmp_path, "build", "--variant", "pointwise", "-o", "i.xlsx")
    normal = openpyxl.load_workbook(tmp_path / "n.xlsx")["Input"].column_dimensions["C"].width
    integers = openpyxl.load_workbook(tmp_path / "i.xlsx")["Input"].column_dimensions["C"].width
    assert normal >= 7.5 > integers


def test_colour_scale_per_tensor(tmp_path):
    """--colour-scale tensor: one colour-scale rule over every output block (so equal values
    get equal colours); the default keeps one per block; the guide says which."""
    for mode in ("block", "tensor"):
        result = run_main(tmp_path, "build", "--variant", "depthwise", "--colour-scale", mode,
                          "-o", f"{mode}.xlsx")
        assert result.returncode == 0, result.stderr
    per_block = openpyxl.load_workbook(tmp_path / "block.xlsx")
    per_tensor = openpyxl.load_workbook(tmp_path / "tensor.xlsx")
    scales = [cf for cf in per_tensor["Output"].conditional_formatting
              if any(rule.colorScale is not None for rule in cf.rules)]
    assert len(scales) == 1 and len(scales[0].sqref.ranges) == 16
    assert len([cf for cf in per_block["Output"].conditional_formatting
                if any(rule.colorScale is not None for rule in cf.rules)]) == 16
    guide = " ".join(str(c.value) for row in per_tensor["Guide"].iter_rows() for c in row
                     if c.value)
    assert "one colour scale per tensor" in guide
    assert "one colour scale per tensor" not in " ".join(
        str(c.value) for row in per_block["Guide"].iter_rows() for c in row if c.value)
