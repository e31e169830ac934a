"""LibreOffice Calc, run headless, as a recalculation engine.

Two things make a plain `soffice --convert-to xlsx` useless for verification:

* By default Calc does not recalculate an xlsx that carries cached values on load
  ("Recalculation on file load: never/prompt"), so a stale file converts to a stale copy.
  We therefore run with a private, throw-away user profile whose registry sets
  OOXMLRecalcMode (and ODFRecalcMode) to 0 = always recalculate.
* A private profile also means we never touch (or wait for a lock on) the user's own
  LibreOffice profile, and two verify runs can proceed in parallel.

All files are converted in one soffice call because start-up dominates for small files
(about 2 s). Inputs are first copied to 0.xlsx, 1.xlsx, ... so that equal file names from
different folders cannot collide in the single output folder soffice writes to.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from convsheets.engines.base import (
    Deadline,
    EngineError,
    check_inputs,
    log,
    output_paths,
    prepare_outdir,
    run_command,
    tail,
)

# Calc's filter names: reading and writing "Office Open XML Spreadsheet" the Excel 2007+ way.
_FILTER = "Calc MS Excel 2007 XML"

_REGISTRY = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
           xmlns:xs="http://www.w3.org/2001/XMLSchema"
           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" \
oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" \
oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""

# Harmless noise soffice prints on stderr on machines without Java.
_BENIGN_STDERR = ("failed to launch javaldx",)


class LibreOfficeEngine:
    """Recalculate with headless LibreOffice Calc (`soffice`)."""

    name = "libreoffice"
    install_hint = "install LibreOffice Calc, e.g. `apt-get install libreoffice-calc`"

    def executable(self) -> str | None:
        """soffice or libreoffice on PATH (distributions ship one or both names)."""
        return shutil.which("soffice") or shutil.which("libreoffice")

    def available(self) -> bool:
        return self.executable() is not None

    def recalculate(self, paths: Sequence[Path], outdir: Path, timeout: float) -> list[Path]:
        deadline = Deadline(timeout)
        exe = self.executable()
        if exe is None:
            raise EngineError(f"LibreOffice not found: {self.install_hint} or use --engine cached")
        inputs = check_inputs(paths)
        outdir = prepare_outdir(outdir)
        targets = output_paths(inputs, outdir, self.name)
        if not inputs:
            return []
        with tempfile.TemporaryDirectory(
            prefix="convsheets-lo-", ignore_cleanup_errors=True
        ) as tmp_name:
            tmp = Path(tmp_name)
            converted = tmp / "out"
            result = convert(exe, inputs, tmp, converted, f"xlsx:{_FILTER}", deadline)
            produced = [converted / f"{i}.xlsx" for i in range(len(inputs))]
            for src, out in zip(inputs, produced, strict=True):
                if not out.is_file() or out.stat().st_size == 0:
                    raise EngineError(
                        f"LibreOffice could not recalculate {src} "
                        f"(exit {result.returncode}: {tail(result.stderr + result.stdout)}): "
                        f"check that it is a valid .xlsx that opens in LibreOffice Calc"
                    )
            for out, target in zip(produced, targets, strict=True):
                shutil.move(out, target)
        return targets


def convert(exe: str, inputs: Sequence[Path], tmp: Path, converted: Path, target: str,
            deadline: Deadline, what: str = "LibreOffice") -> subprocess.CompletedProcess:
    """Run one headless `soffice --convert-to TARGET` over copies of `inputs` (named 0.xlsx,
    1.xlsx, ... in `tmp`), with a private throw-away profile in `tmp` that recalculates on
    load; the results land in `converted` as 0.EXT, 1.EXT, ... Used by verify (xlsx) and by
    render (pdf)."""
    profile = tmp / "profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(_REGISTRY, "utf-8")
    indir = tmp / "in"
    indir.mkdir()
    converted.mkdir(parents=True, exist_ok=True)
    copies = []
    for i, src in enumerate(inputs):
        copy = indir / f"{i}.xlsx"
        shutil.copyfile(src, copy)
        copies.append(copy)
    argv = [
        exe,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--invisible",
        "--norestore",
        "--nologo",
        "--nodefault",
        "--nolockcheck",
        f"--infilter={_FILTER}",
        "--convert-to",
        target,
        "--outdir",
        str(converted),
        *map(str, copies),
    ]
    result = run_command(
        argv,
        timeout=deadline.remaining(),
        budget=deadline.seconds,
        what=what,
        cwd=tmp,
    )
    noise = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and not any(b in line for b in _BENIGN_STDERR)
    ]
    if noise:
        log.info("LibreOffice stderr: %s", " | ".join(noise))
    return result
