"""Prove a workbook right: recalculate it in a real spreadsheet application and compare every
named block with the NumPy reference.

    workbook --(engine: LibreOffice / Gnumeric / cached values)--> recalculated copy
    copy --(defined names)--> editable tensors --(expected.py)--> expected blocks
    copy --(defined names)--> computed blocks  ---------------->  comparison report

The layer comes from the metadata recorded in the file, the tensors from the (recalculated) file
itself, so a workbook whose inputs a student edited still verifies. The file checked is never
modified: engines work on copies.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import openpyxl

from .build import check_size_early, is_convsheets_workbook, make_plan, minimum_cells
from .engines import ENGINES, get_engine
from .engines.base import Engine
from .errors import (
    ConvsheetsError,
    EngineError,
    LimitError,
    SpecError,
    VerifyInputError,
    WorkbookReadError,
)
from .expected import Expected, expected_blocks
from .guide import parameter_cells
from .layout import ROLES, SELECTION, VIEW, Meaning
from .network import Network
from .outputs import write_text
from .plan import VIEWS
from .scatter import SELECT as SCATTER_SELECT
from .spec import LayerSpec
from .tensors import block_names
from .variants import VARIANTS
from .views import beyond_budget
from .workbook import METADATA_KEY
from .xlsxread import (
    KIND_EMPTY,
    KIND_ERROR,
    KIND_NO_CACHED_VALUE,
    KIND_NUMBER,
    SheetCells,
    XlsxFile,
    col_letter,
    parse_ref,
)

ENGINE_CHOICES = ("auto", "cached", *ENGINES, "all")
DEFAULT_TOLERANCE = 1e-9
TIMEOUT_PER_FILE = 300.0


@dataclass
class BlockResult:
    """One named block compared with NumPy."""

    name: str
    shape: tuple[int, int]
    ok: bool
    max_abs_error: float = 0.0
    worst_cell: str = ""
    problem: str = ""  # why it fails, naming the cell


@dataclass
class EngineRun:
    """One file as computed by one engine."""

    engine: str
    ok: bool
    blocks: list[BlockResult] = field(default_factory=list)
    formulas: int = 0
    probed: bool = True  # also recalculated with random inputs (real engines, small files)
    stored_by_convsheets: bool = False  # cached values that convsheets itself wrote (no proof)


@dataclass
class FileReport:
    path: str
    variant: str = ""
    runs: list[EngineRun] = field(default_factory=list)
    unusable: str = ""  # set when the file cannot be verified at all (exit 2)

    @property
    def ok(self) -> bool:
        return not self.unusable and bool(self.runs) and all(r.ok for r in self.runs)


@dataclass
class _Workbook:
    """What verify needs from the file itself: what it computes and where each block sits."""

    path: Path
    network: Network  # what it computes (a variant's keeps its request: format 1)
    names: dict[str, tuple[str, int, int, int, int] | str]  # str: why the reference is unusable
    fully_cached: bool
    cells: int  # cells in its sheets' used ranges
    as_built: bool = False  # convsheets wrote it and nobody saved it since: values are ours
    # its sheets as read when opened (their stored values are checked against the engine's)
    original: dict[str, SheetCells] = field(default_factory=dict)
    views: tuple[str, ...] = ()  # the optional views it was built with (explorer)
    all_views: bool = False  # built with --all-views (past the default budget)
    meanings: dict[str, Meaning] = field(default_factory=dict)  # what each named block is
    stored_values: bool = False  # convsheets stored every formula's value when it built it

    @property
    def kind(self) -> str:
        """How the report names it: the variant, or "network"."""
        return self.network.kind

    @property
    def guide_inputs(self) -> tuple[str, ...]:
        """Editable cells besides the tensors that expected values depend on: pointwise's
        bottleneck figures, a network's what-if input size, each explorer's selection."""
        selection = tuple(f"{prefix}explore_{key}" for prefix, _ in _explorers(self)
                          for key in ("channel", "row", "col", "step"))
        selection += tuple(f"{prefix}scatter_{key}" for prefix, _ in _scatters(self)
                           for key in SCATTER_SELECT)
        if self.network.training is not None:  # --backward: the update step's rate
            selection += ("learning_rate",)
        if self.network.request is not None:
            return VARIANTS[self.network.request.variant].editable_guide_cells + selection
        return ("input_height", "input_width") + selection


def verify_files(paths: list[Path], engine: str = "auto",
                 tolerance: float = DEFAULT_TOLERANCE, timeout: float = TIMEOUT_PER_FILE,
                 progress: Callable[[str], None] | None = None) -> list[FileReport]:
    """Verify every file; each engine runs once per batch (one LibreOffice start for all).

    With a real engine, each workbook is also recalculated as a *probe*: a copy whose inputs,
    weights and biases hold random non-integer values and whose parameter table holds another
    valid layer. A formula that matches NumPy only by accident (a constant, a reference to the
    wrong cell holding the same value) fails the probe. `progress(message)` hears about each
    long step (for a terminal)."""
    say = progress or (lambda _message: None)
    paths = list(dict.fromkeys(paths))  # the same file named twice is verified once
    reports = {str(p): FileReport(str(p)) for p in paths}
    plan: dict[str, list[_Workbook]] = {}
    for path in paths:
        try:
            book = _open(path)
            engines = _engines_for(book, engine)
        except VerifyInputError as exc:
            reports[str(path)].unusable = str(exc)
            continue
        reports[str(path)].variant = book.kind
        for name in engines:
            plan.setdefault(name, []).append(book)
    for name, batch in plan.items():
        if name == "cached":
            for book in batch:
                report = reports[str(book.path)]
                _record(report, _compare, book, book.path, name, tolerance)
                if report.runs and book.as_built:
                    report.runs[-1].stored_by_convsheets = True
            continue
        with tempfile.TemporaryDirectory(prefix="convsheets-verify-") as tmp:
            probes = _write_probes(batch, Path(tmp) / "probes")
            say(f"recalculating {len(batch)} workbook(s) (+ probes) in {name}...")
            copies = _recalculate(get_engine(name), batch, probes, Path(tmp), timeout)
            say(f"comparing {len(batch)} workbook(s) with NumPy...")
            for book, probe in zip(batch, probes, strict=True):
                result = copies[book.path]
                if isinstance(result, str):
                    reports[str(book.path)].unusable = f"{book.path}: {result}"
                    continue
                copy, probe_copy = result
                _record(reports[str(book.path)], _compare_with_probe, book, copy, probe_copy,
                        probe[1] if probe else None, name, tolerance)
    return list(reports.values())


# the probe copy and the layer (or network) its parameter table now shows
_Probe = tuple[Path, Network]


def _recalculate(eng: Engine, batch: list[_Workbook], probes: list[_Probe | None], tmp: Path,
                 timeout: float) -> dict[Path, tuple[Path, Path | None] | str]:
    """Recalculated (copy, probe copy) per workbook, or why it failed. One call for the batch;
    if the application rejects the batch, each workbook is retried alone, so one broken file
    does not sink the others."""
    def run(group: list[int], folder: Path) -> dict[Path, tuple[Path, Path | None]]:
        inputs = [batch[k].path for k in group]
        extra = [probes[k][0] for k in group if probes[k] is not None]  # type: ignore[index]
        outs = eng.recalculate(inputs + extra, folder, timeout=timeout * len(inputs + extra))
        probe_outs = iter(outs[len(inputs):])
        return {batch[k].path: (out, next(probe_outs) if probes[k] is not None else None)
                for k, out in zip(group, outs[:len(inputs)], strict=True)}

    everything = list(range(len(batch)))
    try:
        return dict(run(everything, tmp / "out"))
    except EngineError as exc:
        if len(batch) == 1:
            return {batch[0].path: str(exc)}
    results: dict[Path, tuple[Path, Path | None] | str] = {}
    for k in everything:
        try:
            results.update(run([k], tmp / f"out-{k}"))
        except EngineError as exc:
            results[batch[k].path] = str(exc)
    return results


def _record(report: FileReport, compare: Callable[..., EngineRun], *args: object) -> None:
    """Add one engine's comparison to the report; an unusable file is noted, not raised."""
    try:
        report.runs.append(compare(*args))
    except VerifyInputError as exc:
        report.unusable = str(exc)


