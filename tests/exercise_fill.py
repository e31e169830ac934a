"""Test helper: fill a handout's answer cells the way a student's application would save them
(typed numbers, or formulas with or without stored values), by editing the sheet XML."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from convsheets.grade import Grade, _open
from convsheets.xlsxread import col_letter


def handout_of(path: Path):  # type: ignore[no-untyped-def]
    """The re-created handout of a file (answer blocks, their places, NumPy's values)."""
    return _open(path, Grade(str(path))).handout


Cell = Callable[[str, int, int, float], str]  # (block, i, j, right value) -> cell XML inside <c>


def typed(value: float) -> str:
    return f"<v>{value!r}</v>" if not float(value).is_integer() else f"<v>{int(value)}</v>"


def fill(src: Path, dst: Path, cell: Callable[[str, int, int, float], str | None],
         edits: dict[tuple[str, str], float] | None = None) -> None:
    """Copy `src` to `dst` with each answer cell's content from `cell(block, i, j, right)`
    (None leaves it blank); `edits` sets other cells (sheet, A1) to numbers."""
    handout = handout_of(src)
    order = [sheet.name for sheet in handout.plan.sheets]
    changes: dict[str, dict[str, str]] = {}
    for block in handout.answers:
        right = handout.solutions[block.name]
        for i in range(block.shape[0]):
            for j in range(block.shape[1]):
                inner = cell(block.name, i, j, float(right[i, j]))
                if inner is not None:
                    ref = f"{col_letter(block.left + j)}{block.top + i}"
                    changes.setdefault(block.sheet, {})[ref] = inner
    for (sheet, ref), value in (edits or {}).items():
        changes.setdefault(sheet, {})[ref] = typed(value)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            m = re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", info.filename)
            if m and order[int(m.group(1)) - 1] in changes:
                data = _apply(data.decode(), changes[order[int(m.group(1)) - 1]]).encode()
            zout.writestr(info, data)


def _apply(xml: str, cells: dict[str, str]) -> str:
    def repl(m: re.Match[str]) -> str:
        ref, style = m.group(1), m.group(2) or ""
        if ref not in cells:
            return m.group(0)
        inner = cells.pop(ref)
        kind = ""
        return f'<c r="{ref}"{style}{kind}>{inner}</c>'

    out = re.sub(r'<c r="([A-Z]+\d+)"( s="\d+")?(?: t="\w+")?(?:/>|></c>|>.*?</c>)', repl, xml)
    assert not cells, f"cells not found: {list(cells)[:3]}"
    return out


def all_right(block: str, i: int, j: int, right: float) -> str:
    return typed(right)


def wrong_first(n: int) -> Callable[[str, int, int, float], str]:
    """The first n answer cells (in block order) typed wrong, the rest right."""
    seen = [0]

    def cell(block: str, i: int, j: int, right: float) -> str:
        seen[0] += 1
        return typed(right + 1) if seen[0] <= n else typed(right)

    return cell


def as_array(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=float)


def assert_grades_right_and_wrong(handout: Path, folder: Path) -> None:
    """A handout filled in right scores full marks; with its first two answer cells wrong it
    loses exactly those two (`convsheets.grade`, the teacher's command)."""
    from convsheets.api import grade

    right, wrong = folder / "right.xlsx", folder / "wrong.xlsx"
    fill(handout, right, all_right)
    fill(handout, wrong, wrong_first(2))
    graded = grade(right, wrong)
    assert graded[0].correct == graded[0].total > 0, graded[0]
    assert graded[1].correct == graded[1].total - 2, graded[1]
