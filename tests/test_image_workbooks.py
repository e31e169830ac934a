"""Workbooks built from an image and classic kernels: the input cells are exactly Pillow's
conversion and BOX resize of the image, the weights exactly the named kernels, and the outputs
recalculated by LibreOffice equal PyTorch (grey and RGB; basic, depthwise, dilated, transposed
and a network). Test images are drawn here; nothing is downloaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from PIL import Image, ImageDraw

from convsheets.cli import cli
from convsheets.engines import get_engine
from convsheets.xlsxread import XlsxFile, parse_ref

SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]])
GAUSS = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16


def _picture(path: Path, mode: str) -> Path:
    img = Image.new(mode, (40, 30), "white" if mode == "RGB" else 255)
    draw = ImageDraw.Draw(img)
    draw.rectangle((5, 4, 25, 20), fill=(200, 30, 60) if mode == "RGB" else 40)
    draw.line((0, 29, 39, 0), fill=(10, 180, 90) if mode == "RGB" else 120, width=3)
    img.save(path)
    return path


def _pillow(path: Path, mode: str, size: tuple[int, int]) -> np.ndarray:
    """What the issue specifies, done here with Pillow alone: (C, H, W)."""
    with Image.open(path) as img:
        img = img.convert(mode).resize((size[1], size[0]), Image.Resampling.BOX)
        array = np.asarray(img, dtype=np.int64)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


CASES = [  # (name, image mode, build arguments, torch forward of input x and weights)
    ("basic", "L", ["--variant", "basic", "--input-size", "12x16", "--kernel",
                    "sobel-x,laplacian", "--stride", "1", "--padding", "1"]),
    ("depthwise", "RGB", ["--variant", "depthwise", "--in-channels", "3", "--input-size",
                          "10x12", "--kernel", "gaussian-blur", "--padding", "1"]),
    ("dilated", "L", ["--variant", "dilated", "--input-size", "14x14", "--kernel",
                      "sobel-x,laplacian"]),
    ("transposed", "L", ["--variant", "transposed", "--input-size", "6x7", "--kernel",
                         "laplacian,sobel-x"]),
    ("network", "RGB", ["--template", "NET", "--in-channels", "3", "--input-size", "12x12"]),
]
NET = """
seed = 2
[[layers]]
op = "conv2d"
out_channels = 2
kernel = ["sobel-x", "gaussian-blur"]
padding = 1
[[layers]]
op = "relu"
[[layers]]
op = "avg_pool2d"
kernel_size = 2
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path, Path]]:
    folder = tmp_path_factory.mktemp("images")
    (folder / "net.toml").write_text(NET)
    out = {}
    for name, mode, args in CASES:
        picture = _picture(folder / f"{name}.png", mode)
        args = [a if a != "NET" else str(folder / "net.toml") for a in args]
        # the command line in process (one Python start saved per case; the subprocess form
        # is test_bundled_samples_work_from_any_folder's)
        result = CliRunner().invoke(cli, ["build", *args, "--image", str(picture), "-o",
                                          str(folder / f"{name}.xlsx")])
        assert result.exit_code == 0, result.output
        out[name] = (picture, folder / f"{name}.xlsx")
    names = list(out)
    copies = get_engine("libreoffice").recalculate([out[n][1] for n in names],
                                                   folder / "lo", timeout=600)
    return {n: (*out[n], copy) for n, copy in zip(names, copies, strict=True)}


def _read(path: Path):  # type: ignore[no-untyped-def]
    xf = XlsxFile(path)
    names = xf.defined_names()
    cache: dict[str, object] = {}

    def read(name: str) -> np.ndarray:
        sheet, r0, c0, r1, c1 = parse_ref(names[name])
        if sheet not in cache:
            cache[sheet] = xf.read_sheet(sheet)
        return cache[sheet].region(r0, c0, r1, c1).values  # type: ignore[attr-defined]
    return read, names


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_image_kernels_and_outputs(built, name: str) -> None:
    picture, _, copy = built[name]
    mode = dict((c[0], c[1]) for c in CASES)[name]
    read, names = _read(copy)
    channels = 3 if mode == "RGB" else 1
    h, w = read("input_c0").shape
    x = _pillow(picture, mode, (h, w))
    got = np.stack([read(f"input_c{c}") for c in range(channels)])
    assert np.array_equal(got, x)  # exactly Pillow's pixels
    xt = torch.tensor(x, dtype=torch.float64)[None]
    Z2, Z3 = (torch.zeros(n, dtype=torch.float64) for n in (2, 3))  # the kernels' biases
    if name == "basic":
        w_ = np.stack([SOBEL_X, LAPLACIAN])[:, None]
        y = F.conv2d(xt, torch.tensor(w_, dtype=torch.float64), Z2, padding=1)
    elif name == "depthwise":
        w_ = np.stack([GAUSS] * 3)[:, None]
        y = F.conv2d(xt, torch.tensor(w_, dtype=torch.float64), Z3, padding=1,
                     groups=3)
    elif name == "dilated":
        w_ = np.stack([SOBEL_X, LAPLACIAN])[:, None]
        y = F.conv2d(xt, torch.tensor(w_, dtype=torch.float64), Z2, dilation=2)
    elif name == "transposed":  # weight[c][o] = the kernel of output channel o
        w_ = np.stack([LAPLACIAN, SOBEL_X])[None]
        y = F.conv_transpose2d(xt, torch.tensor(w_, dtype=torch.float64), Z2,
                               stride=2, padding=1, output_padding=1)
    else:
        w_ = np.stack([np.stack([SOBEL_X] * 3), np.stack([GAUSS] * 3)])
        y = F.avg_pool2d(F.relu(F.conv2d(xt, torch.tensor(w_, dtype=torch.float64),
                                         Z2, padding=1)), 2)
    prefix = "conv1_" if name == "network" else ""
    weight = np.zeros(w_.shape)
    for a in range(w_.shape[0]):
        for b in range(w_.shape[1]):
            weight[a, b] = read(f"{prefix}weight_{a}_{b}")
    assert np.array_equal(weight, w_)  # exactly the named kernels
    for o in range(y.shape[1]):
        want = y[0, o].numpy()
        assert np.allclose(read(f"output_c{o}"), want, rtol=1e-9, atol=1e-9), (name, o)


def test_bundled_samples_work_from_any_folder(tmp_path: Path) -> None:
    for sample in ("digit", "scene", "colour"):
        result = subprocess.run([sys.executable, "-m", "convsheets", "build", "--variant",
                                 "basic", "--image", sample] + (
                                     ["--in-channels", "3"] if sample == "colour" else []) + [
                                 "-o", "s.xlsx", "--force"], cwd=tmp_path,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("args", "words"), [
    (["--image", "nosuch.png"], ["--image", "nosuch.png"]),
    (["--image", "digit", "--in-channels", "2"], ["--in-channels", "1", "3"]),
    (["--image", "digit", "--kernel", "sobel-q"], ["kernel", "sobel-q"]),
    (["--image", "digit", "--kernel", "sobel-x", "--kernel-size", "5"], ["kernel", "5x5"]),
    (["--image", "digit", "--weights", "w.safetensors"], ["--weights", "network"]),
])
def test_bad_image_and_kernel_options(tmp_path: Path, args: list[str], words: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "convsheets", "build", "--variant", "basic",
                             *args, "-o", "x.xlsx"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert not (tmp_path / "x.xlsx").exists()
