"""The rule for every file convsheets writes (issue 23): every command, every output option,
into a read-only folder, over an immutable file, under a missing folder, over someone else's
file and over its own. Only its own files are replaced (atomically); everything else is one
`Error:` line and exit status 2, no traceback, nothing changed.

Commands run in-process through `main`, so an exception that escapes the CLI fails the test
itself (the traceback a user would see).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from convsheets.cli import main
from tests.exercise_fill import all_right, fill, wrong_first

HAS_LIBREOFFICE = shutil.which("soffice") is not None or shutil.which("libreoffice") is not None


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A workbook (for verify and render), a returned handout (for grade), a roster."""
    root = tmp_path_factory.mktemp("inputs")
    basic, handout = root / "basic.xlsx", root / "hw.xlsx"
    for args in (["build", "--variant", "basic", "-o", str(basic)],
                 ["build", "--variant", "basic", "--exercise", "-o", str(handout)]):
        with pytest.raises(SystemExit) as done:
            main(args)
        assert done.value.code == 0
    returned = root / "ret.xlsx"
    fill(handout, returned, wrong_first(1))
    roster = root / "roster.csv"
    roster.write_text("id,name\na,Ada\n")
    return {"basic": basic, "returned": returned, "roster": roster}


# (option, the file it writes inside FOLDER, the command writing it, needs LibreOffice)
CASES = {
    "build -o": ("x.xlsx", lambda t, i: ["build", "--variant", "basic", "-o", str(t)], False),
    "build --roster": ("a.xlsx", lambda t, i: [
        "build", "--variant", "basic", "--exercise", "--roster", str(i["roster"]), "-o",
        str(t.parent)], False),
    "verify --json": ("r.json", lambda t, i: [
        "verify", "--engine", "cached", str(i["basic"]), "--json", str(t)], False),
    "render --format png": ("basic-output.png", lambda t, i: [
        "render", str(i["basic"]), "--to", str(t.parent), "--sheet", "Output", "--dpi", "30"],
        True),
    "render --format pdf": ("basic.pdf", lambda t, i: [
        "render", str(i["basic"]), "--to", str(t.parent), "--sheet", "Output", "--format",
        "pdf"], True),
    "grade --csv": ("g.csv", lambda t, i: ["grade", str(i["returned"]), "--csv", str(t)], False),
    "grade --json": ("g.json", lambda t, i: ["grade", str(i["returned"]), "--json", str(t)],
                     False),
    "grade --feedback": ("ret.feedback.xlsx", lambda t, i: [
        "grade", str(i["returned"]), "--feedback", str(t.parent)], False),
}
CONDITIONS = ("read-only folder", "immutable file", "missing folder", "foreign file",
              "own file")


@contextlib.contextmanager
def unwritable(path: Path) -> Iterator[bool]:
    """`path` (a file or a folder) made unwritable for this process: immutable (chattr +i,
    its permissions left as they are) when running as root, whom permissions do not bind;
    read-only otherwise. Yields True when immutable (its permissions still say writable)."""
    mode = path.stat().st_mode
    chattr = os.geteuid() == 0 and shutil.which("chattr") is not None and subprocess.run(
        ["chattr", "+i", str(path)], capture_output=True).returncode == 0
    if not chattr:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        probe = path / ".probe" if path.is_dir() else path
        try:
            with open(probe, "a"):
                pass
        except OSError:
            pass
        else:
            pytest.skip("cannot make a path unwritable here (root without chattr)")
        yield chattr
    finally:
        if chattr:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(mode)


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] \
        if folder.is_dir() else []


