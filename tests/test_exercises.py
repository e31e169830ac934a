"""Exercises: handouts (--exercise, --blank, --self-check, --roster) and `convsheets grade`.

A roster of students returns their handouts with answers filled in programmatically (typed
numbers, formulas without stored values, wrong and blank cells, an edited input, copies
re-saved by LibreOffice and by Gnumeric), among a foreign and a corrupt file; one LibreOffice
run re-saves and checks the self-check marks, and one more (inside grade) computes the
formulas that carry no stored value.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from convsheets.cli import main
from convsheets.engines import get_engine
from convsheets.exercise import METADATA_SHEET, read_roster, student_seed
from convsheets.grade import grade_files
from convsheets.layout import EDIT
from convsheets.presets import preset
from convsheets.spec import LayerSpec
from convsheets.stages import Values
from convsheets.tensors import random_tensors
from convsheets.xlsxread import XlsxFile
from tests.exercise_fill import all_right, fill, handout_of, typed, wrong_first

STUDENTS = ["s01", "s02", "s03", "s04", "s05", "s06", "s07", "s08"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Handouts of a roster, returned in every way the issue lists, and LibreOffice copies."""
    root = tmp_path_factory.mktemp("class")
    roster = root / "students.csv"
    roster.write_text("id,name\n" + "".join(f"{s},Student {s[1:]}\n" for s in STUDENTS))
    handouts = root / "handouts"
    with pytest.raises(SystemExit) as done:
        main(["build", "--variant", "basic", "--exercise", "--seed", "5", "--roster",
              str(roster), "-o", str(handouts)])
    assert done.value.code == 0
    returned = root / "returned"
    returned.mkdir()
    h = {s: handouts / f"{s}.xlsx" for s in STUDENTS}
    fill(h["s01"], returned / "s01.xlsx", all_right)
    fill(h["s02"], returned / "s02.xlsx", wrong_first(3))
    fill(h["s03"], returned / "s03.xlsx",  # formulas, no stored values (a generator saved it)
         lambda b, i, j, right: f"<f>{int(right)}+0*ROW()</f>")
    fill(h["s04"], returned / "s04.xlsx",  # the first 5 cells left blank
         lambda b, i, j, right: None if (b == "output_c0" and i * 3 + j < 5) else
         typed(right))
    fill(h["s05"], returned / "s05.xlsx", all_right, edits={("Input", "B5"): 99})
    fill(h["s06"], root / "s06-filled.xlsx", all_right)
    fill(h["s07"], root / "s07-filled.xlsx", all_right)
    fill(h["s08"], root / "s08-filled.xlsx", all_right)
    (returned / "s08.xlsx").write_bytes(_drop_custom_properties(root / "s08-filled.xlsx"))
    # a self-check handout with 2 wrong answers, to recalculate in LibreOffice
    selfcheck = root / "selfcheck.xlsx"
    with pytest.raises(SystemExit):
        main(["build", "--variant", "basic", "--exercise", "--self-check", "-o",
              str(selfcheck)])
    fill(selfcheck, root / "selfcheck-filled.xlsx", wrong_first(2))
    # a chain of answers: one wrong padded cell must not make the right outputs look wrong
    chain = root / "chain.xlsx"
    with pytest.raises(SystemExit):
        main(["build", "--variant", "basic", "--exercise", "--self-check", "--blank",
              "padded,output", "-o", str(chain)])
    fill(chain, root / "chain-filled.xlsx", lambda b, i, j, right: typed(
        right + 1 if (b, i, j) == ("padded_c0", 0, 0) else right))
    transposed = root / "transposed.xlsx"
    with pytest.raises(SystemExit):
        main(["build", "--variant", "transposed", "--exercise", "--self-check", "--blank",
              "upsampled", "-o", str(transposed)])
    fill(transposed, root / "transposed-filled.xlsx", all_right)
    network = root / "lenet.xlsx"  # conv -> relu -> pool -> ... : keys through every op
    with pytest.raises(SystemExit):
        main(["build", "--template", "lenet", "--exercise", "--self-check", "--blank", "conv1",
              "-o", str(network)])
    fill(network, root / "lenet-filled.xlsx", all_right)
    lo = get_engine("libreoffice").recalculate(
        [root / "s06-filled.xlsx", root / "selfcheck-filled.xlsx", root / "chain-filled.xlsx",
         root / "transposed-filled.xlsx", root / "lenet-filled.xlsx"], root / "lo",
        timeout=300)
    shutil.copy(lo[0], returned / "s06.xlsx")
    gnumeric = get_engine("gnumeric").recalculate([root / "s07-filled.xlsx"], root / "gn",
                                                  timeout=300)
    shutil.copy(gnumeric[0], returned / "s07.xlsx")
    wb = openpyxl.Workbook()
    wb.active["A1"] = 1
    wb.save(returned / "foreign.xlsx")
    (returned / "corrupt.xlsx").write_bytes(b"PK\x03\x04 not really a zip" * 10)
    return {"root": root, "handouts": handouts, "returned": returned, "roster": roster,
            "selfcheck": lo[1], "chain": lo[2], "transposed": lo[3], "lenet": lo[4]}


