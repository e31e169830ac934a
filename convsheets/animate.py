"""`convsheets animate`: a layer's Walk sheet, one frame per step, as LibreOffice prints it.

The frames come from the workbook itself, in one LibreOffice start: a copy of the workbook
gets one copy of the Walk sheet per frame, each with its step cell (the only cell of the sheet
that reads the explorer, `walk.py`) holding the frame's number instead of its formula; every
other sheet is hidden, so the one PDF LibreOffice exports (recalculating on load, as verify
does) has one page per frame, named in its footer. pypdfium2 turns the pages into pictures,
all cut to the same box, and Pillow writes the GIF or APNG (or a folder of PNGs). Several
animations (the gallery) share one LibreOffice start too.

Frame n is the sheet with `walk_step = n`: exactly what the Walk shows when the explorer's
step cell (`explore_step`) holds n.
"""

from __future__ import annotations

import json
import re
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from .errors import ConvsheetsError, EngineError, OutputError, VerifyInputError
from .outputs import atomic_write, check_folder, check_target
from .render import FOOTER_INCHES, pdf_pages, to_pdf
from .xlsxread import XlsxFile, parse_ref

VIEWS = ("explorer", "scatter")
FORMATS = ("gif", "apng", "png")
MAX_FRAMES = 100  # keeps a GIF under a few MB and LibreOffice's run under a minute
DEFAULT_FPS = 2.0
DPI = 96
CLEAR = 255  # the GIF's transparent index (the palette has COLOURS < 255 entries)
COLOURS = 48  # a frame's palette: its few hues and their anti-aliased edges
FRAME_SHEET = "step {n}"  # the copies' names (each page's footer names its sheet)

Progress = Callable[[str, int, int], None]  # (what, done, total)


class AnimateError(ConvsheetsError):
    """A request animate cannot honour: `param` as the command line spells it (--layer,
    FILE), `rule` what is wrong; `located` names it as the Python API does."""

    def __init__(self, param: str, rule: str, where: str = "") -> None:
        self.param, self.rule = param, rule
        super().__init__(f"{where}: {param}: {rule}" if where else f"{param}: {rule}")

    def located(self, where: str) -> AnimateError:
        """The same error, the parameter named as `where` (a Python call) takes it."""
        name = "workbook" if self.param == "FILE" else self.param.lstrip("-").replace("-", "_")
        return AnimateError(name, self.rule, where)


@dataclass
class Walk:
    """Where a layer's Walk sheet is, and how many steps it has."""

    layer: str  # the layer's label, as --layer names it
    sheet: str
    step_cell: tuple[int, int]  # (row, column), 1-based
    count: int  # output cells: channels x rows x columns


@dataclass
class Job:
    """One animation to make: a workbook, its layer's Walk and the steps to show."""

    path: Path
    walk: Walk
    steps: list[int]


def _bad(param: str, rule: str) -> AnimateError:
    return AnimateError(param, rule)


