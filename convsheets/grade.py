"""`convsheets grade`: score returned exercise handouts against NumPy.

For each file the original request (variant or network, options) and the exercise (what was
blank, and the numbers the handout shows: input, weights, biases) come from its metadata (the
custom document property, or the hidden metadata sheet when an application dropped the
property), and the handout is re-created from them: the answers' places and NumPy's values
(`expected.py`) come from the recorded numbers, never from the student's cells, so an edited
input is reported, not rewarded. (First-format handouts recorded their seed instead: they are
re-created from it.) A feedback copy (`--feedback`) is recognised by its own document property
and skipped, so grading a folder that holds them counts each student once. The answers are
read as saved (typed numbers, or the values the student's application stored for formulas)
by the hardened reader; files with formulas that carry no stored value are recalculated in
LibreOffice, once for the whole batch. A file that is not an exercise, or cannot be read, is
reported in one line; the others are still graded.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .build import check_size_early
from .engines import ENGINES, get_engine
from .errors import (
    ConvsheetsError,
    EngineError,
    LimitError,
    OutputError,
    SpecError,
    WorkbookReadError,
)
from .exercise import (
    CHUNK_MARK,
    METADATA_SHEET,
    Exercise,
    Handout,
    Student,
    exercise_plan,
    handout_tolerance,
    recorded_network,
)
from .layout import PARAM, SELECTION, TENSOR
from .network import Network
from .outputs import atomic_write, write_text
from .stages import Values
from .workbook import METADATA_KEY
from .xlsxread import KIND_NO_CACHED_VALUE, KIND_NUMBER, XlsxFile, col_letter, parse_ref

FEEDBACK_MAX_CELLS = 2_000_000  # a handout's copy is loaded whole by openpyxl
FEEDBACK_KEY = "convsheets_feedback"  # custom property marking a feedback copy (not graded)
FEEDBACK_SHEET = "Feedback"
TIMEOUT_PER_FILE = 60.0


@dataclass
class BlockGrade:
    name: str
    sheet: str
    correct: int
    total: int
    wrong: list[tuple[str, str]] = field(default_factory=list)  # (cell, "wrong" | "blank")
    cells: list[str] = field(default_factory=list)  # every answer cell, as A1


@dataclass
class Grade:
    """One file's grade, or why it could not be graded."""

    file: str
    student: str = ""
    name: str = ""
    blocks: list[BlockGrade] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)  # editable blocks that differ (names)
    recalculated: bool = False  # its formulas had no stored values: LibreOffice computed them
    metadata_from: str = ""  # "property" or "sheet"
    handout: str = ""  # which handout it is (its metadata record), to spot one returned twice
    tolerance: float = 0.0  # the one it was graded with
    unusable: str = ""
    skipped: str = ""  # why it was not graded although readable (a feedback copy)

    @property
    def correct(self) -> int:
        return sum(b.correct for b in self.blocks)

    @property
    def total(self) -> int:
        return sum(b.total for b in self.blocks)

    @property
    def score(self) -> float:
        return 100.0 * self.correct / self.total if self.total else 0.0

    @property
    def worst(self) -> str:
        """The block with the most wrong cells, as "name (k wrong)"; "" when all right."""
        bad = [b for b in self.blocks if b.correct < b.total]
        if not bad:
            return ""
        block = max(bad, key=lambda b: (b.total - b.correct, -self.blocks.index(b)))
        return f"{block.name} ({block.total - block.correct} wrong)"

    @property
    def graded(self) -> bool:
        return not self.unusable and not self.skipped

    def as_dict(self) -> dict[str, object]:
        if self.unusable:
            return {"file": self.file, "error": self.unusable}
        if self.skipped:
            return {"file": self.file, "skipped": self.skipped}
        return {"file": self.file, "student": self.student, "name": self.name,
                "correct": self.correct, "total": self.total, "score": round(self.score, 2),
                "inputs_edited": bool(self.edited), "edited_blocks": self.edited,
                "worst_block": self.worst, "recalculated": self.recalculated,
                "metadata_from": self.metadata_from, "tolerance": self.tolerance,
                "blocks": [{"name": b.name, "sheet": b.sheet, "correct": b.correct,
                            "total": b.total,
                            "wrong": [{"cell": c, "why": w} for c, w in b.wrong]}
                           for b in self.blocks]}


