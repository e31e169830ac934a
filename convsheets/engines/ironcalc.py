"""IronCalc (PyPI `ironcalc`, a spreadsheet engine written in Rust) as a recalculation engine:
a real, independent engine that installs with pip (`pip install 'convsheets[ironcalc]'`).

IronCalc runs in a child process (`_ironcalc_child`), never in ours: it panics on some valid
files (every Gnumeric-written xlsx: a `PanicException`, which derives from BaseException) and
prints "Unexpected feature ..." notes to the terminal. A child can be killed on timeout, its
noise is captured, and a panic becomes one `EngineError` naming the file. The child handles a
whole batch (one interpreter start) and reports each finished file, so a file that kills it
is named and the files after it are retried in a fresh child.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from convsheets.engines.base import (
    Deadline,
    EngineError,
    check_inputs,
    output_paths,
    prepare_outdir,
    run_command,
    tail,
)

DONE = "convsheets-ironcalc-done"  # the child's line after each finished file


class IronCalcEngine:
    """Recalculate with IronCalc: load the xlsx, evaluate every formula, save a copy."""

    name = "ironcalc"
    install_hint = "install IronCalc with `pip install 'convsheets[ironcalc]'`"

    def available(self) -> bool:
        return importlib.util.find_spec("ironcalc") is not None

    def recalculate(self, paths: Sequence[Path], outdir: Path, timeout: float) -> list[Path]:
        deadline = Deadline(timeout)
        if not self.available():
            raise EngineError(f"IronCalc not found: {self.install_hint} or use --engine cached")
        inputs = check_inputs(paths)
        outdir = prepare_outdir(outdir)
        targets = output_paths(inputs, outdir, self.name)
        with tempfile.TemporaryDirectory(prefix="convsheets-ironcalc-",
                                         ignore_cleanup_errors=True) as tmp_name:
            tmp = Path(tmp_name)
            produced = [tmp / f"{i}.xlsx" for i in range(len(inputs))]
            start = 0
            while start < len(inputs):
                pairs = [str(p) for i in range(start, len(inputs))
                         for p in (inputs[i], produced[i])]
                result = run_command(
                    [sys.executable, "-m", "convsheets.engines._ironcalc_child", *pairs],
                    timeout=deadline.remaining(), budget=deadline.seconds,
                    what=f"IronCalc on {len(inputs) - start} workbook(s)", cwd=tmp)
                done = result.stdout.count(DONE)
                if result.returncode == 0 and start + done == len(inputs):
                    break
                failed = inputs[min(start + done, len(inputs) - 1)]
                raise EngineError(
                    f"IronCalc could not recalculate {failed} ({_reason(result.stderr)}): "
                    "it reads xlsx files written by convsheets, Excel and LibreOffice, not "
                    "every application's (e.g. not Gnumeric's); use --engine libreoffice")
            for out, target in zip(produced, targets, strict=True):
                if not out.is_file() or out.stat().st_size == 0:
                    raise EngineError(f"IronCalc wrote no copy of {target.name}")
                shutil.move(out, target)
        return targets


def _reason(stderr: str) -> str:
    """The child's own one-line reason, else the end of its output."""
    for line in reversed(stderr.splitlines()):
        if line.startswith("convsheets-ironcalc-error: "):
            return line.removeprefix("convsheets-ironcalc-error: ").strip()
    return tail(stderr)
