"""`convsheets animate`: frame n is the workbook with its step at n, checked against PyTorch.

The frames workbook `animate` hands LibreOffice (one copy of the Walk sheet per frame) is kept,
recalculated by LibreOffice, and each copy read back: its step's position must be NumPy's
unravelling of n, the cells its window highlight (the copy's conditional formats, evaluated on
its recalculated cells) must hold PyTorch's window of that output cell (`F.unfold` of the
padded or zero-inserted input), its products PyTorch's window times the kernel, and the output
cells it shows filled (not hidden by the white-text format) exactly PyTorch's first n + 1
outputs of the channel. Two LibreOffice starts for all of it (the PDF batch, the
recalculation), one more for the gallery's small case and the command line's happy path.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageSequence

import convsheets
from convsheets.animate import MAX_FRAMES, Job, find_walk, parse_frames, render_jobs
from convsheets.cli import main
from convsheets.engines.libreoffice import LibreOfficeEngine
from convsheets.walk_gallery import CASES, build_case, gallery
from convsheets.xlsxread import XlsxFile, parse_ref

ROOT = Path(__file__).resolve().parent.parent
GALLERY = ROOT / "docs" / "images" / "animate"


# ---------------------------------------------------------------------------- PyTorch's side
def _tensor(book: XlsxFile, names: dict[str, str], sheets: dict[str, object], name: str,
            ) -> np.ndarray:
    sheet, r0, c0, r1, c1 = parse_ref(names[name])
    if sheet not in sheets:
        sheets[sheet] = book.read_sheet(sheet)
    values = sheets[sheet].values  # type: ignore[attr-defined]
    return values[r0 - 1:r1, c0 - 1:c1]


def _torch_reference(book: XlsxFile, options: dict) -> dict[str, np.ndarray]:
    """The layer's input, window source, kernels and output by PyTorch, from the tensors the
    workbook holds (its input and weight blocks)."""
    names, sheets = book.defined_names(), {}
    cin, cout = options["in_channels"], options["out_channels"]
    transposed = options["variant"] == "transposed"
    x = torch.tensor(np.stack([_tensor(book, names, sheets, f"input_c{c}")
                               for c in range(cin)]), dtype=torch.float64)
    a, b = (cin, cout) if transposed else (cout, cin)
    w = torch.tensor(np.stack([[_tensor(book, names, sheets, f"weight_{i}_{j}")
                                for j in range(b)] for i in range(a)]), dtype=torch.float64)
    bias = (torch.tensor(_tensor(book, names, sheets, "bias")[0], dtype=torch.float64)
            if options["bias"] else None)
    s, p, d = (tuple(options[k]) for k in ("stride", "padding", "dilation"))
    kh, kw = w.shape[2:]
    if not transposed:
        y = F.conv2d(x[None], w, bias, s, p, d)[0]
        source = F.pad(x, (p[1], p[1], p[0], p[0]))
        kernels, stride = w, s
    else:
        op = tuple(options["output_padding"])
        y = F.conv_transpose2d(x[None], w, bias, s, p, op, 1, d)[0]
        h, wd = x.shape[1:]
        z = torch.zeros(cin, (h - 1) * s[0] + 1, (wd - 1) * s[1] + 1, dtype=torch.float64)
        z[:, ::s[0], ::s[1]] = x
        e = [d[i] * ((kh, kw)[i] - 1) - p[i] for i in (0, 1)]
        source = F.pad(z, (e[1], e[1] + op[1], e[0], e[0] + op[0]))
        kernels, stride = w.flip(-1, -2).transpose(0, 1), (1, 1)
        # the recipe is PyTorch's own transposed convolution
        assert torch.allclose(F.conv2d(source[None], kernels, bias, 1, 0, d)[0], y)
    unfold = F.unfold(source[None], (kh, kw), dilation=d, stride=stride)[0]
    return {"y": y.numpy(), "source": source.numpy(), "kernels": kernels.numpy(),
            "windows": unfold.numpy().reshape(source.shape[0], kh, kw, -1)}


# ---------------------------------------------------------------------------- the sheet's side
def _cf_rules(xlsx: Path, sheet: str) -> list[tuple[str, str, str]]:
    """The sheet's conditional formats: (range, formula, look), the look read from the
    differential style LibreOffice applies (magenta fill, shaded fill, white text)."""
    with zipfile.ZipFile(xlsx) as zf:
        book = zf.read("xl/workbook.xml").decode()
        rels = zf.read("xl/_rels/workbook.xml.rels").decode()
        styles = zf.read("xl/styles.xml").decode()
        rid = re.search(rf'<sheet [^>]*name="{re.escape(sheet)}"[^>]*r:id="([^"]+)"', book)
        assert rid is not None, sheet
        target = re.search(rf'<Relationship [^>]*Id="{rid.group(1)}"[^>]*/>', rels)
        assert target is not None
        part = re.search(r'Target="([^"]+)"', target.group(0)).group(1).lstrip("/")
        part = part if part.startswith("xl/") else "xl/" + part
        xml = zf.read(part).decode()
    dxfs = re.findall(r"<dxf>(.*?)</dxf>", re.search(r"<dxfs[^>]*>(.*?)</dxfs>", styles,
                                                      re.S).group(1), re.S)

    def look(dxf: str) -> str:
        upper = dxf.upper()
        if "FF66FF" in upper:
            return "highlight"
        if "BDE5F8" in upper:
            return "done"
        if re.search(r"<FONT>.*FFFFFF", upper, re.S):
            return "hidden"
        return "other"

    rules = []
    for sqref, body in re.findall(r'<conditionalFormatting[^>]*sqref="([^"]+)"[^>]*>(.*?)'
                                  r"</conditionalFormatting>", xml, re.S):
        for dxf_id, formula in re.findall(r'<cfRule[^>]*dxfId="(\d+)"[^>]*>\s*<formula>'
                                          r"(.*?)</formula>", body, re.S):
            rules.append((sqref, formula.replace("&lt;", "<").replace("&gt;", ">")
                          .replace("&amp;", "&").replace("&quot;", '"'),
                          look(dxfs[int(dxf_id)])))
    return rules


def _holds(formula: str, values: np.ndarray, row: int, col: int) -> bool:
    """A conditional format's formula (AND, OR, NOT, ISNUMBER, MOD, comparisons, cell
    references) evaluated at sheet cell (row, col) on a recalculated sheet's values."""
    def cell(m: re.Match[str]) -> str:
        letters, number = m.group(1), int(m.group(2))
        index = 0
        for ch in letters:
            index = index * 26 + ord(ch) - 64
        value = values[number - 1, index - 1]
        return "None" if np.isnan(value) else repr(float(value))

    text = formula.replace("ROW()", str(row)).replace("COLUMN()", str(col))
    text = re.sub(r"\$?([A-Z]{1,3})\$?(\d+)", cell, text)
    text = text.replace("<>", "!=")
    text = re.sub(r"(?<![<>!=])=(?!=)", "==", text)
    for word, fn in (("ISNUMBER(", "_isnum("), ("AND(", "_and("), ("OR(", "_or("),
                     ("NOT(", "_not("), ("MOD(", "_mod(")):
        text = text.replace(word, fn)
    env = {"_isnum": lambda v: v is not None, "_and": lambda *a: all(a),
           "_or": lambda *a: any(a), "_not": lambda v: not v,
           "_mod": lambda a, b: a - b * np.floor(a / b)}
    try:
        return bool(eval(text, env))  # noqa: S307 (a formula the test's own sheet holds)
    except TypeError:  # a blank cell in arithmetic: the rule does not hold
        return False


