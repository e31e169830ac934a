"""`convsheets verify`: real engines, tampered workbooks, foreign files, the JSON report.

LibreOffice starts once per batch, so the tampered workbooks are prepared together and
verified in one call (module fixture); a few CLI calls check exit codes and messages. The
presets are the session's fresh build (conftest's `built_all`, byte for byte the committed
output/), verified once in every engine (conftest's `verified_all`), whose reports and
recalculated copies the tests here read instead of recalculating the presets again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from convsheets.build import make_plan, write_atomically
from convsheets.expected import expected_blocks
from convsheets.presets import preset
from convsheets.spec import LayerSpec
from convsheets.tensors import random_tensors
from convsheets.variants import VARIANTS
from convsheets.verify import FileReport, exit_status, verify_files


def built(directory: Path, variant: str, name: str | None = None, **given: object) -> Path:
    spec = LayerSpec.create(variant, given, preset(variant))
    path = directory / f"{name or variant}.xlsx"
    write_atomically(make_plan(spec.network()), path)
    return path


def cell_of(wb, name: str, i: int = 0, j: int = 0):
    sheet, ref = next(iter(wb.defined_names[name].destinations))
    ws = wb[sheet]
    first = ref.replace("$", "").split(":")[0]
    top = ws[first]
    return ws.cell(top.row + i, top.column + j)


def tamper(src: Path, dst: Path, edit) -> str:
    """Copy a workbook, change it with openpyxl (as a user's application would), return the
    address of the changed cell."""
    wb = openpyxl.load_workbook(src)
    cell = edit(wb)
    wb.save(dst)
    return f"{cell.parent.title}!{cell.coordinate}"


def basic_expected():
    """The basic preset's layer and the NumPy values of its blocks (for forging constants)."""
    spec = LayerSpec.create("basic", {}, preset("basic"))
    tensors = {k: v.astype(float) for k, v in random_tensors(spec.network()).items()}
    return spec, expected_blocks(spec.network(), tensors, {})


def one_engine(report: FileReport, engine: str) -> FileReport:
    """The report as if verify had run only `engine`."""
    return dataclasses.replace(report, runs=[r for r in report.runs if r.engine == engine])


@pytest.fixture(scope="module")
def batch(tmp_path_factory, built_all, verified_all):
    d = tmp_path_factory.mktemp("verify")
    # the presets: the session's build (read-only; every edit below goes to a copy)
    files: dict[str, Path] = {v: built_all.paths[v] for v in VARIANTS}
    cells: dict[str, str] = {}

    def plus_one(wb):
        c = cell_of(wb, "output_c1", 2, 1)
        c.value = c.value + "+1"
        return c

    def constant(wb):
        c = cell_of(wb, "output_c0", 1, 1)
        c.value = 42
        return c

    def constant_formulas(wb):
        # every output cell becomes a formula with the right value but no reference
        spec, want = basic_expected()
        for o in range(spec.out_channels):
            value = want[f"output_c{o}"].value
            for i in range(value.shape[0]):
                for j in range(value.shape[1]):
                    cell_of(wb, f"output_c{o}", i, j).value = f"={value[i, j]:g}"
        return cell_of(wb, "output_c0")

    def guide_constant(wb):
        c = cell_of(wb, "output_height")
        c.value = "=3"  # the basic preset's output height, typed in instead of computed
        return c

    def far_stray_cell(wb):
        # one output formula replaced by its correct value, plus a note far away that makes
        # the sheet's used range huge (it must not switch the probe off)
        _, want = basic_expected()
        c = cell_of(wb, "output_c0", 1, 1)
        c.value = f"={want['output_c0'].value[1, 1]:g}"
        wb["Guide"]["Z60000"] = "note"
        return c

    def padded_constant(wb):
        c = cell_of(wb, "padded_c0", 2, 2)
        c.value = 5
        return c

    def edit_input(wb):
        c = cell_of(wb, "input_c1", 0, 2)
        c.value = 7.25
        return c

    def edit_kernel(wb):
        c = cell_of(wb, "weight_1_0", 1, 1)
        c.value = -3.5
        return c

    def text_input(wb):
        c = cell_of(wb, "input_c0", 1, 1)
        c.value = "seven"
        return c

    def bad_name(wb):
        c = cell_of(wb, "output_c0")
        wb.defined_names["output_c0"].attr_text = "Nowhere!$B$4:$D$6"
        return c

    def error_value(wb):
        c = cell_of(wb, "output_c0", 0, 0)
        c.value = "=NOSUCHFUNCTION(1)"
        return c

    for name, source, edit in [
        ("plus_one", "basic", plus_one), ("constant", "transposed", constant),
        ("constant_formulas", "basic", constant_formulas),
        ("guide_constant", "basic", guide_constant), ("far_stray", "basic", far_stray_cell),
        ("padded_constant", "basic", padded_constant), ("edited_input", "grouped", edit_input),
        ("edited_kernel", "transposed", edit_kernel), ("text_input", "basic", text_input),
        ("bad_name", "basic", bad_name), ("error_value", "dilated", error_value),
    ]:
        files[name] = d / f"{name}.xlsx"
        cells[name] = tamper(files[source], files[name], edit)
    tampered = [name for name in files if name not in VARIANTS]
    # a copy of basic.xlsx under the same name in another folder, verified in the same batch
    # as the original (the engines' output names must not collide); grouped named twice
    elsewhere = d / "elsewhere" / "basic.xlsx"
    elsewhere.parent.mkdir()
    shutil.copy(files["basic"], elsewhere)
    hashes = {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in files.items()}
    extra = [files["basic"], elsewhere, files["grouped"], files["grouped"]]
    reports = verify_files([files[n] for n in tampered] + extra, engine="libreoffice")
    by_path = {Path(r.path): r for r in reports}
    by_name = {n: by_path[files[n]] for n in tampered}
    # the presets' LibreOffice verdicts: from the session's run in every engine
    by_name.update({v: one_engine(verified_all.reports[v], "libreoffice") for v in VARIANTS})
    return {"files": files, "cells": cells, "reports": by_name, "hashes": hashes, "dir": d,
            "tampered": tampered, "all_reports": reports, "elsewhere": elsewhere,
            "copy_reports": [by_path[files["basic"]], by_path[elsewhere]]}


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_preset_verifies_in_libreoffice(batch, variant):
    report = batch["reports"][variant]
    assert report.ok, [b for r in report.runs for b in r.blocks if not b.ok] or report.unusable
    [run] = report.runs
    assert run.engine == "libreoffice"
    names = {b.name for b in run.blocks}
    assert "output_c0" in names and "parameter_count" in names


def failing(report):
    return [b for run in report.runs for b in run.blocks if not b.ok]


def test_ironcalc_gives_libreoffices_verdict_on_every_file(batch, verified_all):
    """Presets, tampered, edited and unusable files: IronCalc's verify agrees with
    LibreOffice's, block by block (the failing cell named the same way). (The presets'
    IronCalc runs: the session's verify in every engine.)"""
    tampered = [batch["files"][n] for n in batch["tampered"]]
    theirs = {Path(r.path).stem: r for r in verify_files(tampered, engine="ironcalc")}
    theirs.update({v: one_engine(verified_all.reports[v], "ironcalc") for v in VARIANTS})
    for name, lo in batch["reports"].items():
        ic = theirs[name]
        assert bool(ic.unusable) == bool(lo.unusable), (name, ic.unusable, lo.unusable)
        if lo.unusable:
            continue
        assert [r.engine for r in ic.runs] == ["ironcalc"] and ic.runs[0].probed, name
        assert ic.ok == lo.ok, name
        assert [(b.name, b.worst_cell) for b in failing(ic)] == [
            (b.name, b.worst_cell) for b in failing(lo)], name


def test_output_formula_plus_one_fails_naming_the_cell(batch):
    bad = failing(batch["reports"]["plus_one"])
    assert [b.name for b in bad] == ["output_c1", "walk_output"]  # (the Walk shows that channel)
    assert bad[0].worst_cell == batch["cells"]["plus_one"]
    assert abs(bad[0].max_abs_error - 1) < 1e-9


def test_formula_replaced_by_constant_is_not_live(batch):
    bad = failing(batch["reports"]["constant"])
    assert bad[0].name == "output_c0"
    assert "not live" in bad[0].problem and batch["cells"]["constant"] in bad[0].problem
    # downstream, only the live copies of output_c0 fail the probe: the overview's and the
    # guide's comparison of the three ways (whose largest difference is no longer 0)
    assert {b.name for b in bad[1:]} == {"overview_output", "guide_insertion_c0",
                                         "guide_difference_c0", "three_ways_difference",
                                         "walk_output"}  # (the Walk's copy of an output)


def test_formulas_that_ignore_their_inputs_fail_the_probe(batch):
    bad = [b for b in failing(batch["reports"]["constant_formulas"])
           if not b.name.startswith(("explore_", "walk_"))]  # (they show those outputs too)
    assert sorted(b.name for b in bad) == ["output_c0", "output_c1", "overview_output"]
    assert "does not follow its inputs" in bad[0].problem


def test_constant_in_the_guides_arithmetic_fails_the_probe(batch):
    bad = failing(batch["reports"]["guide_constant"])
    assert [b.name for b in bad] == ["output_height"]
    assert "does not follow its inputs" in bad[0].problem


def test_stray_far_cell_does_not_disable_the_probe(batch):
    bad = failing(batch["reports"]["far_stray"])
    assert [b.name for b in bad] == ["output_c0", "overview_output", "walk_output"]
    assert "does not follow its inputs" in bad[0].problem


def test_padding_constant_is_caught(batch):
    bad = {b.name: b for b in failing(batch["reports"]["padded_constant"])}
    # the padding cell is structural (may be constant) but must be 0; outputs now differ too
    assert "padded_c0" in bad and batch["cells"]["padded_constant"] in bad["padded_c0"].problem


@pytest.mark.parametrize("name", ["edited_input", "edited_kernel"])
def test_edited_inputs_and_kernels_still_verify(batch, name):
    assert batch["reports"][name].ok, failing(batch["reports"][name])


def test_error_values_fail(batch):
    bad = failing(batch["reports"]["error_value"])
    assert bad and bad[0].name == "output_c0" and "error" in bad[0].problem


@pytest.mark.parametrize("name", ["text_input", "bad_name"])
def test_unusable_tensors_are_reported_not_raised(batch, name):
    report = batch["reports"][name]
    assert report.unusable and not report.ok
    assert exit_status([report]) == 2


def test_text_input_message_names_the_cell(batch):
    assert batch["cells"]["text_input"] in batch["reports"]["text_input"].unusable


def test_verify_never_modifies_the_files(batch):
    for key, path in batch["files"].items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == batch["hashes"][key], key


def test_libreoffice_saved_copy_verifies_with_cached_engine(verified_all):
    copy = verified_all.copies["libreoffice"]["separable"]  # LibreOffice's recalculated copy
    reports = verify_files([copy], engine="cached")
    assert reports[0].ok and reports[0].runs[0].engine == "cached"
    # auto picks the cached values for a file that has them
    assert verify_files([copy], engine="auto")[0].runs[0].engine == "cached"


def test_gnumeric_saved_copy_keeps_metadata_and_verifies_cached(verified_all):
    copy = verified_all.copies["gnumeric"]["transposed"]  # Gnumeric's recalculated copy
    reports = verify_files([copy], engine="cached")
    assert reports[0].ok, reports[0].unusable or failing(reports[0])


def never_calculated(directory: Path, variant: str) -> Path:
    """A workbook whose formulas carry no values (as openpyxl or an older convsheets writes)."""
    path = directory / f"{variant}-bare.xlsx"
    write_atomically(make_plan(LayerSpec.create(variant, {}, preset(variant)).network()), path,
                     store_values=False)
    return path


def test_cached_engine_refuses_a_never_calculated_file(tmp_path):
    reports = _cli_verify("--engine", "cached", str(never_calculated(tmp_path, "basic")))
    assert reports.returncode == 2 and "--engine libreoffice" in reports.stderr


def test_cached_engine_on_a_fresh_build_says_convsheets_stored_the_values(batch):
    result = _cli_verify("--engine", "cached", str(batch["files"]["basic"]))
    assert result.returncode == 0, result.stderr
    assert "stored by convsheets" in result.stdout and "not a proof" in result.stdout
    # auto proves a fresh build in a real application instead of trusting its own values
    assert verify_files([batch["files"]["basic"]])[0].runs[0].engine == "libreoffice"


def test_a_stored_value_that_disagrees_with_its_formula_fails(tmp_path):
    """Change one stored value in the XML (the formula untouched): what a viewer that does
    not recalculate would show is wrong, and a real engine's verify says so."""
    path = built(tmp_path, "basic")
    forged = tmp_path / "forged.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(forged, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            # the Output sheet (after Guide, Overview, Input, Padded, Kernels)
            if info.filename == "xl/worksheets/sheet6.xml":
                text = data.decode()
                start = text.index("<v>", text.index("<f>SUMPRODUCT")) + 3
                end = text.index("</v>", start)
                data = (text[:start] + str(float(text[start:end]) + 1) + text[end:]).encode()
            dst.writestr(info, data)
    report = verify_files([forged], engine="libreoffice")[0]
    assert not report.ok
    problems = [b.problem for run in report.runs for b in run.blocks if not b.ok]
    assert any("stored in the file" in p and "Output!B6" in p for p in problems), problems


def _cli_verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "convsheets", "verify", *args],
                          capture_output=True, text=True, timeout=600)