def _one_error(err: str, *names: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    assert "Traceback" not in err
    for name in names:
        assert name in err, err


@pytest.mark.parametrize("condition", CONDITIONS)
@pytest.mark.parametrize("case", list(CASES))
def test_every_output_follows_the_rule(case: str, condition: str, inputs: dict[str, Path],
                                       tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    name, command, needs_lo = CASES[case]
    if needs_lo and not HAS_LIBREOFFICE:
        pytest.skip("needs LibreOffice")
    folder = tmp_path / ("new/deeper" if condition == "missing folder" else "out")
    target = folder / name
    args = command(target, inputs)
    if condition == "missing folder":
        code, out, err = run(capsys, *args)
        assert code == 0, err
        assert target.is_file() and not _leftovers(folder)
        return
    folder.mkdir(parents=True)
    if condition == "read-only folder":
        with unwritable(folder):
            code, out, err = run(capsys, *args)
        _one_error(err, folder.name)
        assert code == 2 and [p.name for p in folder.iterdir()] == []
        return
    if condition == "foreign file":
        target.write_bytes(b"precious\n")
        code, out, err = run(capsys, *args)
        _one_error(err, str(target), "not written by convsheets", "--force")
        assert code == 2 and target.read_bytes() == b"precious\n"
        assert not _leftovers(folder)
        return
    code, out, err = run(capsys, *args)  # convsheets writes it: its own file from now on
    assert code == 0 and target.is_file(), err
    before = target.read_bytes()
    if condition == "own file":
        inode = target.stat().st_ino
        code, out, err = run(capsys, *args)
        assert code == 0, err
        assert target.stat().st_ino != inode  # replaced by a rename, not rewritten in place
        assert not _leftovers(folder)
        return
    assert condition == "immutable file"
    with unwritable(target) as immutable:
        code, out, err = run(capsys, *args)
    _one_error(err, str(target))
    assert code == 2 and target.read_bytes() == before and not _leftovers(folder)
    # A read-only file is refused before any work; an immutable one (its permissions say
    # writable) fails only when written: what was computed before is still printed.
    if immutable and case.startswith("grade"):
        assert "1 file(s) graded" in out
    if immutable and case.startswith("verify"):
        assert "workbook(s) verified" in out


# ---------------------------------------------------------------------------- defects
def test_reports_never_replace_a_file_convsheets_did_not_write(
        inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`grade --csv precious.txt` and `verify --json precious.txt` replaced any file."""
    precious = tmp_path / "precious.txt"
    precious.write_text("my notes\n")
    for args in (["grade", str(inputs["returned"]), "--csv", str(precious)],
                 ["grade", str(inputs["returned"]), "--json", str(precious)],
                 ["verify", "--engine", "cached", str(inputs["basic"]), "--json",
                  str(precious)]):
        code, _, err = run(capsys, *args)
        assert code == 2 and precious.read_text() == "my notes\n", args
        _one_error(err, "precious.txt")
    code, _, err = run(capsys, "grade", str(inputs["returned"]), "--csv", str(precious),
                       "--force")
    assert code == 0 and precious.read_text().startswith("file,student"), err


def test_an_edited_report_is_no_longer_ours(inputs: dict[str, Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A CSV convsheets wrote and the teacher edited since is the teacher's."""
    grades = tmp_path / "g.csv"
    assert run(capsys, "grade", str(inputs["returned"]), "--csv", str(grades))[0] == 0
    grades.write_text(grades.read_text() + "my own row\n")
    code, _, err = run(capsys, "grade", str(inputs["returned"]), "--csv", str(grades))
    assert code == 2 and "my own row" in grades.read_text()
    _one_error(err, "g.csv")


@pytest.mark.skipif(not HAS_LIBREOFFICE, reason="needs LibreOffice")
def test_render_keeps_the_users_pictures_and_pdfs(inputs: dict[str, Path], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """`render --to mypics` replaced the user's own PNG; `--format pdf` an existing PDF.
    Every target is checked before any is written."""
    mypics = tmp_path / "mypics"
    mypics.mkdir()
    (mypics / "basic-output.png").write_bytes(b"my holiday photo")
    (mypics / "basic.pdf").write_bytes(b"%PDF my thesis")
    code, _, err = run(capsys, "render", str(inputs["basic"]), "--to", str(mypics),
                       "--dpi", "30")
    _one_error(err, "basic-output.png")
    assert code == 2 and (mypics / "basic-output.png").read_bytes() == b"my holiday photo"
    assert sorted(p.name for p in mypics.iterdir()) == ["basic-output.png", "basic.pdf"]
    code, _, err = run(capsys, "render", str(inputs["basic"]), "--to", str(mypics),
                       "--format", "pdf")
    _one_error(err, "basic.pdf")
    assert code == 2 and (mypics / "basic.pdf").read_bytes() == b"%PDF my thesis"


def test_unwritable_report_paths_are_one_line(inputs: dict[str, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """`grade --csv immut/g.csv` and `--json` raised PermissionError; `verify --json
    ro/r.json` an OSError from its temporary file."""
    ro = tmp_path / "ro"
    ro.mkdir()
    with unwritable(ro):
        for args in (["grade", str(inputs["returned"]), "--csv", str(ro / "g.csv")],
                     ["grade", str(inputs["returned"]), "--json", str(ro / "g.json")],
                     ["verify", "--engine", "cached", str(inputs["basic"]), "--json",
                      str(ro / "r.json")]):
            code, _, err = run(capsys, *args)
            assert code == 2, args
            _one_error(err, "ro")
    assert list(ro.iterdir()) == []


@pytest.mark.skipif(not HAS_LIBREOFFICE, reason="needs LibreOffice")
def test_render_into_an_unwritable_folder_is_one_line(inputs: dict[str, Path], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    with unwritable(ro):
        code, _, err = run(capsys, "render", str(inputs["basic"]), "--to", str(ro))
    assert code == 2
    _one_error(err, "ro")


def test_feedback_copies_are_not_graded_again(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A feedback copy in the graded folder counted as a second return: the class mean was
    that of three files, not of the two students."""
    roster = tmp_path / "r.csv"
    roster.write_text("id\na\nb\n")
    assert run(capsys, "build", "--variant", "basic", "--exercise", "--roster", str(roster),
               "-o", str(tmp_path / "hw"))[0] == 0
    back = tmp_path / "back"
    back.mkdir()
    fill(tmp_path / "hw" / "a.xlsx", back / "a.xlsx", all_right)  # 18 of 18
    fill(tmp_path / "hw" / "b.xlsx", back / "b.xlsx", wrong_first(9))  # 9 of 18
    code, out, _ = run(capsys, "grade", str(back / "a.xlsx"), "--feedback", str(back))
    assert code == 0 and (back / "a.feedback.xlsx").is_file()
    files = sorted(str(p) for p in back.glob("*.xlsx"))
    code, out, err = run(capsys, "grade", *files, "--roster", str(roster))
    assert code == 0, err
    assert "2 file(s) graded, mean score 75.0%" in out  # (100 + 50) / 2
    assert "a.feedback.xlsx" in out and "feedback cop" in out
    assert "returned in 2 files" not in out


def test_the_feedback_sheet_is_readable_and_has_a_footer(inputs: dict[str, Path],
                                                         tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str],
                                                         ) -> None:
    import openpyxl

    assert run(capsys, "grade", str(inputs["returned"]), "--feedback", str(tmp_path))[0] == 0
    wb = openpyxl.load_workbook(tmp_path / "ret.feedback.xlsx")
    sheet = wb["Feedback"]
    names = [row[0] for row in sheet.iter_rows(min_row=5, values_only=True) if row[0]]
    assert "output_c0" in names
    width = sheet.column_dimensions["A"].width
    assert width is not None and width >= max(len(n) for n in names)  # no text runs over
    assert "&A" in (sheet.oddFooter.center.text or "")  # the footer every sheet prints


ROSTER_IDS = [("zoë", "'ë'"), ("Ω", "'Ω'"), ("con", "CON"), ("nul", "NUL"),
              ("a b", "a space"), (".x", "starts with '.'"), ("x.", "ends with '.'")]


def test_roster_reports_every_bad_row_and_why(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Ids were refused one at a time with a rule ("1-64 letters, digits...") that did not
    say why `zoë`, `Ω`, `con` or `nul` broke it."""
    roster = tmp_path / "r.csv"
    roster.write_text("id\nok\n" + "".join(f"{sid}\n" for sid, _ in ROSTER_IDS),
                      encoding="utf-8")
    code, _, err = run(capsys, "build", "--variant", "basic", "--exercise", "--roster",
                       str(roster), "-o", str(tmp_path / "out"))
    assert code == 2
    _one_error(err, "ASCII", "Windows")
    for line, (sid, why) in enumerate(ROSTER_IDS, 3):
        assert f"line {line}: id {sid!r}" in err and why in err, (sid, err)
    assert not (tmp_path / "out").exists()


def test_unknown_template_lists_the_shipped_networks(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "build", "--template", "edgse")
    assert code == 2
    _one_error(err, "edgse", "edges", "digit_edges", "lenet")
    assert "No such file or directory" not in err


@pytest.mark.skipif(not HAS_LIBREOFFICE, reason="needs LibreOffice")
def test_api_errors_name_the_api_not_cli_flags(inputs: dict[str, Path], tmp_path: Path) -> None:
    import convsheets
    from convsheets.errors import ConvsheetsError

    with pytest.raises(ConvsheetsError) as info:
        convsheets.render(inputs["basic"], to=tmp_path, sheet="nope")
    assert "nope" in str(info.value) and "--" not in str(info.value)
    with pytest.raises(ConvsheetsError) as info:
        convsheets.render(inputs["basic"], to=tmp_path, format="gif")
    assert "convsheets.render" in str(info.value) and "--" not in str(info.value)


def test_verify_names_no_worst_cell_when_every_cell_is_exact(
        inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", "--engine", "cached", str(inputs["basic"]))
    assert code == 0 and "max abs err 0.0e+00" in out
    assert "worst" not in out


def test_one_handout_is_not_handouts(inputs: dict[str, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "build", "--variant", "basic", "--exercise", "--roster",
                       str(inputs["roster"]), "-o", str(tmp_path / "hw"))
    assert code == 0 and "wrote 1 handout into" in out


def test_image_sizes_say_height_by_width_and_a_squash_is_said(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    Image.new("L", (3000, 2000), 128).save(tmp_path / "big.png")  # W=3000, H=2000
    code, _, err = run(capsys, "build", "--variant", "basic", "--image",
                       str(tmp_path / "big.png"), "-o", str(tmp_path / "b.xlsx"))
    assert code == 2 and "2000x3000 pixels (height x width)" in err
    Image.new("L", (48, 64), 128).save(tmp_path / "photo.png")  # 64 high, 48 wide
    code, out, err = run(capsys, "build", "--variant", "basic", "--image",
                         str(tmp_path / "photo.png"), "--input-size", "12x12", "-o",
                         str(tmp_path / "p.xlsx"))
    assert code == 0, err
    assert "resized from 64x48 to 12x12 pixels (height x width), squashed" in out


# ---------------------------------------------------------------------------- handouts
def _all_text(path: Path) -> str:
    import zipfile

    with zipfile.ZipFile(path) as zf:
        return "".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist())


def test_a_handout_holds_no_seed_that_rebuilds_its_answers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The handout recorded `"seed": 501594949`, and `build --seed 501594949` rebuilt every
    answer. Now neither the seed nor a roster's base seed is in the file, and grading still
    works from what the handout shows."""
    import json

    from convsheets.grade import grade_files
    from convsheets.xlsxread import XlsxFile, parse_ref

    hw = tmp_path / "hw.xlsx"
    assert run(capsys, "build", "--variant", "basic", "--exercise", "--seed", "501594949",
               "-o", str(hw))[0] == 0
    assert "501594949" not in _all_text(hw)
    record = json.loads(XlsxFile(hw).custom_properties()["convsheets"])
    assert record["layer"]["seed"] == 0
    # the seed it records rebuilds other numbers, not the handout's
    rebuilt = tmp_path / "rebuilt.xlsx"
    assert run(capsys, "build", "--variant", "basic", "--seed", str(record["layer"]["seed"]),
               "-o", str(rebuilt))[0] == 0
    def block(path: Path, name: str):  # type: ignore[no-untyped-def]
        with XlsxFile(path) as xf:
            sheet, r0, c0, r1, c1 = parse_ref(xf.defined_names()[name])
            return xf.read_sheet(sheet).region(r0, c0, r1, c1).values

    for name in ("input_c0", "input_c1", "weight_0_0"):
        assert block(rebuilt, name).shape == block(hw, name).shape
        assert (block(rebuilt, name) != block(hw, name)).any(), name
    roster = tmp_path / "r.csv"
    roster.write_text("id\ns1\n")
    assert run(capsys, "build", "--variant", "basic", "--exercise", "--seed", "777123",
               "--roster", str(roster), "-o", str(tmp_path / "class"))[0] == 0
    text = _all_text(tmp_path / "class" / "s1.xlsx")
    assert "777123" not in text and "base_seed" not in text
    fill(hw, tmp_path / "back.xlsx", all_right)
    (g,) = grade_files([tmp_path / "back.xlsx"])
    assert not g.unusable and g.correct == g.total == 18


def test_an_edited_input_is_still_reported(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Grading from the recorded numbers, not the cells: an edited input is not rewarded."""
    from convsheets.grade import grade_files

    hw = tmp_path / "hw.xlsx"
    assert run(capsys, "build", "--variant", "basic", "--exercise", "-o", str(hw))[0] == 0
    fill(hw, tmp_path / "back.xlsx", all_right, edits={("Input", "B5"): 99})
    (g,) = grade_files([tmp_path / "back.xlsx"])
    assert g.edited == ["input_c0"] and g.correct == g.total


def test_first_format_handouts_are_still_graded(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A handout written before this change recorded its seed (exercise format 1): graded
    from the seed, as before."""
    import json
    import re
    import zipfile
    from xml.sax.saxutils import escape

    from convsheets.grade import grade_files
    from convsheets.xlsxread import XlsxFile

    hw = tmp_path / "hw.xlsx"
    assert run(capsys, "build", "--variant", "basic", "--exercise", "--seed", "5", "-o",
               str(hw))[0] == 0
    record = json.loads(XlsxFile(hw).custom_properties()["convsheets"])
    old = dict(record, layer=dict(record["layer"], seed=5),
               exercise={"format": 1, "blank": ["output"], "self_check": False})
    text = json.dumps(old, sort_keys=True)
    fill(hw, tmp_path / "filled.xlsx", all_right)
    with zipfile.ZipFile(tmp_path / "filled.xlsx") as zin, \
            zipfile.ZipFile(tmp_path / "old.xlsx", "w") as zout:
        for info in zin.infolist():
            data = zin.read(info).decode("utf-8", "surrogateescape")
            if info.filename == "docProps/custom.xml":
                data = re.sub(r"<vt:lpwstr>.*</vt:lpwstr>",
                              lambda _m: f"<vt:lpwstr>{escape(text)}</vt:lpwstr>", data)
            zout.writestr(info, data.encode("utf-8", "surrogateescape"))
    (g,) = grade_files([tmp_path / "old.xlsx"])
    assert not g.unusable and g.metadata_from == "property" and g.correct == g.total


SHIPPED = ["edges", "digit_edges", "lenet", "encoder_decoder"]


@pytest.mark.parametrize("network", SHIPPED)
def test_every_shipped_network_makes_a_handout(network: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """`build --template edges --exercise --blank conv2` refused: "an exercise's numbers come
    from its seed"; digit_edges the same (their input and kernels are given)."""
    from convsheets.grade import grade_files
    from convsheets.networks import shipped_networks

    assert network in shipped_networks()
    hw = tmp_path / "hw.xlsx"
    blank = ["--blank", "conv2"] if network == "edges" else []
    code, out, err = run(capsys, "build", "--template", network, "--exercise", *blank, "-o",
                         str(hw))
    assert code == 0, err
    fill(hw, tmp_path / "right.xlsx", all_right)
    fill(hw, tmp_path / "wrong.xlsx", wrong_first(2))
    right, wrong = grade_files([tmp_path / "right.xlsx", tmp_path / "wrong.xlsx"])
    assert not right.unusable and right.correct == right.total > 0
    assert wrong.correct == wrong.total - 2


def test_a_handout_of_a_picture_and_classic_kernels(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from convsheets.grade import grade_files

    hw = tmp_path / "hw.xlsx"
    code, _, err = run(capsys, "build", "--variant", "basic", "--exercise", "--image", "digit",
                       "--input-size", "10x10", "--kernel", "sobel-x", "-o", str(hw))
    assert code == 0, err
    fill(hw, tmp_path / "right.xlsx", all_right)
    (g,) = grade_files([tmp_path / "right.xlsx"])
    assert not g.unusable and g.correct == g.total > 0


@pytest.mark.skipif(not HAS_LIBREOFFICE, reason="needs LibreOffice")
def test_the_metadata_sheet_never_prints(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """LibreOffice's PDF of a handout ended with a page of JSON, every footer counted it
    ("page 1 of 7"), and render wrote hw-convsheets.png."""
    import re

    import pypdfium2 as pdfium

    from convsheets.render import to_pdf

    hw = tmp_path / "hw.xlsx"
    assert run(capsys, "build", "--variant", "basic", "--exercise", "-o", str(hw))[0] == 0
    (pdf,) = to_pdf([hw], tmp_path / "pdf")  # LibreOffice's own export, as a user prints
    doc = pdfium.PdfDocument(str(pdf))
    try:
        texts = [doc[n].get_textpage().get_text_range() for n in range(len(doc))]
    finally:
        doc.close()
    assert not any('"generator"' in t for t in texts)
    footers = [re.findall(r"page (\d+) of (\d+)", t) for t in texts]
    assert all(f and f[-1] == (str(n), str(len(texts))) for n, f in enumerate(footers, 1))
    assert run(capsys, "render", str(hw), "--to", str(tmp_path / "pics"), "--dpi", "20")[0] == 0
    assert not list((tmp_path / "pics").glob("*-convsheets*.png"))
    assert (tmp_path / "pics" / "hw-output.png").is_file()