PROBE_MAX_CELLS = 300_000  # beyond this, loading a copy to perturb it costs more than it tells


def _write_probes(batch: list[_Workbook], folder: Path) -> list[_Probe | None]:
    """A copy of each (small enough) workbook with random values in every editable cell and
    another valid layer's numbers in its parameter table."""
    folder.mkdir()
    probes: list[_Probe | None] = []
    for n, book in enumerate(batch):
        rng = np.random.default_rng(n + 1)
        wb = _load_for_probe(book) if book.cells <= PROBE_MAX_CELLS else None
        if wb is None:
            probes.append(None)
            continue
        other, cells = _other_guide(book.network, rng)
        values: dict[str, int | str | None] = {name: None for name in _source_names(book)}
        values.update(cells)
        values.update(_other_selection(book, rng))
        positive = {n for n, m in book.meanings.items() if m.kind == "running_var"}
        for name, value in values.items():
            where = book.names.get(name)
            if not isinstance(where, tuple) or where[0] not in wb.sheetnames:
                continue
            sheet, r0, c0, r1, c1 = where
            ws = wb[sheet]
            for r in range(r0, r1 + 1):
                for c in range(c0, c1 + 1):
                    ws.cell(r, c).value = (
                        None if value == CLEAR else value if value is not None else
                        round(float(rng.uniform(0.1, 2)), 4) if name in positive else
                        round(float(rng.uniform(-2, 2)), 4) or 0.5)  # a variance is positive
        path = folder / f"{n}-probe.xlsx"
        wb.save(path)
        probes.append((path, other))
    return probes


