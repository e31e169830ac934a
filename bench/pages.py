"""How many pages each preset prints on, per sheet, as LibreOffice exports it to PDF.

    python bench/pages.py [--out DIR] [--json FILE] [WORKBOOK ...]

Without workbooks, builds every variant's preset into a temporary folder first. Each page is
attributed to its sheet by the footer convsheets prints on every page (the sheet's name), so
the table says which sheet spills onto several pages. Target (issue 14): one page per sheet.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from convsheets.build import build  # noqa: E402
from convsheets.presets import preset  # noqa: E402
from convsheets.render import pdf_pages, to_pdf  # noqa: E402
from convsheets.spec import LayerSpec  # noqa: E402
from convsheets.variants import VARIANTS  # noqa: E402


def count(books: list[Path], outdir: Path) -> dict[str, dict[str, int]]:
    """{workbook stem: {sheet: pages}} from one LibreOffice PDF export per workbook."""
    pdfs = to_pdf(books, outdir)
    result: dict[str, dict[str, int]] = {}
    for book, pdf in zip(books, pdfs, strict=True):
        sheets: dict[str, int] = {}
        for page in pdf_pages(pdf):
            sheets[page.sheet] = sheets.get(page.sheet, 0) + 1
        result[book.stem] = sheets
    return result


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
        counts = count(books, Path(tmp) / "pdf")
    width = max(len(b) for b in counts)
    for book, sheets in counts.items():
        over = [f"{s} {n}" for s, n in sheets.items() if n > 1]
        print(f"{book:<{width}}  {sum(sheets.values()):>2} pages, {len(sheets)} sheets"
              + (f"; more than one page: {', '.join(over)}" if over else "; one page each"))
    pages = sum(sum(sheets.values()) for sheets in counts.values())
    sheets = sum(len(sheets) for sheets in counts.values())
    print(f"total: {pages} pages for {sheets} sheets")
    if args.json:
        args.json.write_text(json.dumps(counts, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
