"""How many pages each preset prints on, per sheet, and at what scale, as LibreOffice
exports it to PDF.

    python bench/pages.py [--json FILE] [WORKBOOK ...]

Without workbooks, builds every variant's preset and every shipped network into a temporary
folder first. Each page is attributed to its sheet by the footer convsheets prints on every
page (the sheet's name), so the table says which sheet spills onto several pages. A page's
scale is the size of its most common text over the 11 pt the sheets are written in. Target
(issues 14, 22): every sheet on one page at 50 % or more, or broken only between bands.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from convsheets.build import build  # noqa: E402
from convsheets.networks import network_from_template, shipped_networks  # noqa: E402
from convsheets.presets import preset  # noqa: E402
from convsheets.render import pdf_pages, to_pdf  # noqa: E402
from convsheets.spec import LayerSpec  # noqa: E402
from convsheets.variants import VARIANTS  # noqa: E402

FONT_POINTS = 11.0  # the workbooks' default font size


def page_scales(pdf: Path) -> list[float]:
    """Each page's print scale: its most common text size over FONT_POINTS."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    doc = pdfium.PdfDocument(str(pdf))
    try:
        scales = []
        for n in range(len(doc)):
            text = doc[n].get_textpage()
            sizes = [round(raw.FPDFText_GetFontSize(text.raw, i), 1)
                     for i in range(text.count_chars())]
            sizes = [size for size in sizes if size > 1.0]  # (spaces, line ends)
            common = max(set(sizes), key=sizes.count) if sizes else FONT_POINTS
            scales.append(common / FONT_POINTS)
        return scales
    finally:
        doc.close()


def measure(books: list[Path], outdir: Path) -> dict[str, dict[str, list[float]]]:
    """{workbook stem: {sheet: [scale of each of its pages]}} from one LibreOffice PDF
    export per workbook."""
    pdfs = to_pdf(books, outdir)
    result: dict[str, dict[str, list[float]]] = {}
    for book, pdf in zip(books, pdfs, strict=True):
        sheets: dict[str, list[float]] = {}
        for page, scale in zip(pdf_pages(pdf), page_scales(pdf), strict=True):
            sheets.setdefault(page.sheet, []).append(round(scale, 2))
        result[book.stem] = sheets
    return result


def count(books: list[Path], outdir: Path) -> dict[str, dict[str, int]]:
    """{workbook stem: {sheet: pages}} from one LibreOffice PDF export per workbook."""
    return {book: {sheet: len(scales) for sheet, scales in sheets.items()}
            for book, sheets in measure(books, outdir).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("books", nargs="*", type=Path)
    parser.add_argument("--json", type=Path, help="also write the counts here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="convsheets-pages-") as tmp:
        books = args.books
        if not books:
            books = []
            for name in VARIANTS:
                path = Path(tmp) / f"{name}.xlsx"
                build(LayerSpec.create(name, {}, preset(name)).network(), path)
                books.append(path)
            for name, text in shipped_networks().items():
                path = Path(tmp) / f"{name}.xlsx"
                build(network_from_template(tomllib.loads(text), name), path)
                books.append(path)
        measured = measure(books, Path(tmp) / "pdf")
    width = max(len(b) for b in measured)
    for book, sheets in measured.items():
        over = [f"{s} {len(n)}" for s, n in sheets.items() if len(n) > 1]
        smallest = min(min(scales) for scales in sheets.values())
        small = [s for s, scales in sheets.items() if min(scales) < 0.5]
        print(f"{book:<{width}}  {sum(map(len, sheets.values())):>2} pages, {len(sheets):>2} "
              f"sheets, smallest scale {smallest:.0%}"
              + (f"; more than one page: {', '.join(over)}" if over else "; one page each")
              + (f"; below 50 %: {', '.join(small)}" if small else ""))
    pages = sum(sum(map(len, sheets.values())) for sheets in measured.values())
    sheets = sum(len(sheets) for sheets in measured.values())
    print(f"total: {pages} pages for {sheets} sheets")
    if args.json:
        args.json.write_text(json.dumps(measured, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
