"""Excel's formula length limit, measured in one place.

Excel refuses (repairs, and so guts) a workbook holding any formula longer than 8,192
characters. Every block's content reports its longest formula (`stages`: from its arithmetic,
or from cells that provably include the longest), and `longest_formula` adds the block's
conditional formats. The rule:

* an optional view (explorer, matrix, scatter, the overview, the guide's comparisons) that
  would hold a longer formula is left out for that layer, and the guide says so
  (`view_fits`, called by each view before it is added);
* any other block (a layer's own output formulas) that would is refused before anything is
  written (`build.check_limits`: one line naming the layer, the length and the limit).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .stages import measured

if TYPE_CHECKING:
    from .layout import Block, SheetPlan
    from .plan import LayerContext

EXCEL_MAX_FORMULA = 8_192  # characters of one formula ("=" included, to be safe)


def longest_formula(block: Block) -> int:
    """Characters of the longest formula the block writes: its cells' (as its content reports;
    a content that does not is measured cell by cell) and its conditional formats'."""
    report = getattr(block.content, "longest", None)
    cells = report(block) if report is not None else measured(block.content.rows(block))
    rules = [*block.highlights, *(rule for rule, _look in block.shades)]
    return max([cells, *(1 + len(rule) for rule in rules)])


def longest_of(blocks: Iterable[Block], rules: Iterable[str] = ()) -> int:
    """The longest formula of the blocks and of further conditional-format `rules`."""
    return max([0, *(longest_formula(b) for b in blocks), *(1 + len(r) for r in rules)])


def view_fits(ctx: LayerContext, sheet: SheetPlan | None, view: str, blocks: Iterable[Block],
              rules: Iterable[str] = ()) -> bool:
    """Whether an optional view of `ctx`'s layer fits Excel: its `blocks` (placed, not yet
    needed by anything else) and the conditional-format `rules` it would add to other blocks.
    If it does not, its `sheet` is taken out of the plan and the guide says why."""
    longest = longest_of(blocks, rules)
    if longest <= EXCEL_MAX_FORMULA:
        return True
    if sheet is not None:
        ctx.plan.sheets.remove(sheet)
    ctx.plan.notes.append(left_out_note(ctx.layer.label, view, longest))
    return False


def left_out_note(layer: str, view: str, longest: int) -> str:
    return (f"{layer}: the {view} is left out: one of its formulas would be {longest:,} "
            f"characters, and Excel allows at most {EXCEL_MAX_FORMULA:,} (a view whose formulas "
            "would be longer is left out; the layer's own sheets are complete).")
