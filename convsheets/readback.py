"""Blocks of a workbook back as NumPy arrays: `convsheets.read(path, "conv1_output")`.

A workbook names every block (``input_c0``, ``conv1_weight_0_0``, ``conv1_output_c2``,
``fc1_output``, ``probabilities``); `read_blocks` returns them as float64 arrays, read by
convsheets' own xlsx reader (`xlsxread`, no formula is evaluated here):

- ``engine=None``: the values the file holds: those convsheets stored when it built the file
  (computed by NumPy from the same numbers), or, once a spreadsheet application saved it,
  the values that application calculated (a student's edits included);
- ``engine="libreoffice"`` / ``"gnumeric"`` / ``"ironcalc"``: the values that engine
  calculates: a copy of the file is recalculated in a temporary folder (the file itself is
  never touched) and read.

A name that is a block gives its 2-D array (rows x columns, as on the sheet; a vector such
as ``fc1_output`` is one row). A stage's per-channel blocks are read together under their
common prefix: ``conv1_output`` (defined as ``conv1_output_c0`` ... ``_c{C-1}``) gives a
(C, H, W) array, as PyTorch's ``output[0]``. Cells that hold text or nothing read as NaN.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .engines import get_engine
from .errors import SpecError
from .xlsxread import SheetCells, XlsxFile, parse_ref

_CHANNEL = re.compile(r"^(?P<stem>.+)_c(?P<c>\d+)$")


def read_blocks(path: str | Path, names: Sequence[str], engine: str | None = None,
                timeout: float = 300.0) -> dict[str, np.ndarray]:
    """name -> array for each of `names` (see the module docstring). Raises a
    `ConvsheetsError` subclass: `SpecError` naming an unknown block, `WorkbookReadError`
    for a file that is not a workbook, `EngineError` when the engine is missing or fails."""
    source = Path(path)
    if engine is None:
        return _read(source, names)
    runner = get_engine(engine)
    with tempfile.TemporaryDirectory(prefix="convsheets-read-") as tmp:
        (copy,) = runner.recalculate([source], Path(tmp), timeout)
        return _read(copy, names, shown=source)


def _read(path: Path, names: Sequence[str], shown: Path | None = None) -> dict[str, np.ndarray]:
    with XlsxFile(path) as xf:
        defined = xf.defined_names()
        sheets: dict[str, SheetCells] = {}

        def block(name: str) -> np.ndarray:
            sheet, r0, c0, r1, c1 = parse_ref(defined[name])
            if sheet not in sheets:
                sheets[sheet] = xf.read_sheet(sheet)
            return np.array(sheets[sheet].region(r0, c0, r1, c1).values, dtype=np.float64)

        out = {}
        for name in names:
            if name in defined:
                out[name] = block(name)
                continue
            channels = _channels(name, defined)
            if not channels:
                raise SpecError("name", name, _unknown(name, defined), str(shown or path))
            out[name] = np.stack([block(c) for c in channels])
        return out


def _channels(stem: str, defined: dict[str, str]) -> list[str]:
    """``stem_c0``, ``stem_c1``, ... while they are defined (none if ``stem_c0`` is not)."""
    found = []
    while f"{stem}_c{len(found)}" in defined:
        found.append(f"{stem}_c{len(found)}")
    return found


def _unknown(name: str, defined: dict[str, str]) -> str:
    stems = sorted({(m.group("stem") if (m := _CHANNEL.match(n)) else n) for n in defined
                    if not n.startswith("_")})
    near = [s for s in stems if s.split("_")[0] == name.split("_")[0]][:6] or stems[:6]
    return ("is not a block of this workbook (its blocks' names are on the Guide and in "
            "Formulas > Name Manager; e.g. " + ", ".join(near) + ")")