def _drop_custom_properties(path: Path) -> bytes:
    """The file as an application that drops custom document properties would save it."""
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(buffer, "w") as zout:
        for info in zin.infolist():
            if info.filename == "docProps/custom.xml":
                continue
            data = zin.read(info)
            if info.filename in ("[Content_Types].xml", "_rels/.rels"):
                data = re.sub(rb"<(Override|Relationship)[^>]*custom[^>]*/>", b"", data)
            zout.writestr(info, data)
    return buffer.getvalue()


def test_grades_of_a_class(classroom: dict[str, object], capsys: pytest.CaptureFixture[str],
                           ) -> None:
    returned: Path = classroom["returned"]  # type: ignore[assignment]
    files = sorted(str(p) for p in returned.glob("*.xlsx"))
    csv_path = returned.parent / "grades.csv"
    json_path = returned.parent / "grades.json"
    roster = returned.parent / "whole-class.csv"  # one more student, who returned nothing
    roster.write_text(Path(classroom["roster"]).read_text() + "s99,Late Student\n")  # type: ignore[arg-type]
    code, out, err = run(capsys, "grade", *files, "--csv", str(csv_path), "--json",
                         str(json_path), "--feedback", str(returned.parent / "feedback"),
                         "--roster", str(roster))
    assert code == 2  # a foreign and a corrupt file among them
    errors = err.strip().splitlines()
    assert len(errors) == 2
    assert any("foreign.xlsx" in e and "not a convsheets exercise" in e for e in errors)
    assert any("corrupt.xlsx" in e for e in errors)
    report = {Path(f["file"]).stem: f for f in json.loads(json_path.read_text())["files"]}
    total = 18  # the basic preset: 2 output channels of 3x3
    expected = {"s01": total, "s02": total - 3, "s03": total, "s04": total - 5,
                "s05": total, "s06": total, "s07": total, "s08": total}
    for student, correct in expected.items():
        assert report[student]["correct"] == correct, (student, report[student])
        assert report[student]["total"] == total
        assert report[student]["student"] == student
        assert report[student]["inputs_edited"] is (student == "s05")
    assert report["s05"]["edited_blocks"] == ["input_c0"]
    assert report["s03"]["recalculated"] is True  # formulas without values: LibreOffice
    assert report["s01"]["recalculated"] is False and report["s06"]["recalculated"] is False
    assert report["s08"]["metadata_from"] == "sheet"  # the property was dropped
    assert report["s02"]["worst_block"] == "output_c0 (3 wrong)"
    wrong = report["s04"]["blocks"][0]["wrong"]
    assert [w["why"] for w in wrong] == ["blank"] * 5
    assert "s02 Student 02" in out and "83.3" in out and "yes" in out
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("file,student,name,correct,total,score")
    assert len(lines) == 1 + 10 + 1 and lines[-1].endswith("not returned")
    assert "not returned (1 of 9): s99 Late Student" in out
    assert json.loads(json_path.read_text())["not_returned"] == [
        {"student": "s99", "name": "Late Student"}]
    feedback = returned.parent / "feedback" / "s02.feedback.xlsx"
    wb = openpyxl.load_workbook(feedback)
    assert wb.sheetnames[0] == "Feedback"
    assert "15 of 18" in wb["Feedback"]["A2"].value
    output = wb["Output"]
    fills = [output.cell(r, c).fill.fgColor.rgb for r in range(1, 30) for c in range(1, 10)
             if output.cell(r, c).comment is not None]
    assert len(fills) == 3 and all(f.endswith("FFC7CE") for f in fills)