@dataclass
class _Opened:
    path: Path
    handout: Handout
    exercise: Exercise
    places: dict[str, tuple[str, int, int]]  # answer block -> (sheet, top row, left col)


def grade_files(paths: list[Path], tolerance: float | None = None,
                timeout: float = TIMEOUT_PER_FILE, workdir: Path | None = None) -> list[Grade]:
    """Grade every file; LibreOffice starts once, and only if a file needs recalculating.
    `tolerance` (relative, absolute below 1): by default each handout's own (`exercise.
    handout_tolerance`: 1e-6 for small integers, 5e-4 for decimals shown with 3 digits).
    `workdir` (a temporary folder) receives recalculated copies."""
    import tempfile

    paths = list(dict.fromkeys(paths))
    grades = {str(p): Grade(str(p)) for p in paths}
    pending: list[_Opened] = []
    for path in paths:
        grade = grades[str(path)]
        try:
            opened = _open(path, grade)
            needs = _grade_cells(opened, path, grade, tolerance)
        except _Skipped as why:
            grade.skipped = str(why)
            continue
        except ConvsheetsError as exc:
            grade.unusable = str(exc)
            continue
        except Exception as exc:  # noqa: BLE001 - one hostile file must not stop the class
            grade.unusable = _unexpected(path, exc)
            continue
        if needs:
            pending.append(opened)
    if not pending:
        return list(grades.values())
    with tempfile.TemporaryDirectory(prefix="convsheets-grade-", dir=workdir) as tmp:
        copies = _recalculate([o.path for o in pending], Path(tmp), timeout)
        for opened in pending:
            grade = grades[str(opened.path)]
            copy = copies.get(opened.path)
            if isinstance(copy, str) or copy is None:
                grade.unusable = (f"{opened.path}: its formulas have no stored values and "
                                  f"LibreOffice could not compute them ({copy})")
                continue
            grade.blocks, grade.recalculated = [], True
            try:
                _grade_cells(opened, copy, grade, tolerance, final=True)
            except ConvsheetsError as exc:
                grade.unusable = str(exc)
            except Exception as exc:  # noqa: BLE001 - as above
                grade.unusable = _unexpected(opened.path, exc)
    return list(grades.values())


class _Skipped(Exception):
    """A readable file that is not graded (the message says why)."""


def _unexpected(path: Path, exc: Exception) -> str:
    text = " ".join(str(exc).split())[:200]
    return f"{path}: cannot be graded ({type(exc).__name__}{': ' + text if text else ''})"


def _recalculate(paths: list[Path], folder: Path, timeout: float) -> dict[Path, Path | str]:
    """One LibreOffice run for the batch; if it fails, each file alone (one broken file must
    not sink the others)."""
    engine = ENGINES.get("libreoffice")
    if engine is None or not engine.available():
        why = "LibreOffice is not installed"
        return {p: why for p in paths}
    eng = get_engine("libreoffice")
    try:
        outs = eng.recalculate(paths, folder / "all", timeout=timeout * len(paths))
        return dict(zip(paths, outs, strict=True))
    except EngineError as exc:
        if len(paths) == 1:
            return {paths[0]: str(exc)}
    results: dict[Path, Path | str] = {}
    for k, path in enumerate(paths):
        try:
            results[path] = eng.recalculate([path], folder / f"one-{k}", timeout=timeout)[0]
        except EngineError as exc:
            results[path] = str(exc)
    return results


def read_records(xf: XlsxFile) -> tuple[list[tuple[dict[str, object], str]], list[str]]:
    """The exercise records a file holds, the document property's first, then its hidden
    metadata sheet's, each with where it came from; and what was wrong with the others."""
    found: list[tuple[dict[str, object], str]] = []
    problems: list[str] = []
    props = xf.custom_properties()
    if METADATA_KEY in props:
        try:
            record = json.loads(props[METADATA_KEY])
            if isinstance(record, dict) and "exercise" in record:
                found.append((record, "property"))
            else:
                problems.append("its metadata property records no exercise")
        except ValueError:
            problems.append("its metadata property is not valid JSON")
    if any(name == METADATA_SHEET for name in xf.sheet_names()):
        texts = xf.read_texts(METADATA_SHEET)
        cells = [texts.get((row, 1), "") for row in range(1, 1 + len(texts))]
        text = "".join(c[len(CHUNK_MARK):] if c.startswith(CHUNK_MARK) else c for c in cells)
        try:
            record = json.loads(text)
            if isinstance(record, dict) and "exercise" in record:
                found.append((record, "sheet"))
            else:
                problems.append("its metadata sheet records no exercise")
        except ValueError:
            problems.append("its metadata sheet is damaged")
    return found, problems