def _area(ref: str) -> tuple[int, int, int, int]:
    _s, r0, c0, r1, c1 = parse_ref(ref)
    return r0, c0, r1, c1


# ---------------------------------------------------------------------------- the tests
WORKBOOKS = [  # (variant, view, sampled steps)
    ("basic", "explorer", [0, 4, 9, 17]),
    ("transposed", "explorer", [0, 7, 40, 71]),
    ("dilated", "explorer", [0, 5, 17]),
    ("transposed", "scatter", [0, 7, 9, 17]),
]


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("animate")
    jobs, options = [], []
    for variant, view, steps in WORKBOOKS:
        path = folder / f"{variant}.xlsx"
        result = convsheets.build(variant, output=path) if not path.exists() else None
        jobs.append(Job(path, find_walk(path, view=view), steps))
        assert result is None or result.path == path
        with XlsxFile(path) as book:
            record = json.loads(book.custom_properties()["convsheets"])
        options.append(record["layer"])
    keep = folder / "frames"
    keep.mkdir()
    images = render_jobs(jobs, keep=keep)  # one LibreOffice start: the PDF of every frame
    books = [keep / f"frames{i}.xlsx" for i in range(len(jobs))]
    copies = LibreOfficeEngine().recalculate(books, folder / "recalculated", 300.0)
    return {"jobs": jobs, "options": options, "images": images, "books": books,
            "copies": copies}


