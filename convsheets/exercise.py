"""Exercise handouts: a workbook whose chosen computed blocks are left for the student.

`--blank` names block kinds (`output`, `padded`, `upsampled`, `flipped`, `dilated`, `explore`,
or a network layer's name); every block of those kinds becomes an *answer block*, written
empty in its own style (white, a blue frame, titled "your answer"), and so does every computed
block downstream of one, found from the blocks' formulas (which block reads which), not from
what the variant is. Everything upstream stays live. Without `--self-check` the file holds no
answer anywhere: answer blocks and their downstream carry no formula and no stored value, the
explorer (which computes any output cell on demand) is left out unless it is itself blanked,
and the metadata holds only what the handout shows anyway: the options, and the numbers of its
yellow cells (input, weights, biases) in its exercise record.

No seed: the handout records seed 0 and the numbers it shows, never the seed they were drawn
from (a recorded seed rebuilt every answer with one `convsheets build --seed`). Grading
re-creates the handout from those recorded numbers (and reports cells that differ from them as
edited), so handouts of templates whose numbers are given (a picture, classic kernels, trained
weights) are graded the same way. Handouts of the first format (seeded, format 1) are still
graded, from their seed.

With `--self-check`, a check area to the right of each answer block shows ✓/✗ per cell and
"n of N correct", against a key in hidden columns of the same sheet (the original formulas,
reading the key of any upstream answer, so a wrong padded block does not make a right output
look wrong).

A roster gives each student their own numbers: drawn from a seed derived from the build's seed
and the student's id (`student_seed`), so rebuilding the roster gives the same bytes; neither
seed is written into the handouts.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import LimitError, SpecError
from .expected import stored_values
from .layout import (
    ANSWER,
    COMPUTED,
    EDIT,
    EMPTY,
    FIRST_COL,
    GRADIENT,
    OUTPUT,
    PARAM,
    SELECTION,
    STAGE,
    VIEW,
    Block,
    Label,
    Meaning,
    SheetPlan,
)
from .network import Network
from .plan import Plan
from .stages import Formula, Values

BLANK_KINDS = ("output", "padded", "upsampled", "flipped", "dilated", "explore", "loss",
               "grad_output", "grad_weight", "grad_bias", "grad_input", "updated_weight")
# --backward's blocks a handout can ask for (by their meaning's kind; role GRADIENT)
GRADIENT_KINDS = ("loss", "grad_output", "grad_weight", "grad_bias", "grad_input",
                  "updated_weight")
TRANSFORM_KINDS = ("padded", "upsampled", "flipped", "dilated")
METADATA_SHEET = "convsheets"  # hidden, protected copy of the metadata record
EXERCISE_FORMAT = 2  # 2: the record holds the numbers shown, no seed; 1: the seed (old)
INTEGER_TOLERANCE = 1e-6  # small integers: exact up to the float arithmetic
DECIMAL_TOLERANCE = 5e-4  # --values normal: the sheets show 3 decimals, students type those
_CHUNK = 30_000  # characters of the record per metadata cell (a cell holds 32,767)
CHUNK_MARK = "~"  # starts each metadata cell, so no piece of the record reads as a formula
# explorer cells that only say which position is shown (or a message): never answers
_EXPLORE_BOOKKEEPING = ("used_channel", "used_row", "used_col", "valid", "message", "agree")
_SELECTION = ("channel", "row", "col", "step")


@dataclass(frozen=True)
class Exercise:
    """What a handout leaves blank, whether it checks itself, and whose it is."""

    blank: tuple[str, ...] = ("output",)
    self_check: bool = False
    student: str | None = None  # roster id
    name: str | None = None  # roster name
    base_seed: int | None = None  # the build's --seed a roster student's seed comes from
    # (never recorded in the handout); 1: a first-format handout, re-created from its seed
    format: int = EXERCISE_FORMAT

    def record(self) -> dict[str, object]:
        """What the handout records of the exercise (`exercise_plan` adds the numbers shown)."""
        record: dict[str, object] = {"format": EXERCISE_FORMAT, "blank": list(self.blank),
                                     "self_check": self.self_check}
        if self.student is not None:
            record.update({"student": self.student, "name": self.name or ""})
        return record

    @classmethod
    def from_record(cls, record: object) -> Exercise:
        """The exercise a file records; ValueError when the record is not one."""
        if not isinstance(record, dict) or record.get("format") not in (1, EXERCISE_FORMAT):
            raise ValueError("no exercise record of a known format")
        blank = record.get("blank")
        if (not isinstance(blank, list) or not blank or len(blank) > 50
                or not all(isinstance(b, str) and _KIND_RE.fullmatch(b) for b in blank)):
            raise ValueError("its list of blank kinds is malformed")
        student, name = record.get("student"), record.get("name")
        if student is not None and (not isinstance(student, str) or not ID_RE.fullmatch(student)):
            raise ValueError("its student id is malformed")
        base = record.get("base_seed")
        return cls(tuple(blank), record.get("self_check") is True, student,
                   name if isinstance(name, str) else None,
                   base if isinstance(base, int) else None, int(record["format"]))


_KIND_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def parse_blank(text: str) -> tuple[str, ...]:
    """`--blank padded,output` -> ("padded", "output"); the kinds are checked against the
    workbook later (a layer name is only known there)."""
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    if not kinds:
        raise SpecError("blank", text, "name at least one block kind (" +
                        ", ".join(BLANK_KINDS) + ", or a layer name)")
    for kind in kinds:
        if not _KIND_RE.fullmatch(kind):
            raise SpecError("blank", kind, "must be a block kind (" + ", ".join(BLANK_KINDS) +
                            ") or a layer name")
    return tuple(dict.fromkeys(kinds))


# ---------------------------------------------------------------------------- the plan
def exercise_views(exercise: Exercise) -> tuple[str, ...]:
    """The optional views compute the outputs another way (the explorer any output cell on
    demand, the matrix and scatter views the whole layer): a handout leaves them out, but for
    a blanked explorer (then itself the exercise)."""
    return ("explorer",) if "explore" in exercise.blank else ()


@dataclass
class Handout:
    """An exercise's plan, the stored values of its live blocks, its answer blocks and their
    correct values (NumPy's, by block name: never written to the file)."""

    plan: Plan
    stored: dict[str, np.ndarray]
    answers: list[Block]
    solutions: dict[str, np.ndarray]


def exercise_plan(source: Network, exercise: Exercise) -> Handout:
    """The handout of `source` (its tensors from its seed, or given) for `exercise`. The
    handout's network has every tensor given and seed 0 (`shown_network`): nothing in the
    file leads back to the seed."""
    from .build import make_plan  # (build imports this module's callers)

    _check_supported(source)
    if exercise.format == 1:  # a first-format handout: its numbers and position from its seed
        position = source.seed + 7
    else:
        source = shown_network(source)
        position = _position_seed(source.given)
    views = exercise_views(exercise)
    first = make_plan(source, views=views)
    _fix_selection(first, position)
    answers = answer_names(first, exercise.blank)
    plan = make_plan(source, views=views, intro=_intro(first, answers, exercise))
    _fix_selection(plan, position)
    stored = stored_values(plan)
    blocks = {b.name: b for b in plan.blocks()}
    chosen = [blocks[name] for name in answers]
    plan.exercise = exercise.record()
    if exercise.format != 1:
        plan.exercise["tensors"] = {name: np.asarray(array).tolist()
                                    for name, array in source.given.items()}
    solutions = {b.name: np.asarray(stored[b.name], dtype=float) for b in chosen}
    for block in chosen:
        value = stored[block.name]
        block.kind = ANSWER if not np.all(np.isnan(value)) else EMPTY
    if exercise.self_check:
        _self_check(plan, [b for b in chosen if b.kind == ANSWER], stored)
    for block in chosen:
        block.content = _Blank()
        block.colour_scale = False
        block.style = None
        for name in (block.name, *block.aliases):
            stored.pop(name, None)
    if "explore" in exercise.blank:  # finding the window is part of the exercise
        for block in plan.blocks():
            block.highlights = []
            block.lit = []
    _retitle(plan, [b for b in chosen if b.kind == ANSWER])
    _metadata_sheet(plan)
    return Handout(plan, stored, [b for b in chosen if b.kind == ANSWER], solutions)


def handout_tolerance(network: Network) -> float:
    """How close an answer must be, relative (absolute below 1), unless the teacher says."""
    return INTEGER_TOLERANCE if network.values == "integers" else DECIMAL_TOLERANCE


MAX_EXERCISE_CELLS = 100_000  # a handout is worked by hand (and graded from untrusted files)


def _check_supported(network: Network) -> None:
    from .build import minimum_cells

    cells = minimum_cells(network)
    if cells > MAX_EXERCISE_CELLS:
        raise LimitError(f"an exercise of {cells:,} cells; handouts hold at most "
                         f"{MAX_EXERCISE_CELLS:,} (they are worked by hand)")


def shown_network(source: Network) -> Network:
    """`source` with every editable tensor given (its seeded ones drawn now) and seed 0: what
    a handout shows and records, and nothing it was drawn from."""
    from .tensors import random_tensors

    tensors = random_tensors(source)
    if source.request is not None:
        network = dataclasses.replace(source.request, seed=0, tensors=tensors).network()
        return dataclasses.replace(network, training=source.training)
    return dataclasses.replace(source, seed=0, given=tensors)


def recorded_network(network: Network, record: dict[str, object]) -> Network:
    """The network a handout's exercise record re-creates: `network` (from the metadata) with
    the numbers the record holds (format 2), checked against its tensors' shapes (the file is
    untrusted). A first-format record: `network` as it is (its numbers from its seed)."""
    if record.get("format") == 1:
        return network
    tensors = record.get("tensors")
    shapes = network.source_shapes()
    if not isinstance(tensors, dict) or set(tensors) != set(shapes):
        raise ValueError("its recorded numbers do not name the handout's tensors ("
                         + ", ".join(shapes) + ")")
    given: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        try:
            array = np.asarray(tensors[name])
        except (ValueError, TypeError):
            raise ValueError(f"its recorded {name} is not an array of numbers") from None
        if array.shape != tuple(shape) or array.dtype.kind not in "iuf" or \
                not np.all(np.isfinite(array)):
            raise ValueError(f"its recorded {name} is not {'x'.join(map(str, shape))} "
                             "finite numbers")
        given[name] = array.astype(np.int64 if array.dtype.kind in "iu" else np.float64)
    if network.request is not None:
        return dataclasses.replace(dataclasses.replace(network.request, tensors=given).network(),
                                   training=network.training)
    return dataclasses.replace(network, given=given)


def _position_seed(tensors: dict[str, np.ndarray]) -> int:
    """The seed of a blanked explorer's position: from the numbers the handout shows, so a
    grader re-creates it from them (and a handout's seed is not needed)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(tensors[name], dtype="<f8").tobytes())
    return int.from_bytes(digest.digest()[:4], "big")


@dataclass
class _Blank:
    """An answer block's content: empty cells."""

    def rows(self, block: Block) -> Iterable[list[object]]:
        for _ in range(block.shape[0]):
            yield [None] * block.shape[1]


def _fix_selection(plan: Plan, seed: int) -> None:
    """A blanked explorer asks about one output cell, chosen from `seed`: its selection
    cells become fixed parameters (the student fills in what that position computes)."""
    rng = np.random.default_rng(seed)
    for layer in plan.network.layers:
        cells = {b.meaning.key: b for b in plan.blocks() if b.meaning == Meaning(
            SELECTION, layer.label, "explorer", b.meaning.key) and b.kind == EDIT}
        if not cells:
            continue
        c, h, w = layer.out_shape
        position = {"channel": int(rng.integers(c)), "row": int(rng.integers(h)),
                    "col": int(rng.integers(w))}
        for key in _SELECTION:
            block = cells.get(f"explore_{key}")
            if block is not None:
                block.kind, block.validation = PARAM, None
                block.content = Values(np.array([[position.get(key)]], dtype=object))


# ---------------------------------------------------------------------------- answers
def kinds_available(plan: Plan) -> list[str]:
    return [kind for kind in (*BLANK_KINDS, *(layer.name for layer in plan.network.layers
                                              if layer.name))
            if _of_kind(plan, kind)]


def _of_kind(plan: Plan, kind: str) -> list[Block]:
    """The computed blocks one `--blank` kind names."""
    computed = [b for b in plan.blocks() if b.kind == COMPUTED and b.meaning is not None]
    if kind in TRANSFORM_KINDS:
        return [b for b in computed if b.meaning.role == STAGE and b.meaning.kind == kind]
    if kind in GRADIENT_KINDS:
        return [b for b in computed if b.meaning.role == GRADIENT and b.meaning.kind == kind]
    if kind == "explore":
        return [b for b in computed if b.meaning.role == VIEW and b.meaning.kind == "explorer"
                and b.meaning.key[len("explore_"):] not in _EXPLORE_BOOKKEEPING]
    named = {layer.label for layer in plan.network.layers if layer.name}
    layer = plan.network.layers[-1].label if kind == "output" else kind if kind in named else None
    return [b for b in computed if b.meaning.role == OUTPUT and b.meaning.layer == layer]


def answer_names(plan: Plan, blank: Sequence[str]) -> list[str]:
    """Names of the blocks an exercise leaves blank, in the plan's order: the blocks of the
    kinds `blank` names and every computed block downstream of one."""
    chosen: list[Block] = []
    for kind in blank:
        found = _of_kind(plan, kind)
        if not found:
            budget = (" (the view budget left out every layer's Explorer: a handout draws the "
                      "default views, see the guide's Views left out)"
                      if kind == "explore" and any("Explorer sheet is left out by default"
                                                   in note for note in plan.notes) else "")
            raise SpecError("blank", kind, f"names no block of this workbook{budget}; it has: "
                            + ", ".join(kinds_available(plan)))
        chosen += found
    readers = _readers(plan)
    seen = {id(b) for b in chosen}
    queue = deque(chosen)
    while queue:
        for reader in readers.get(id(queue.popleft()), []):
            if id(reader) not in seen:
                seen.add(id(reader))
                queue.append(reader)
    return [b.name for b in plan.blocks() if id(b) in seen]


_REF = re.compile(r"(?<![\w.$'])(?:(?:'((?:[^']|'')+)'|([A-Za-z_][\w.]*))!)?"
                  r"\$?([A-Z]{1,3})\$?(\d+)(?::\$?([A-Z]{1,3})\$?(\d+))?(?![\w(])")


def _col(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _readers(plan: Plan) -> dict[int, list[Block]]:
    """Block (by id) -> the computed blocks whose formulas read any of its cells: the
    dependency graph, from the formulas themselves (any content kind, explorer included)."""
    by_sheet: dict[str, list[Block]] = {}
    for block in plan.blocks():
        by_sheet.setdefault(block.sheet, []).append(block)
    readers: dict[int, list[Block]] = {}
    for block in plan.blocks():
        if block.kind != COMPUTED:
            continue
        sources: set[int] = set()
        rects: set[tuple[str, int, int, int, int]] = set()
        for row in block.content.rows(block):
            for value in row:
                if not (isinstance(value, str) and value.startswith("=")):
                    continue
                for m in _REF.finditer(value):
                    quoted, bare, c0, r0, c1, r1 = m.groups()
                    sheet = quoted.replace("''", "'") if quoted else bare or block.sheet
                    a, b = _col(c0), int(r0)
                    c, d = (_col(c1), int(r1)) if c1 else (a, b)
                    rects.add((sheet, min(b, d), min(a, c), max(b, d), max(a, c)))
        for sheet, top, left, bottom, right in rects:
            for other in by_sheet.get(sheet, []):
                if (other is not block and other.top <= bottom and top <= other.bottom
                        and other.left <= right and left <= other.right):
                    sources.add(id(other))
        for source in sources:
            readers.setdefault(source, []).append(block)
    return readers


# ---------------------------------------------------------------------------- rendering
def _intro(plan: Plan, answers: Sequence[str], exercise: Exercise) -> list[tuple[str, str]]:
    blocks = {b.name: b for b in plan.blocks()}
    sheets = list(dict.fromkeys(blocks[n].sheet for n in answers))
    cells = sum(blocks[n].shape[0] * blocks[n].shape[1] for n in answers)
    lines: list[tuple[str, str]] = []
    if exercise.student is not None:
        who = f"{exercise.name} ({exercise.student})" if exercise.name else exercise.student
        lines.append((f"Exercise for {who}", "cs_heading"))
    else:
        lines.append(("Exercise", "cs_heading"))
    lines.append((f"Fill in the white cells framed in blue, titled \"your answer\", on the "
                  f"sheet(s) {', '.join(sheets)} ({cells} cells): type numbers or write "
                  "formulas, as you like. The yellow cells are your numbers: do not change "
                  "them (convsheets grade re-creates them and reports an edit).", "cs_title"))
    if "explore" in exercise.blank:
        lines.append(("The Explorer sheet shows one fixed output cell: fill in what it reads "
                      "and computes for that position.", "cs_label"))
    if exercise.self_check:
        lines.append(("Beside each answer block, ✓ or ✗ tells you whether each cell is right "
                      f"(within {handout_tolerance(plan.network):g}, relative; absolute below "
                      "1).", "cs_label"))
    lines.append(("", ""))
    return lines


def _retitle(plan: Plan, answers: Sequence[Block]) -> None:
    """Each answer block's title says "your answer", in the answer colour."""
    for sheet in plan.sheets:
        mine = [b for b in answers if b.sheet == sheet.name]
        if not mine:
            continue
        at = {(b.top - 1, b.left): b for b in mine}
        for label in sheet.labels:
            block = at.get((label.row, label.col))
            if block is not None and isinstance(label.value, str):
                wide = block.shape[1] >= 3
                label.value = f"your answer: {label.value}" if wide else f"{label.value}?"
                label.style = "cs_answer_title"


def _self_check(plan: Plan, answers: Sequence[Block], stored: dict[str, np.ndarray]) -> None:
    """A check area (✓/✗ and "n of N correct") right of each sheet's content, and the key
    in hidden columns right of that: the original formulas, reading each other's keys."""
    keys: dict[int, Block] = {}
    placements: list[tuple[SheetPlan, Block, int, int]] = []
    for sheet in plan.sheets:
        mine = [b for b in answers if b.sheet == sheet.name]
        if not mine:
            continue
        base = sheet.max_col + 3
        span = max(b.right for b in mine) - FIRST_COL + 1
        key_base = base + span + 1
        for block in mine:
            key = Block(f"key_{block.name}", block.shape, COMPUTED, block.content,
                        colour_scale=False, public=False, meaning=_SELF_CHECK)
            key.place(sheet.name, block.top, key_base + block.left - FIRST_COL)
            keys[id(block)] = key
            placements.append((sheet, block, base, key_base))
            stored[key.name] = stored[block.name]
        sheet.hidden_from = key_base
    for key in keys.values():
        key.content = _substitute(key.content, keys)
    taken: dict[str, set[tuple[int, int]]] = {}
    summaries: list[tuple[SheetPlan, Block, Block, int]] = []
    for sheet, block, base, _key_base in placements:
        key = keys[id(block)]
        sheet.blocks.append(key)
        check = Block(f"check_{block.name}", block.shape, COMPUTED,
                      _Check(block, key, handout_tolerance(plan.network)),
                      colour_scale=False, public=False, style="cs_check",
                      meaning=_SELF_CHECK)
        check.place(sheet.name, block.top, base + block.left - FIRST_COL)
        sheet.blocks.append(check)
        stored[check.name] = np.full(block.shape, np.nan)
        n = block.shape[0] * block.shape[1]
        taken.setdefault(sheet.name, set()).update(
            (r, c) for r in range(check.top, check.bottom + 1)
            for c in range(check.left, check.right + 1))
        if n == 1:  # one cell: its own mark says it all
            continue
        summaries.append((sheet, block, check, n))
    for sheet, block, check, n in summaries:
        if (block.top - 1, check.left) in taken[sheet.name]:
            continue  # (the explorer's cells sit under each other: no room for a count)
        area = check.area(from_sheet=sheet.name)
        summary = Block(f"check_{block.name}_count", (1, 1), COMPUTED,
                        Formula(lambda _h, a=area, n=n: f'COUNTIF({a},"✓")&" of {n} correct"'),
                        colour_scale=False, public=False, style="cs_answer_title",
                        meaning=_SELF_CHECK)
        summary.place(sheet.name, block.top - 1, check.left)
        sheet.blocks.append(summary)
        stored[summary.name] = np.full((1, 1), np.nan)
        if hasattr(stored, "texts"):  # what it shows before any answer: stored as text
            stored.texts[summary.name] = np.array([[f"0 of {n} correct"]], dtype=object)
        sheet.widths.setdefault(check.left, max(sheet.default_width, 6.0))


_SELF_CHECK = Meaning(VIEW, kind="self_check")  # the hidden key, the marks, the counts


def _substitute(content: object, keys: dict[int, Block]) -> object:
    """The same content reading the keys of answer blocks instead of the answers."""
    if not dataclasses.is_dataclass(content):
        return content
    changes = {}
    for f in dataclasses.fields(content):
        value = getattr(content, f.name)
        if isinstance(value, Block) and id(value) in keys:
            changes[f.name] = keys[id(value)]
        elif isinstance(value, (list, tuple)) and any(
                isinstance(v, Block) and id(v) in keys for v in value):
            changes[f.name] = type(value)(keys.get(id(v), v) if isinstance(v, Block) else v
                                          for v in value)
    return dataclasses.replace(content, **changes) if changes else content  # type: ignore[type-var]


@dataclass
class _Check:
    """✓ when the answer cell is within the tolerance of its key, ✗ when not, blank when
    nothing is typed yet."""

    answer: Block
    key: Block
    tol: float

    def rows(self, block: Block) -> Iterable[list[object]]:
        here = block.sheet
        for i in range(block.shape[0]):
            row: list[object] = []
            for j in range(block.shape[1]):
                a = self.answer.ref(i, j, from_sheet=here)
                k = self.key.ref(i, j, from_sheet=here)
                row.append(f'=IF({a}="","",IF(ISNUMBER({a}),IF(ABS({a}-{k})<={self.tol:g}*'
                           f'MAX(1,ABS({k})),"✓","✗"),"✗"))')
            yield row


def _metadata_sheet(plan: Plan) -> None:
    """A hidden, protected copy of the metadata record (Google Sheets' export may drop
    custom document properties)."""
    from .workbook import metadata_json

    text = metadata_json(plan, True)
    sheet = SheetPlan(METADATA_SHEET, hidden=True, protected=True)
    sheet.labels += [Label(1 + n, 1, CHUNK_MARK + text[k:k + _CHUNK], "cs_label")
                     for n, k in enumerate(range(0, len(text), _CHUNK))]
    plan.sheets.append(sheet)


# ---------------------------------------------------------------------------- rosters
ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_ROSTER_BYTES = 1_000_000
MAX_STUDENTS = 2_000
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(10)),
             *(f"LPT{n}" for n in range(10))}


