"""Workbooks as LibreOffice prints them: a PDF, or one PNG per page (`convsheets render`).

LibreOffice (headless, a private throw-away profile, as verify runs it) exports each workbook
to PDF with the page setup the workbook carries (orientation, fit to page, breaks between
blocks, print titles); pypdfium2 (PDFium in a wheel, no system dependency) turns pages into
PNGs. Every page convsheets prints has the sheet's name in its footer, which is how a page is
attributed to its sheet (`--sheet`, file names such as ``basic-output.png``). Pages of an
exercise's hidden metadata sheet are never rendered (handouts built before it stopped printing
still print it). Every file is written by the rule of `outputs` (atomically, never over a
file convsheets did not write unless forced); every target is checked before any is written.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from .engines.base import Deadline, check_inputs, tail
from .engines.libreoffice import LibreOfficeEngine, convert
from .errors import EngineError, OutputError, SpecError, VerifyInputError
from .exercise import METADATA_SHEET
from .outputs import atomic_write, check_folder, check_targets, copy_file

FORMATS = ("png", "pdf")
DEFAULT_DPI = 110
TIMEOUT = 300.0
FOOTER_SEPARATOR = " · page "  # the footer reads "SHEET · page N of M" (workbook.PAGE_FOOTER)
_FOOTER = re.compile(r"^(?P<sheet>.+?) · page \d+ of \d+\s*$", re.MULTILINE)


@dataclass
class Page:
    """One printed page: its 0-based index in the PDF and the sheet it belongs to ("" when
    the page carries no convsheets footer, e.g. a workbook built before render existed)."""

    index: int
    sheet: str


def libreoffice() -> str:
    """The soffice executable, or an EngineError that says how to install it."""
    exe = LibreOfficeEngine().executable()
    if exe is None:
        raise EngineError("LibreOffice not found: convsheets render needs it to lay out the "
                          "pages; " + LibreOfficeEngine.install_hint)
    return exe


def to_pdf(paths: Sequence[Path], outdir: Path, timeout: float = TIMEOUT) -> list[Path]:
    """Export each workbook to `outdir/STEM.pdf` in one LibreOffice run; returns the PDFs."""
    exe = libreoffice()
    inputs = check_inputs(paths)
    outdir.mkdir(parents=True, exist_ok=True)
    targets = [outdir / f"{p.stem}.pdf" for p in inputs]
    if len(set(targets)) != len(targets):
        raise VerifyInputError("two workbooks have the same file name; render them into "
                               "different folders")
    deadline = Deadline(timeout)
    with tempfile.TemporaryDirectory(prefix="convsheets-render-",
                                     ignore_cleanup_errors=True) as tmp_name:
        tmp = Path(tmp_name)
        converted = tmp / "out"
        result = convert(exe, inputs, tmp, converted, "pdf:calc_pdf_Export", deadline)
        for i, (src, target) in enumerate(zip(inputs, targets, strict=True)):
            made = converted / f"{i}.pdf"
            if not made.is_file() or made.stat().st_size == 0:
                raise EngineError(f"LibreOffice could not export {src} to PDF (exit "
                                  f"{result.returncode}: {tail(result.stderr + result.stdout)})"
                                  ": check that it is a valid .xlsx that opens in Calc")
            shutil.move(made, target)
    return targets


def pdf_pages(pdf: Path) -> list[Page]:
    """The pages of a PDF LibreOffice exported, each with the sheet named in its footer."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(pdf))
    try:
        pages = []
        for n in range(len(doc)):
            page = doc[n]
            text = page.get_textpage().get_text_range()
            found = _FOOTER.findall(text.replace("\r", ""))
            pages.append(Page(n, found[-1] if found else ""))
        return pages
    finally:
        doc.close()