def _open(path: Path, grade: Grade) -> _Opened:
    """Re-create the handout from the first intact record (property, else sheet)."""
    if not path.exists():
        raise WorkbookReadError(f"{path}: no such file")
    if not path.is_file():
        raise WorkbookReadError(f"{path}: not a regular file; pass .xlsx workbooks")
    try:
        with XlsxFile(path) as xf:
            if FEEDBACK_KEY in xf.custom_properties():
                raise _Skipped("a feedback copy (convsheets grade --feedback wrote it), not "
                               "a returned handout")
            found, problems = read_records(xf)
    except WorkbookReadError as exc:
        text = str(exc)
        raise WorkbookReadError(text if text.startswith(str(path)) else f"{path}: {text}") \
            from None
    if not found:
        why = "; ".join(problems) or "no convsheets metadata"
        raise WorkbookReadError(f"{path}: not a convsheets exercise ({why}); build handouts "
                                "with convsheets build --exercise")
    unusable = []
    for record, where in found:
        try:
            network = Network.from_record(record)
            check_size_early(network)
            exercise = Exercise.from_record(record["exercise"])
            network = recorded_network(network, record["exercise"])  # type: ignore[arg-type]
            handout = exercise_plan(network, exercise)
        except (ValueError, KeyError, TypeError, LimitError, SpecError) as exc:
            unusable.append(f"{where}: {' '.join(str(exc).split())[:200]}")
            continue
        grade.student = exercise.student or ""
        grade.name = "".join(ch for ch in exercise.name or "" if ch.isprintable())[:100]
        grade.metadata_from = where
        grade.handout = json.dumps(record, sort_keys=True)
        places = {b.name: (b.sheet, b.top, b.left) for b in handout.plan.blocks()}
        return _Opened(path, handout, exercise, places)
    raise WorkbookReadError(f"{path}: its exercise metadata is unusable ("
                            + "; ".join(unusable) + ")")


def _where(names: dict[str, str], block, fallback: tuple[str, int, int]) -> tuple[str, int, int]:  # type: ignore[no-untyped-def]
    """A block's place: its defined name in the file when it still fits the block, else where
    the handout put it (an application may have dropped the names)."""
    text = names.get(block.name)
    if text is not None:
        try:
            sheet, r0, c0, r1, c1 = parse_ref(text)
            if sheet and (r1 - r0 + 1, c1 - c0 + 1) == block.shape:
                return sheet, r0, c0
        except WorkbookReadError:
            pass
    return fallback


