"""Real weights: PyTorch modules and safetensors files become workbooks that compute what the
module computes.

Small seeded float64 `nn.Sequential` models of every supported module kind are saved with
safetensors and built both ways (a template naming tensors with ``weights = "0"`` plus the
file, and `from_module`); every workbook is recalculated once per engine — inside
`verify_files(engine="all")`, whose recalculated copies are kept, so LibreOffice starts once —
and every layer's ``{name}_output_c{o}`` block is compared with the module's own forward pass
(each child's output, hooked) to 1e-9 relative. Then every bad input: one line, a
`ConvsheetsError` subclass.
"""

from __future__ import annotations

import json
import pickle
import shutil
import struct
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
from safetensors.torch import save_file

import convsheets
from convsheets.build import build
from convsheets.engines import ENGINES
from convsheets.errors import (
    ConvsheetsError,
    ImageError,
    OutputError,
    SpecError,
    TemplateError,
    WeightsError,
)
from convsheets.networks import network_from_template
from convsheets.torch_module import from_module, module_network, module_template
from convsheets.weights import read_safetensors
from convsheets.xlsxread import XlsxFile, parse_ref

TOLERANCE = 1e-9


# ---------------------------------------------------------------------------- the models
def _seeded(seed: int, make: Callable[[], nn.Module]) -> nn.Module:
    torch.manual_seed(seed)
    return make().double().eval()


def _image(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64)


def case_grouped() -> tuple[nn.Module, torch.Tensor, list[dict[str, object]]]:
    """groups, dilation, no bias, an in-place ReLU, avg-pool with padding and without
    count_include_pad, a strided 1x2 kernel."""
    model = _seeded(2, lambda: nn.Sequential(
        nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2, bias=False), nn.ReLU(inplace=True),
        nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
        nn.Conv2d(6, 3, (1, 2), stride=(1, 2), groups=3)))
    layers = [{"op": "conv2d", "name": "grouped", "out_channels": 6, "kernel_size": 3,
               "padding": 2, "dilation": 2, "groups": 2, "bias": False, "weights": "0"},
              {"op": "relu"},
              {"op": "avg_pool2d", "kernel_size": 3, "stride": 2, "padding": 1,
               "count_include_pad": False},
              {"op": "conv2d", "out_channels": 3, "kernel_size": [1, 2], "stride": [1, 2],
               "groups": 3, "weights": "3"}]
    return model, _image(12, (4, 7, 7)), layers


