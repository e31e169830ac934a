"""`convsheets render` and how workbooks print: one page per sheet for every preset (LibreOffice's
own PDF export, counted per sheet by the footer), PNG and PDF output, clear errors; the compact
layout's tiling arithmetic; the README's formula example taken from the real file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pypdfium2 as pdfium
import pytest
from PIL import Image

from convsheets.build import build
from convsheets.layout import Tiling
from convsheets.presets import preset
from convsheets.render import page_names, pdf_pages, slug, to_pdf
from convsheets.spec import LayerSpec
from convsheets.variants import VARIANTS

ROOT = Path(__file__).resolve().parent.parent


def run_main(cwd: Path, *args: str, env: dict[str, str] | None = None,
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "convsheets", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def presets(built_all) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    """Every variant's preset: the session's `convsheets build --all` (read-only)."""
    assert built_all.exit_code == 0, built_all.output
    return {name: built_all.paths[name] for name in VARIANTS}


@pytest.fixture(scope="module")
def pdfs(presets: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("pdf")
    return dict(zip(presets, to_pdf(list(presets.values()), out), strict=True))


def test_every_preset_prints_each_sheet_on_one_page(presets, pdfs):
    """Issue 14's target: no sheet of a preset spills onto a second page (so no block is
    split and no title is orphaned), and every page carries its sheet's footer."""
    for name, pdf in pdfs.items():
        sheets = openpyxl.load_workbook(presets[name], read_only=True).sheetnames
        printed = [page.sheet for page in pdf_pages(pdf)]
        # (a Matrix sheet larger than a readable page prints its top left: one page too)
        assert printed == sheets, (name, printed)


def test_grouped_preset_sets_groups_apart(presets):
    """Each group of input channels starts its own row of blocks under a group label."""
    wb = openpyxl.load_workbook(presets["grouped"])
    for sheet in ("Input", "Padded"):
        ws = wb[sheet]
        labels = {c.value: c.row for row in ws.iter_rows() for c in row
                  if isinstance(c.value, str) and c.value.startswith("group ")}
        assert set(labels) == {"group 0: input channels 0-1", "group 1: input channels 2-3"}
        first = "input_c" if sheet == "Input" else "padded_c"
        rows = {n: int(re.search(r"\$(\d+):", wb.defined_names[f"{first}{n}"].attr_text)[1])
                for n in range(4)}
        assert rows[0] == rows[1] < rows[2] == rows[3]  # two channels per row, one row a group
        assert labels["group 0: input channels 0-1"] < rows[0] < \
            labels["group 1: input channels 2-3"] < rows[2]


def test_depthwise_blocks_wrap_into_a_grid(presets):
    wb = openpyxl.load_workbook(presets["depthwise"])
    lefts = {re.search(r"!\$([A-Z]+)\$", wb.defined_names[f"input_c{c}"].attr_text)[1]
             for c in range(16)}
    # 16 channels in a grid (as many across as print largest on one page), not one tall column
    assert 3 <= len(lefts) <= 4, lefts


@pytest.mark.parametrize("tiling", [
    Tiling(16, 4, 8, 7), Tiling(5, 4, 6, 5), Tiling(3, 1, 7, 0), Tiling(4, 2, 7, 6, 2, 8),
    Tiling(12, 2, 5, 4, 6, 17), Tiling(6, 6, 3, 2),
])
def test_tiling_formulas_equal_the_placement(tiling):
    """The explorer finds the n-th block with the tiling's formula expressions; evaluated,
    they must give the offsets the blocks were placed at."""
    def evaluate(expr: str, n: int) -> int:
        python = expr.replace("INT(", "int(").replace("MOD(", "mod(").replace("/", "//")
        return eval(python, {"int": int, "mod": lambda a, b: a % b, "n": n})

    for n in range(tiling.count):
        assert (evaluate(tiling.row_expr("n"), n), evaluate(tiling.col_expr("n"), n)) == \
            tiling.offset(n)


def test_render_png_one_picture_per_sheet(presets, tmp_path):
    result = run_main(tmp_path, "render", str(presets["basic"]), "--to", "pics", "--dpi", "50")
    assert result.returncode == 0, result.stderr
    sheets = openpyxl.load_workbook(presets["basic"], read_only=True).sheetnames
    expected = {f"basic-{slug(s)}.png" for s in sheets}
    assert {p.name for p in (tmp_path / "pics").glob("*.png")} == expected
    with Image.open(tmp_path / "pics" / "basic-output.png") as image:
        # a page (A4 or Letter) at 50 dpi: 8.27-11 inches on a side
        assert 400 <= max(image.size) <= 560 and min(image.size) >= 400


def test_render_one_sheet_as_pdf(presets, tmp_path):
    result = run_main(tmp_path, "render", str(presets["transposed"]), "--to", "out",
                      "--format", "pdf", "--sheet", "flipped")
    assert result.returncode == 0, result.stderr
    doc = pdfium.PdfDocument(str(tmp_path / "out" / "transposed.pdf"))
    assert len(doc) == 1
    text = doc[0].get_textpage().get_text_range()
    doc.close()
    assert "flipped_weight_0_0" in text and "Flipped · page" in text