@dataclass(frozen=True)
class Student:
    id: str
    name: str


def read_roster(path: Path) -> list[Student]:
    """Students of a roster CSV (a header row with `id`, optionally `name`). The file is
    untrusted: ids must be safe file names and unique; a bad row names its line."""
    def bad(line: int | None, rule: str) -> SpecError:
        where = f"{path} line {line}" if line else str(path)
        return SpecError("roster", where, rule)

    try:
        if path.stat().st_size > MAX_ROSTER_BYTES:
            raise bad(None, f"is over {MAX_ROSTER_BYTES:,} bytes; a roster is one line per "
                      "student")
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise bad(None, "is not UTF-8 text; save it as CSV UTF-8") from None
    except OSError as exc:
        raise bad(None, f"cannot be read ({exc.strerror or exc})") from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel  # type: ignore[assignment]
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader, None)
        if header is None:
            raise bad(None, "is empty; give a header row with an id column")
        columns = [h.strip().lower() for h in header]
        if "id" not in columns:
            raise bad(1, "the header row has no 'id' column (columns: " +
                      ", ".join(c[:20] for c in columns[:10]) + ")")
        at_id = columns.index("id")
        at_name = columns.index("name") if "name" in columns else None
        students: list[Student] = []
        seen: dict[str, int] = {}
        problems: list[tuple[int, str]] = []  # every bad row, reported at once
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            sid = row[at_id].strip() if at_id < len(row) else ""
            why = id_problem(sid)
            if why:
                problems.append((line, f"id {sid[:40]!r} {why}"))
            elif sid.lower() in seen:
                problems.append((line, f"id {sid!r} repeats line {seen[sid.lower()]} (ids must "
                                 "be unique, ignoring case)"))
            else:
                seen[sid.lower()] = line
            name = row[at_name].strip() if at_name is not None and at_name < len(row) else ""
            if len(name) > 100 or any(ord(ch) < 32 for ch in name):
                problems.append((line, "the name is over 100 characters or holds control "
                                 "characters"))
            students.append(Student(sid, name))
            if len(students) > MAX_STUDENTS:
                raise bad(line, f"more than {MAX_STUDENTS:,} students")
    except csv.Error as exc:
        raise bad(reader.line_num, f"is not valid CSV ({exc})") from None
    if problems:
        shown = "; ".join(f"line {line}: {why}" for line, why in problems[:10])
        more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        lines = ", ".join(str(line) for line, _ in problems[:10])
        where = f"{path} line{'s' if len(problems) > 1 else ''} {lines}{more and ', ...'}"
        rule = ID_RULE if any(why.startswith("id ") and "repeats" not in why
                              for _, why in problems) else ""
        raise SpecError("roster", where, shown + more + (f" ({rule})" if rule else ""))
    if not students:
        raise bad(None, "lists no student")
    return students