def find_walk(path: Path, layer: str | None = None, view: str = "explorer") -> Walk:
    """The Walk of `layer` (default: the first layer that has one) in a convsheets workbook,
    or an error naming the parameter at fault."""
    if view not in VIEWS:
        raise _bad("--view", f"{view!r} is not a view animate knows ({', '.join(VIEWS)})")
    try:
        with XlsxFile(path) as book:
            names = book.defined_names()
            sheets = book.sheet_names()
            raw = book.custom_properties().get("convsheets")
    except ConvsheetsError:
        raise
    except OSError as exc:
        raise VerifyInputError(f"{path}: cannot read it ({exc.strerror})") from None
    if raw is None:
        raise VerifyInputError(f"{path}: not a convsheets workbook (no convsheets metadata); "
                               "build one with `convsheets build`")
    try:
        record = json.loads(raw)
        blocks = record["blocks"]
        if not isinstance(blocks, dict):
            raise TypeError("blocks")
    except (ValueError, KeyError, TypeError):
        raise VerifyInputError(f"{path}: its convsheets metadata cannot be read") from None
    if "exercise" in record:
        raise _bad("FILE", f"{path} is an exercise handout (--exercise): handouts have no "
                   "Walk sheet; animate the workbook built without --exercise")
    kind, key, sheet_word = (("walk", "walk_step", "Walk") if view == "explorer"
                             else ("stamps", "stamps_step", "Stamps"))
    walks = {meaning[1]: name for name, meaning in blocks.items()
             if isinstance(meaning, list) and len(meaning) >= 4 and meaning[2] == kind
             and meaning[3] == key}
    layers = list(dict.fromkeys(meaning[1] for meaning in blocks.values()
                                if isinstance(meaning, list) and len(meaning) >= 2
                                and meaning[1]))
    if layer is not None and layer not in layers:
        raise _bad("--layer", f"{layer!r} is not a layer of {path.name} (layers: "
                   + ", ".join(layers) + ")")
    if view == "scatter":
        which = layer or (layers[0] if len(layers) == 1 else "")
        scatters = {meaning[1] for meaning in blocks.values() if isinstance(meaning, list)
                    and len(meaning) >= 3 and meaning[2] == "scatter"}
        if which and which not in scatters:
            raise _bad("--view", f"scatter: layer {which!r} has no scatter view (only a "
                       "transposed convolution has one); use --view explorer")
    if not walks:
        raise _bad("FILE", f"{path.name} has no {sheet_word} sheet (built without its view, "
                   "or its layers do not fit one screen)")
    if layer is None:
        layer = next(label for label in layers if label in walks)
    if layer not in walks:
        raise _bad("--layer", f"{layer!r} has no {sheet_word} sheet (layers with one: "
                   + ", ".join(walks) + ")")
    step_ref = names.get(walks[layer])
    shown = "walk_output" if view == "explorer" else "stamps_source"
    out = names.get(walks[layer].replace(key, shown))
    if step_ref is None or out is None:
        raise VerifyInputError(f"{path}: the {sheet_word} sheet's defined names are missing "
                               "(edited since convsheets wrote it?); build the workbook again")
    sheet, row, col, _r1, _c1 = parse_ref(step_ref)
    if sheet not in sheets:
        raise VerifyInputError(f"{path}: its {sheet_word} sheet {sheet!r} is missing")
    _s, r0, c0, r1, c1 = parse_ref(out)
    if view == "explorer":  # one step per output cell
        channels = sum(1 for meaning in blocks.values() if isinstance(meaning, list)
                       and len(meaning) >= 2 and meaning[0] == "output"
                       and meaning[1] == layer)
    else:  # one step per input pixel: the input channels are the weight's first index
        channels = len({tuple(meaning[4])[:1] for meaning in blocks.values()
                        if isinstance(meaning, list) and len(meaning) >= 5
                        and meaning[1] == layer and meaning[2] == "weight" and meaning[4]})
    return Walk(layer, sheet, (row, col), max(1, channels) * (r1 - r0 + 1) * (c1 - c0 + 1))


def parse_frames(spec: str | int, count: int) -> list[int]:
    """The steps `--frames` asks for: "all", one step "N" or an inclusive range "A-B";
    each inside 0..count-1, at most MAX_FRAMES of them."""
    text = str(spec).strip().lower()
    last = count - 1
    if text == "all":
        steps = list(range(count))
    else:
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", text)
        if m is None:
            raise _bad("--frames", f"{spec!r} must be all, a step N or a range A-B "
                       f"(steps 0-{last})")
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) is not None else a
        if b < a:
            raise _bad("--frames", f"{spec}: the range must go up (A <= B)")
        if b > last:
            raise _bad("--frames", f"{spec} is outside the output: its steps are 0-{last}")
        steps = list(range(a, b + 1))
    if len(steps) > MAX_FRAMES:
        raise _bad("--frames", f"{len(steps)} frames is more than {MAX_FRAMES} (a limit that "
                   "keeps the GIF small); choose a range A-B")
    return steps