def test_the_same_grade_in_python(classroom: dict[str, object]) -> None:
    """The API gives what the CLI printed; wrong answers by tolerance."""
    returned: Path = classroom["returned"]  # type: ignore[assignment]
    (g,) = grade_files([returned / "s02.xlsx"])
    assert (g.correct, g.total) == (15, 18)
    (loose,) = grade_files([returned / "s02.xlsx"], tolerance=1.0)  # off by exactly 1
    assert loose.correct == 18


def test_self_check_marks_after_libreoffice(classroom: dict[str, object]) -> None:
    recalculated: Path = classroom["selfcheck"]  # type: ignore[assignment]
    with XlsxFile(recalculated) as xf:
        texts = xf.read_texts("Output")
    marks = [t for t in texts.values() if t in ("✓", "✗")]
    assert marks.count("✗") == 2 and marks.count("✓") == 16
    counts = sorted(t for t in texts.values() if t.endswith("correct"))
    assert counts == ["7 of 9 correct", "9 of 9 correct"]


def _marks(path: Path) -> dict[str, list[str]]:
    with XlsxFile(path) as xf:
        return {sheet: [t for t in xf.read_texts(sheet).values() if t in ("✓", "✗")]
                for sheet in xf.sheet_names()}


def test_self_check_follows_the_key_down_the_chain(classroom: dict[str, object]) -> None:
    chain = _marks(classroom["chain"])  # type: ignore[arg-type]
    assert chain["Padded"].count("✗") == 1 and chain["Padded"].count("✓") == 3 * 49 - 1
    assert chain["Output"] == ["✓"] * 18  # graded against the key, not the wrong padded cell
    transposed = _marks(classroom["transposed"])  # type: ignore[arg-type]
    marks = [m for sheet in transposed.values() for m in sheet]
    assert marks and set(marks) == {"✓"}
    assert transposed["Output"]  # downstream of the upsampled input
    lenet = _marks(classroom["lenet"])  # type: ignore[arg-type]
    marks = [m for sheet in lenet.values() for m in sheet]
    answers = handout_of(classroom["root"] / "lenet.xlsx").answers  # type: ignore[operator]
    assert marks == ["✓"] * sum(b.shape[0] * b.shape[1] for b in answers)


def test_roster_seeds_differ_and_rebuild_is_identical(classroom: dict[str, object],
                                                      tmp_path: Path) -> None:
    handouts: Path = classroom["handouts"]  # type: ignore[assignment]
    a, b = handout_of(handouts / "s01.xlsx"), handout_of(handouts / "s02.xlsx")
    blocks_b = {blk.name: blk for blk in b.plan.blocks()}
    editable = [blk for blk in a.plan.blocks()
                if blk.kind == EDIT and isinstance(blk.content, Values)]
    assert len(editable) >= 3
    for blk in editable:
        assert np.any(np.asarray(blk.content.array) !=
                      np.asarray(blocks_b[blk.name].content.array)), blk.name
    with pytest.raises(SystemExit):
        main(["build", "--variant", "basic", "--exercise", "--seed", "5", "--roster",
              str(classroom["roster"]), "-o", str(tmp_path)])
    for student in STUDENTS:
        assert (tmp_path / f"{student}.xlsx").read_bytes() == \
            (handouts / f"{student}.xlsx").read_bytes()
    # the student's numbers come from a seed derived from --seed and the id, but neither seed
    # is in the handout: it records the numbers it shows (issue 23)
    record = json.loads(XlsxFile(handouts / "s03.xlsx").custom_properties()["convsheets"])
    assert record["layer"]["seed"] == 0 and "base_seed" not in record["exercise"]
    assert record["exercise"]["student"] == "s03"
    drawn = random_tensors(LayerSpec.create("basic", {"seed": student_seed(5, "s03")},
                                            preset("basic")).network())
    assert record["exercise"]["tensors"]["input"] == drawn["input"].tolist()