def _load_for_probe(book: _Workbook) -> openpyxl.Workbook | None:
    """openpyxl is not hardened against hostile files: the defensive reader (size, ratio, DTD
    and depth limits) parses every sheet first; files with far more content than their layer
    needs are not loaded. Its warnings about foreign styles are not the user's business."""
    try:
        with XlsxFile(book.path, max_cells=20_000_000) as xf:
            filled = sum(int(np.count_nonzero(xf.read_sheet(sheet).kind))
                         for sheet in xf.sheet_names())
    except WorkbookReadError:
        return None
    if filled > 4 * PROBE_MAX_CELLS:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return openpyxl.load_workbook(book.path)
    except Exception:  # noqa: BLE001 - the main comparison reports what is wrong
        return None


CLEAR = "clear"  # a probe value: empty the cell


def _selected_by(book: _Workbook, view: str) -> set[str]:
    """The layers that have a selection cell of `view` (by the blocks' meanings)."""
    return {m.layer for m in book.meanings.values() if m.role == SELECTION and m.kind == view}


def _explorers(book: _Workbook) -> list[tuple[str, tuple[int, int, int]]]:
    """(name prefix, output shape) of every layer whose explorer the file has."""
    shown = _selected_by(book, "explorer")
    return [(layer.names.tensor, layer.out_shape) for layer in book.network.layers
            if layer.label in shown]


def _scatters(book: _Workbook) -> list[tuple[str, tuple[int, int, int]]]:
    """(name prefix, input shape) of every layer whose scatter view the file has."""
    shown = _selected_by(book, "scatter")
    return [(layer.names.tensor, layer.in_shape) for layer in book.network.layers
            if layer.label in shown]


def _other_selection(book: _Workbook, rng: np.random.Generator) -> dict[str, int | str]:
    """The probe moves every explorer to a random output cell (step cleared), every
    scatter view to a random input pixel and cross_entropy's target to a random class."""
    cells: dict[str, int | str] = {}
    for prefix, shape in _explorers(book):
        for key, n in zip(("channel", "row", "col"), shape, strict=True):
            cells[f"{prefix}explore_{key}"] = int(rng.integers(0, n))
        cells[f"{prefix}explore_step"] = CLEAR
    for prefix, shape in _scatters(book):
        for key, n in zip(SCATTER_SELECT, shape, strict=True):
            cells[f"{prefix}scatter_{key}"] = int(rng.integers(0, n))
    training = book.network.training
    if training is not None and training.loss == "cross_entropy":  # a whole-number class
        cells["target_class"] = int(rng.integers(0, book.network.output_shape[-1]))
    return cells


