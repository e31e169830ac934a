"""The views: optional passes over a drawn network, registered in one place.

A view is a plug-in, like a `torch.fx` pass over a traced graph: after every layer is drawn, each
view in `VIEWS` order visits each layer it `applies` to and reads the layer's `Drawn` record
(which blocks mean what) and its op's declared geometry; its `expected` function computes the
view's blocks from the op's NumPy reference. No op module knows any view. Adding a view is one
entry here (and its module); adding an op never touches a view unless the op needs a view of
its own kind (an op with a `window()` gets the explorer for free).

The workbook-level overview (`plan.overview_stage`) is a view too, named in `WORKBOOK_VIEWS`.
A view's `budget` (`budget.py`) says where it is left out by default (too large to read, too
slow to verify); `draw_views` consults it, unless --all-views.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

import numpy as np

from .budget import Budget, explorer_budget, left_out_note, matrix_budget, matrix_cells
from .draw import Drawn
from .explorer import exploration, explorer_stage, longest_highlight
from .layout import EDIT, SELECTION, VIEW, Meaning
from .limits import EXCEL_MAX_FORMULA
from .matrix import (
    MAX_MATRIX_CELLS,
    direct_matrix_stage,
    direct_matrix_values,
    transposed_matrix_stage,
    transposed_matrix_values,
)
from .network import Network
from .ops import Conv2d, ConvTranspose2d, Op
from .plan import VIEWS as PLAN_VIEWS
from .scatter import SELECT, scatter_stage, scatter_values, three_ways, three_ways_values
from .stamps import applies as stamps_applies
from .stamps import stamps_stage, stamps_values
from .walk import walk_stage

ViewValues = dict[str, tuple[np.ndarray, np.ndarray | None]]
# (op, its input, its local tensors, its output, a selection cell's value by local key,
#  the local names of the blocks the workbook shows) -> expected blocks by local name
Expect = Callable[[Op, np.ndarray, dict[str, np.ndarray], np.ndarray, Callable[[str], float],
                   Collection[str]], ViewValues]


@dataclass(frozen=True)
class View:
    """One optional view of a layer."""

    name: str  # as `--no-<name>` and `views=` spell it
    applies: Callable[[Op], bool]
    draw: Callable[[Drawn], None]
    expected: Expect | None = None  # None: `expected.explorer_expected` (its selection rules)
    # the default budget (`budget.py`): why a layer's view is left out unless --all-views
    budget: Budget | None = None
    sheet: str = ""  # what the guide calls it when the budget leaves it out
    # whether a hard limit leaves the layer's view out whatever the options (its drawer then
    # says so on the guide; the budget's note would promise what --all-views cannot give)
    hard: Callable[[Drawn], bool] | None = None


# ---------------------------------------------------------------------------- the explorer
def _draw_explorer(drawn: Drawn) -> None:
    explorer_stage(drawn.ctx, exploration(drawn))


def _explorer_too_long(drawn: Drawn) -> bool:
    return longest_highlight(exploration(drawn), drawn.ctx.names.tensor) > EXCEL_MAX_FORMULA


# ---------------------------------------------------------------------------- the matrix view
def _geometry(op: ConvTranspose2d, drawn: Drawn) -> dict[str, object]:
    return {"stride": op.stride, "padding": op.padding, "dilation": op.dilation,
            "groups": op.groups, "out_size": drawn.outputs[0].shape}


def _draw_matrix(drawn: Drawn) -> None:
    op = drawn.op
    assert drawn.weights is not None
    if isinstance(op, ConvTranspose2d):
        drawn.views["matrix"] = transposed_matrix_stage(
            drawn.ctx, drawn.inputs, drawn.weights, drawn.bias, outputs=drawn.outputs,
            **_geometry(op, drawn))  # type: ignore[arg-type]
    else:
        assert isinstance(op, Conv2d) and drawn.windowed is not None
        direct_matrix_stage(drawn.ctx, drawn.windowed, drawn.weights, drawn.bias,
                            stride=op.stride, dilation=op.dilation, groups=op.groups,
                            out_size=drawn.outputs[0].shape, outputs=drawn.outputs)


def _matrix_values(op: Op, x: np.ndarray, tensors: dict[str, np.ndarray], y: np.ndarray,
                   selected: Callable[[str], float], shown: Collection[str]) -> ViewValues:
    """im2col (direct) or Cᵀ (transposed), from the reference (one-hot images / kernels)."""
    if isinstance(op, ConvTranspose2d):
        if "matrix_input" not in shown:
            return {}
        return transposed_matrix_values(x, tensors["weight"], y, stride=op.stride,
                                        padding=op.padding, dilation=op.dilation,
                                        groups=op.groups)
    assert isinstance(op, Conv2d)
    if "im2col" not in shown:
        return {}
    if op.padding_mode != "zeros":  # im2col of the padded input (its ring repeats cells)
        return direct_matrix_values(op.window_source(x), tensors["weight"], y,
                                    stride=op.stride, padding=(0, 0), dilation=op.dilation,
                                    groups=op.groups)
    return direct_matrix_values(x, tensors["weight"], y, stride=op.stride, padding=op.padding,
                                dilation=op.dilation, groups=op.groups,
                                rule=op.padding_rule)


# ---------------------------------------------------------------------------- the scatter view
def _draw_scatter(drawn: Drawn) -> None:
    op = drawn.op
    assert isinstance(op, ConvTranspose2d) and drawn.weights is not None
    drawn.views["scatter"] = scatter_stage(drawn.ctx, drawn.inputs, drawn.weights, drawn.bias,
                                           **_geometry(op, drawn))  # type: ignore[arg-type]


def _scatter_values(op: Op, x: np.ndarray, tensors: dict[str, np.ndarray], y: np.ndarray,
                    selected: Callable[[str], float], shown: Collection[str]) -> ViewValues:
    assert isinstance(op, ConvTranspose2d)
    selection = [selected(f"scatter_{key}") for key in SELECT]
    return scatter_values(x, tensors["weight"], y, selection, op.stride, op.padding,
                          op.dilation, op.groups, tensors.get("bias"))


# ---------------------------------------------------------------------------- three ways
def _draw_three_ways(drawn: Drawn) -> None:
    """The guide's comparison of a transposed layer's results (zero insertion, scatter,
    matrix), when at least two of them are drawn."""
    three_ways(drawn.ctx, drawn.outputs, drawn.views.get("scatter", []),
               drawn.views.get("matrix", []))


def _three_ways_values(op: Op, x: np.ndarray, tensors: dict[str, np.ndarray], y: np.ndarray,
                       selected: Callable[[str], float], shown: Collection[str]) -> ViewValues:
    return three_ways_values(y, ("insertion", "scatter", "matrix"))


# ---------------------------------------------------------------------------- the Walk
def _draw_walk(drawn: Drawn) -> None:
    """The Walk sheet (`walk.py`), stepped by the explorer's step cell."""
    walk_stage(drawn.ctx, exploration(drawn))