def test_handout_holds_no_answers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --self-check: no formula, no value, no hidden cell gives the output away."""
    path = tmp_path / "hw.xlsx"
    code, out, _ = run(capsys, "build", "--variant", "basic", "--exercise", "--blank",
                       "padded", "-o", str(path))
    assert code == 0 and "answer cells" in out
    handout = handout_of(path)
    names = {blk.name for blk in handout.answers}
    assert names == {"padded_c0", "padded_c1", "padded_c2", "output_c0", "output_c1"} or \
        {"output_c0", "output_c1"} <= names  # downstream of padded: the outputs too
    with zipfile.ZipFile(path) as zf:
        sheets = [zf.read(n).decode() for n in zf.namelist() if n.startswith("xl/worksheets/")]
        workbook = zf.read("xl/workbook.xml").decode()
    with XlsxFile(path) as xf:  # the explorer (any output cell) and the matrix view (all)
        assert xf.sheet_names() == ["Guide", "Input", "Padded", "Kernels", "Output",
                                    METADATA_SHEET]
    assert not any("<f>SUMPRODUCT" in s for s in sheets)  # no convolution formula anywhere
    with XlsxFile(path) as xf:
        values = np.concatenate([xf.read_sheet(s).values.ravel() for s in xf.sheet_names()])
    for block in handout.answers:  # no answer block's values sit in any cell
        right = handout.solutions[block.name]
        if block.name.startswith("output"):
            hits = np.isin(values, right[np.abs(right) > 9])
            assert not hits.any(), block.name
    assert METADATA_SHEET in workbook and 'state="hidden"' in workbook


def test_explore_and_transposed_blanks(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       ) -> None:
    path = tmp_path / "hw3.xlsx"
    code, _, _ = run(capsys, "build", "--variant", "transposed", "--exercise", "--blank",
                     "flipped", "-o", str(path))
    assert code == 0
    names = {blk.name for blk in handout_of(path).answers}
    assert "flipped_weight_0_0" in names and "output_c0" in names
    assert not any(n.startswith("upsampled") for n in names)  # upstream stays live
    path = tmp_path / "explore.xlsx"
    code, _, _ = run(capsys, "build", "--variant", "dilated", "--exercise", "--blank", "explore",
                     "-o", str(path))
    assert code == 0
    names = {blk.name for blk in handout_of(path).answers}
    assert "explore_sum" in names and "output_c0" not in names
    code, _, _ = run(capsys, "grade", str(path))
    assert code == 0
    fill(path, tmp_path / "explore-right.xlsx", all_right)
    (g,) = grade_files([tmp_path / "explore-right.xlsx"])
    assert g.correct == g.total > 0 and not g.edited


def test_explore_of_a_network_with_pooling(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "lenet.xlsx"
    code, _, err = run(capsys, "build", "--template", "lenet", "--exercise", "--blank",
                       "explore", "-o", str(path))
    assert code == 0, err
    fill(path, tmp_path / "right.xlsx", lambda b, i, j, right: None if right != right
         else typed(right))
    (g,) = grade_files([tmp_path / "right.xlsx"])
    assert g.correct == g.total > 0, g.blocks


def test_network_layer_blank(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "net.xlsx"
    code, _, err = run(capsys, "build", "--template", "lenet", "--exercise", "--blank",
                       "conv1", "-o", str(path))
    assert code == 0, err
    handout = handout_of(path)
    names = [blk.name for blk in handout.answers]
    assert names[0].startswith("conv1_output_c")
    assert any(n.startswith("output_c") or "pool" in n for n in names)  # downstream too
    (g,) = grade_files([path])
    assert g.correct == 0 and g.total == sum(b.shape[0] * b.shape[1] for b in handout.answers)


BAD = [
    (["--variant", "basic", "--blank", "output"], ["--blank", "--exercise"]),
    (["--variant", "basic", "--exercise", "--blank", "flipped"], ["--blank", "flipped",
                                                                  "output"]),
    (["--variant", "basic", "--exercise", "--blank", "a/b"], ["--blank", "a/b"]),
    (["--variant", "basic", "--exercise", "--input-size", "400"], ["exercise", "100,000"]),
    (["--variant", "basic", "--exercise", "--roster", "r.csv", "-o", "x.xlsx"],
     ["--output", "folder"]),
]


@pytest.mark.parametrize(("args", "words"), BAD)
def test_bad_requests(args: list[str], words: list[str], tmp_path: Path,
                      capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                      ) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "build", *args)
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    for word in words:
        assert word in err, err
    assert not list(tmp_path.glob("**/*.xlsx"))


ROSTERS = [
    ("id,name\ns1,A\n../evil,B\n", "line 3", "safe file name"),
    ("id,name\ns1,A\nS1,B\n", "line 3", "repeats line 2"),
    ("name\nA\n", "line 1", "no 'id' column"),
    ("id\n", "", "lists no student"),
    ("id\ncon,\n", "line 2", "safe file name"),
]


@pytest.mark.parametrize(("text", "where", "rule"), ROSTERS)
def test_bad_rosters(text: str, where: str, rule: str, tmp_path: Path,
                     capsys: pytest.CaptureFixture[str]) -> None:
    roster = tmp_path / "r.csv"
    roster.write_text(text)
    code, _, err = run(capsys, "build", "--variant", "basic", "--exercise", "--roster",
                       str(roster), "-o", str(tmp_path / "out"))
    assert code == 2 and where in err and rule in err and "--roster" in err, err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_roster_refuses_to_overwrite_a_foreign_file(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    roster = tmp_path / "r.csv"
    roster.write_text("id\na\nb\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "b.xlsx").write_text("a student's own file")
    code, _, err = run(capsys, "build", "--variant", "basic", "--exercise", "--roster",
                       str(roster), "-o", str(out))
    assert code == 2 and "b.xlsx" in err and "refusing" in err
    assert not (out / "a.xlsx").exists()  # nothing written before the refusal
    assert read_roster(roster)[1].id == "b"


def test_grade_rejects_a_plain_build_and_verify_rejects_a_handout(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain, hw = tmp_path / "plain.xlsx", tmp_path / "hw.xlsx"
    run(capsys, "build", "--variant", "basic", "-o", str(plain))
    run(capsys, "build", "--variant", "basic", "--exercise", "-o", str(hw))
    shutil.copy(hw, tmp_path / "hw-again.xlsx")
    code, out, err = run(capsys, "grade", str(plain), str(hw), str(tmp_path / "hw-again.xlsx"),
                         str(tmp_path), str(tmp_path / "missing.xlsx"))
    assert code == 2 and "plain.xlsx" in err and "not a convsheets exercise" in err
    assert len(err.strip().splitlines()) == 3
    assert "not a regular file" in err and "missing.xlsx" in err and "no such file" in err
    assert "hw.xlsx" in out and "0.0" in out
    assert "one handout (the same numbers) was returned in 2 files: hw.xlsx, hw-again.xlsx" \
        in out
    code, _, err = run(capsys, "verify", "--engine", "cached", str(hw))
    assert code == 2 and "grade" in err


def test_python_api(tmp_path: Path) -> None:
    import convsheets
    from convsheets.errors import SpecError

    path = tmp_path / "hw.xlsx"
    result = convsheets.build("basic", exercise=True, blank="padded", output=path)
    assert result.path == path
    fill(path, tmp_path / "back.xlsx", wrong_first(4))
    (g,) = convsheets.grade(tmp_path / "back.xlsx")
    assert (g.correct, g.total) == (165 - 4, 165)
    with pytest.raises(SpecError, match="exercise=True"):
        convsheets.build("basic", self_check=True, output=tmp_path / "x.xlsx")


def test_what_if_cells_are_not_edits_but_the_explorer_position_is(tmp_path: Path) -> None:
    import convsheets
    from convsheets.xlsxread import col_letter

    path = tmp_path / "pw.xlsx"
    convsheets.build("pointwise", exercise=True, output=path)
    guide = [b for b in handout_of(path).plan.blocks() if b.sheet == "Guide" and b.kind == EDIT]
    assert guide  # the bottleneck figures: meant to be played with
    cell = ("Guide", f"{col_letter(guide[0].left)}{guide[0].top}")
    fill(path, tmp_path / "played.xlsx", all_right, edits={cell: 77})
    (g,) = convsheets.grade(tmp_path / "played.xlsx")
    assert g.correct == g.total and not g.edited
    path = tmp_path / "ex.xlsx"
    convsheets.build("basic", exercise=True, blank="explore", output=path)
    row = next(b for b in handout_of(path).plan.blocks() if b.name == "explore_row")
    moved = 1 - int(row.content.array[0, 0])
    fill(path, tmp_path / "moved.xlsx", all_right,
         edits={("Explorer", f"{col_letter(row.left)}{row.top}"): moved})
    (g,) = convsheets.grade(tmp_path / "moved.xlsx")
    assert g.edited == ["explore_row"]


def test_decimal_handouts_accept_the_three_digits_they_show(tmp_path: Path) -> None:
    import convsheets

    path = tmp_path / "normal.xlsx"
    convsheets.build("dilated", exercise=True, values="normal", output=path)
    fill(path, tmp_path / "rounded.xlsx", lambda b, i, j, right: typed(round(right, 3)))
    (g,) = convsheets.grade(tmp_path / "rounded.xlsx")
    assert g.correct == g.total and g.tolerance == 5e-4
    (strict,) = convsheets.grade(tmp_path / "rounded.xlsx", tolerance=1e-9)
    assert strict.correct < strict.total


def _with_property(src: Path, dst: Path, record: str | None, sheet: str | None = None) -> None:
    """A copy whose metadata property (and, optionally, metadata sheet cell) says `record`."""
    from xml.sax.saxutils import escape

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info).decode("utf-8", "surrogateescape")
            if info.filename == "docProps/custom.xml" and record is not None:
                data = re.sub(r"<vt:lpwstr>.*</vt:lpwstr>",
                              lambda _m: f"<vt:lpwstr>{escape(record)}</vt:lpwstr>", data)
            if info.filename.endswith(".xml") and sheet is not None and "<t>~{" in data:
                data = re.sub(r"<t>~\{.*?</t>", lambda _m: f"<t>~{escape(sheet)}</t>", data)
            zout.writestr(info, data.encode("utf-8", "surrogateescape"))


def test_tampered_metadata(tmp_path: Path) -> None:
    import convsheets

    path = tmp_path / "hw.xlsx"
    convsheets.build("basic", exercise=True, output=path)
    fill(path, tmp_path / "right.xlsx", all_right)
    record = json.loads(XlsxFile(path).custom_properties()["convsheets"])
    bad = dict(record, exercise=dict(record["exercise"], blank=["flipped"]))
    _with_property(tmp_path / "right.xlsx", tmp_path / "prop.xlsx", json.dumps(bad))
    (g,) = convsheets.grade(tmp_path / "prop.xlsx")  # the sheet's copy is intact: used
    assert not g.unusable and g.metadata_from == "sheet" and g.correct == g.total
    _with_property(tmp_path / "right.xlsx", tmp_path / "both.xlsx", json.dumps(bad), "{oops")
    (g,) = convsheets.grade(tmp_path / "both.xlsx")
    assert "metadata is unusable" in g.unusable and "flipped" in g.unusable
    huge = dict(record, layer=dict(record["layer"], input_size=[5000, 5000]))
    _with_property(tmp_path / "right.xlsx", tmp_path / "huge.xlsx", json.dumps(huge), "{}")
    (g,) = convsheets.grade(tmp_path / "huge.xlsx")
    assert "unusable" in g.unusable and "cells" in g.unusable
