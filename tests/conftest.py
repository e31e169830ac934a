"""Session fixtures shared by several test files, so the suite builds and recalculates each
preset once.

- `built_all`: `convsheets build --all` run once (the command line, in process): every
  variant's preset and every shipped network. test_build_cli checks that these files are
  byte for byte the committed `output/` ones, so a test that verifies them verifies
  `output/` too. Treat the files as read-only: copy one before editing it.
- `verified_all`: those files verified once in every engine (`verify_files(engine="all")`,
  with its random-input probes), keeping each engine's recalculated copies, so tests that want
  LibreOffice's, Gnumeric's or IronCalc's values of a preset read them from that one run.

The long sweeps are marked `slow` (pyproject.toml: the default run leaves them out; CI runs
`python -m pytest -m slow` after the default suite).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from engine_copies import verify_keeping_copies

from convsheets.cli import cli
from convsheets.verify import FileReport


@dataclass(frozen=True)
class BuiltAll:
    folder: Path
    exit_code: int
    output: str  # what the command printed
    paths: dict[str, Path]  # file stem (variant or network name) -> workbook


@dataclass(frozen=True)
class VerifiedAll:
    reports: dict[str, FileReport]  # stem -> report (one run per engine)
    copies: dict[str, dict[str, Path]]  # engine -> stem -> that engine's recalculated copy


@pytest.fixture(scope="session")
def built_all(tmp_path_factory: pytest.TempPathFactory) -> BuiltAll:
    folder = tmp_path_factory.mktemp("build-all")
    result = CliRunner().invoke(cli, ["build", "--all", "-o", str(folder)],
                                catch_exceptions=False)
    paths = {p.stem: p for p in sorted(folder.glob("*.xlsx"))}
    return BuiltAll(folder, result.exit_code, result.output, paths)


@pytest.fixture(scope="session")
def verified_all(built_all: BuiltAll, tmp_path_factory: pytest.TempPathFactory) -> VerifiedAll:
    assert built_all.exit_code == 0, built_all.output
    stems = list(built_all.paths)
    paths = [built_all.paths[s] for s in stems]
    reports, copies = verify_keeping_copies(paths, tmp_path_factory.mktemp("verified-all"))
    by_path = {Path(r.path): r for r in reports}
    return VerifiedAll(
        reports={s: by_path[p] for s, p in zip(stems, paths, strict=True)},
        copies={engine: {s: kept[p] for s, p in zip(stems, paths, strict=True) if p in kept}
                for engine, kept in copies.items()})