# ---------------------------------------------------------------------------- the copies
_SHEET = re.compile(r"<sheet\b[^>]*?/>")
_R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def frames_workbook(job: Job, target: Path) -> list[str]:
    """Write to `target` a copy of the job's workbook with one copy of its Walk sheet per
    step (its step cell the step's number), every other sheet hidden; returns the copies'
    sheet names, in page order."""
    walk = job.walk
    with zipfile.ZipFile(job.path) as src:
        parts = {info.filename: src.read(info) for info in src.infolist()}
    book = parts["xl/workbook.xml"].decode("utf-8")
    rels = parts["xl/_rels/workbook.xml.rels"].decode("utf-8")
    types = parts["[Content_Types].xml"].decode("utf-8")
    sheets = _SHEET.findall(book)
    rid = None
    for element in sheets:
        if _attr(element, "name") == _xml(walk.sheet):
            rid = _attr(element, "r:id")
    by_id = {_attr(e, "Id"): _attr(e, "Target")
             for e in re.findall(r"<Relationship\b[^>]*?/>", rels)}
    if rid is None or rid not in by_id:
        raise VerifyInputError(f"{job.path}: the Walk sheet {walk.sheet!r} cannot be found")
    part = str(by_id[rid]).lstrip("/")
    if not part.startswith("xl/"):
        part = "xl/" + part
    sheet_xml = parts[part].decode("utf-8")
    row, col = walk.step_cell
    address = _address(row, col)
    cell = re.compile(rf'<c r="{address}"(?P<attrs>[^>]*?)(?:/>|>.*?</c>)', re.S)
    if cell.search(sheet_xml) is None:
        raise VerifyInputError(f"{job.path}: the Walk's step cell {address} is missing")
    sheet_xml = _fitted_to_one_page(sheet_xml.replace('tabSelected="1"', 'tabSelected="0"'))
    # no stored results in the copies: each is computed for its own step
    sheet_xml = re.sub(r"(</f>|<f\b[^>]*/>)<v>[^<]*</v>", r"\1", sheet_xml)
    hidden = [re.sub(r'\sstate="[^"]*"', "", e).replace("<sheet ", '<sheet state="hidden" ', 1)
              for e in sheets]
    for old, new in zip(sheets, hidden, strict=True):
        book = book.replace(old, new, 1)
    ids = [int(_attr(e, "sheetId") or 0) for e in sheets]
    names: list[str] = []
    new_sheets, new_rels, new_types, areas = [], [], [], []
    area = re.search(r'<definedName name="_xlnm.Print_Area" localSheetId="'
                     rf'{sheets.index(next(e for e in sheets if _attr(e, "r:id") == rid))}"'
                     r'>(.*?)</definedName>', book)
    for n, step in enumerate(job.steps):
        name = FRAME_SHEET.format(n=step)
        names.append(name)
        attrs = cell.search(sheet_xml).group("attrs")  # type: ignore[union-attr]
        attrs = re.sub(r'\st="[^"]*"', "", attrs)
        copy = cell.sub(lambda _m, a=attrs, s=step: f'<c r="{address}"{a}><v>{s}</v></c>',
                        sheet_xml, count=1)
        path = f"xl/worksheets/cs_frame{n}.xml"
        parts[path] = copy.encode("utf-8")
        new_rels.append(f'<Relationship Type="{_R_NS}/worksheet" Target="/{path}" '
                        f'Id="rIdCsFrame{n}"/>')
        new_types.append(f'<Override PartName="/{path}" ContentType="application/'
                         'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>')
        new_sheets.append(f'<sheet xmlns:r="{_R_NS}" name="{_xml(name)}" '
                          f'sheetId="{max(ids) + 1 + n}" state="visible" '
                          f'r:id="rIdCsFrame{n}"/>')
        if area is not None:
            local = area.group(1).replace(f"'{_xml(walk.sheet)}'!", f"'{name}'!").replace(
                f"{_xml(walk.sheet)}!", f"'{name}'!")
            areas.append(f'<definedName name="_xlnm.Print_Area" '
                         f'localSheetId="{len(sheets) + n}">{local}</definedName>')
    # the other sheets print nothing: a hidden sheet still prints, but LibreOffice (and Excel)
    # leave out a page whose print area is one empty cell
    book = re.sub(r'<definedName name="_xlnm.Print_Area"[^>]*>.*?</definedName>', "", book)
    for i, element in enumerate(sheets):
        quoted = (_attr(element, "name") or "").replace("&apos;", "'").replace("'", "''")
        areas.insert(i, f'<definedName name="_xlnm.Print_Area" localSheetId="{i}">'
                     f"'{quoted}'!$A$1048576</definedName>")
    if "<definedNames>" not in book:
        book = book.replace("</sheets>", "</sheets><definedNames></definedNames>", 1)
    book = book.replace("</sheets>", "".join(new_sheets) + "</sheets>", 1)
    if areas:
        book = book.replace("</definedNames>", "".join(areas) + "</definedNames>", 1)
    book = re.sub(r'fullCalcOnLoad="[^"]*"', 'fullCalcOnLoad="1"', book)
    book = re.sub(r'activeTab="\d+"', f'activeTab="{len(sheets)}"', book)
    book = re.sub(r'firstSheet="\d+"', f'firstSheet="{len(sheets)}"', book)
    parts["xl/workbook.xml"] = book.encode("utf-8")
    parts["xl/_rels/workbook.xml.rels"] = rels.replace(
        "</Relationships>", "".join(new_rels) + "</Relationships>").encode("utf-8")
    parts["[Content_Types].xml"] = types.replace(
        "</Types>", "".join(new_types) + "</Types>").encode("utf-8")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for name, data in parts.items():
            out.writestr(name, data)
    return names