def case_transposed() -> tuple[nn.Module, torch.Tensor, list[dict[str, object]]]:
    """output_padding, transposed groups and dilation, max-pool with tuple options, padding
    and dilation, avg-pool with padding (count_include_pad)."""
    model = _seeded(3, lambda: nn.Sequential(
        nn.ConvTranspose2d(2, 4, 3, stride=2, padding=1, output_padding=1, groups=2),
        nn.ReLU(),
        nn.MaxPool2d((3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
        nn.ConvTranspose2d(4, 2, 2, dilation=2, bias=False),
        nn.AvgPool2d(2, padding=1)))
    layers = [{"op": "conv_transpose2d", "out_channels": 4, "kernel_size": 3, "stride": 2,
               "padding": 1, "output_padding": 1, "groups": 2, "weights": "0"},
              {"op": "relu"},
              {"op": "max_pool2d", "kernel_size": [3, 2], "stride": [2, 1], "padding": [1, 0],
               "dilation": [1, 2]},
              {"op": "conv_transpose2d", "out_channels": 2, "kernel_size": 2, "dilation": 2,
               "bias": False, "weights": "3"},
              {"op": "avg_pool2d", "kernel_size": 2, "padding": 1}]
    return model, _image(13, (1, 2, 4, 5)), layers


def case_nested() -> tuple[nn.Module, torch.Tensor, list[dict[str, object]]]:
    """Nested Sequentials with names (features.0 -> features_0), padding="same", plain
    max-pooling, a pool whose stride is None (the kernel)."""
    model = _seeded(4, lambda: nn.Sequential(OrderedDict(
        features=nn.Sequential(nn.Conv2d(2, 3, 3, padding="same"), nn.ReLU(),
                               nn.MaxPool2d(2)),
        up=nn.ConvTranspose2d(3, 1, 2, stride=2),
        pool=nn.AvgPool2d((2, 3), stride=None))))
    layers = [{"op": "conv2d", "name": "features_0", "out_channels": 3, "kernel_size": 3,
               "padding": 1, "weights": "features.0"},
              {"op": "relu", "name": "features_1"},
              {"op": "max_pool2d", "name": "features_2", "kernel_size": 2},
              {"op": "conv_transpose2d", "name": "up", "out_channels": 1, "kernel_size": 2,
               "stride": 2, "weights": "up"},
              {"op": "avg_pool2d", "name": "pool", "kernel_size": [2, 3]}]
    return model, _image(14, (1, 2, 6, 6)), layers


CASES = {"grouped": case_grouped, "transposed": case_transposed, "nested": case_nested}


def leaves(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if not isinstance(m, nn.Sequential)]


def forward_outputs(model: nn.Module, x: torch.Tensor) -> list[np.ndarray]:
    """Each child's own output in `model(x)` (cloned: an in-place ReLU overwrites its
    input, the previous layer's output)."""
    outputs: list[np.ndarray] = []
    handles = [m.register_forward_hook(
        lambda _m, _i, out: outputs.append(out.detach().clone()[0].numpy()))
        for m in leaves(model)]
    try:
        with torch.no_grad():
            model(x.reshape(1, *x.shape[-3:]).clone())
    finally:
        for handle in handles:
            handle.remove()
    return outputs


def template(x: torch.Tensor, layers: list[dict[str, object]]) -> dict[str, object]:
    image = x.reshape(x.shape[-3:])
    return {"input_size": list(image.shape[1:]), "in_channels": image.shape[0],
            "values": "normal", "input": image.tolist(), "layers": layers}


# ---------------------------------------------------------------------------- real engines
@pytest.fixture(scope="module")
def built_cases(tmp_path_factory: pytest.TempPathFactory):
    """Every case built both ways, recalculated by `convsheets.verify` (`verify_files`) in
    every installed engine (one start each); the engines' copies of our workbooks are kept.
    The template way goes through the API once (``convsheets.build(template=, weights=)``)."""
    tmp = tmp_path_factory.mktemp("torch-weights")
    jobs = []  # (workbook, network, module outputs)
    for name, make in CASES.items():
        model, x, layers = make()  # x: (C, H, W) for grouped, (1, C, H, W) for the others
        weights_file = tmp / f"{name}.safetensors"
        save_file(model.state_dict(), weights_file)
        outputs = forward_outputs(model, x)
        path = tmp / f"{name}-template.xlsx"
        if name == "nested":
            result = convsheets.build(template=template(x, layers), weights=weights_file,
                                      output=path)
            assert result.path == path and result.formulas > 0
            network = module_network(model, x)  # the same layer names
        else:
            network = network_from_template(template(x, layers), f"{name}.toml",
                                            weights=read_safetensors(weights_file))
            build(network, path)
        jobs.append((path, network, outputs))
        path = tmp / f"{name}-module.xlsx"
        from_module(model, x, path)
        jobs.append((path, module_network(model, x), outputs))

    kept = tmp / "kept"
    ours = {path.resolve(): path.name for path, _, _ in jobs}
    originals = {name: engine.recalculate for name, engine in ENGINES.items()}

    def keeping(name: str):  # type: ignore[no-untyped-def]
        def recalculate(paths, outdir, timeout):  # type: ignore[no-untyped-def]
            copies = originals[name](paths, outdir, timeout)
            for src, copy in zip(paths, copies, strict=True):
                if Path(src).resolve() in ours:
                    (kept / name).mkdir(parents=True, exist_ok=True)
                    shutil.copy(copy, kept / name / ours[Path(src).resolve()])
            return copies
        return recalculate

    with pytest.MonkeyPatch.context() as patch:
        for name, engine in ENGINES.items():
            patch.setattr(engine, "recalculate", keeping(name))
        reports = convsheets.verify(*[path for path, _, _ in jobs], engine="all")
    return jobs, reports, kept


def _read_blocks(copy: Path) -> Callable[[str], np.ndarray]:
    xf = XlsxFile(copy)
    names = xf.defined_names()
    sheets: dict[str, object] = {}

    def read(name: str) -> np.ndarray:
        sheet, r0, c0, r1, c1 = parse_ref(names[name])
        if sheet not in sheets:
            sheets[sheet] = xf.read_sheet(sheet)
        return np.asarray(sheets[sheet].region(r0, c0, r1, c1).values,  # type: ignore[attr-defined]
                          dtype=float)
    return read


@pytest.mark.slow  # (36 s: CI runs it with -m slow; the default run keeps test_models'
# from_module in every engine)
def test_every_layer_equals_the_modules_forward_in_every_engine(built_cases) -> None:
    jobs, _reports, kept = built_cases
    engines = sorted(p.name for p in kept.iterdir())
    assert {"libreoffice", "gnumeric"} <= set(engines), engines
    problems = []
    for engine in engines:
        for path, network, outputs in jobs:
            read = _read_blocks(kept / engine / path.name)
            assert len(network.layers) == len(outputs)
            for layer, want in zip(network.layers, outputs, strict=True):
                for o in range(want.shape[0]):
                    got = read(f"{layer.name}_output_c{o}")
                    if got.shape != want[o].shape or not np.all(
                            np.abs(got - want[o]) <= TOLERANCE * np.maximum(1.0, np.abs(want[o]))):
                        problems.append((engine, path.name, layer.name, o))
            final = read("output_c0")  # the last layer is also output_
            assert np.allclose(final, outputs[-1][0], rtol=TOLERANCE, atol=TOLERANCE)
    assert not problems, problems[:10]


@pytest.mark.slow  # (36 s: CI runs it with -m slow; the default run keeps test_models'
# from_module in every engine)
def test_verify_all_engines_ok(built_cases) -> None:
    jobs, reports, _kept = built_cases
    assert len(reports) == len(jobs)
    for report in reports:
        assert report.ok, (report.path, report.unusable, [
            (run.engine, b.name, b.problem) for run in report.runs for b in run.blocks
            if not b.ok][:5])
        assert {"libreoffice", "gnumeric"} <= {run.engine for run in report.runs}
        assert all(run.probed for run in report.runs)


def test_layers_take_the_modules_names_and_options() -> None:
    model, x, _layers = case_nested()
    network = module_network(model, x)
    assert [layer.name for layer in network.layers] == ["features_0", "features_1",
                                                        "features_2", "up", "pool"]
    assert network.layers[0].op.padding == (1, 1)  # padding="same" with a 3x3 kernel
    assert network.layers[4].op.stride == (2, 3)  # stride None: the kernel
    model, x, _layers = case_grouped()
    network = module_network(model, x)
    assert [layer.name for layer in network.layers] == ["conv1", "relu1", "avgpool1", "conv2"]
    for layer, module in zip(network.layers, leaves(model), strict=True):
        assert str(layer.op) == repr(module).replace("inplace=True", "")
    tpl = module_template(model, x)
    assert tpl["values"] == "normal" and tpl["input_size"] == [7, 7]
    assert tpl["layers"][0]["bias"] is False  # type: ignore[index]
    assert tpl["layers"][3]["weight"].dtype == np.float64  # type: ignore[index]


def test_a_module_given_twice_runs_twice() -> None:
    conv = nn.Conv2d(1, 1, 2)
    network = module_network(nn.Sequential(conv, nn.ReLU(), conv), torch.zeros(1, 5, 5))
    assert [layer.name for layer in network.layers] == ["conv1", "relu1", "conv2"]
    assert network.output_shape == (1, 3, 3)
    with pytest.raises(TemplateError, match="^the module: 70 layers; convsheets builds at "
                       "most 64"):
        module_network(nn.Sequential(*[nn.ReLU()] * 70), torch.zeros(1, 2, 2))


def test_a_default_name_taken_by_a_module_is_not_reused() -> None:
    # "true" is a reserved word: that layer takes a default name, and conv2 is taken; "C3"
    # reads as a cell reference but is only ever a prefix (C3_weight_0_0): kept
    model = nn.Sequential(OrderedDict(conv2=nn.Conv2d(1, 1, 1), true=nn.Conv2d(1, 1, 1),
                                      conv1=nn.Conv2d(1, 1, 1), C3=nn.Conv2d(1, 1, 1)))
    names = [layer.name for layer in module_network(model, torch.zeros(1, 3, 3)).layers]
    assert names == ["conv2", "conv3", "conv1", "C3"]


# ---------------------------------------------------------------------------- safetensors
def test_float16_bfloat16_float32_are_read_exactly(tmp_path: Path) -> None:
    values = torch.randn(5, 7, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    values[0, :4] = torch.tensor([1e-40, -3.0e38, 65504.0, -0.0], dtype=torch.float64)
    tensors = {"bf": values.to(torch.bfloat16), "half": values.clamp(-6e4, 6e4).half(),
               "single": values.float(), "double": values, "steps": torch.arange(3),
               "mask": torch.ones(2, dtype=torch.bool)}
    save_file(tensors, tmp_path / "m.safetensors")
    read = read_safetensors(tmp_path / "m.safetensors")
    assert sorted(read) == ["bf", "double", "half", "single"]
    assert read.unread == {"steps": "I64", "mask": "BOOL"}
    for name in read:
        want = tensors[name].to(torch.float64).numpy()
        assert read[name].dtype == np.float64 and read[name].shape == want.shape
        assert np.array_equal(read[name], want), name  # exact, every bit
    # bfloat16 really holds fewer bits than float32: the widening is not a no-op
    assert not np.array_equal(read["bf"], read["single"])


def test_bfloat16_special_values(tmp_path: Path) -> None:
    bits = np.array([0x0000, 0x8000, 0x3F80, 0xBF80, 0x7F7F, 0x0001, 0x4049, 0xC2F7],
                    dtype="<u2")
    header = json.dumps({"t": {"dtype": "BF16", "shape": [8], "data_offsets": [0, 16]}})
    raw = header.encode()
    (tmp_path / "b.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + bits.tobytes())
    got = read_safetensors(tmp_path / "b.safetensors")["t"]
    want = torch.from_numpy(bits.astype(np.int16)).view(torch.bfloat16).to(torch.float64)
    assert np.array_equal(got, want.numpy())
    assert got[2] == 1.0 and got[3] == -1.0 and got[5] == 2.0**-133
    assert np.signbit(got[1])


def test_a_header_length_starting_with_0x80_is_not_a_pickle(tmp_path: Path) -> None:
    """A safetensors header length whose low byte is 0x80 starts like a pickle (0x80 0x02)."""
    for pad in range(1500):
        save_file({"w": torch.ones(2)}, tmp_path / "p.safetensors", metadata={"p": "x" * pad})
        head = (tmp_path / "p.safetensors").read_bytes()[:2]
        if head[0] == 0x80 and head[1] in (2, 3, 4, 5):
            break
    else:
        pytest.fail("no padding gave a 0x80 0x02..05 start")
    assert np.array_equal(read_safetensors(tmp_path / "p.safetensors")["w"], [1.0, 1.0])


def _good(tmp_path: Path) -> bytes:
    save_file({"0.weight": torch.ones(2, 1, 3, 3), "0.bias": torch.zeros(2)},
              tmp_path / "good.safetensors")
    return (tmp_path / "good.safetensors").read_bytes()


def _header(entries: dict[str, object], data: bytes = b"") -> bytes:
    raw = json.dumps(entries).encode()
    return struct.pack("<Q", len(raw)) + raw + data


# (file name, its bytes from the good file's bytes, words the message must hold)
BAD_FILES: list[tuple[str, Callable[[bytes], bytes], list[str]]] = [
    ("m.pt", lambda good: good, ["m.pt", "pickle", "safetensors.torch.save_file("
                                 "model.state_dict()"]),
    ("m.pth", lambda good: good, ["m.pth", "pickle"]),
    ("m.bin", lambda good: good, ["m.bin", "pickle"]),
    ("pickled.safetensors", lambda good: pickle.dumps({"a": 1}, protocol=4),
     ["pickled.safetensors", "pickle", "save_file"]),
    ("legacy.safetensors", lambda good: pickle.dumps({"a": 1}, protocol=2),
     ["legacy.safetensors", "pickle"]),
    ("empty.safetensors", lambda good: b"", ["empty.safetensors", "empty"]),
    ("short.safetensors", lambda good: good[:5], ["short.safetensors", "truncated"]),
    ("cut.safetensors", lambda good: good[:-7], ["cut.safetensors", "truncated"]),
    ("headless.safetensors", lambda good: good[:20], ["headless.safetensors", "truncated"]),
    ("noise.safetensors", lambda good: bytes(range(7, 250)) * 3,
     ["noise.safetensors", "not a safetensors file"]),
    ("text.safetensors", lambda good: b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!",
     ["text.safetensors", "not a JSON table"]),
    ("json.safetensors", lambda good: _header({"a": 1}), ["json.safetensors", "malformed"]),
    ("list.safetensors", lambda good: struct.pack("<Q", 2) + b"[]", ["list.safetensors"]),
    ("badjson.safetensors", lambda good: struct.pack("<Q", 3) + b"{x}",
     ["badjson.safetensors", "not valid JSON"]),
    ("huge.safetensors", lambda good: struct.pack("<Q", 2**40) + b"{}",
     ["huge.safetensors", "corrupt or truncated"]),
    ("bytes.safetensors", lambda good: _header(
        {"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8),
     ["bytes.safetensors", "tensor w", "8 bytes"]),
    ("gap.safetensors", lambda good: _header(
        {"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8),
     ["gap.safetensors", "corrupt"]),
    ("dtype.safetensors", lambda good: _header(
        {"w": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8),
     ["dtype.safetensors", "C64"]),
    ("ints.safetensors", lambda good: _header(
        {"w": {"dtype": "I32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8),
     ["ints.safetensors", "no float16", "w (I32)"]),
    ("none.safetensors", lambda good: _header({"__metadata__": {"a": "b"}}),
     ["none.safetensors", "empty"]),
]


@pytest.mark.parametrize(("name", "make", "words"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_weights_file_is_one_line_naming_it(tmp_path: Path, name: str,
                                                make: Callable[[bytes], bytes],
                                                words: list[str]) -> None:
    (tmp_path / name).write_bytes(make(_good(tmp_path)))
    with pytest.raises(WeightsError) as info:
        read_safetensors(tmp_path / name)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message, (word, message)


def test_torch_save_files_are_refused_by_content(tmp_path: Path) -> None:
    torch.save(nn.Conv2d(1, 1, 1).state_dict(), tmp_path / "renamed.safetensors")
    with pytest.raises(WeightsError, match="zip archive.*safetensors.torch.save_file"):
        read_safetensors(tmp_path / "renamed.safetensors")


def test_missing_directory_and_size_limits(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(WeightsError, match="nowhere.safetensors: no such file"):
        read_safetensors(tmp_path / "nowhere.safetensors")
    with pytest.raises(WeightsError, match="is a directory"):
        read_safetensors(tmp_path)
    _good(tmp_path)
    import convsheets.weights as weights

    monkeypatch.setattr(weights, "MAX_ELEMENTS", 10)
    with pytest.raises(WeightsError, match="holds 20 numbers.*at most 10"):
        read_safetensors(tmp_path / "good.safetensors")
    monkeypatch.setattr(weights, "MAX_HEADER_BYTES", 50)
    with pytest.raises(WeightsError, match="its header is .* bytes; convsheets reads at most 50"):
        read_safetensors(tmp_path / "good.safetensors")
    monkeypatch.setattr(weights, "MAX_FILE_BYTES", 100)
    with pytest.raises(WeightsError, match="weights files of at most"):
        read_safetensors(tmp_path / "good.safetensors")


# ---------------------------------------------------------------------------- templates
def _conv_template(**table: object) -> dict[str, object]:
    return {"input_size": "5x5", "in_channels": 1, "layers": [
        {"op": "conv2d", "out_channels": 2, "kernel_size": 3, **table}, {"op": "relu"}]}


def test_template_takes_the_named_tensors(tmp_path: Path) -> None:
    _good(tmp_path)
    weights = read_safetensors(tmp_path / "good.safetensors")
    net = network_from_template(_conv_template(weights="0"), "t.toml", weights=weights)
    assert np.array_equal(net.given["conv1_weight"], np.ones((2, 1, 3, 3)))
    assert np.array_equal(net.given["conv1_bias"], np.zeros(2))


@pytest.mark.parametrize(("table", "words"), [
    ({"weights": "features.0"}, ["layers[0] (conv1)", "no tensor features.0.weight"]),
    ({"weights": "0", "out_channels": 4},
     ["layers[0] (conv1): 0.weight has shape (2, 1, 3, 3), the layer needs (4, 1, 3, 3)"]),
    ({"weights": "0", "kernel_size": 2}, ["0.weight has shape (2, 1, 3, 3)", "(2, 1, 2, 2)"]),
])
def test_template_refuses_missing_and_misshapen_tensors(tmp_path: Path, table, words) -> None:
    _good(tmp_path)
    weights = read_safetensors(tmp_path / "good.safetensors")
    with pytest.raises(ConvsheetsError) as info:
        network_from_template(_conv_template(**table), "t.toml", weights=weights)
    assert "\n" not in str(info.value)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_wrong_shape_names_the_issues_example(tmp_path: Path) -> None:
    save_file(nn.Sequential(nn.Conv2d(3, 16, 3)).state_dict(), tmp_path / "big.safetensors")
    tpl = {"input_size": 6, "in_channels": 3, "layers": [
        {"op": "conv2d", "out_channels": 4, "kernel_size": 3, "weights": "0"}]}
    with pytest.raises(WeightsError, match=r"^--template net.toml: layers\[0\] \(conv1\): "
                       r"0.weight has shape \(16, 3, 3, 3\), the layer needs \(4, 3, 3, 3\)$"):
        network_from_template(tpl, "net.toml", weights=read_safetensors(tmp_path /
                                                                        "big.safetensors"))


# ---------------------------------------------------------------------------- modules
class Custom(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * 2


class MyConv(nn.Conv2d):
    pass


def _pre_hooked() -> nn.Module:
    model = nn.Sequential(nn.Conv2d(1, 1, 1))
    model[0].register_forward_pre_hook(lambda _m, args: args)
    return model


BAD_MODULES: list[tuple[Callable[[], object], list[str]]] = [
    (lambda: nn.Sequential(OrderedDict(features=nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.ReLU(), nn.BatchNorm2d(2)))),
     ["module features.2 (BatchNorm2d): is in training mode; call model.eval() first"]),
    (lambda: nn.Sequential(nn.Conv2d(1, 1, 3, padding=4, padding_mode="reflect")),
     ["module 0 (Conv2d)", "padding=4x4", "less than the input height (4)", "reflect"]),
    (lambda: nn.Sequential(nn.Conv1d(1, 1, 3, padding=1, padding_mode="reflect")),
     ["module 0 (Conv1d)", "padding_mode='reflect'", "zeros"]),
    (lambda: nn.Sequential(nn.ReLU(), nn.Upsample(scale_factor=2, mode="bicubic")),
     ["module 1 (Upsample)", "mode", "bicubic", "not supported"]),
    (lambda: nn.Sequential(nn.MaxPool2d(2, return_indices=True)),
     ["module 0 (MaxPool2d)", "return_indices=True"]),
    (lambda: nn.Sequential(nn.AvgPool2d(2, divisor_override=3)),
     ["module 0 (AvgPool2d)", "divisor_override=3"]),
    (lambda: nn.Sequential(nn.Softmax(dim=2)), ["(Softmax)", "dim=2"]),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 1), nn.Mish()), ["module 1 (Mish): not supported"]),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 1), nn.Conv2d(3, 1, 1)),
     ["module 1 (Conv2d): in_channels=3", "(2)"]),
    # a model as written is traced by torch.fx: the node it cannot draw is named
    (lambda: Custom(), ["module Custom: node mul (call_function mul): not supported"]),
    (lambda: nn.Sequential(MyConv(1, 1, 1)), ["module 0 (MyConv): not supported"]),
    (lambda: nn.BatchNorm2d(1), ["module BatchNorm2d: is in training mode"]),
    (lambda: nn.Sequential(), ["empty Sequential"]),
    (_pre_hooked, ["module 0 (Conv2d)", "pre-hook"]),
    (lambda: "conv", ["str is not a torch.nn.Module"]),
    (lambda: nn.Sequential(nn.LazyConv2d(1, 1)), ["module 0 (LazyConv2d): not supported"]),
]


@pytest.mark.parametrize(("make", "words"), BAD_MODULES,
                         ids=[w[0][:40] for _, w in BAD_MODULES])
def test_unsupported_module_is_one_line_naming_it(tmp_path: Path, make, words) -> None:
    with pytest.raises(WeightsError) as info:
        from_module(make(), torch.zeros(1, 4, 4), tmp_path / "m.xlsx")
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message, (word, message)
    assert list(tmp_path.iterdir()) == []


def test_a_layer_convsheets_cannot_draw_names_its_module(tmp_path: Path) -> None:
    """PyTorch gives -inf where a dilated max-pool window covers only padding."""
    model = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2, padding=1, dilation=2))
    assert torch.isinf(model(torch.zeros(1, 1, 1, 1))).all()
    with pytest.raises(WeightsError, match=r"^module 1 \(MaxPool2d\): dilation=2x2: leaves a "
                       "window that covers only padding"):
        from_module(model, torch.zeros(1, 1, 1), tmp_path / "m.xlsx")


@pytest.mark.parametrize(("x", "words"), [
    (torch.zeros(2, 1, 4, 4), ["x: shape (2, 1, 4, 4)", "batch of 2"]),
    (torch.zeros(4, 4), ["x: shape (4, 4)", "(C, H, W)"]),
    (torch.zeros(1, 4, 4, dtype=torch.complex64), ["complex"]),
    (torch.zeros(0, 4, 4), ["x: in_channels=0", "at least 1"]),
    (torch.full((1, 2, 2), float("nan")), ["x: input=", "numbers between"]),
])
def test_bad_input_tensor(tmp_path: Path, x, words) -> None:
    with pytest.raises(ImageError) as info:
        from_module(nn.Sequential(nn.ReLU()), x, tmp_path / "m.xlsx")
    for word in words:
        assert word in str(info.value)


def test_from_module_single_module_numpy_input_and_output_rules(tmp_path: Path) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 2, 3, padding="valid")  # float32 parameters, widened exactly
    result = from_module(conv, np.arange(25.0).reshape(1, 5, 5), tmp_path / "c.xlsx")
    assert result.path == tmp_path / "c.xlsx" and result.cells > 0
    net = module_network(conv, np.arange(25.0).reshape(1, 5, 5))
    assert net.given["conv1_weight"].dtype == np.float64
    assert np.array_equal(net.given["conv1_weight"], conv.weight.detach().double().numpy())
    with pytest.raises(OutputError, match="ending in .xlsx"):
        from_module(conv, torch.zeros(1, 5, 5), tmp_path / "c.ods")
    (tmp_path / "mine.xlsx").write_text("not ours")
    with pytest.raises(OutputError, match="force"):
        from_module(conv, torch.zeros(1, 5, 5), tmp_path / "mine.xlsx")
    rows: list[int] = []  # build options go to convsheets.build.build
    from_module(conv, torch.zeros(1, 5, 5), tmp_path / "mine.xlsx", force=True,
                progress=rows.append)
    assert sum(rows) > 0


def test_torch_is_not_imported_by_the_package_or_the_cli() -> None:
    import subprocess
    import sys

    code = ("import sys, convsheets, convsheets.cli, convsheets.torch_module, "
            "convsheets.weights; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# ---------------------------------------------------------------------------- the API
def test_api_builds_and_verifies(tmp_path: Path) -> None:
    """What the calls return; that they write what the command line writes is
    tests/test_request.py's test_api_and_cli_write_the_same_bytes."""
    result = convsheets.build("basic", output=tmp_path / "b.xlsx", stride=(2, 1), seed=3)
    assert result.path == tmp_path / "b.xlsx" and result.formulas > 0
    shipped = convsheets.build(template="edges", output=str(tmp_path / "e.xlsx"), seed=None)
    assert shipped.size > 0
    [report] = convsheets.verify(tmp_path / "b.xlsx", engine="cached")
    assert report.path == str(tmp_path / "b.xlsx")  # a report, never an exception
    [missing] = convsheets.verify(str(tmp_path / "nowhere.xlsx"), engine="cached")
    assert not missing.ok and missing.unusable
    assert convsheets.__version__ and callable(convsheets.from_module)


@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda t: convsheets.build(output=t / "x.xlsx"), SpecError, ["variant=", "one of basic"]),
    (lambda t: convsheets.build("nope", output=t / "x.xlsx"), SpecError, ['"nope"']),
    (lambda t: convsheets.build("basic", stride=0, output=t / "x.xlsx"), SpecError,
     ["convsheets.build: stride=0x0", "at least 1"]),
    (lambda t: convsheets.build("basic", strides=2, output=t / "x.xlsx"), SpecError,
     ["strides", "not a layer option"]),
    (lambda t: convsheets.build("basic", output=t / "x.ods"), OutputError, [".xlsx"]),
    (lambda t: convsheets.build("basic", template="edges"), SpecError,
     ["variant", "network template"]),
    (lambda t: convsheets.build(template="edges", stride=2), SpecError,
     ["stride", "[[layers]]"]),
    (lambda t: convsheets.build("basic", weights="m.safetensors"), SpecError,
     ["weights", "network template"]),
    (lambda t: convsheets.build(template=t / "none.toml"), TemplateError, ["none.toml"]),
    (lambda t: convsheets.build(template={"variant": "basic", "colour": 1}), TemplateError,
     ["colour"]),
    (lambda t: convsheets.build(template=_conv_template(weights="0"), weights=t / "no.pt"),
     WeightsError, ["no.pt"]),
    (lambda t: convsheets.build(template=_conv_template(weights="0")), SpecError,
     ["needs a weights file"]),
    (lambda t: convsheets.verify(), ConvsheetsError, ["at least one"]),
    (lambda t: convsheets.verify("a.xlsx", engine="excel"), SpecError, ["engine", "excel"]),
    (lambda t: convsheets.verify("a.xlsx", tolerance=float("nan")), SpecError, ["tolerance"]),
])
def test_api_errors_are_convsheets_errors(tmp_path: Path, call, error, words) -> None:
    with pytest.raises(error) as info:
        call(tmp_path)
    assert isinstance(info.value, ConvsheetsError) and "\n" not in str(info.value)
    for word in words:
        assert word in str(info.value), (word, str(info.value))
    assert not (tmp_path / "x.xlsx").exists()