ID_RULE = ("an id names the student's handout file, so it must be a safe file name on every "
           "system: 1-64 ASCII letters, digits, '.', '_' or '-', starting with a letter or "
           "digit, not ending with '.', and not a device name Windows reserves (CON, PRN, AUX, "
           "NUL, COM0-COM9, LPT0-LPT9, with or without an extension)")


def id_problem(sid: str) -> str:
    """Why `sid` cannot be a roster id ("" when it can): the broken part of `ID_RULE`."""
    if not sid:
        return "is empty"
    if len(sid) > 64:
        return f"is {len(sid)} characters long, over 64"
    odd = next((ch for ch in sid if not (ch.isascii() and (ch.isalnum() or ch in "._-"))),
               None)
    if odd is not None:
        what = "a space" if odd == " " else repr(odd)
        return f"holds {what}, not an ASCII letter, digit, '.', '_' or '-'"
    if not sid[0].isalnum():
        return f"starts with {sid[0]!r}, not a letter or digit"
    if sid.endswith("."):
        return "ends with '.'"
    if sid.upper().split(".")[0] in _RESERVED:
        return f"is {sid.upper().split('.')[0]}, a device name Windows reserves"
    if not ID_RE.fullmatch(sid):  # (the rules above are ID_RE's; kept as the last word)
        return "is not a safe file name"
    return ""


def student_seed(seed: int, student_id: str) -> int:
    """A student's seed: a hash of the build's seed and the id (stable across machines and
    Python versions), so each student has their own numbers and a rebuild the same."""
    digest = hashlib.sha256(f"convsheets-exercise:{seed}:{student_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big")