def _fitted_to_one_page(sheet_xml: str) -> str:
    """The sheet's print fitted to one page, its page breaks dropped: a frame is one page,
    even of a Walk whose columns, widened for long numbers, print on two pages at a readable
    scale (the frame's picture is scaled by --dpi anyway)."""
    sheet_xml = re.sub(r"<(rowBreaks|colBreaks)\b.*?(?:/>|</\1>)", "", sheet_xml, flags=re.S)

    def setup(m: re.Match[str]) -> str:
        attrs = re.sub(r'\s(?:scale|fitToWidth|fitToHeight)="[^"]*"', "", m.group(1))
        return f'<pageSetup{attrs} fitToWidth="1" fitToHeight="1"{m.group(2)}'

    if "<pageSetup" in sheet_xml:
        sheet_xml = re.sub(r"<pageSetup\b([^>]*?)(/?>)", setup, sheet_xml, count=1)
    if "<pageSetUpPr" in sheet_xml:
        sheet_xml = re.sub(r"<pageSetUpPr\b[^>]*?/>", '<pageSetUpPr fitToPage="1"/>', sheet_xml,
                           count=1)
    elif re.search(r"<sheetPr\b[^>]*/>", sheet_xml):
        sheet_xml = re.sub(r"<sheetPr\b([^>]*)/>",
                           r'<sheetPr\1><pageSetUpPr fitToPage="1"/></sheetPr>', sheet_xml, count=1)
    elif "<sheetPr" in sheet_xml:
        sheet_xml = sheet_xml.replace("</sheetPr>", '<pageSetUpPr fitToPage="1"/></sheetPr>', 1)
    else:
        sheet_xml = re.sub(r"(<worksheet\b[^>]*>)", r'\1<sheetPr><pageSetUpPr fitToPage="1"/>'
                           "</sheetPr>", sheet_xml, count=1)
    return sheet_xml