def test_cli_exit_codes_report_lines_and_json(batch, tmp_path):
    report_path = tmp_path / "report.json"
    ok = _cli_verify("--json", str(report_path), str(batch["files"]["transposed"]),
                     str(batch["files"]["pointwise"]))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "output_c0" in ok.stdout and "2 of 2 workbook(s) verified" in ok.stdout
    data = json.loads(report_path.read_text())
    assert data["ok"] is True and len(data["files"]) == 2
    blocks = data["files"][0]["runs"][0]["blocks"]
    assert {"name", "shape", "max_abs_error", "worst_cell", "ok"} <= set(blocks[0])
    bad = _cli_verify(str(batch["files"]["plus_one"]))
    assert bad.returncode == 1
    assert batch["cells"]["plus_one"] in bad.stdout and "MISMATCH" in bad.stdout


@pytest.mark.parametrize("content", [b"", b"hello, not a zip", b"PK\x03\x04broken"],
                         ids=["empty", "text", "corrupt-zip"])
def test_corrupt_files_exit_2_with_one_line(tmp_path, content):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(content)
    result = _cli_verify(str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and "bad.xlsx" in errors[0] and errors[0].startswith("Error: ")


def test_foreign_workbook_and_missing_file_exit_2(tmp_path):
    foreign = tmp_path / "foreign.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "=1+1"
    wb.save(foreign)
    result = _cli_verify(str(foreign))
    assert result.returncode == 2
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and "not a convsheets workbook" in errors[0]
    missing = _cli_verify(str(tmp_path / "nope.xlsx"))
    assert missing.returncode == 2 and "nope.xlsx" in missing.stdout + missing.stderr


def test_verify_missing_libreoffice_says_how_to_install(tmp_path):
    path = built(tmp_path, "basic")
    env = {"PATH": str(tmp_path / "empty-bin"), "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "convsheets", "verify", "--engine",
                             "libreoffice", str(path)], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "apt-get install libreoffice-calc" in lines[0]


def test_gnumeric_agrees(batch):
    files = [batch["files"][v] for v in ("transposed", "separable", "grouped")]
    files.append(batch["files"]["plus_one"])
    reports = verify_files(files, engine="gnumeric")
    assert [r.ok for r in reports] == [True, True, True, False]
    assert reports[0].runs[0].engine == "gnumeric"


def test_engine_all_runs_every_installed_engine(verified_all):
    # (the session's verify_files(engine="all") of every preset and network)
    report = verified_all.reports["dilated"]
    assert sorted(r.engine for r in report.runs) == ["gnumeric", "ironcalc", "libreoffice"]
    assert report.ok


def test_copy_of_output_dir_workbook_verifies(batch):
    # a workbook moved elsewhere (the name collision case: two files called basic.xlsx, in
    # the batch's one LibreOffice run)
    reports = batch["copy_reports"]
    assert [Path(r.path) for r in reports] == [batch["files"]["basic"], batch["elsewhere"]]
    assert all(r.ok and [run.engine for run in r.runs] == ["libreoffice"] for r in reports)


def test_every_preset_and_network_verifies_in_every_engine(verified_all):
    """Every variant's preset and every shipped network, as `convsheets build --all` writes
    them, in LibreOffice, Gnumeric and IronCalc, with the probe. These are byte for byte the
    committed output/ workbooks (test_build_cli's test_committed_output_is_identical_to_a_
    fresh_build), so this proves output/ without recalculating it a second time."""
    networks = ["digit_classifier", "digit_edges", "edges", "encoder_decoder", "lenet",
                "resnet_block", "tiny_unet", "wavenet", "depthwise_causal"]
    assert sorted(verified_all.reports) == sorted([*VARIANTS, *networks])
    for report in verified_all.reports.values():
        assert sorted(r.engine for r in report.runs) == ["gnumeric", "ironcalc", "libreoffice"]
        assert all(r.probed for r in report.runs), report.path
        assert report.ok, (report.path, failing(report) or report.unusable)


def test_nan_tolerance_is_refused(batch):
    result = _cli_verify("--tolerance", "nan", str(batch["files"]["basic"]))
    assert result.returncode == 2 and "--tolerance" in result.stderr


@pytest.mark.parametrize("record", ['{"layer": "x"}', "not json",
                                    '{"layer": {"variant": "basic"}}'])
def test_unusable_metadata_exits_2(tmp_path, record):
    path = built(tmp_path, "basic")
    wb = openpyxl.load_workbook(path)
    wb.custom_doc_props["convsheets"].value = record
    wb.save(path)
    result = _cli_verify(str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and "metadata" in errors[0]


def test_metadata_claiming_a_huge_layer_is_refused_without_allocating(tmp_path):
    path = built(tmp_path, "basic")
    wb = openpyxl.load_workbook(path)
    record = json.loads(wb.custom_doc_props["convsheets"].value)
    record["layer"]["input_size"] = [200000, 200000]
    wb.custom_doc_props["convsheets"].value = json.dumps(record)
    wb.save(path)
    result = _cli_verify(str(path))
    assert result.returncode == 2 and "3,000,000" in result.stderr


def test_json_report_path_problems_fail_before_verifying(batch, tmp_path):
    wb_path = str(batch["files"]["basic"])
    # (a missing folder is created, as for every file convsheets writes: outputs.py)
    in_a_file = tmp_path / "file"
    in_a_file.write_text("not a folder")
    through_file = _cli_verify("--json", str(in_a_file / "r.json"), wb_path)
    assert through_file.returncode == 2 and "--json" in through_file.stderr
    assert "Traceback" not in through_file.stderr and in_a_file.read_text() == "not a folder"
    onto_input = _cli_verify("--json", wb_path, wb_path)
    assert onto_input.returncode == 2 and "--json" in onto_input.stderr
    assert hashlib.sha256(Path(wb_path).read_bytes()).hexdigest() == batch["hashes"]["basic"]


def test_one_uncalculated_file_does_not_sink_the_batch(verified_all, tmp_path):
    copy = verified_all.copies["libreoffice"]["dilated"]  # LibreOffice's recalculated copy
    reports = verify_files([copy, never_calculated(tmp_path, "basic")], engine="cached")
    assert reports[0].ok
    assert "--engine libreoffice" in reports[1].unusable


@pytest.mark.parametrize("engine", ["libreoffice", "gnumeric"])
def test_one_broken_file_does_not_sink_the_others(batch, tmp_path, engine):
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(batch["files"]["basic"]) as src, zipfile.ZipFile(broken, "w") as dst:
        for info in src.infolist():
            if info.filename != "_rels/.rels":
                dst.writestr(info, src.read(info))
    reports = verify_files([broken, batch["files"]["dilated"]], engine=engine)
    assert reports[1].ok, reports[1].unusable
    assert not reports[0].ok


def test_the_same_file_twice_is_verified_once(batch):
    # grouped.xlsx was named twice in the batch's verify_files call
    path = batch["files"]["grouped"]
    mine = [r for r in batch["all_reports"] if Path(r.path) == path]
    assert len(batch["all_reports"]) == len(batch["tampered"]) + 3
    assert len(mine) == 1 and len(mine[0].runs) == 1 and mine[0].ok