def slug(name: str) -> str:
    """A sheet name as part of a file name: "conv1 Output" -> "conv1-output"."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "sheet"


def page_names(stem: str, pages: Sequence[Page]) -> Iterator[tuple[Page, str]]:
    """Stable file stems: STEM-SHEET for a sheet's first page, STEM-SHEET-2, -3 for the rest;
    STEM-pN for a page without a footer."""
    seen: dict[str, int] = {}
    for page in pages:
        if not page.sheet:
            yield page, f"{stem}-p{page.index + 1}"
            continue
        key = slug(page.sheet)
        seen[key] = seen.get(key, 0) + 1
        yield page, f"{stem}-{key}" + (f"-{seen[key]}" if seen[key] > 1 else "")


def render(paths: Sequence[Path], to: Path, *, fmt: str = "png", sheet: str | None = None,
           dpi: int = DEFAULT_DPI, trim: bool = False, timeout: float = TIMEOUT,
           force: bool = False) -> list[Path]:
    """Render workbooks into the folder `to`: one PNG per page (STEM-SHEET.png), or the PDF
    (STEM.pdf, only the sheet's pages with `sheet`). `trim`: each PNG cut to what the page
    shows (no blank paper, no footer), for slides and documents. Returns the files written.
    An existing file is replaced only when convsheets wrote it (or `force`)."""
    if fmt not in FORMATS:
        raise SpecError("format", fmt, "must be one of " + ", ".join(FORMATS),
                        "convsheets.render")
    if to.exists() and not to.is_dir():
        raise OutputError(f"{to}: is a file; the pictures go into a folder")
    check_folder(to)
    with tempfile.TemporaryDirectory(prefix="convsheets-pdf-") as tmp:
        pdfs = to_pdf(paths, Path(tmp), timeout)
        chosen = [_select(pdf, sheet) for pdf in pdfs]
        if sheet is not None and not any(chosen):
            names = list(dict.fromkeys(p.sheet for pdf in pdfs for p in pdf_pages(pdf)
                                       if p.sheet))
            which = f"{pdfs[0].stem}.xlsx has" if len(pdfs) == 1 else "none of the workbooks has"
            raise VerifyInputError(f"sheet {sheet!r}: {which} no such sheet (sheets: "
                                   + (", ".join(names) or "none named in a footer") + ")")
        jobs: list[tuple[Path, list[Page], list[tuple[Page, str]]]] = [
            (pdf, pages, list(page_names(pdf.stem, pages)))
            for pdf, pages in zip(pdfs, chosen, strict=True) if pages]
        targets = [to / pdf.name for pdf, _pages, _named in jobs] if fmt == "pdf" else [
            to / f"{stem}.png" for _pdf, _pages, named in jobs for _page, stem in named]
        check_targets(targets, force)  # every refusal before the first file is written
        written: list[Path] = []
        for pdf, pages, named in jobs:
            if fmt == "pdf":
                written.append(_write_pdf(pdf, [p.index for p in pages], to / pdf.name))
            else:
                written += _write_pngs(pdf, iter(named), to, dpi, trim)
    return written


def _select(pdf: Path, sheet: str | None) -> list[Page]:
    """The pages to keep: all, or the named sheet's (any case; none when the workbook has no
    such sheet, e.g. a network among presets)."""
    pages = [p for p in pdf_pages(pdf) if p.sheet != METADATA_SHEET]
    if sheet is None:
        return pages
    return [p for p in pages if p.sheet.lower() == sheet.lower()]


def _write_pdf(pdf: Path, indices: list[int], target: Path) -> Path:
    import pypdfium2 as pdfium

    src = pdfium.PdfDocument(str(pdf))
    if indices == list(range(len(src))):
        src.close()
        return copy_file(pdf, target, force=True)  # (checked with the others already)
    out = pdfium.PdfDocument.new()
    try:
        out.import_pages(src, indices)
        with atomic_write(target, check=False) as fh:
            out.save(fh)
    finally:
        out.close()
        src.close()
    return target


def _write_pngs(pdf: Path, named: Iterator[tuple[Page, str]], to: Path,
                dpi: int, trim: bool = False) -> list[Path]:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(pdf))
    written = []
    try:
        for page, stem in named:
            image = doc[page.index].render(scale=dpi / 72).to_pil()
            if trim:
                image = _trim(image, dpi)
            target = to / f"{stem}.png"
            # a page has few colours: a 256-colour palette keeps text sharp at a third the size
            with atomic_write(target, check=False) as fh:
                image.convert("RGB").quantize(256).save(fh, format="PNG", optimize=True)
            written.append(target)
    finally:
        doc.close()
    return written


FOOTER_INCHES = 0.6  # the bottom margin holding the footer (workbook._page_setup)


def _trim(image: Image.Image, dpi: int) -> Image.Image:
    """The part of a page that shows something, with a small white border; the footer left
    out."""
    from PIL import ImageChops, ImageOps

    body = image.convert("RGB").crop((0, 0, image.width, image.height -
                                      int(FOOTER_INCHES * dpi)))
    box = ImageChops.difference(body, Image.new("RGB", body.size, "white")).getbbox()
    if box is None:
        return image
    border = max(2, dpi // 10)
    return ImageOps.expand(body.crop(box), border=border, fill="white")
