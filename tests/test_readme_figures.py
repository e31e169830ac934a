"""Figures in the README that a command prints: regenerated here, so they cannot go stale
(issue 23: the transposed example printed 2,626 cells, the README said 550; the networks table
left out digit_edges)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from convsheets.cli import main
from convsheets.networks import shipped_networks

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_the_transposed_example_prints_what_the_readme_shows(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    block = re.search(r"```\n\$ (convsheets build --variant transposed[^\n]*)\n(.*?)```",
                      README, re.S)
    assert block is not None, "the README's transposed example is gone"
    command, shown = block.group(1), block.group(2)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as done:
        main(shlex.split(command)[1:])
    assert done.value.code == 0
    assert capsys.readouterr().out == shown


def test_the_networks_table_lists_every_shipped_network() -> None:
    table = README.split("| network | layers |", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^\| \[(\w+)\]\(output/\1\.xlsx\) \|", table, re.M)
    assert sorted(rows) == sorted(shipped_networks())