def _walk_values(op: Op, x: np.ndarray, tensors: dict[str, np.ndarray], y: np.ndarray,
                 selected: Callable[[str], float], shown: Collection[str]) -> ViewValues:
    return {}  # (they follow the explorer's selection: `expected.walk_expected`)


def _walks(op: Op) -> bool:
    window = op.window()
    return window is not None and bool(window.kernels_by)


def _transposed(op: Op) -> bool:
    return isinstance(op, ConvTranspose2d)


# In drawing order: a layer's views follow each other in this order, layer after layer.
VIEWS: tuple[View, ...] = (
    View("explorer", lambda op: op.window() is not None, _draw_explorer,
         budget=explorer_budget, sheet="Explorer", hard=_explorer_too_long),
    View("scatter", _transposed, _draw_scatter, _scatter_values),
    View("matrix", lambda op: isinstance(op, (Conv2d, ConvTranspose2d)), _draw_matrix,
         _matrix_values, budget=matrix_budget, sheet="Matrix",
         hard=lambda drawn: matrix_cells(drawn.ctx.layer) > MAX_MATRIX_CELLS),
)
# Passes that follow a layer's views when any of `after` is shown (they compare the views).
FOLLOW_UPS: tuple[tuple[frozenset[str], View], ...] = (
    (frozenset({"scatter", "matrix"}),
     View("three_ways", _transposed, _draw_three_ways, _three_ways_values)),
    (frozenset({"explorer"}), View("walk", _walks, _draw_walk, _walk_values)),
    (frozenset({"scatter"}), View("stamps", stamps_applies, stamps_stage, stamps_values)),
)
WORKBOOK_VIEWS = ("overview",)  # views of the whole workbook, drawn by `build.make_plan`
# `plan.VIEWS` spells the names for the command line and the API, in their order
assert set(PLAN_VIEWS) == {*WORKBOOK_VIEWS, *(view.name for view in VIEWS)}


def draw_views(drawn: Drawn, shown: Collection[str], all_views: bool = False) -> None:
    """Every view of `shown` that applies to the drawn layer and is within its default budget
    (`budget.py`; every one with `all_views`), in registry order; each block a view adds is
    recorded as that view's (its selection cells as selections). A view the budget leaves
    out gets a line on the guide, and its follow-ups (the Walk of an explorer) are not drawn."""
    op, layer = drawn.op, drawn.ctx.layer
    here = set(shown)
    for view in VIEWS:
        if view.name not in shown or not view.applies(op):
            continue
        why = None if all_views or view.budget is None else view.budget(layer)
        if why is not None and view.hard is not None and view.hard(drawn):
            why = None  # (its drawer leaves it out, and says why no option adds it)
        if why is None:
            _recorded(drawn, view)
        else:
            here.discard(view.name)
            drawn.ctx.plan.notes.append(left_out_note(layer.label, view.sheet, why))
    for after, view in FOLLOW_UPS:
        if after & here and view.applies(op):
            _recorded(drawn, view)


def beyond_budget(network: Network, shown: Collection[str]) -> set[tuple[str, str]]:
    """(layer label, view name) of every view of `shown` the default budget leaves out of
    `network`: a workbook holding one of these was built with every view (--all-views, or
    before the budget existed), and is checked as such."""
    return {(layer.label, view.name) for layer in network.layers for view in VIEWS
            if view.name in shown and view.budget is not None and view.applies(layer.op)
            and view.budget(layer) is not None}


def _recorded(drawn: Drawn, view: View) -> None:
    plan, layer = drawn.ctx.plan, drawn.ctx.layer
    before = {id(block) for block in plan.blocks()}
    view.draw(drawn)
    prefix = layer.names.tensor
    for block in plan.blocks():
        if id(block) in before or block.meaning is not None:
            continue
        key = block.name[len(prefix):] if block.name.startswith(prefix) else block.name
        block.meaning = Meaning(SELECTION if block.kind == EDIT else VIEW, layer.label,
                                view.name, key)


def view_values(op: Op, x: np.ndarray, tensors: dict[str, np.ndarray], y: np.ndarray,
                selected: Callable[[str], float], shown: Collection[str]) -> ViewValues:
    """Expected values of a layer's view blocks (other than the explorer's), by local name;
    blocks the workbook does not show are left for the caller to ignore."""
    out: ViewValues = {}
    for view in (*VIEWS, *(view for _after, view in FOLLOW_UPS)):
        if view.expected is not None and view.applies(op):
            out.update(view.expected(op, x, tensors, y, selected, shown))
    return out
