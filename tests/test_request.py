"""One request layer (`convsheets.request`) behind both front doors: ``convsheets build`` and
``convsheets.build`` write the same bytes for the same request, and refuse the same bad
requests, each naming the parameter as that door spells it (``--kernel`` / ``kernel=``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from safetensors.numpy import save_file

import convsheets
from convsheets.cli import cli
from convsheets.errors import ConvsheetsError, SpecError
from convsheets.request import API, CLI, RequestError, every_preset, resolve

NET = """input_size = "6x6"
in_channels = 1
values = "normal"

[[layers]]
op = "conv2d"
name = "conv"
out_channels = 2
kernel_size = 3
padding = 1
weights = "features.0"

[[layers]]
op = "relu"

[[layers]]
op = "max_pool2d"
kernel_size = 2
"""


def _files(tmp: Path) -> dict[str, str]:
    """A network template naming its tensors, and a safetensors file holding them."""
    (tmp / "net.toml").write_text(NET)
    rng = np.random.default_rng(5)
    save_file({"features.0.weight": rng.normal(size=(2, 1, 3, 3)),
               "features.0.bias": rng.normal(size=2)}, str(tmp / "m.safetensors"))
    return {"net": str(tmp / "net.toml"), "weights": str(tmp / "m.safetensors")}


# (id, command line after `build`, the same request as convsheets.build's arguments); NET and
# WEIGHTS stand for the files _files writes
SAME = [
    ("variant-options",
     ["--variant", "transposed", "--stride", "2", "--groups", "2", "--in-channels", "4",
      "--seed", "3", "--values", "normal", "--no-bias"],
     {"variant": "transposed", "stride": 2, "groups": 2, "in_channels": 4, "seed": 3,
      "values": "normal", "bias": False}),
    ("variant-views",
     ["--variant", "Dilated", "--input-size", "7x9", "--colour-scale", "tensor", "--no-explorer",
      "--no-matrix"],
     {"variant": "dilated", "input_size": "7x9", "colour_scale": "tensor",
      "views": ("overview", "scatter")}),
    ("shipped-network",
     ["--template", "encoder_decoder", "--input-size", "6x10", "--seed", "9"],
     {"template": "encoder_decoder", "input_size": (6, 10), "seed": 9}),
    ("template-weights",
     ["--template", "NET", "--weights", "WEIGHTS"],
     {"template": "NET", "weights": "WEIGHTS"}),
    ("template-weights-image",
     ["--template", "NET", "--weights", "WEIGHTS", "--image", "digit", "--input-size", "8x8"],
     {"template": "NET", "weights": "WEIGHTS", "image": "digit", "input_size": "8x8"}),
    ("image-kernels",
     ["--variant", "basic", "--image", "digit", "--kernel", "sobel-x,sobel-y"],
     {"variant": "basic", "image": "digit", "kernel": "sobel-x,sobel-y"}),
    ("image-rgb-kernel",
     ["--variant", "transposed", "--image", "colour", "--in-channels", "3", "--input-size",
      "5x6", "--kernel", "gaussian-blur"],
     {"variant": "transposed", "image": "colour", "in_channels": 3, "input_size": [5, 6],
      "kernel": "gaussian-blur"}),
    ("exercise",
     ["--variant", "basic", "--exercise", "--blank", "padded,output", "--seed", "4"],
     {"variant": "basic", "exercise": True, "blank": "padded,output", "seed": 4}),
]


def _fill(value: object, files: dict[str, str]) -> object:
    return {"NET": files["net"], "WEIGHTS": files["weights"]}.get(value, value) \
        if isinstance(value, str) else value


@pytest.mark.parametrize(("args", "kwargs"), [(a, k) for _, a, k in SAME],
                         ids=[name for name, _, _ in SAME])
def test_api_and_cli_write_the_same_bytes(tmp_path: Path, args: list[str],
                                          kwargs: dict[str, object]) -> None:
    files = _files(tmp_path)
    result = CliRunner().invoke(cli, ["build", *(_fill(a, files) for a in args), "-o",
                                      str(tmp_path / "a.xlsx")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    convsheets.build(**{k: _fill(v, files) for k, v in kwargs.items()},
                     output=tmp_path / "b.xlsx")
    a, b = (tmp_path / "a.xlsx").read_bytes(), (tmp_path / "b.xlsx").read_bytes()
    assert a == b, "convsheets build and convsheets.build wrote different files"


def test_the_real_entry_point_writes_the_same_bytes_as_the_api(tmp_path: Path,
                                                               monkeypatch) -> None:
    """Once through `python -m convsheets` (its own process, relative paths, default -o)."""
    _files(tmp_path)
    done = subprocess.run([sys.executable, "-m", "convsheets", "build", "--template", "net.toml",
                           "--weights", "m.safetensors", "--image", "digit"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("created folder output\nwrote output/net.xlsx")
    monkeypatch.chdir(tmp_path)
    result = convsheets.build(template="net.toml", weights="m.safetensors", image="digit",
                              output="b.xlsx")
    assert result.path == Path("b.xlsx")
    assert (tmp_path / "output" / "net.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()


def test_kernel_names_as_a_list_are_the_same_request(tmp_path: Path) -> None:
    convsheets.build("basic", image="digit", kernel="sobel-x,sobel-y", output=tmp_path / "a.xlsx")
    convsheets.build("basic", image=Path("digit"), kernel=["sobel-x", "sobel-y"],
                     output=tmp_path / "b.xlsx")
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()


def test_resolve_owns_defaults_origins_and_the_preset_note() -> None:
    resolved = resolve("basic", image="digit", kernel="sobel-x,sobel-y,laplacian")
    network = resolved.network
    assert network.input_shape == (1, 28, 28)  # grey, the picture's own size
    assert network.layers[0].op.out_channels == 3  # one output channel per kernel
    assert network.origins == {"input": "the image digit",
                               "weight": "classic kernels sobel-x,sobel-y,laplacian "
                               "(biases 0)"}
    assert np.array_equal(network.given["bias"], [0, 0, 0])
    assert resolved.default_output_path == Path("output/basic.xlsx")
    # the preset gave stride, padding and bias; in_channels, input_size, kernel_size and
    # out_channels follow from the picture and the kernels (not from the preset)
    assert resolved.preset_note == ("from the basic preset (not typed): stride=2x2, "
                                    "padding=1x1, bias=true")
    shipped = resolve(template="edges", options={"seed": 4})
    assert shipped.default_output_path == Path("output/edges.xlsx") and not shipped.preset_note
    assert shipped.network.seed == 4
    assert resolve(template={"layers": [{"op": "relu"}], "input_size": 3, "in_channels": 1},
                   door=API).default_output_path == Path("output/network.xlsx")


def test_every_preset_is_what_all_builds() -> None:
    presets = every_preset()
    assert list(presets)[:7] == list(convsheets.variants.VARIANTS)
    assert presets["basic"].network.request == resolve("basic").network.request
    assert presets["edges"].network.input_shape == resolve(template="edges").network.input_shape


# (command line, the same request for convsheets.build, words of the CLI's line, of the API's)
BAD = [
    (["--template", "edges", "--kernel", "sobel-x"], {"template": "edges", "kernel": "sobel-x"},
     ["--kernel names the kernels", 'kernel = "sobel-x"'],
     ["convsheets.build: kernel names the kernels"]),
    (["--variant", "basic", "--weights", "WEIGHTS"], {"variant": "basic", "weights": "WEIGHTS"},
     ["--weights takes a network template", "use --kernel"],
     ["convsheets.build: weights takes a network template", "use kernel="]),
    (["--template", "edges", "--stride", "2"], {"template": "edges", "stride": 2},
     ["--stride: ", "[[layers]]", "the command line may set --input-size, --in-channels"],
     ["convsheets.build: stride: ", "[[layers]]", "build() may set input_size=, in_channels="]),
    (["--variant", "basic", "--template", "edges"], {"variant": "basic", "template": "edges"},
     ["--variant builds one of the seven variants"],
     ["convsheets.build: variant builds one of the seven variants"]),
    (["--seed", "2"], {"seed": 2}, ["give --variant (one of basic", "--template FILE or --all"],
     ["convsheets.build: give variant= (one of basic", "or template="]),
    (["--template", "LAYER"], {"template": "LAYER"},
     ["--template ", "layer.toml: the file has neither a variant = line", "give --variant"],
     ['convsheets.build: template="', 'layer.toml": the file has neither', "give variant="]),
    (["--variant", "basic", "--kernel", "sobel-q"], {"variant": "basic", "kernel": "sobel-q"},
     ['--kernel="sobel-q": unknown kernel'], ['convsheets.build: kernel="sobel-q": unknown']),
    (["--variant", "basic", "--image", "digit", "--kernel", "sobel-x", "--kernel-size", "5"],
     {"variant": "basic", "image": "digit", "kernel": "sobel-x", "kernel_size": 5},
     ['--kernel="sobel-x": sobel-x is 3x3 but the kernel size is 5x5'],
     ['convsheets.build: kernel="sobel-x": sobel-x is 3x3']),
]


@pytest.mark.parametrize(("args", "kwargs", "cli_words", "api_words"), BAD,
                         ids=[" ".join(a) for a, _, _, _ in BAD])
def test_bad_requests_are_refused_by_both_doors(tmp_path: Path, args: list[str],
                                                kwargs: dict[str, object], cli_words: list[str],
                                                api_words: list[str]) -> None:
    files = {**_files(tmp_path), "layer": str(tmp_path / "layer.toml")}
    (tmp_path / "layer.toml").write_text('input_size = "5x5"\n')
    fill = {"WEIGHTS": files["weights"], "LAYER": files["layer"]}
    before = sorted(p.name for p in tmp_path.iterdir())
    done = subprocess.run([sys.executable, "-m", "convsheets", "build",
                           *(fill.get(a, a) for a in args), "-o", "x.xlsx"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    for word in cli_words:
        assert word in lines[0], (word, lines[0])
    with pytest.raises(ConvsheetsError) as info:
        convsheets.build(**{k: fill.get(v, v) if isinstance(v, str) else v
                            for k, v in kwargs.items()}, output=tmp_path / "y.xlsx")
    text = str(info.value)
    assert isinstance(info.value, SpecError) and "\n" not in text and text.startswith(
        "convsheets.build: "), text
    for word in api_words:
        assert word in text, (word, text)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_a_request_error_names_its_key_and_is_spelled_by_its_door() -> None:
    for door, shown in ((CLI, "--kernel names"), (API, "convsheets.build: kernel names")):
        with pytest.raises(RequestError) as info:
            resolve(template="edges", kernel="sobel-x", door=door)
        assert info.value.param == "kernel" and str(info.value).startswith(shown)


def test_the_cli_shows_a_request_error_as_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["build", "--template", "edges", "--kernel", "sobel-x"])
    assert result.exit_code == 2 and "Usage: " in result.output
    assert "Error: --kernel names the kernels" in result.output
