"""`verify_files` that also keeps each engine's recalculated copies of the files it verified.

`convsheets.verify` recalculates every workbook in every engine it runs (one start per engine,
with the random-input probes in the same batch). A test that needs both the verdict and the
engine's values reads them from those same copies instead of starting every application a
second time for a plain recalculation: the copies are what `Engine.recalculate` wrote for the
files themselves (the probes' copies are left out).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from convsheets.engines import ENGINES
from convsheets.verify import FileReport, verify_files


def verify_keeping_copies(paths: Sequence[Path], kept: Path, engine: str = "all",
                          ) -> tuple[list[FileReport], dict[str, dict[Path, Path]]]:
    """verify_files(paths, engine) and, per engine that ran, {path: its recalculated copy}
    (copied into `kept`/engine/ under numbered names: two inputs may share a file name)."""
    ours = {Path(p).resolve(): n for n, p in enumerate(paths)}
    copies: dict[str, dict[Path, Path]] = {}
    originals = {name: eng.recalculate for name, eng in ENGINES.items()}

    def keeping(name: str):  # type: ignore[no-untyped-def]
        def recalculate(inputs, outdir, timeout):  # type: ignore[no-untyped-def]
            outs = originals[name](inputs, outdir, timeout)
            for src, out in zip(inputs, outs, strict=True):
                n = ours.get(Path(src).resolve())
                if n is not None:
                    target = kept / name / f"{n:03d}-{Path(src).name}"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(out, target)
                    copies.setdefault(name, {})[Path(paths[n])] = target
            return outs
        return recalculate

    with pytest.MonkeyPatch.context() as patch:
        for name, eng in ENGINES.items():
            patch.setattr(eng, "recalculate", keeping(name))
        reports = verify_files(list(paths), engine=engine)
    return reports, copies