@pytest.mark.parametrize("which", [n for n, w in enumerate(WORKBOOKS) if w[1] == "explorer"])
def test_frame_n_is_the_workbook_at_step_n(frames: dict, which: int) -> None:
    job, options = frames["jobs"][which], frames["options"][which]
    images = frames["images"][which]
    assert len(images) == len(job.steps)
    assert len({im.size for im in images}) == 1
    for a, b in zip(images, images[1:], strict=False):  # every step changes the picture
        assert np.abs(np.asarray(a, int) - np.asarray(b, int)).sum() > 0
    with XlsxFile(frames["copies"][which]) as book:
        ref = _torch_reference(book, options)
        names = book.defined_names()
        prefix = ""
        channels, oh, ow = ref["y"].shape
        rules = _cf_rules(frames["books"][which], f"step {job.steps[0]}")
        for step in job.steps:
            values = book.read_sheet(f"step {step}").values
            c, r, k = np.unravel_index(step, (channels, oh, ow))

            def at(name: str, values: np.ndarray = values) -> np.ndarray:
                r0, c0, r1, c1 = _area(names[prefix + name])
                return values[r0 - 1:r1, c0 - 1:c1]

            assert at("walk_step")[0, 0] == step
            assert (at("walk_channel")[0, 0], at("walk_row")[0, 0], at("walk_col")[0, 0]) \
                == (c, r, k)
            kh, kw = ref["kernels"].shape[2:]
            per_in = ref["kernels"].shape[1]
            group = c // (channels // (ref["source"].shape[0] // per_in)) * per_in
            for j in range(per_in):
                r0, c0, r1, c1 = _area(names[f"walk_source_{j}"])
                np.testing.assert_array_equal(at(f"walk_source_{j}"),
                                              ref["source"][group + j])
                lit = [(row - r0, col - c0) for row in range(r0, r1 + 1)
                       for col in range(c0, c1 + 1)
                       if any(_holds(f, values, row, col) for sq, f, look in rules
                              if look == "highlight" and sq.startswith(f"{_col(c0)}{r0}:"))]
                window = ref["windows"][group + j, :, :, r * ow + k]
                assert len(lit) == kh * kw
                shown = np.array([ref["source"][group + j][i, q] for i, q in lit])
                np.testing.assert_array_equal(shown, window.ravel())
                np.testing.assert_allclose(at(f"walk_products_{j}"),
                                           window * ref["kernels"][c, j], atol=1e-9)
            r0, c0, r1, c1 = _area(names["walk_output"])
            output = at("walk_output")
            filled = []
            for row in range(r0, r1 + 1):
                for col in range(c0, c1 + 1):
                    looks = {look for sq, f, look in rules if sq.startswith(f"{_col(c0)}{r0}:")
                             and _holds(f, values, row, col)}
                    if "hidden" not in looks:
                        filled.append(output[row - r0, col - c0])
            np.testing.assert_allclose(filled, ref["y"][c].ravel()[:r * ow + k + 1],
                                       atol=1e-9)
            np.testing.assert_allclose(at("walk_total")[0, 0], ref["y"][c, r, k], atol=1e-9)