def test_render_unknown_sheet_names_the_sheets(presets, tmp_path):
    result = run_main(tmp_path, "render", str(presets["basic"]), "--to", "out", "--sheet",
                      "Nope")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "--sheet Nope: basic.xlsx has no such sheet" in result.stderr
    assert "Guide, Overview, Input" in result.stderr


def test_render_without_libreoffice_says_how_to_install(presets, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": str(bin_dir)}
    result = run_main(tmp_path, "render", str(presets["basic"]), "--to", "out", env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("Error: LibreOffice not found")
    assert "apt-get install libreoffice-calc" in result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "out").exists()


def test_readme_formula_example_is_the_real_one(presets):
    """The README quotes an output cell of the basic preset (output/basic.xlsx, which another
    test keeps equal to a fresh build): the first two SUMPRODUCTs, an ellipsis and the bias,
    read from the built file so the two cannot drift."""
    wb = openpyxl.load_workbook(presets["basic"])
    sheet, cell = wb.defined_names["output_c0"].attr_text.split("!")
    formula = wb[sheet][cell.split(":")[0].replace("$", "")].value
    terms = formula.split("+")
    quoted = "+".join(terms[:2]) + "+…+" + terms[-1]
    assert f"`{quoted}`" in (ROOT / "README.md").read_text()


def test_readme_gallery_links_every_page_of_every_preset(pdfs):
    """The README's gallery names exactly the pictures `render` makes of each preset (so a
    new sheet, or a sheet that starts printing on two pages, shows up here first)."""
    readme = (ROOT / "README.md").read_text()
    for name, pdf in pdfs.items():
        made = {f"docs/images/gallery/{stem}.png" for _page, stem in
                ((p, s) for p, s in page_names(name, pdf_pages(pdf)))}
        linked = set(re.findall(rf"docs/images/gallery/{name}-[a-z0-9-]+\.png", readme))
        assert linked == made, name


def test_render_trim_cuts_blank_paper_and_footer(presets, tmp_path):
    result = run_main(tmp_path, "render", str(presets["basic"]), "--to", "full", "--sheet",
                      "kernels", "--dpi", "60")
    assert result.returncode == 0, result.stderr
    result = run_main(tmp_path, "render", str(presets["basic"]), "--to", "cut", "--sheet",
                      "KERNELS", "--dpi", "60", "--trim")
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / "full" / "basic-kernels.png") as full, \
            Image.open(tmp_path / "cut" / "basic-kernels.png") as cut:
        assert cut.width < full.width and cut.height < full.height / 2
        # the page's footer (the bottom margin) is gone: the last rows are white
        bottom = cut.convert("L").crop((0, cut.height - 3, cut.width, cut.height))
        assert bottom.getextrema() == (255, 255)


def test_a_long_sheet_breaks_only_between_bands_and_repeats_its_note(tmp_path):
    """A layer too big for one readable page: LibreOffice prints each long sheet on exactly
    the pages convsheets' breaks make (no page break of its own, which could cut a block),
    every break falls on a blank row between bands of blocks, and the sheet's note is
    repeated at the top of every page."""
    from convsheets.build import make_plan

    spec = LayerSpec.create("basic", {"in_channels": 24, "input_size": (14, 14),
                                      "out_channels": 2}, preset("basic"))
    book = tmp_path / "big.xlsx"
    build(spec.network(), book)
    plan = make_plan(spec.network())
    setups = {sheet.name: (sheet, sheet.page_setup()) for sheet in plan.sheets}
    long = [name for name, (_s, setup) in setups.items() if setup.breaks]
    assert {"Input", "Padded"} <= set(long)
    pdf = to_pdf([book], tmp_path / "pdf")[0]
    pages = pdf_pages(pdf)
    doc = pdfium.PdfDocument(str(pdf))
    try:
        for name in long:
            sheet, setup = setups[name]
            mine = [p for p in pages if p.sheet == name]
            assert len(mine) == len(setup.breaks) + 1, name
            used = {row for top, bottom in sheet.bands() for row in range(top, bottom + 1)}
            tops = {top for top, _bottom in sheet.bands()}
            # a page ends on a blank row and the next one starts with a band
            assert not used & set(setup.breaks) and {r + 1 for r in setup.breaks} <= tops
            first_note_line = sheet.note_lines[0]
            for page in mine:
                text = doc[page.index].get_textpage().get_text_range()
                assert first_note_line in text.replace("\r\n", "\n"), (name, page.index)
    finally:
        doc.close()


def test_render_one_sheet_of_several_workbooks_skips_those_without_it(presets, tmp_path):
    """--sheet Padded over presets: the workbooks that have no padding have no such sheet
    and give no picture; the others one each."""
    books = [str(presets[name]) for name in ("basic", "pointwise", "grouped")]
    result = run_main(tmp_path, "render", *books, "--to", "out", "--sheet", "Padded",
                      "--dpi", "30")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == [
        "basic-padded.png", "grouped-padded.png"]