def _grade_cells(opened: _Opened, path: Path, grade: Grade, tolerance: float | None,
                 final: bool = False) -> bool:
    """Fill `grade` from the cells of `path`. Returns True when an answer is a formula with
    no stored value (the file must be recalculated first)."""
    handout = opened.handout
    if tolerance is None:
        tolerance = handout_tolerance(handout.plan.network)
    grade.tolerance = tolerance
    # A handout is small: a sheet far beyond its own cells is not a returned handout (and must
    # not make the grader allocate gigabytes).
    limit = max(1_000_000, 50 * sum(b.shape[0] * b.shape[1] for b in handout.plan.blocks()))
    try:
        with XlsxFile(path, max_cells=limit) as xf:
            names = xf.defined_names()
            sheets: dict[str, object] = {}

            def region(block) -> tuple[object, tuple[str, int, int]]:  # type: ignore[no-untyped-def]
                sheet, top, left = _where(names, block, opened.places[block.name])
                if sheet not in sheets:
                    if sheet not in xf.sheet_names():
                        raise WorkbookReadError(f"{opened.path}: sheet {sheet!r} is missing "
                                                "(renamed or deleted?)")
                    sheets[sheet] = xf.read_sheet(sheet)
                h, w = block.shape
                return sheets[sheet].region(top, left, top + h - 1, left + w - 1), (  # type: ignore[attr-defined]
                    sheet, top, left)

            if not final:
                for block in handout.answers:
                    cells, _ = region(block)
                    if np.any(cells.kind == KIND_NO_CACHED_VALUE):  # type: ignore[attr-defined]
                        return True
            grade.edited = []
            given = _given_blocks(handout)
            for block in handout.plan.blocks():
                if block.name not in given or not isinstance(block.content, Values):
                    continue
                want = np.asarray(block.content.array, dtype=object)
                cells, _ = region(block)
                for (i, j), value in np.ndenumerate(want):
                    got, kind = cells.values[i, j], cells.kind[i, j]  # type: ignore[attr-defined]
                    same = (kind != KIND_NUMBER if value is None else
                            kind == KIND_NUMBER and abs(float(got) - float(value))
                            <= 1e-9 * max(1.0, abs(float(value))))
                    if not same:
                        grade.edited.append(block.name)
                        break
            for block in handout.answers:
                cells, (sheet, top, left) = region(block)
                want = handout.solutions[block.name]
                kind, got = cells.kind, cells.values  # type: ignore[attr-defined]
                number = kind == KIND_NUMBER
                shown = ~np.isnan(want)  # (NaN: a cell the explorer leaves empty here)
                diff = np.abs(np.where(number, got, 0.0) - np.where(shown, want, 0.0))
                right = np.where(shown, number & (diff <= tolerance * np.maximum(
                    1.0, np.abs(np.where(shown, want, 0.0)))), kind == 0)
                result = BlockGrade(block.name, sheet, int(right.sum()), int(right.size))
                result.cells = [f"{col_letter(left + j)}{top + i}"
                                for i in range(block.shape[0]) for j in range(block.shape[1])]
                for i, j in np.argwhere(~right):
                    cell = f"{sheet}!{col_letter(left + int(j))}{top + int(i)}"
                    result.wrong.append((cell, "wrong" if number[i, j] else "blank"
                                         if kind[i, j] == 0 else "not a number"))
                grade.blocks.append(result)
    except WorkbookReadError as exc:
        text = str(exc)
        raise WorkbookReadError(text if text.startswith(str(opened.path))
                                else f"{opened.path}: {text}") from None
    return False


def _given_blocks(handout: Handout) -> set[str]:
    """The cells the student must leave alone: the inputs, weights and biases, and a blanked
    explorer's fixed position (a guide's what-if cells may be played with)."""
    return {b.name for b in handout.plan.blocks() if b.meaning is not None and (
        b.meaning.role == TENSOR or b.meaning.role == SELECTION and b.kind == PARAM)}


# ---------------------------------------------------------------------------- reports
COLUMNS = ("file", "student", "correct", "total", "score %", "inputs edited", "worst block")


def roster_check(grades: list[Grade], students: list[Student]) -> tuple[list[Student], list[Grade]]:
    """Students of the roster with no graded handout, and graded handouts of nobody on it."""
    returned = {g.student.lower() for g in grades if g.graded and g.student}
    ids = {s.id.lower() for s in students}
    return ([s for s in students if s.id.lower() not in returned],
            [g for g in grades if g.graded and g.student.lower() not in ids])