def _attr(element: str, key: str) -> str | None:
    m = re.search(rf'\s{re.escape(key)}="([^"]*)"', element)
    return m.group(1) if m else None


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(
        '"', "&quot;").replace("'", "&apos;")


def _address(row: int, col: int) -> str:
    letters = ""
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return f"{letters}{row}"


# ---------------------------------------------------------------------------- the frames
def render_jobs(jobs: Sequence[Job], dpi: int = DPI, progress: Progress | None = None,
                keep: Path | None = None) -> list[list[Image.Image]]:
    """Every job's frames, from ONE LibreOffice start: a frames workbook per job, exported
    to PDF in one batch, pages rendered and cut to one box per job. `keep`: a folder to
    leave the frames workbooks in (tests read their recalculated copies)."""
    import pypdfium2 as pdfium

    tell = progress or (lambda _what, _done, _total: None)
    total = sum(len(job.steps) for job in jobs)
    with tempfile.TemporaryDirectory(prefix="convsheets-animate-") as tmp_name:
        tmp = Path(tmp_name)
        books, names = [], []
        for i, job in enumerate(jobs):
            book = (keep or tmp) / f"frames{i}.xlsx"
            names.append(frames_workbook(job, book))
            books.append(book)
        tell("LibreOffice: recalculating and printing the frames", 0, total)
        pdfs = to_pdf(books, tmp / "pdf")
        done = 0
        result = []
        for job, pdf, expected in zip(jobs, pdfs, names, strict=True):
            pages = pdf_pages(pdf)
            found = [p.sheet for p in pages]
            if found != expected:
                raise EngineError(f"LibreOffice printed {len(found)} page(s) for "
                                  f"{len(expected)} frame(s) of {job.path.name}: each copy of "
                                  "its Walk sheet must print on one page")
            doc = pdfium.PdfDocument(str(pdf))
            try:
                images = []
                for page in pages:
                    images.append(doc[page.index].render(scale=dpi / 72).to_pil()
                                  .convert("RGB"))
                    done += 1
                    tell("rendering frames", done, total)
            finally:
                doc.close()
            result.append(_same_box(images, dpi))
    return result


