"""`convsheets build` / `list` through the CLI: bad input, files, reproducibility, content."""

from __future__ import annotations

import importlib
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from convsheets.cli import cli
from convsheets.variants import VARIANTS


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def run_main(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real entry point in a subprocess: exit status and stderr exactly as a user sees."""
    return subprocess.run([sys.executable, "-m", "convsheets", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


# (arguments, words the one-line error must contain)
BAD = [
    (["--variant", "basic", "--stride", "0"], ["--stride", "0", "at least 1"]),
    (["--variant", "basic", "--stride", "-1"], ["--stride", "at least 1"]),
    (["--variant", "basic", "--kernel-size", "0"], ["--kernel-size", "at least 1"]),
    (["--variant", "basic", "--dilation", "0x1"], ["--dilation", "at least 1"]),
    (["--variant", "basic", "--in-channels", "0"], ["--in-channels", "at least 1"]),
    (["--variant", "basic", "--out-channels", "-2"], ["--out-channels", "at least 1"]),
    (["--variant", "basic", "--input-size", "0x4"], ["--input-size", "at least 1"]),
    (["--variant", "basic", "--padding", "-1"], ["--padding", "negative"]),
    (["--variant", "basic", "--stride", "2y"], ["--stride", "2y", "NxM"]),
    (["--variant", "basic", "--input-size", "3x4x5"], ["--input-size", "NxM"]),
    (["--variant", "basic", "--in-channels", "abc"], ["--in-channels", "abc"]),
    (["--variant", "basic", "--kernel-size", "9"], ["--kernel-size", "9", "padded input"]),
    (["--variant", "dilated", "--dilation", "4", "--input-size", "8"],
     ["--kernel-size", "spans 9"]),
    (["--variant", "grouped", "--groups", "3"], ["--groups", "3", "divide in_channels=4"]),
    (["--variant", "grouped", "--groups", "2", "--in-channels", "4", "--out-channels", "3"],
     ["--groups", "divide out_channels=3"]),
    (["--variant", "transposed", "--output-padding", "2"],
     ["--output-padding", "smaller than either stride or dilation"]),
    (["--variant", "transposed", "--padding", "5"], ["--padding", "at least 1x1"]),
    (["--variant", "pointwise", "--kernel-size", "3"], ["--kernel-size", "pointwise", "1x1"]),
    (["--variant", "pointwise", "--padding", "1"], ["--padding", "pointwise"]),
    (["--variant", "basic", "--groups", "2"], ["--groups", "basic", "--variant grouped"]),
    (["--variant", "basic", "--output-padding", "1"], ["--output-padding", "transposed"]),
    (["--variant", "basic", "--depth-multiplier", "2"], ["--depth-multiplier", "depthwise"]),
    (["--variant", "depthwise", "--out-channels", "5"], ["--out-channels", "depth_multiplier"]),
    (["--variant", "depthwise", "--depth-multiplier", "0"], ["--depth-multiplier", "at least 1"]),
    (["--variant", "nope"], ["--variant", "nope"]),
    (["--in-channels", "3"], ["--variant"]),
    (["--all", "--stride", "2"], ["--all"]),
    (["--variant", "basic", "--values", "huge"], ["--values", "huge"]),
    (["--variant", "basic", "--input-size", "2000", "--out-channels", "64"],
     ["cells", "3,000,000"]),
    (["--variant", "basic", "--in-channels", "100000", "--out-channels", "100000"],
     ["at least 90,003,500,000 cells", "3,000,000"]),
    (["--variant", "basic", "--input-size", "1x20000", "--kernel-size", "1"],
     ["columns", "16,384"]),
    (["--variant", "pointwise", "--in-channels", "400", "--input-size", "2"],
     ["formula", "8,192"]),
]


@pytest.mark.parametrize(("args", "words"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_invocation_is_one_line_exit_2_and_writes_nothing(tmp_path, args, words):
    result = run_main(tmp_path, "build", *args, "-o", "out.xlsx") if "--all" not in args \
        else run_main(tmp_path, "build", *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert list(tmp_path.iterdir()) == [], "a refused build must not create any file"


def test_template_unknown_key_names_key_and_file(tmp_path):
    template = tmp_path / "layer.toml"
    template.write_text('variant = "basic"\nstrides = 2\n')
    result = run_main(tmp_path, "build", "--template", "layer.toml", "-o", "x.xlsx")
    assert result.returncode == 2
    assert "strides" in result.stderr and "layer.toml" in result.stderr
    assert not (tmp_path / "x.xlsx").exists()


def test_template_malformed_toml(tmp_path):
    (tmp_path / "bad.toml").write_text("variant = \n")
    result = run_main(tmp_path, "build", "--template", "bad.toml", "-o", "x.xlsx")
    assert result.returncode == 2 and "bad.toml" in result.stderr and "TOML" in result.stderr


def test_template_sets_layer_and_options_override_it(tmp_path):
    (tmp_path / "t.toml").write_text('variant = "transposed"\ninput_size = "2x3"\n'
                                     'stride = 3\nkernel_size = 2\nout_channels = 1\npadding = 0\n'
                                     'output_padding = 0\n')
    result = run("build", "--template", str(tmp_path / "t.toml"), "--in-channels", "1",
                 "-o", str(tmp_path / "t.xlsx"))
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(tmp_path / "t.xlsx")
    names = set(wb.defined_names)
    # (2-1)*3 + 2 = 5 rows, (3-1)*3 + 2 = 8 columns, from conv_transpose2d's size rule
    assert {"input_c0", "weight_0_0", "bias", "output_c0"} <= names
    assert _shape(wb, "output_c0") == (5, 8)
    assert "input_c1" not in names


def _shape(wb, name):
    ref = wb.defined_names[name].attr_text.split("!")[1].replace("$", "")
    a, b = ref.split(":")
    ra, ca = openpyxl.utils.cell.coordinate_from_string(a)[::-1]
    rb, cb = openpyxl.utils.cell.coordinate_from_string(b)[::-1]
    ca, cb = (openpyxl.utils.column_index_from_string(c) for c in (ca, cb))
    return (rb - ra + 1, cb - ca + 1)


def test_refuses_to_overwrite_foreign_file_unless_forced(tmp_path):
    target = tmp_path / "notes.xlsx"
    target.write_bytes(b"my own notes")
    result = run_main(tmp_path, "build", "--variant", "basic", "-o", "notes.xlsx")
    assert result.returncode == 2 and "--force" in result.stderr
    assert target.read_bytes() == b"my own notes"
    result = run_main(tmp_path, "build", "--variant", "basic", "-o", "notes.xlsx", "--force")
    assert result.returncode == 0
    assert zipfile.is_zipfile(target)


def test_replaces_its_own_workbook_and_leaves_no_litter(tmp_path):
    assert run("build", "--variant", "basic", "-o", str(tmp_path / "a.xlsx")).exit_code == 0
    assert run("build", "--variant", "basic", "--seed", "3",
               "-o", str(tmp_path / "a.xlsx")).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.xlsx"]


def test_a_workbook_saved_by_someone_else_is_not_replaced_silently(tmp_path):
    target = tmp_path / "basic.xlsx"
    assert run("build", "--variant", "basic", "-o", str(target)).exit_code == 0
    wb = openpyxl.load_workbook(target)  # a student edits and saves it
    wb["Input"]["C5"] = 99
    wb.save(target)
    before = target.read_bytes()
    result = run_main(tmp_path, "build", "--variant", "basic", "-o", str(target))
    assert result.returncode == 2 and "--force" in result.stderr
    assert target.read_bytes() == before


def test_build_all_refuses_before_writing_any_workbook(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "transposed.xlsx").write_text("someone's file")
    result = run_main(tmp_path, "build", "--all", "-o", "out")
    assert result.returncode == 2 and "transposed.xlsx" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["transposed.xlsx"]


def test_template_bad_value_names_file_and_key(tmp_path):
    (tmp_path / "t.toml").write_text('variant = "basic"\nbias = "yes"\n')
    result = run_main(tmp_path, "build", "--template", "t.toml", "-o", "x.xlsx")
    assert result.returncode == 2
    assert "t.toml" in result.stderr and "'bias'" in result.stderr
    assert not (tmp_path / "x.xlsx").exists()


def test_unwritable_target_is_a_clear_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions: use a read-only path
            target = Path("/proc/convsheets.xlsx")
        else:
            target = locked / "x.xlsx"
        result = run_main(tmp_path, "build", "--variant", "basic", "-o", str(target))
    finally:
        locked.chmod(0o700)
    assert result.returncode == 2
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr


def test_same_arguments_same_bytes(tmp_path, built_all):
    # the first build is the session's (conftest's built_all), made earlier in this process
    assert built_all.exit_code == 0, built_all.output
    time.sleep(1.1)  # zip timestamps have 2 s resolution: cross a tick on most runs
    assert run("build", "--all", "-o", str(tmp_path / "b")).exit_code == 0
    for variant in VARIANTS:
        assert (built_all.folder / f"{variant}.xlsx").read_bytes() == \
            (tmp_path / "b" / f"{variant}.xlsx").read_bytes(), variant


def test_zip_entries_carry_one_fixed_timestamp(tmp_path):
    assert run("build", "--variant", "grouped", "-o", str(tmp_path / "g.xlsx")).exit_code == 0
    with zipfile.ZipFile(tmp_path / "g.xlsx") as zf:
        stamps = {info.date_time for info in zf.infolist()}
    assert len(stamps) == 1
    assert next(iter(stamps))[0] < time.gmtime().tm_year  # not the time of the build


def test_different_seed_different_values(tmp_path):
    run("build", "--variant", "basic", "--seed", "1", "-o", str(tmp_path / "a.xlsx"))
    run("build", "--variant", "basic", "--seed", "2", "-o", str(tmp_path / "b.xlsx"))
    assert (tmp_path / "a.xlsx").read_bytes() != (tmp_path / "b.xlsx").read_bytes()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_build_leaves_nothing(tmp_path, sig):
    # A build big enough to take a few seconds; interrupt it once its temp file exists.
    # The child must meet `sig` the way a user's process does. A signal ignored in the parent
    # stays ignored across exec (SIGINT is, for jobs started with `&` by a non-interactive
    # shell), and Python then keeps it ignored instead of raising KeyboardInterrupt. So give
    # the child the default disposition just before exec, whatever this process inherited.
    def default_disposition() -> None:
        signal.signal(sig, signal.SIG_DFL)

    proc = subprocess.Popen(
        [sys.executable, "-m", "convsheets", "build", "--variant", "basic", "--input-size",
         "160", "--in-channels", "3", "--out-channels", "32", "--kernel-size", "5",
         "-o", "big.xlsx"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=default_disposition)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".big.xlsx.*")) and time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail("build finished before it could be interrupted")
        time.sleep(0.02)
    time.sleep(0.3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert b"Traceback" not in err
    assert list(tmp_path.iterdir()) == []


NETWORKS = ("digit_classifier", "digit_edges", "edges", "encoder_decoder", "lenet",
            "resnet_block", "tiny_unet", "wavenet", "depthwise_causal")  # the shipped networks


def test_list_shows_every_variant_with_its_preset_and_the_networks():
    result = run("list")
    assert result.exit_code == 0
    for variant in VARIANTS:
        assert re.search(rf"^{variant}\s+\S", result.output, re.M), variant
    assert result.output.count("preset:") == len(VARIANTS)
    networks = result.output.split("networks")[1]
    for name in NETWORKS:
        assert re.search(rf"^{name}\s+\S", networks, re.M), name


def test_build_all_writes_every_variant_and_network(built_all):
    # (`convsheets build --all -o DIR`, run once per session by conftest's fixture)
    assert built_all.exit_code == 0, built_all.output
    assert sorted(p.stem for p in built_all.folder.glob("*.xlsx")) == sorted(
        (*VARIANTS, *NETWORKS))
    assert built_all.output.count("wrote ") == len((*VARIANTS, *NETWORKS))


def test_committed_output_is_identical_to_a_fresh_build(built_all):
    """(So the tests that verify the session's fresh build, conftest's `verified_all`, prove
    the committed output/ workbooks too.)"""
    committed = Path(__file__).resolve().parent.parent / "output"
    assert built_all.exit_code == 0, built_all.output
    assert sorted(p.stem for p in committed.glob("*.xlsx")) == sorted((*VARIANTS, *NETWORKS))
    for variant in (*VARIANTS, *NETWORKS):
        fresh = (built_all.folder / f"{variant}.xlsx").read_bytes()
        assert (committed / f"{variant}.xlsx").read_bytes() == fresh, (
            f"output/{variant}.xlsx is stale: run `convsheets build --all` and commit it")


def test_full_disk_is_a_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    import errno

    build_module = importlib.import_module("convsheets.build")  # (convsheets.build: the API)

    def no_space(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(build_module, "render", no_space)
    result = CliRunner().invoke(cli, ["build", "--variant", "basic", "-o",
                                      str(tmp_path / "x.xlsx")])
    assert result.exit_code != 0
    assert "no space left on the device" in str(result.exception)
    assert list(tmp_path.iterdir()) == []