def test_scatter_frame_n_adds_the_stamps_of_pixels_0_to_n(frames: dict) -> None:
    """--view scatter: frame n's canvases are PyTorch's transposed convolution (no padding, no
    bias: the canvas before the crop) of the input with every pixel after n set to 0, and the
    cells its conditional format lights are where pixel n's stamp lands (PyTorch's transposed
    convolution of that pixel alone with an all-ones kernel)."""
    which = next(n for n, w in enumerate(WORKBOOKS) if w[1] == "scatter")
    job, options = frames["jobs"][which], frames["options"][which]
    assert len(frames["images"][which]) == len(job.steps)
    with XlsxFile(frames["copies"][which]) as book:
        names, sheets = book.defined_names(), {}
        cin = options["in_channels"]
        x = torch.tensor(np.stack([_tensor(book, names, sheets, f"input_c{c}")
                                   for c in range(cin)]), dtype=torch.float64)
        cout = options["out_channels"]
        w = torch.tensor(np.stack([[_tensor(book, names, sheets, f"weight_{i}_{j}")
                                    for j in range(cout)] for i in range(cin)]),
                         dtype=torch.float64)
        s, d = tuple(options["stride"]), tuple(options["dilation"])
        rules = _cf_rules(frames["books"][which], f"step {job.steps[0]}")
        for step in job.steps:
            values = book.read_sheet(f"step {step}").values
            c, r, k = np.unravel_index(step, x.shape)
            masked = x.flatten().clone()
            masked[step + 1:] = 0
            canvas = F.conv_transpose2d(masked.reshape(x.shape)[None], w, None, s, 0, 0, 1,
                                        d)[0].numpy()
            alone = torch.zeros_like(x)
            alone[c, r, k] = 1
            lands = F.conv_transpose2d(alone[None], torch.ones_like(w[:, :1]), None, s, 0, 0,
                                       1, d)[0, 0].numpy() > 0
            for b in range(cout):
                r0, c0, r1, c1 = _area(names[f"stamps_canvas_{b}"])
                shown = values[r0 - 1:r1, c0 - 1:c1]
                h, wd = canvas.shape[1:]
                np.testing.assert_allclose(shown[:h, :wd], canvas[b], atol=1e-9)
                assert not np.any(shown[h:, :]) and not np.any(shown[:, wd:])
                lit = np.zeros(shown.shape, bool)
                for row in range(r0, r1 + 1):
                    for col in range(c0, c1 + 1):
                        lit[row - r0, col - c0] = any(
                            _holds(f, values, row, col) for sq, f, look in rules
                            if look == "highlight" and sq.startswith(f"{_col(c0)}{r0}:"))
                np.testing.assert_array_equal(lit[:h, :wd], lands)
                assert not lit[h:, :].any() and not lit[:, wd:].any()
                r0, c0, r1, c1 = _area(names[f"stamps_stamp_{b}"])
                np.testing.assert_allclose(values[r0 - 1:r1, c0 - 1:c1],
                                           (x[c, r, k] * w[c, b]).numpy(), atol=1e-9)


def _col(n: int) -> str:
    letters = ""
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def test_committed_gallery_gif_is_what_the_code_makes(tmp_path: Path) -> None:
    """The smallest case of the gallery rebuilt: its frames are the committed GIF's."""
    case = CASES[0]
    written = gallery(tmp_path, [case])
    made, committed = _frames(written[0]), _frames(GALLERY / f"{case.name}.gif")
    assert len(made) == len(committed) == 4
    for a, b in zip(made, committed, strict=True):
        assert a.shape == b.shape
        assert np.mean(np.abs(a - b)) < 1.0  # (anti-aliasing may differ by a shade)