def table(grades: list[Grade], students: list[Student] | None = None) -> str:
    rows = [COLUMNS]
    for g in grades:
        if not g.graded:
            continue
        student = f"{g.student} {g.name}".strip() if g.student else "-"
        rows.append((Path(g.file).name, student, str(g.correct), str(g.total),
                     f"{g.score:.1f}", "yes" if g.edited else "no", g.worst or "-"))
    widths = [max(len(r[k]) for r in rows) for k in range(len(COLUMNS))]
    right = {2, 3, 4}
    lines = ["  ".join(c.rjust(w) if k in right else c.ljust(w)
                       for k, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
             for r in rows]
    graded = [g for g in grades if g.graded]
    skipped = [g for g in grades if g.skipped]
    failed = [g for g in grades if g.unusable]
    lines.append(f"{len(graded)} file(s) graded" + (
        f", mean score {sum(g.score for g in graded) / len(graded):.1f}%" if graded else "") +
        (f"; {len(failed)} could not be graded" if failed else ""))
    if skipped:
        lines.append(f"skipped {len(skipped)} feedback cop{'y' if len(skipped) == 1 else 'ies'}"
                     " (written by convsheets grade --feedback, not returned handouts): "
                     + ", ".join(Path(g.file).name for g in skipped))
    handouts: dict[str, list[Grade]] = {}
    for g in graded:
        handouts.setdefault(g.handout, []).append(g)
    for same in handouts.values():
        if len(same) > 1:
            whose = f"of {same[0].student}" if same[0].student else "(the same numbers)"
            lines.append(f"one handout {whose} was returned in {len(same)} files: "
                         + ", ".join(Path(g.file).name for g in same))
    if students is not None:
        missing, strangers = roster_check(grades, students)
        if missing:
            lines.append(f"not returned ({len(missing)} of {len(students)}): " + ", ".join(
                f"{s.id} {s.name}".strip() for s in missing))
        for g in strangers:
            lines.append(f"{Path(g.file).name}: the handout of {g.student or 'no student'}, "
                         "who is not on the roster")
    for g in graded:
        if g.edited:
            lines.append(f"{Path(g.file).name}: edited inputs: {', '.join(g.edited[:8])}"
                         + (" ..." if len(g.edited) > 8 else "") +
                         " (graded against the original numbers)")
    return "\n".join(lines)


def write_csv(grades: list[Grade], path: Path, students: list[Student] | None = None,
              force: bool = False) -> None:
    """The grades as CSV, one row per file (and per student who returned nothing), written by
    the rule every output follows (`outputs`)."""
    import io

    buffer = io.StringIO(newline="")
    out = csv.writer(buffer)
    out.writerow(["file", "student", "name", "correct", "total", "score", "inputs_edited",
                  "worst_block", "error"])
    for g in grades:
        if g.unusable:
            out.writerow([g.file, "", "", "", "", "", "", "", g.unusable])
        elif g.skipped:
            out.writerow([g.file, "", "", "", "", "", "", "", f"skipped: {g.skipped}"])
        else:
            out.writerow([g.file, g.student, _safe(g.name), g.correct, g.total,
                          f"{g.score:.2f}", "yes" if g.edited else "no", g.worst, ""])
    for s in roster_check(grades, students)[0] if students is not None else []:
        out.writerow(["", s.id, _safe(s.name), "", "", "", "", "", "not returned"])
    write_text(path, buffer.getvalue(), force)


def _safe(text: str) -> str:
    """A name from a roster, made harmless for a spreadsheet opening the CSV (no formula)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_json(grades: list[Grade], path: Path, students: list[Student] | None = None,
               force: bool = False) -> None:
    """Every answer cell's verdict as JSON, written by the rule every output follows."""
    report: dict[str, object] = {"files": [g.as_dict() for g in grades]}
    if students is not None:
        report["not_returned"] = [{"student": s.id, "name": s.name}
                                  for s in roster_check(grades, students)[0]]
    write_text(path, json.dumps(report, indent=2) + "\n", force)


def feedback_path(file: str | Path, folder: Path) -> Path:
    """Where `--feedback` writes the copy of `file`: FOLDER/STEM.feedback.xlsx."""
    return folder / f"{Path(file).stem}.feedback.xlsx"


def write_feedback(grades: list[Grade], folder: Path,
                   force: bool = False) -> tuple[list[Path], list[str]]:
    """Each graded student's copy with their answer cells marked: green right, red wrong,
    orange blank (the expected values are not given away), and a Feedback sheet; written by
    the rule every output follows (`outputs`: atomically, never over a file convsheets did
    not write unless `force`). Returns the copies written and, one line each, the files that
    got none (the others still do)."""
    written: list[Path] = []
    problems: list[str] = []
    for g in grades:
        if not g.graded:
            continue
        try:
            written.append(_feedback_copy(g, folder, force))
        except OutputError as exc:
            problems.append(str(exc))
    return written, problems


def _feedback_copy(g: Grade, folder: Path, force: bool = False) -> Path:
    import warnings

    import openpyxl
    from openpyxl.comments import Comment
    from openpyxl.packaging.custom import StringProperty
    from openpyxl.styles import PatternFill

    target = feedback_path(g.file, folder)
    fills = {"right": PatternFill("solid", fgColor="C6EFCE"),
             "wrong": PatternFill("solid", fgColor="FFC7CE"),
             "blank": PatternFill("solid", fgColor="FFEB9C")}
    try:  # openpyxl is not hardened: the defensive reader parses every sheet first
        with XlsxFile(g.file, max_cells=FEEDBACK_MAX_CELLS) as xf:
            for name in xf.sheet_names():
                xf.read_sheet(name)
    except WorkbookReadError as exc:
        raise OutputError(f"{g.file}: no feedback copy ({exc})") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(g.file)
    except Exception as exc:  # noqa: BLE001 - read safely already; openpyxl may still refuse
        raise OutputError(f"{g.file}: no feedback copy (openpyxl cannot load it: "
                          f"{type(exc).__name__})") from None
    marks = {cell for b in g.blocks for cell, _why in b.wrong}
    for b in g.blocks:
        ws = wb[b.sheet]
        for cell, why in b.wrong:
            ref = cell.split("!", 1)[1]
            ws[ref].fill = fills["blank" if why == "blank" else "wrong"]
            ws[ref].comment = Comment(why, "convsheets grade")
        for ref in b.cells:
            if f"{b.sheet}!{ref}" not in marks:
                ws[ref].fill = fills["right"]
    if FEEDBACK_SHEET in wb.sheetnames:  # (a handout has none; keep the name free)
        del wb[FEEDBACK_SHEET]
    _feedback_sheet(wb.create_sheet(FEEDBACK_SHEET, 0), g)
    if METADATA_SHEET in wb.sheetnames:  # never printed (first-format handouts printed it)
        wb[METADATA_SHEET].print_area = f"A{wb[METADATA_SHEET].max_row + 2}"
    wb.custom_doc_props.append(StringProperty(name=FEEDBACK_KEY, value=Path(g.file).name))
    wb.active = 0
    with atomic_write(target, force) as out:
        wb.save(out)
    return target


def _feedback_sheet(sheet, g: Grade) -> None:  # type: ignore[no-untyped-def]
    """The first sheet of a feedback copy: who, the score, and a table of the blocks, in
    columns wide enough for their text, long lines wrapped, printed on one page width with
    the footer every convsheets sheet carries."""
    from openpyxl.styles import Alignment, Font

    from .workbook import PAGE_FOOTER

    names = [b.name for b in g.blocks] + ["block"]
    sheets = [b.sheet for b in g.blocks] + ["sheet"]
    widths = {"A": min(40, max(len(n) for n in names) + 2),
              "B": min(31, max(len(n) for n in sheets) + 2), "C": 8, "D": 8}
    for col, width in widths.items():
        sheet.column_dimensions[col].width = width
    total = sum(widths.values())
    text = [(f"{g.student} {g.name}".strip() or Path(g.file).name, Font(bold=True, size=14)),
            (f"{g.correct} of {g.total} answer cells right ({g.score:.1f}%)", Font(bold=True))]
    if g.edited:
        text.append(("You changed given numbers (" + ", ".join(g.edited[:8]) + "); you were "
                     "graded against the original ones.", Font(italic=True)))
    text.append(("Green: right; red: wrong; orange: left blank (each marked cell has a "
                 "comment).", Font()))
    row = 0
    for line, font in text:
        row += 1
        cell = sheet.cell(row, 1, line)
        cell.font = font
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=4)
        lines = -(-len(line) * (1.3 if font.size and font.size > 12 else 1.0) // total)
        sheet.row_dimensions[row].height = 15 * max(1, lines) + (6 if font.size and
                                                                 font.size > 12 else 0)
    row += 2
    for k, head in enumerate(("block", "sheet", "right", "of"), 1):
        sheet.cell(row, k, head).font = Font(bold=True)
        if k > 2:  # over numbers: aligned as they are
            sheet.cell(row, k).alignment = Alignment(horizontal="right")
    for b in g.blocks:
        row += 1
        for k, value in enumerate((b.name, b.sheet, b.correct, b.total), 1):
            sheet.cell(row, k, value)
    sheet.print_area = f"A1:D{row}"
    sheet.page_setup.orientation = "portrait"
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.oddFooter.center.text = PAGE_FOOTER
    sheet.oddFooter.center.size = 8


__all__ = ["Grade", "feedback_path", "grade_files", "table", "write_csv", "write_json",
           "write_feedback", "read_records"]
