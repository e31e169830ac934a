"""Gnumeric's `ssconvert` as a recalculation engine.

ssconvert starts in ~0.1 s, so files are converted one by one. `--recalc` is essential:
without it the cached values are copied through unchanged. The importer is named
explicitly (`-I`) because otherwise ssconvert guesses from the content and happily
"converts" a corrupt file as plain text with exit status 0.
"""

from __future__ import annotations

import os
import shutil
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

_IMPORTER = "Gnumeric_Excel:xlsx"
_EXPORTER = "Gnumeric_Excel:xlsx2"  # ISO/IEC 29500:2008 flavour (Excel 2010+)


class GnumericEngine:
    """Recalculate with Gnumeric's command-line converter (`ssconvert --recalc`)."""

    name = "gnumeric"
    install_hint = "install Gnumeric, e.g. `apt-get install gnumeric`"

    def executable(self) -> str | None:
        return shutil.which("ssconvert")

    def available(self) -> bool:
        return self.executable() is not None

    def recalculate(self, paths: Sequence[Path], outdir: Path, timeout: float) -> list[Path]:
        deadline = Deadline(timeout)
        exe = self.executable()
        if exe is None:
            raise EngineError(
                f"Gnumeric (ssconvert) not found: {self.install_hint} or use --engine cached"
            )
        inputs = check_inputs(paths)
        outdir = prepare_outdir(outdir)
        targets = output_paths(inputs, outdir, self.name)
        # In-memory settings: reproducible defaults, and no dconf writes/warnings on
        # machines without a session bus.
        env = {**os.environ, "GSETTINGS_BACKEND": "memory"}
        with tempfile.TemporaryDirectory(
            prefix="convsheets-gnm-", ignore_cleanup_errors=True
        ) as tmp_name:
            tmp = Path(tmp_name)
            produced = []
            for i, src in enumerate(inputs):
                out = tmp / f"{i}.xlsx"
                argv = [exe, "-I", _IMPORTER, "-T", _EXPORTER, "--recalc", str(src), str(out)]
                result = run_command(
                    argv,
                    timeout=deadline.remaining(),
                    budget=deadline.seconds,
                    what=f"Gnumeric on {src.name}",
                    env=env,
                    cwd=tmp,
                )
                if result.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
                    raise EngineError(
                        f"Gnumeric could not recalculate {src} (exit {result.returncode}: "
                        f"{tail(result.stderr + result.stdout)}): check that it is a valid "
                        f".xlsx that opens in Gnumeric"
                    )
                if result.stderr.strip():
                    # e.g. "Unexpected element 'workbookProtection'" for openpyxl files, or
                    # "At A8: ... Unknown sheet" when a formula could not be parsed (the
                    # cell then holds an error value that verification reports).
                    log.info("Gnumeric stderr for %s: %s", src, tail(result.stderr, 20))
                produced.append(out)
            for out, target in zip(produced, targets, strict=True):
                shutil.move(out, target)
        return targets