def _frames(path: Path) -> list[np.ndarray]:
    with Image.open(path) as gif:
        return [np.asarray(f.convert("RGB"), int) for f in ImageSequence.Iterator(gif)]


def test_gallery_reprs_are_pytorchs(tmp_path: Path) -> None:
    for case in (CASES[1], CASES[13], CASES[-1]):
        _path, text = build_case(case, tmp_path)
        o = case.options
        if case.variant == "basic":
            module = torch.nn.Conv2d(1, 1, o["kernel_size"], o["stride"], o["padding"],
                                     o["dilation"], bias=False)
        else:
            module = torch.nn.ConvTranspose2d(1, 1, o["kernel_size"], o["stride"],
                                              o["padding"], o["output_padding"], bias=False)
        assert text == repr(module)


def test_command_line_writes_a_gif_and_refuses_what_is_not_its_own(tmp_path: Path,
                                                                   capsys) -> None:
    path = convsheets.build("basic", output=tmp_path / "b.xlsx").path
    with pytest.raises(SystemExit) as exit_:
        main(["animate", str(path), "--frames", "0-2", "-o", str(tmp_path / "b.gif")])
    assert exit_.value.code == 0
    err = capsys.readouterr().err
    assert "frames" in err  # the progress on stderr
    assert len(_frames(tmp_path / "b.gif")) == 3
    theirs = tmp_path / "theirs.gif"
    theirs.write_bytes(b"GIF89a not ours")
    with pytest.raises(SystemExit) as exit_:
        main(["animate", str(path), "-o", str(theirs)])
    assert exit_.value.code == 2
    assert theirs.read_bytes() == b"GIF89a not ours"
    assert "not written by convsheets" in capsys.readouterr().err


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("animate-bad")
    return {"basic": convsheets.build("basic", output=folder / "basic.xlsx").path,
            "handout": convsheets.build("basic", exercise=True,
                                        output=folder / "handout.xlsx").path,
            "lenet": convsheets.build(template="lenet", output=folder / "lenet.xlsx").path}


BAD = [  # (workbook, arguments, words of the one line)
    ("basic", ["--layer", "conv9"], ["--layer", "conv9", "not a layer"]),
    ("basic", ["--view", "scatter"], ["--view", "scatter", "no scatter view"]),
    ("handout", [], ["exercise handout"]),
    ("basic", ["--frames", "18"], ["--frames", "outside the output", "0-17"]),
    ("basic", ["--frames", "5-40"], ["--frames", "outside the output"]),
    ("basic", ["--frames", "two"], ["--frames", "all, a step N or a range A-B"]),
    ("basic", ["--fps", "0"], ["--fps"]),
    ("lenet", ["--layer", "conv1", "--frames", "all"], ["--frames", f"more than {MAX_FRAMES}"]),
]


@pytest.mark.parametrize(("which", "args", "words"), BAD)
def test_bad_input_is_one_line_exit_2_nothing_written(small: dict[str, Path], which: str,
                                                      args: list[str], words: list[str],
                                                      tmp_path: Path, capsys) -> None:
    target = tmp_path / "out.gif"
    with pytest.raises(SystemExit) as exit_:
        main(["animate", str(small[which]), *args, "-o", str(target)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("Error: "), err
    for word in words:
        assert word in err
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_api_names_its_arguments(small: dict[str, Path]) -> None:
    with pytest.raises(convsheets.api.AnimateError, match=r"convsheets.animate: layer: "):
        convsheets.animate(small["basic"], layer="conv9")
    with pytest.raises(convsheets.api.AnimateError, match=r"convsheets.animate: frames: "):
        convsheets.animate(small["basic"], frames="3-99")


def test_parse_frames() -> None:
    assert parse_frames("all", 4) == [0, 1, 2, 3]
    assert parse_frames("2", 4) == [2]
    assert parse_frames("1-3", 4) == [1, 2, 3]