def _other_guide(source: Network, rng: np.random.Generator,
                 ) -> tuple[Network, dict[str, int]]:
    """What the probe writes into the guide's parameter cells, and the request or network
    those numbers describe: another valid layer of the same variant, or, for a network, a
    larger input (which every op accepts), whose shapes then flow down the chain."""
    if source.request is not None:
        other = _other_layer(source.request, rng)
        return other.network(), parameter_cells(other)
    for _ in range(20):
        size = (source.input_size[0] + int(rng.integers(1, 7)),
                source.input_size[1] + int(rng.integers(1, 7)))
        try:
            bigger = source.with_input_size(size)
        except ConvsheetsError:
            continue
        return bigger, {"input_height": size[0], "input_width": size[1]}
    # no other input size fits (a linear layer fixes its in_features): keep the file's own
    return source, {"input_height": source.input_size[0], "input_width": source.input_size[1]}


def _other_layer(spec: LayerSpec, rng: np.random.Generator) -> LayerSpec:
    """A random valid layer of the same variant, for the probe's parameter table."""
    base = {k: v for k, v in spec.as_options().items() if k != "variant"}
    for _ in range(100):
        g = int(rng.integers(1, 4))
        s, d = (int(rng.integers(1, 4)), int(rng.integers(1, 4))), \
            (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        wanted = {
            "input_size": (int(rng.integers(1, 41)), int(rng.integers(1, 41))),
            "in_channels": g * int(rng.integers(1, 6)), "out_channels": g * int(rng.integers(1, 6)),
            "kernel_size": (int(rng.integers(1, 8)), int(rng.integers(1, 8))), "stride": s,
            "padding": (int(rng.integers(0, 4)), int(rng.integers(0, 4))), "dilation": d,
            "output_padding": (int(rng.integers(0, max(s[0], d[0]))),
                               int(rng.integers(0, max(s[1], d[1])))),
            "groups": g, "depth_multiplier": int(rng.integers(1, 4)),
            "bias": bool(rng.integers(0, 2)),
        }
        given = {k: v for k, v in wanted.items() if k in VARIANTS[spec.variant].honoured}
        try:
            return LayerSpec.create(spec.variant, given, base)
        except ConvsheetsError:
            continue
    return spec


def _source_names(book: _Workbook) -> list[str]:
    names = [name for tensor, shape in book.network.source_shapes().items()
             for name, _ in block_names(tensor, shape)]
    return names + list(book.guide_inputs)


def _compare_with_probe(book: _Workbook, copy: Path, probe: Path | None,
                        probe_layer: Network | None, engine: str,
                        tolerance: float) -> EngineRun:
    computed: dict[str, SheetCells] = {}
    run = _compare(book, copy, engine, tolerance, keep=computed)
    _check_stored(book, computed, run, tolerance)
    computed.clear()
    if probe is None:
        run.probed = False
        return run
    if not run.ok:
        return run
    probed = _compare(book, probe, engine, tolerance, guide_spec=probe_layer)
    for mine, theirs in zip(run.blocks, probed.blocks, strict=True):
        if not theirs.ok:
            mine.ok = False
            mine.worst_cell = theirs.worst_cell
            mine.problem = ("does not follow its inputs: with random probe values in the "
                            f"editable and parameter cells, {theirs.problem}")
            run.ok = False
    return run


_NO_ENGINE = ("no spreadsheet engine found: pip install 'convsheets[ironcalc]', or install "
              "LibreOffice (apt-get install libreoffice-calc) or Gnumeric (apt-get install "
              "gnumeric)")


def _check_stored(book: _Workbook, computed: dict[str, SheetCells], run: EngineRun,
                  tolerance: float) -> None:
    """The values stored in the file (by convsheets at build time, or by the application
    that last saved it) must equal what the engine recalculated (`computed`, its sheets): a
    stored value that disagrees with its formula would show a wrong number to anyone who
    opens the file without recalculating (Protected View, previews, pandas)."""
    for result in run.blocks:
        where = book.names.get(result.name)
        if not result.ok or not isinstance(where, tuple):
            continue
        sheet, r0, c0, r1, c1 = where
        if sheet not in book.original or sheet not in computed:
            continue
        stored = book.original[sheet].region(r0, c0, r1, c1)
        fresh = computed[sheet].region(r0, c0, r1, c1)
        has = (stored.kind == KIND_NUMBER) & stored.is_formula
        if not has.any():
            continue  # no stored values (e.g. a file from an older convsheets)
        diff = np.where(has, np.abs(stored.values - fresh.values), 0.0)
        allowed = tolerance * np.maximum(1.0, np.abs(fresh.values))
        over = has & ~(diff <= allowed)
        if over.any():
            i, j = np.argwhere(over)[0]
            result.ok, run.ok = False, False
            result.worst_cell = _addr(where, i, j)
            result.problem = (f"the value stored in the file at {_addr(where, i, j)} is "
                              f"{_num(stored.values[i, j])} but its formula gives "
                              f"{_num(fresh.values[i, j])} ({int(over.sum())} cell(s))")


def _engines_for(book: _Workbook, engine: str) -> list[str]:
    if engine == "auto":
        if book.fully_cached and not book.as_built:
            return ["cached"]  # values an application computed when it saved the file
        installed = [name for name, eng in ENGINES.items() if eng.available()]
        if not installed:
            raise VerifyInputError(_NO_ENGINE)
        return installed[:1]  # LibreOffice, else Gnumeric, else IronCalc
    if engine == "all":
        names = [name for name, eng in ENGINES.items() if eng.available()]
        if not names:
            raise VerifyInputError(_NO_ENGINE)
        return names
    if engine == "cached":
        # (a build with stored values: every numeric formula has one; text cells carry none)
        if not book.fully_cached and not (book.as_built and book.stored_values):
            raise VerifyInputError(f"{book.path}: some formulas have no cached value (the file "
                                   "was never calculated by a spreadsheet application); use "
                                   "--engine libreoffice")
        return ["cached"]
    try:
        eng = get_engine(engine)
    except EngineError as exc:
        raise VerifyInputError(str(exc)) from exc
    return [eng.name]


def _open(path: Path) -> _Workbook:
    """Read the layer and the block addresses; refuse anything that is not ours."""
    if not path.exists():
        raise VerifyInputError(f"{path}: no such file")
    if not path.is_file():
        raise VerifyInputError(f"{path}: not a regular file; pass an .xlsx workbook")
    try:
        with XlsxFile(path) as xf:
            props = xf.custom_properties()
            if METADATA_KEY not in props:
                raise VerifyInputError(f"{path}: not a convsheets workbook (no '{METADATA_KEY}' "
                                       "document property); build one with `convsheets build`")
            try:
                record = json.loads(props[METADATA_KEY])
                network = Network.from_record(record)
                check_size_early(network)  # before anything is allocated from these numbers
                views = tuple(v for v in record.get("views", []) if v in VIEWS)
                all_views = record.get("all_views") is True
                meanings = _meanings(record, network, views, all_views)
                # (a file built before the view budget holds views it leaves out by default)
                left_out = beyond_budget(network, views)
                all_views = all_views or any((m.layer, m.kind) in left_out
                                             for m in meanings.values()
                                             if m.role in (VIEW, SELECTION))
                stored = record.get("stored_values") is True
                if "exercise" in record:
                    raise VerifyInputError(f"{path}: an exercise handout (its answers are the "
                                           "student's); grade it with convsheets grade")
            except (ValueError, KeyError, TypeError, SpecError, LimitError) as exc:
                raise VerifyInputError(f"{path}: its convsheets metadata is unusable "
                                       f"({exc})") from exc
            names: dict[str, tuple[str, int, int, int, int] | str] = {}
            for name, text in xf.defined_names().items():
                try:
                    names[name] = parse_ref(text)
                except WorkbookReadError as exc:
                    names[name] = str(exc)  # reported if the name is needed
            original = {sheet: xf.read_sheet(sheet) for sheet in xf.sheet_names()}
            fully_cached = all(not np.any(cells.kind == KIND_NO_CACHED_VALUE)
                               for cells in original.values())
    except WorkbookReadError as exc:
        raise VerifyInputError(f"{path}: {exc}") from exc
    return _Workbook(path, network, names, fully_cached, minimum_cells(network),
                     as_built=is_convsheets_workbook(path), original=original, views=views,
                     all_views=all_views,
                     stored_values=stored, meanings=meanings)


def _meanings(record: dict[str, object], network: Network, views: tuple[str, ...],
              all_views: bool = False) -> dict[str, Meaning]:
    """What each named block is: as the file records it, or (a file from before blocks
    were recorded) as a build of the same network with the same views makes them."""
    recorded = record.get("blocks")
    if recorded is None:
        return {name: block.meaning for block in make_plan(network, views=views,
                                                           all_views=all_views).blocks()
                for name in (block.name, *block.aliases) if block.meaning is not None}
    if not isinstance(recorded, dict):
        raise ValueError("its block record is not a mapping")
    meanings = {}
    for name, entry in recorded.items():
        if not (isinstance(entry, list) and len(entry) == 5 and entry[0] in ROLES
                and all(isinstance(v, str) for v in entry[1:4]) and isinstance(entry[4], list)
                and all(isinstance(i, int) for i in entry[4])):
            raise ValueError(f"its record of block {str(name)[:40]} is unusable")
        meanings[str(name)] = Meaning(*entry[:4], index=tuple(entry[4]))
    return meanings


class _Sheets:
    """Reads each sheet of the computed copy once, on demand."""

    def __init__(self, xf: XlsxFile, path: Path) -> None:
        self.xf, self.path, self.cache = xf, path, {}

    def block(self, where: tuple[str, int, int, int, int]) -> SheetCells:
        sheet, r0, c0, r1, c1 = where
        if sheet not in self.cache:
            if sheet not in self.xf.sheet_names():
                raise VerifyInputError(f"{self.path}: a defined name points at sheet {sheet!r}, "
                                       "which the workbook does not have")
            self.cache[sheet] = self.xf.read_sheet(sheet)
        return self.cache[sheet].region(r0, c0, r1, c1)


def _compare(book: _Workbook, copy: Path, engine: str, tolerance: float,
             guide_spec: Network | None = None,
             keep: dict[str, SheetCells] | None = None) -> EngineRun:
    """Compare every computed block of `copy` with NumPy; `keep` receives the sheets read."""
    try:
        with XlsxFile(copy) as xf:
            sheets = _Sheets(xf, book.path)
            tensors = _read_tensors(book, sheets)
            scalars = {n: float(_source(book, sheets, n, (1, 1))[0, 0])
                       for n in book.guide_inputs if not _empty(book, sheets, n)}
            try:
                expected = expected_blocks(book.network, tensors, scalars, guide_spec, book.views,
                                           book.all_views)
            except ValueError as exc:
                raise VerifyInputError(f"{book.path}: the reference cannot use these tensors "
                                       f"({exc})") from exc
            run = EngineRun(engine, True)
            for name, exp in expected.items():
                result = _check_block(book, sheets, name, exp, tolerance)
                run.blocks.append(result)
                run.ok = run.ok and result.ok
            for result in run.blocks:  # output_c{o} must be the last layer's own cells
                target = _alias_targets(book).get(result.name)
                if target and result.ok and book.names.get(result.name) != book.names.get(target):
                    result.ok = run.ok = False
                    result.problem = f"does not point at the last layer's output {target}"
            run.formulas = sum(r.shape[0] * r.shape[1] for r in run.blocks)
            if keep is not None:
                keep.update(sheets.cache)
    except WorkbookReadError as exc:
        raise VerifyInputError(f"{book.path} ({engine} copy): {exc}") from exc
    return run


def _empty(book: _Workbook, sheets: _Sheets, name: str) -> bool:
    """An empty explorer step cell means "use the coordinates"; nothing else may be empty."""
    meaning = book.meanings.get(name)
    if meaning is None or (meaning.kind, meaning.key) != ("explorer", "explore_step"):
        return False
    return bool(sheets.block(_locate(book, name, (1, 1))).kind[0, 0] == KIND_EMPTY)


def _alias_targets(book: _Workbook) -> dict[str, str]:
    """Further names of the last layer's output (output_c{o}) -> its own block names."""
    last = book.network.layers[-1]
    return {alias: last.output_name(o)
            for o in range(last.out_shape[0]) for alias in last.output_aliases(o)}


def _read_tensors(book: _Workbook, sheets: _Sheets) -> dict[str, np.ndarray]:
    """The editable tensors, as the workbook now holds them."""
    tensors = {}
    for tensor, shape in book.network.source_shapes().items():
        array = np.zeros(shape)
        for name, index in block_names(tensor, shape):
            block_shape = (1, shape[0]) if len(shape) == 1 else shape[-2:]
            values = _source(book, sheets, name, block_shape)
            array[index] = values.reshape(-1) if len(shape) == 1 else values
        tensors[tensor] = array
    return tensors


def _locate(book: _Workbook, name: str, shape: tuple[int, int]) -> tuple[str, int, int, int, int]:
    where = book.names.get(name)
    if where is None:
        raise VerifyInputError(f"{book.path}: defined name {name!r} is missing; the workbook "
                               "does not match the layer it records")
    if isinstance(where, str):
        raise VerifyInputError(f"{book.path}: defined name {name!r}: {where}")
    sheet, r0, c0, r1, c1 = where
    if not sheet or (r1 - r0 + 1, c1 - c0 + 1) != tuple(shape):
        raise VerifyInputError(f"{book.path}: defined name {name!r} does not point at a "
                               f"{shape[0]}x{shape[1]} range on one sheet")
    return where


def _source(book: _Workbook, sheets: _Sheets, name: str, shape: tuple[int, int]) -> np.ndarray:
    where = _locate(book, name, shape)
    cells = sheets.block(where)
    bad = np.argwhere(cells.kind != KIND_NUMBER)
    if bad.size:
        i, j = bad[0]
        raise VerifyInputError(f"{book.path}: {name} cell {_addr(where, i, j)} does not hold a "
                               "number; inputs, weights and biases must be numbers")
    return cells.values


def _check_block(book: _Workbook, sheets: _Sheets, name: str, exp: Expected,
                 tolerance: float) -> BlockResult:
    shape = exp.value.shape
    result = BlockResult(name, (int(shape[0]), int(shape[1])), False)
    where = book.names.get(name)
    if where is None:
        result.problem = "block missing from the workbook (no defined name)"
        return result
    if isinstance(where, str):
        result.problem = f"unusable defined name: {where}"
        return result
    sheet, r0, c0, r1, c1 = where
    if not sheet or (r1 - r0 + 1, c1 - c0 + 1) != tuple(shape):
        result.problem = (f"defined name points at {r1 - r0 + 1}x{c1 - c0 + 1} cells, "
                          f"expected {shape[0]}x{shape[1]}")
        return result
    cells = sheets.block(where)
    structural = exp.structural if exp.structural is not None else np.zeros(shape, bool)
    errors = np.argwhere(cells.kind == KIND_ERROR)
    if errors.size:
        i, j = errors[0]
        text = cells.errors.get((r0 + i, c0 + j), "error")
        result.problem = f"error value {text} in {_addr(where, i, j)}"
        result.worst_cell = _addr(where, i, j)
        return result
    not_live = np.argwhere(~cells.is_formula & ~structural)
    if not_live.size:
        i, j = not_live[0]
        result.problem = (f"not live: {_addr(where, i, j)} holds a constant where a formula "
                          f"belongs ({len(not_live)} such cell(s))")
        result.worst_cell = _addr(where, i, j)
        return result
    blank = exp.blank if exp.blank is not None else np.zeros(shape, bool)
    shows_number = np.argwhere(blank & (cells.kind == KIND_NUMBER))
    if shows_number.size:
        i, j = shows_number[0]
        result.problem = (f"{_addr(where, i, j)} shows a number where the explorer shows "
                          "nothing for this selection")
        result.worst_cell = _addr(where, i, j)
        return result
    not_number = np.argwhere((cells.kind != KIND_NUMBER) & ~blank)
    if not_number.size:
        i, j = not_number[0]
        result.problem = f"{_addr(where, i, j)} has no numeric value"
        result.worst_cell = _addr(where, i, j)
        return result
    diff = np.where(blank, 0.0, np.abs(cells.values - exp.value))
    i, j = np.unravel_index(int(np.argmax(diff)), shape)
    result.max_abs_error = float(diff[i, j])
    if result.max_abs_error > 0:  # (every cell exact: no cell is the worst)
        result.worst_cell = _addr(where, i, j)
    allowed = tolerance * np.maximum(1.0, np.abs(exp.value))
    over = ~(diff <= allowed)  # NaN never passes
    if over.any():
        i, j = np.unravel_index(int(np.argmax(np.where(over, diff, -1))), shape)
        result.worst_cell = _addr(where, i, j)
        result.problem = (f"{_addr(where, i, j)} is {_num(cells.values[i, j])}, NumPy says "
                          f"{_num(exp.value[i, j])} ({int(over.sum())} cell(s) off)")
        return result
    result.ok = True
    return result


def _addr(where: tuple[str, int, int, int, int], i: int, j: int) -> str:
    sheet, r0, c0, _r1, _c1 = where
    return f"{sheet}!{col_letter(c0 + int(j))}{r0 + int(i)}"


def _num(value: float) -> str:
    return f"{value:.15g}"


def format_report(reports: list[FileReport], tolerance: float, verbose: bool = True) -> str:
    """One line per block (name, shape, max abs error, worst cell), then a summary line."""
    lines = []
    for report in reports:
        if report.unusable:
            continue  # the CLI prints these as errors on stderr
        for run in report.runs:
            lines.append(f"{report.path} [{report.variant}, engine {run.engine}]")
            width = max((len(b.name) for b in run.blocks), default=4)
            for b in run.blocks:
                if b.ok and not verbose:
                    continue
                status = "ok  " if b.ok else "FAIL"
                shape = f"{b.shape[0]}x{b.shape[1]}"
                line = (f"  {status} {b.name:<{width}} {shape:>9}  max abs err "
                        f"{b.max_abs_error:.1e}" + (f"  worst {b.worst_cell}"
                                                    if b.worst_cell else ""))
                if b.problem:
                    line += f"  -- {b.problem}"
                lines.append(line)
            failed = [b for b in run.blocks if not b.ok]
            verdict = "MATCH" if run.ok else f"MISMATCH in {len(failed)} block(s)"
            probe = "" if run.probed or run.engine == "cached" else \
                " (no random-input probe: too large)"
            lines.append(f"  {verdict}: {len(run.blocks)} blocks, {run.formulas:,} cells "
                         f"checked against NumPy (tolerance {tolerance:g}){probe}")
            if run.stored_by_convsheets:
                lines.append("  note: these values were stored by convsheets when it built the "
                             "file, not computed by a spreadsheet application: not a proof of "
                             "the formulas (use --engine libreoffice, gnumeric or all)")
    good = sum(r.ok for r in reports)
    lines.append(f"{good} of {len(reports)} workbook(s) verified" +
                 ("" if good == len(reports) else
                  f"; {len(reports) - good} failed or unusable"))
    return "\n".join(lines)


def exit_status(reports: list[FileReport]) -> int:
    """0 all match, 1 some mismatch, 2 some file unusable."""
    if any(r.unusable for r in reports):
        return 2
    return 0 if all(r.ok for r in reports) else 1


def write_json(reports: list[FileReport], path: Path, tolerance: float,
               force: bool = False) -> None:
    """The machine-readable report (per file, per engine, per block), written by the rule
    every output follows (`outputs`: atomically; never over a file convsheets did not write,
    unless `force`)."""
    data = {"tolerance": tolerance, "ok": all(r.ok for r in reports),
            "files": [{**asdict(r), "ok": r.ok} for r in reports]}
    write_text(path, json.dumps(data, indent=2) + "\n", force)
