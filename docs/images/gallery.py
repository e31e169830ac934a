"""Rewrite the README's gallery (between its gallery markers) from the pictures
`convsheets render` made in docs/images/gallery/: for every preset, a link per page in sheet
order, then its Overview. Run by docs/images/make.sh after rendering."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from convsheets.render import slug  # noqa: E402
from convsheets.variants import VARIANTS  # noqa: E402

START, END = "<!-- gallery: start (docs/images/gallery.py) -->", "<!-- gallery: end -->"


def gallery() -> str:
    folder = ROOT / "docs" / "images" / "gallery"
    parts = []
    for name in VARIANTS:
        sheets = openpyxl.load_workbook(ROOT / "output" / f"{name}.xlsx",
                                        read_only=True).sheetnames
        links = []
        for sheet in sheets:
            stem = f"{name}-{slug(sheet)}"
            pages = [stem] + [f"{stem}-{n}" for n in range(2, 100)
                              if (folder / f"{stem}-{n}.png").exists()]
            for k, page in enumerate(pages, 1):
                text = slug(sheet) + (f" ({k})" if len(pages) > 1 else "")
                links.append(f"[{text}](docs/images/gallery/{page}.png)")
        parts.append(f"**[{name}](output/{name}.xlsx)**: " + ", ".join(links) + "\n\n"
                     f"![The overview of output/{name}.xlsx](docs/images/gallery/"
                     f"{name}-overview.png)\n")
    return "\n".join(parts)


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        sys.exit(f"README.md has no {START} ... {END} section")
    readme.write_text(pattern.sub(lambda _m: f"{START}\n{gallery()}{END}", text))


if __name__ == "__main__":
    main()