def _same_box(images: list[Image.Image], dpi: int) -> list[Image.Image]:
    """The frames cut to one box: what any of them shows (the footer left out), with a small
    white border, so they stack into an animation without jumping."""
    from PIL import ImageChops, ImageOps

    box: list[int] | None = None
    for image in images:
        body = image.crop((0, 0, image.width, image.height - int(FOOTER_INCHES * dpi)))
        found = ImageChops.difference(body, Image.new("RGB", body.size, "white")).getbbox()
        if found is None:
            continue
        box = list(found) if box is None else [min(box[0], found[0]), min(box[1], found[1]),
                                               max(box[2], found[2]), max(box[3], found[3])]
    if box is None:
        return images
    border = max(2, dpi // 10)
    return [ImageOps.expand(image.crop(tuple(box)), border=border, fill="white")
            for image in images]


def write_frames(frames: Sequence[Image.Image], target: Path, fmt: str, fps: float,
                 force: bool = False) -> list[Path]:
    """An animated GIF or APNG at `target`, or a folder `target` of PNGs (step-NNN.png), by
    the rule of `outputs`."""
    duration = int(round(1000 / fps))
    if fmt == "png":
        written = []
        for n, frame in enumerate(frames):
            path = target / f"frame-{n:03d}.png"
            with atomic_write(path, force) as fh:
                frame.quantize(256).save(fh, format="PNG", optimize=True)
            written.append(path)
        return written
    palette = _palette(frames)
    coded = [frame.quantize(palette=palette, dither=Image.Dither.NONE) for frame in frames]
    with atomic_write(target, force) as fh:
        if fmt == "gif":
            deltas = _unchanged_transparent(coded)
            deltas[0].save(fh, format="GIF", save_all=True, append_images=deltas[1:],
                           duration=duration, loop=0, optimize=False, disposal=1,
                           transparency=CLEAR)
        else:
            coded[0].save(fh, format="PNG", save_all=True, append_images=coded[1:],
                          duration=duration, loop=0, optimize=True)
    return [target]


def _unchanged_transparent(coded: Sequence[Image.Image]) -> list[Image.Image]:
    """Each frame after the first with the pixels the previous frame already shows made
    transparent (kept, disposal 1): long runs of one index, which GIF's LZW packs tightly
    (a fifth of the size); the decoded frames are the same pictures."""
    import numpy as np

    out = [coded[0]]
    before = np.asarray(coded[0])
    for frame in coded[1:]:
        now = np.asarray(frame)
        delta = np.where(now == before, CLEAR, now).astype(np.uint8)
        before = now
        image = Image.fromarray(delta, "P")
        image.putpalette(coded[0].getpalette() or [])
        out.append(image)
    return out


def _palette(frames: Sequence[Image.Image]) -> Image.Image:
    """One palette for every frame (from the first and the last, which between them show
    every colour the Walk uses), so colours do not flicker between frames."""
    first, last = frames[0], frames[-1]
    both = Image.new("RGB", (first.width + last.width, max(first.height, last.height)),
                     "white")
    both.paste(first, (0, 0))
    both.paste(last, (first.width, 0))
    return both.quantize(COLOURS, method=Image.Quantize.MEDIANCUT)


# ---------------------------------------------------------------------------- the command
def default_output(path: Path, walk: Walk, fmt: str) -> Path:
    suffix = {"gif": ".gif", "apng": ".png", "png": ""}[fmt]
    return path.with_name(f"{path.stem}-{walk.layer}-walk{suffix}" if fmt != "png"
                          else f"{path.stem}-{walk.layer}-frames")


def check_request(fmt: str, fps: float) -> None:
    if fmt not in FORMATS:
        raise _bad("--format", f"{fmt!r} must be one of " + ", ".join(FORMATS))
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0.1 <= fps <= 50:
        raise _bad("--fps", f"{fps!r} must be a number from 0.1 to 50")


def check_output(target: Path, fmt: str, force: bool) -> None:
    """Every refusal before LibreOffice starts."""
    if fmt == "png":
        if target.exists() and not target.is_dir():
            raise OutputError(f"{target}: is a file; the frames go into a folder")
        check_folder(target)
        return
    want = ".gif" if fmt == "gif" else ".png"
    if target.suffix.lower() != want:
        raise OutputError(f"{target}: give a file name ending in {want} for --format {fmt}")
    check_target(target, force)


def animate(path: Path, *, layer: str | None = None, view: str = "explorer",
            frames: str = "all", fps: float = DEFAULT_FPS, fmt: str = "gif",
            output: Path | None = None, force: bool = False, dpi: int = DPI,
            progress: Progress | None = None) -> list[Path]:
    """Animate a layer's Walk from the workbook `path`; returns the files written."""
    check_request(fmt, fps)
    if not path.is_file():
        raise VerifyInputError(f"{path}: no such workbook")
    walk = find_walk(path, layer, view)
    steps = parse_frames(frames, walk.count)
    target = output if output is not None else default_output(path, walk, fmt)
    check_output(target, fmt, force)
    if fmt == "png":
        for n in range(len(steps)):
            check_target(target / f"frame-{n:03d}.png", force)
    images = render_jobs([Job(path, walk, steps)], dpi, progress)[0]
    return write_frames(images, target, fmt, fps, force)


__all__ = ["FORMATS", "MAX_FRAMES", "Job", "Walk", "animate", "find_walk", "frames_workbook",
           "parse_frames", "render_jobs", "write_frames"]
