"""The engine extension point: something that recalculates .xlsx files for real.

`convsheets verify` must not trust the cached values inside a workbook (openpyxl writes
none, and a stale file would "verify" itself), so an engine opens each workbook in a real
spreadsheet application, forces a full recalculation and saves a copy. Everything an
engine needs beyond its own command line lives here, so a new engine is one small module
plus one line in the registry (`convsheets.engines.ENGINES`).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from ..errors import EngineError

log = logging.getLogger("convsheets.engines")


class Engine(Protocol):
    """A spreadsheet application that can recalculate workbooks headlessly."""

    name: str  # registry key and CLI value, e.g. "libreoffice"
    install_hint: str  # one line: how to get the application

    def available(self) -> bool:
        """True when the application can be found (checked before any work is done)."""
        ...

    def recalculate(self, paths: Sequence[Path], outdir: Path, timeout: float) -> list[Path]:
        """Recalculate every formula of each input and save an .xlsx copy into outdir.

        Returns the copies' paths in input order. Inputs are never modified. `timeout` is
        the wall-clock budget in seconds for the whole call. Raises EngineError.
        """
        ...


def check_inputs(paths: Sequence[Path]) -> list[Path]:
    """Absolute input paths, after checking they are readable files.

    Checked up front because both applications report a missing input vaguely (or, for
    LibreOffice, not at all), long after a slow start-up.
    """
    checked = []
    for raw in paths:
        path = Path(raw).resolve()
        if not path.is_file():
            raise EngineError(f"input workbook not found: {raw}: check the path")
        if not os.access(path, os.R_OK):
            raise EngineError(f"input workbook not readable: {raw}: check its permissions")
        checked.append(path)
    return checked


def output_paths(inputs: Sequence[Path], outdir: Path, engine: str) -> list[Path]:
    """Unique output names `<stem>.<engine>.xlsx` in outdir, one per input.

    Inputs with the same file name from different folders get `-2`, `-3`, ... suffixes,
    and no output may coincide with an input, so a recalculation can never overwrite the
    workbook it was asked to check.
    """
    outdir = Path(outdir).resolve()
    taken = {p.resolve() for p in inputs}
    result = []
    for path in inputs:
        stem = path.stem
        candidate = outdir / f"{stem}.{engine}.xlsx"
        k = 2
        while candidate in taken:
            candidate = outdir / f"{stem}-{k}.{engine}.xlsx"
            k += 1
        taken.add(candidate)
        result.append(candidate)
    return result


def prepare_outdir(outdir: Path) -> Path:
    """Create outdir if needed; a clear error beats a failed save deep inside the app."""
    outdir = Path(outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EngineError(
            f"cannot create output folder {outdir} ({exc.strerror}): "
            "set TMPDIR to a writable folder with free space"
        ) from None
    if not os.access(outdir, os.W_OK):
        raise EngineError(f"output folder {outdir} is not writable: "
                          "set TMPDIR to a writable folder")
    return outdir


class Deadline:
    """Wall-clock budget shared by the steps of one recalculate() call."""

    def __init__(self, seconds: float) -> None:
        if seconds <= 0:
            raise EngineError(f"timeout must be positive (got {seconds}): pass --timeout > 0")
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.end - time.monotonic()


def run_command(
    argv: Sequence[str],
    *,
    timeout: float,
    what: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    budget: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run an application in its own process group and kill the whole group on timeout.

    A process group because `soffice` is a wrapper that starts `soffice.bin`; killing only
    the wrapper would leave the real worker running (and holding its profile) after a
    timeout. `budget` is the user's whole --timeout, quoted in the message.
    """
    if timeout <= 0:
        raise EngineError(f"{what} ran out of time before it started: raise --timeout")
    log.debug("running %s", " ".join(argv))
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:
        raise EngineError(
            f"cannot start {what} ({exc.strerror or exc}): check the installation"
        ) from None
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise EngineError(
            f"{what} did not finish within the {budget or timeout:g} s timeout: raise "
            f"--timeout or verify fewer or smaller workbooks"
        ) from None
    except BaseException:
        _kill_group(proc)
        raise
    return subprocess.CompletedProcess(list(argv), proc.returncode, stdout, stderr)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Kill the process group we created for proc (and only that), then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
        pass


def tail(text: str, lines: int = 3) -> str:
    """Last few non-empty lines of tool output, joined into one line for an error message."""
    kept = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "no output"
