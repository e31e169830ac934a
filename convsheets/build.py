"""spec -> plan -> checked -> workbook on disk, atomically.

The plan is cheap (cells are generated lazily, row by row, while writing), so every limit is
checked on the plan before a single byte is written; the file is written to a temporary file
beside the target and renamed into place, so an interrupted build leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .draw import Drawn, draw_layer
from .errors import LimitError, SpecError
from .exercise import Exercise, exercise_plan
from .expected import stored_values
from .guide import add_guide
from .limits import EXCEL_MAX_FORMULA, longest_formula
from .network import Network
from .outputs import (  # noqa: F401 - the rule's checks, long imported from here
    atomic_write,
    check_target,
    is_convsheets_workbook,
    private_tempdir,
)
from .plan import VIEWS, LayerContext, Plan, input_stage, overview_stage
from .receptive import receptive_stage
from .tensors import random_tensors
from .views import draw_views
from .workbook import RenderStats, render

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLS = 16_384
MAX_CELLS = 3_000_000  # LibreOffice needs ~2 GB to recalculate ~1.1 million cells


def make_plan(network: Network,
              tensors: dict[str, np.ndarray] | None = None,
              views: Collection[str] = VIEWS, colour_scale: str = "block",
              intro: Sequence[tuple[str, str]] = (), all_views: bool = False) -> Plan:
    """The full plan of a workbook of a network (a variant's or a template's; random tensors from
    its seed by default): the guide, the input, each layer's sheets in order (the seed's
    steps), then the views (`views`: which of `plan.VIEWS`, e.g. each layer's explorer).
    `intro`: (text, style) lines that open the guide (an exercise's instructions).
    `all_views`: also the views the default budget leaves out (`budget.py`, --all-views)."""
    plan = Plan(network, tensors if tensors is not None else random_tensors(network),
                views=frozenset(views), colour_scale=colour_scale, all_views=all_views)
    inputs = input_stage(plan)
    produced = {"input": inputs}  # each layer's output blocks by label (a graph's sources)
    owner = {block.name: "the input" for block in inputs}
    drawn: list[Drawn] = []
    for n, layer in enumerate(network.layers):
        first = len(plan.sheets)
        blocks = [block for source in network.sources(n) for block in produced[source]]
        drawn.append(draw_layer(LayerContext(plan, layer), blocks))
        produced[layer.label] = drawn[-1].outputs
        for sheet in plan.sheets[first:]:
            for block in sheet.blocks:
                for name in (block.name, *block.aliases):
                    if name in owner:
                        raise SpecError("name", layer.label, f"its block {name} has the name of "
                                        f"a block of {owner[name]}; rename one of the layers",
                                        f"layer {layer.label}")
                    owner[name] = f"layer {layer.label}"
    for layer in drawn:
        draw_views(layer, plan.views, all_views)
    if network.training is not None:  # --backward: the loss, the gradients, one SGD step
        from .backprop import draw_backward

        draw_backward(plan, drawn)
    receptive_stage(plan, inputs)  # a sequence network's, driven by its last explorer
    if "overview" in plan.views:
        overview_stage(plan, inputs)
    plan.intro = list(intro)
    add_guide(plan)
    unknown = [block.name for block in plan.blocks() if block.meaning is None]
    if unknown:  # every feature selects blocks by their meaning: a new block must have one
        raise AssertionError(f"blocks without a meaning: {unknown[:3]}")
    names = [name for block in plan.blocks() for name in (block.name, *block.aliases)]
    if len(set(names)) != len(names):
        clash = next(name for name in names if names.count(name) > 1)
        raise SpecError("name", clash, "two blocks of this workbook would have this defined "
                        "name; rename a layer", "layers")
    return plan


def minimum_cells(network: Network) -> int:
    """Cells a workbook of `network` holds at least: its editable tensors and every layer's
    output."""
    cells = sum(int(np.prod(shape, dtype=object)) for shape in network.source_shapes().values())
    return cells + sum(int(np.prod(layer.out_shape, dtype=object)) for layer in network.layers)


def check_size_early(network: Network) -> None:
    """Refuse absurd requests from the layers' arithmetic alone, before random tensors or a
    plan are allocated (a 100000-channel request must fail in milliseconds, not after
    gigabytes)."""
    cells = minimum_cells(network)
    if cells > MAX_CELLS:
        raise LimitError(f"the workbook would hold at least {cells:,} cells; convsheets builds "
                         f"at most {MAX_CELLS:,} (spreadsheet applications need ~2 GB per "
                         "million)")


def check_limits(plan: Plan) -> int:
    """Refuse plans Excel cannot hold or that are not sane to build. Returns the cell count."""
    cells = sum(b.shape[0] * b.shape[1] for b in plan.blocks())
    if cells > MAX_CELLS:
        raise LimitError(f"the workbook would hold {cells:,} cells; convsheets builds at most "
                         f"{MAX_CELLS:,} (spreadsheet applications need ~2 GB per million)")
    for sheet in plan.sheets:
        if sheet.max_row > EXCEL_MAX_ROWS:
            raise LimitError(f"sheet {sheet.name} would need {sheet.max_row:,} rows; Excel "
                             f"allows {EXCEL_MAX_ROWS:,}")
        if sheet.max_col > EXCEL_MAX_COLS:
            raise LimitError(f"sheet {sheet.name} would need {sheet.max_col:,} columns; Excel "
                             f"allows {EXCEL_MAX_COLS:,}")
        for block in sheet.blocks:  # (an optional view too long for Excel left itself out)
            longest = longest_formula(block)
            if longest > EXCEL_MAX_FORMULA:
                where = f"layer {sheet.layer}" if sheet.layer else f"sheet {sheet.name}"
                raise LimitError(
                    f"{where}: a formula of {block.name} (sheet {sheet.name}) would be "
                    f"{longest:,} characters and Excel allows at most {EXCEL_MAX_FORMULA:,}; "
                    "views that long are left out, a layer's own formulas cannot be, so it is "
                    "not built (use fewer input channels per group or a smaller kernel)")
    return cells


@dataclass
class BuildResult:
    path: Path
    cells: int
    formulas: int
    size: int
    layers: dict[str, str] = field(default_factory=dict)  # from_module: module -> layer name


def build(network: Network, path: Path, *, force: bool = False,
          progress: Callable[[int], None] | None = None,
          on_start: Callable[[Plan, int], None] | None = None,
          views: Collection[str] = VIEWS, colour_scale: str = "block",
          all_views: bool = False) -> BuildResult:
    """Build the workbook of a network (a variant's or a template's) at `path`, atomically.
    Nothing is touched on error. `all_views`: also the views the default budget leaves out."""
    check_size_early(network)
    plan = make_plan(network, views=views, colour_scale=colour_scale, all_views=all_views)
    cells = check_limits(plan)
    check_target(path, force)
    if on_start is not None:
        on_start(plan, cells)
    stats = write_atomically(plan, path, progress)
    return BuildResult(path, stats.cells, stats.formulas, path.stat().st_size)


def progress_hooks(on_progress: Callable[[int, int], None]) -> dict[str, object]:
    """`build`'s hooks for one documented callback, ``on_progress(done, total)``: the rows of
    cells written so far and the rows to write in all (every sheet's), called first with
    (0, total) once the plan is checked, then every 512 rows or so, last with (total,
    total). For a progress bar in a notebook or an application."""
    state = {"done": 0, "total": 0}

    def on_start(plan: Plan, _cells: int) -> None:
        state["total"] = sum(sheet.max_row - sheet.first_row + 1 for sheet in plan.sheets)
        on_progress(0, state["total"])

    def progress(rows: int) -> None:
        state["done"] = min(state["total"], state["done"] + rows)
        on_progress(state["done"], state["total"])

    return {"on_start": on_start, "progress": progress}


def build_exercise(network: Network, path: Path, exercise: Exercise, *,
                   force: bool = False) -> tuple[BuildResult, int]:
    """Build an exercise handout at `path`, atomically. Returns the result and the number
    of answer cells."""
    check_size_early(network)
    handout = exercise_plan(network, exercise)
    check_limits(handout.plan)
    check_target(path, force)
    stats = write_atomically(handout.plan, path, stored=handout.stored)
    result = BuildResult(path, stats.cells, stats.formulas, path.stat().st_size)
    return result, sum(b.shape[0] * b.shape[1] for b in handout.answers)


def write_atomically(plan: Plan, path: Path,
                     progress: Callable[[int], None] | None = None, *,
                     store_values: bool = True,
                     stored: dict[str, np.ndarray] | None = None) -> RenderStats:
    """Render into a temporary file beside `path`, then rename it into place (`outputs`:
    the rule every file convsheets writes follows; the caller has checked the target). Every
    formula carries its value unless `store_values` is false (the file then shows nothing
    until an application recalculates it; kept for measuring what stored values buy).
    `stored`: the values to store, when the caller computed them (an exercise's, without its
    answers)."""
    with atomic_write(path, check=False, listed=False) as out, private_tempdir():
        return render(plan, out, progress,
                      stored=(stored if stored is not None else stored_values(plan))
                      if store_values else None)
