"""Issue 24: real CNNs as written, end to end, down to the predicted class.

The oracle is PyTorch (the module's own float64 forward, `torch.nn.functional`, the modules'
own repr), never convsheets' reference: the ops linear, flatten, batch_norm2d, dropout and
identity; the four models of the issue (a custom module, the same as an nn.Sequential, a LeNet
with its layer names c1 ... f6, a tiny encoder-decoder) built by `from_module` as written and
recalculated by LibreOffice and Gnumeric; the Prediction block; templates and `--weights`.
"""

from __future__ import annotations

import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

import convsheets
from convsheets.engines import get_engine
from convsheets.errors import ConvsheetsError, WeightsError
from convsheets.networks import network_from_template
from convsheets.torch_module import module_network
from convsheets.verify import verify_files
from convsheets.xlsxread import XlsxFile, parse_ref

TOLERANCE = 1e-9


def _reader(xf: XlsxFile):  # type: ignore[no-untyped-def]
    names, sheets = xf.defined_names(), {}

    def read(name: str) -> np.ndarray:
        sheet, r0, c0, r1, c1 = parse_ref(names[name])
        if sheet not in sheets:
            sheets[sheet] = xf.read_sheet(sheet)
        return np.asarray(sheets[sheet].region(r0, c0, r1, c1).values, dtype=float)
    return read


def _close(got: np.ndarray, want: np.ndarray) -> bool:
    return got.shape == want.shape and bool(
        np.all(np.abs(got - want) <= TOLERANCE * np.maximum(1.0, np.abs(want))))


# ---------------------------------------------------------------------------- the models
class Custom(nn.Module):
    """conv1 -> BatchNorm2d -> ReLU -> MaxPool2d -> conv2 -> ReLU -> Flatten -> Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 8, 3)
        self.fc1 = nn.Linear(32, 10)
        self.dropout = nn.Dropout(0.25)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = F.relu(self.conv2(x))
        x = x.view(x.size(0), -1)
        return self.fc1(self.dropout(x))


def sequential() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(4, 8, 3), nn.ReLU(), nn.Flatten(),
                         nn.Dropout(), nn.Linear(32, 10))


class LeNet(nn.Module):
    """LeNet-5's layer names on an 8x8 digit: c1, s2, c3, s4, c5, f6, output."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 3, padding=1)
        self.s2 = nn.AvgPool2d(2)
        self.c3 = nn.Conv2d(6, 16, 3)
        self.s4 = nn.MaxPool2d(2)
        self.c5 = nn.Linear(16, 32)
        self.f6 = nn.Linear(32, 16)
        self.output = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.s2(torch.relu(self.c1(x)))
        x = self.s4(self.c3(x).relu())
        x = torch.flatten(x, 1)
        x = F.relu(self.c5(x))
        return self.output(F.relu(self.f6(x)))


class EncoderDecoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.enc1 = nn.Conv2d(1, 4, 3, stride=2, padding=1)
        self.enc2 = nn.Conv2d(4, 8, 3, stride=2, padding=1)
        self.up1 = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.up2 = nn.ConvTranspose2d(4, 1, 2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.enc2(F.relu(self.enc1(x))))
        return self.up2(F.relu(self.up1(x)))


def _seeded(model: nn.Module, seed: int) -> nn.Module:
    """Random weights and batch-norm statistics (no training needed), float64, eval mode."""
    torch.manual_seed(seed)
    for module in model.modules():
        for p in module.parameters(recurse=False):
            nn.init.normal_(p, std=0.5)
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.25, 2)
    return model.double().eval()


MODELS = {"custom": lambda: Custom(), "sequential": sequential, "lenet": lambda: LeNet(),
          "encoder_decoder": lambda: EncoderDecoder()}


def _layer_outputs(model: nn.Module, x: torch.Tensor) -> list[np.ndarray]:
    """Every layer's output in order, by PyTorch: each node of the traced graph that computes
    a tensor, run by torch.fx's own Interpreter (the module's forward, node by node)."""
    graph = torch.fx.symbolic_trace(model)
    outputs: list[np.ndarray] = []

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n):  # type: ignore[no-untyped-def]
            value = super().run_node(n)
            if n.op not in ("placeholder", "output") and isinstance(value, torch.Tensor):
                outputs.append(value.detach()[0].numpy().copy())
            return value

    with torch.no_grad():
        Recorder(graph).run(x)
    return outputs


def _image(seed: int) -> torch.Tensor:
    """An 8x8 digit-like picture (0-16 like scikit-learn's digits), seeded."""
    return torch.tensor(np.random.default_rng(seed).integers(0, 17, (1, 1, 8, 8)),
                        dtype=torch.float64)


def _check_layers(model: nn.Module, x: torch.Tensor, network, read) -> None:  # type: ignore[no-untyped-def]
    want = _layer_outputs(model, x)
    assert len(want) == len(network.layers)
    for layer, y in zip(network.layers, want, strict=True):
        if layer.flat:
            got = read(layer.output_name(0)).reshape(-1)
            assert _close(got, y.reshape(-1)), layer.label
        else:
            for o in range(y.shape[0]):
                assert _close(read(layer.output_name(o)), y[o]), (layer.label, o)


@pytest.mark.parametrize("kind", [  # (two of the four in CI's slow run: the default run's time)
    pytest.param(kind, marks=pytest.mark.slow) if kind in ("sequential", "encoder_decoder")
    else kind for kind in MODELS])
def test_models_as_written_equal_their_forward_in_every_engine(kind: str,
                                                               tmp_path: Path) -> None:
    model = _seeded(MODELS[kind](), 24)
    x = _image(3)
    path = tmp_path / f"{kind}.xlsx"
    result = convsheets.from_module(model, x, path)
    network = module_network(model, x)
    with torch.no_grad():
        scores = model(x)[0].numpy()
    copies = [("stored", path)]
    for engine in ("libreoffice", "gnumeric", "ironcalc"):
        (copy,) = get_engine(engine).recalculate([path], tmp_path / engine, timeout=300)
        copies.append((engine, copy))
    for engine, copy in copies:
        with XlsxFile(copy) as xf:
            read = _reader(xf)
            _check_layers(model, x, network, read)
            if kind == "encoder_decoder":
                assert _close(read("output_c0"), scores[0]), engine
                continue
            assert _close(read("output").reshape(-1), scores), engine
            probabilities = torch.softmax(torch.tensor(scores), 0).numpy()
            assert _close(read("probabilities").reshape(-1), probabilities), engine
            assert read("predicted_class")[0, 0] == int(np.argmax(scores)), engine
    # names kept: the model's own module names are the layer names
    if kind == "lenet":
        assert [layer.name for layer in network.layers] == [
            "c1", "relu1", "s2", "c3", "relu2", "s4", "flatten1", "c5", "relu3", "f6",
            "relu4", "output"]
        assert result.layers["c3"] == "c3" and result.layers["f6"] == "f6"
        assert result.layers["node relu (call_function relu)"] == "relu1"
    if kind == "custom":
        assert {"conv1", "bn1", "pool", "conv2", "fc1", "dropout"} <= set(result.layers.values())


def test_a_model_verifies_in_gnumeric_with_probe(tmp_path: Path) -> None:
    path = tmp_path / "custom.xlsx"
    convsheets.from_module(_seeded(Custom(), 5), _image(1), path)
    (report,) = verify_files([path], engine="gnumeric")
    assert report.ok and all(run.probed for run in report.runs)
    checked = {b.name for run in report.runs for b in run.blocks}
    assert {"bn1_scale", "bn1_output_c3", "flatten1_output", "fc1_output", "output",
            "probabilities", "predicted_class", "dropout_output"} <= checked


# ---------------------------------------------------------------------------- the ops
@pytest.mark.parametrize("seed", range(6))
def test_new_op_references_equal_torch_functional(seed: int) -> None:
    rng = np.random.default_rng(seed)
    c, h, w = (int(v) for v in rng.integers(1, 6, 3))
    out = int(rng.integers(1, 7))
    affine = bool(seed % 2)
    template = {"input_size": [h, w], "in_channels": c, "seed": seed, "values": "normal",
                "layers": [{"op": "batch_norm2d", "eps": float(rng.choice([1e-5, 1e-3, 0.1])),
                            "affine": affine},
                           {"op": "dropout", "p": 0.3}, {"op": "flatten"},
                           {"op": "identity"},
                           {"op": "linear", "out_features": out, "bias": bool(seed % 3)}]}
    network = network_from_template(template, "t")
    from convsheets.tensors import random_tensors

    t = random_tensors(network)
    x = torch.tensor(t["input"], dtype=torch.float64)[None]
    bn, _drop, flat, _ident, fc = network.layers
    y = F.batch_norm(x, torch.tensor(t["bn1_running_mean"]), torch.tensor(t["bn1_running_var"]),
                     torch.tensor(t["bn1_weight"]) if affine else None,
                     torch.tensor(t["bn1_bias"]) if affine else None, training=False,
                     eps=bn.op.eps)
    local = {k[len("bn1_"):]: v for k, v in t.items() if k.startswith("bn1_")}
    assert np.allclose(bn.op.reference(t["input"], local), y[0].numpy(), rtol=1e-13, atol=1e-13)
    assert F.dropout(y, 0.3, training=False).equal(y)
    v = torch.flatten(y, 1)
    assert np.array_equal(flat.op.reference(y[0].numpy(), {}).reshape(-1), v[0].numpy())
    weight = torch.tensor(t["fc1_weight"], dtype=torch.float64)
    bias = torch.tensor(t["fc1_bias"], dtype=torch.float64) if "fc1_bias" in t else None
    want = F.linear(v, weight, bias)[0].numpy()
    got = fc.op.reference(v[0].numpy().reshape(1, 1, -1),
                          {k[len("fc1_"):]: a for k, a in t.items() if k.startswith("fc1_")})
    assert np.allclose(got.reshape(-1), want, rtol=1e-13, atol=1e-13)


def test_new_ops_print_as_pytorch() -> None:
    network = network_from_template({
        "input_size": 4, "in_channels": 3, "layers": [
            {"op": "batch_norm2d"}, {"op": "batch_norm2d", "eps": 0.001, "affine": False},
            {"op": "dropout"}, {"op": "identity"}, {"op": "flatten"},
            {"op": "linear", "out_features": 5, "bias": False}]}, "t")
    wanted = [nn.BatchNorm2d(3), nn.BatchNorm2d(3, eps=0.001, affine=False), nn.Dropout(),
              nn.Identity(), nn.Flatten(), nn.Linear(48, 5, bias=False)]
    assert [str(layer.op) for layer in network.layers] == [repr(m) for m in wanted]
    # PyTorch's parameter count (running statistics are buffers, not parameters)
    assert network.parameter_count() == sum(p.numel() for m in wanted for p in m.parameters())


@pytest.mark.parametrize("layers, words", [
    ('op = "linear"\nout_features = 0', ["out_features=0", "at least 1"]),
    ('op = "flatten"\n[[layers]]\nop = "linear"\nout_features = 2\nin_features = 5',
     ["in_features=5", "(16)"]),
    ('op = "linear"\nout_features = 2', ["in_features", "put a flatten before it"]),
    ('op = "flatten"\nstart_dim = 2', ["start_dim=2", "must be 1"]),
    ('op = "batch_norm2d"\ntrack_running_stats = false', ["track_running_stats"]),
    ('op = "batch_norm2d"\neps = 0', ["eps=0", "more than 0"]),
    ('op = "batch_norm2d"\nnum_features = 3', ["num_features=3", "(1)"]),
    ('op = "dropout"\np = 2', ["p=2", "between 0 and 1"]),
    ('op = "flatten"\n[[layers]]\nop = "max_pool2d"\nkernel_size = 1', ["op=", "cannot follow"]),
    ('op = "adaptive_avg_pool2d"\noutput_size = 0', ["output_size="]),
    ('op = "adaptive_avg_pool2d"', ["output_size", "required"]),
    ('op = "adaptive_max_pool2d"\noutput_size = 2\nreturn_indices = true',
     ["return_indices", "not supported"]),
])
def test_bad_options_are_one_line_naming_the_option(tmp_path: Path, layers: str,
                                                    words: list[str]) -> None:
    template = tmp_path / "t.toml"
    template.write_text(f"input_size = 4\nin_channels = 1\n[[layers]]\n{layers}\n")
    out = tmp_path / "t.xlsx"
    done = subprocess.run([sys.executable, "-m", "convsheets", "build", "--template",
                           str(template), "-o", str(out)], capture_output=True, text=True)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert all(word in lines[0] for word in words), lines[0]
    assert not out.exists()


# ---------------------------------------------------------------------------- from_module
def test_not_a_chain_or_not_traceable_is_refused_naming_the_node(tmp_path: Path) -> None:
    class Skip(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # (a skip joined along width)
            return torch.cat([self.conv(x), x], dim=3)

    class Branchy(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.relu() if x.sum() > 0 else x

    class Training(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bn = nn.BatchNorm2d(1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.bn(x)

    x = torch.zeros(1, 1, 4, 4)
    for model, words in ((Skip(), ["node cat", "dim=3", "channels (dim=1)"]),
                         (Branchy(), ["cannot trace", "control flow"]),
                         (Training(), ["module bn (BatchNorm2d)", "model.eval()"])):
        with pytest.raises(WeightsError) as info:
            convsheets.from_module(model, x, tmp_path / "r.xlsx")
        text = str(info.value)
        assert "\n" not in text and all(w in text for w in words), text
    assert not (tmp_path / "r.xlsx").exists()


def test_sequential_keeps_working_and_names_features_dotted(tmp_path: Path) -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
            self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8, 3))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.classifier(self.features(x))

    model = _seeded(Net(), 1)
    x = _image(4)[:, :, :4, :4]
    names = [layer.name for layer in module_network(model, x).layers]
    assert names == ["features_0", "features_1", "classifier_0", "classifier_1"]
    path = tmp_path / "n.xlsx"
    result = convsheets.from_module(model, x, path)
    assert result.layers == {"features.0": "features_0", "features.1": "features_1",
                             "classifier.0": "classifier_0", "classifier.1": "classifier_1"}
    with torch.no_grad():
        want = model(x)[0].numpy()
    with XlsxFile(path) as xf:
        read = _reader(xf)
        assert _close(read("classifier_1_output").reshape(-1), want)
    import openpyxl

    text = " ".join(str(c.value) for row in openpyxl.load_workbook(path)["Guide"].iter_rows()
                    for c in row if c.value is not None)
    assert "module features.0 (Conv2d) of the PyTorch model" in text


# ---------------------------------------------------------------------------- weights, exercises
def test_weights_file_loads_linear_and_batch_norm(tmp_path: Path) -> None:
    model = _seeded(sequential(), 9)
    state = {k: v.float().contiguous() for k, v in model.state_dict().items()}
    save_file(state, tmp_path / "m.safetensors")
    template = tmp_path / "t.toml"
    template.write_text(
        'input_size = 8\nin_channels = 1\nvalues = "normal"\n'
        '[[layers]]\nop = "conv2d"\nout_channels = 4\nkernel_size = 3\npadding = 1\n'
        'weights = "0"\n[[layers]]\nop = "batch_norm2d"\nname = "bn1"\nweights = "1"\n'
        '[[layers]]\nop = "relu"\n[[layers]]\nop = "max_pool2d"\nkernel_size = 2\n'
        '[[layers]]\nop = "conv2d"\nout_channels = 8\nkernel_size = 3\nweights = "4"\n'
        '[[layers]]\nop = "relu"\n[[layers]]\nop = "flatten"\n'
        '[[layers]]\nop = "linear"\nname = "fc1"\nout_features = 10\nweights = "8"\n')
    out = tmp_path / "w.xlsx"
    done = subprocess.run([sys.executable, "-m", "convsheets", "build", "--template",
                           str(template), "--weights", str(tmp_path / "m.safetensors"), "-o",
                           str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with XlsxFile(out) as xf:
        read = _reader(xf)
        x = torch.tensor(read("input_c0"))[None, None]
        with torch.no_grad():
            want = model.float().double()(x)[0].numpy()
        # the float32 file's numbers, widened exactly: the model run in float64 on them
        assert _close(read("output").reshape(-1), want)
        assert _close(read("fc1_weight"), state["8.weight"].double().numpy())
    assert "no layer reads" not in done.stdout + done.stderr
    # a template that leaves the batch norm out: its tensors are named, not silently dropped
    template.write_text(template.read_text().replace(
        '[[layers]]\nop = "batch_norm2d"\nname = "bn1"\nweights = "1"\n', ""))
    done = subprocess.run([sys.executable, "-m", "convsheets", "build", "--template",
                           str(template), "--weights", str(tmp_path / "m.safetensors"), "-o",
                           str(out), "--force"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert ("warning: --weights " in done.stderr and "4 tensor(s) no layer reads: 1.bias, "
            "1.running_mean, 1.running_var, 1.weight" in done.stderr), done.stderr


def test_exercise_on_linear_and_batch_norm_graded_from_pytorch(tmp_path: Path) -> None:
    """Blank a batch norm and a linear layer; answers filled from PyTorch's values (not the
    key under test) grade 100 %, one wrong answer loses exactly one cell."""
    from exercise_fill import fill, typed

    from convsheets.grade import grade_files

    template = tmp_path / "t.toml"
    template.write_text('input_size = 3\nin_channels = 2\nvalues = "normal"\nseed = 4\n'
                        '[[layers]]\nop = "batch_norm2d"\nname = "bn1"\n'
                        '[[layers]]\nop = "flatten"\n'
                        '[[layers]]\nop = "linear"\nname = "fc1"\nout_features = 4\n'
                        '[[layers]]\nop = "relu"\n[[layers]]\nop = "linear"\nname = "fc2"\n'
                        'out_features = 3\n')
    handout = tmp_path / "hw.xlsx"
    done = subprocess.run([sys.executable, "-m", "convsheets", "build", "--template",
                           str(template), "--exercise", "--blank", "bn1,fc1", "-o",
                           str(handout)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with XlsxFile(handout) as xf:
        read = _reader(xf)
        x = torch.tensor(np.stack([read("input_c0"), read("input_c1")]))[None]
        bn = F.batch_norm(x, torch.tensor(read("bn1_running_mean")[0]),
                          torch.tensor(read("bn1_running_var")[0]),
                          torch.tensor(read("bn1_weight")[0]), torch.tensor(read("bn1_bias")[0]),
                          training=False)
        fc1 = F.linear(torch.flatten(bn, 1), torch.tensor(read("fc1_weight")),
                       torch.tensor(read("fc1_bias")[0]))
    answers = {"bn1_output_c0": bn[0, 0].numpy(), "bn1_output_c1": bn[0, 1].numpy(),
               "fc1_output": fc1.numpy()}
    right, wrong = tmp_path / "right.xlsx", tmp_path / "wrong.xlsx"
    fill(handout, right, lambda block, i, j, _key: typed(float(answers[block][i, j]))
         if block in answers else None)
    fill(handout, wrong, lambda block, i, j, _key: typed(
        float(answers[block][i, j]) + (1 if (block, i, j) == ("fc1_output", 0, 2) else 0))
        if block in answers else None)
    graded = {Path(g.file).name: g for g in grade_files([right, wrong])}
    cells = sum(v.size for v in answers.values())
    for name, missed in (("right.xlsx", 0), ("wrong.xlsx", 1)):
        blocks = [b for b in graded[name].blocks if b.name in answers]
        assert sum(b.total for b in blocks) == cells
        assert sum(b.total - b.correct for b in blocks) == missed, name


def test_a_linear_of_a_thousand_inputs_keeps_formulas_short(tmp_path: Path) -> None:
    template = {"input_size": [10, 10], "in_channels": 10, "layers": [
        {"op": "flatten"}, {"op": "linear", "name": "fc1", "out_features": 3}]}
    path = tmp_path / "wide.xlsx"
    convsheets.build(template=template, output=path)
    import openpyxl

    sheet = openpyxl.load_workbook(path)["fc1 Output"]
    formulas = [c.value for row in sheet.iter_rows() for c in row
                if isinstance(c.value, str) and c.value.startswith("=")]
    assert len(formulas) == 3 and max(map(len, formulas)) < 200
    assert all("SUMPRODUCT(" in f for f in formulas)


def test_unsupported_module_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConvsheetsError, match="module act \\(Mish\\): not supported"):
        convsheets.from_module(nn.Sequential(OrderedDict(act=nn.Mish())),
                               torch.zeros(1, 1, 2, 2), tmp_path / "s.xlsx")


def test_a_sequential_with_its_own_forward_is_traced_as_written() -> None:
    class Twice(nn.Sequential):
        def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
            return super().forward(super().forward(x))

    model = _seeded(Twice(nn.Conv2d(1, 1, 2)), 2)
    x = _image(5)
    network = module_network(model, x)
    assert [layer.op.op for layer in network.layers] == ["conv2d", "conv2d"]
    from convsheets.torch_module import module_layers

    assert module_layers(model, x) == {"0": "conv1", "0 (call 2)": "conv2"}
    from convsheets.expected import forward
    from convsheets.tensors import random_tensors

    (_l1, _x1, y1), (_l2, _x2, y2) = forward(network, random_tensors(network))
    with torch.no_grad():
        assert _close(y2[0], model(x)[0, 0].numpy())


def test_flatten_shapes_follow_the_guides_what_if_input_size(tmp_path: Path) -> None:
    """Without a linear layer any input size fits: verify's probe writes a larger one into
    the guide, and flatten's width C·H·W follows it live."""
    template = {"input_size": "4x5", "in_channels": 2, "layers": [
        {"op": "conv2d", "out_channels": 3, "kernel_size": 2},
        {"op": "max_pool2d", "kernel_size": 2}, {"op": "flatten"}, {"op": "relu"}]}
    path = tmp_path / "flat.xlsx"
    convsheets.build(template=template, output=path)
    (report,) = verify_files([path], engine="gnumeric")
    assert report.ok and all(run.probed for run in report.runs)
    checked = {b.name for run in report.runs for b in run.blocks}
    assert {"flatten1_output_width", "flatten1_output", "relu1_output", "output"} <= checked


@pytest.mark.parametrize("seed", range(8))
def test_adaptive_pools_equal_torch_functional(seed: int) -> None:
    rng = np.random.default_rng(seed)
    c, h, w = (int(v) for v in rng.integers(1, 9, 3))
    size = [int(v) for v in rng.integers(1, 10, 2)]  # larger than the input too
    x = rng.normal(size=(c, h, w))
    for op, function in (("adaptive_avg_pool2d", F.adaptive_avg_pool2d),
                         ("adaptive_max_pool2d", F.adaptive_max_pool2d)):
        network = network_from_template({"input_size": [h, w], "in_channels": c, "layers": [
            {"op": op, "output_size": size}]}, "t")
        want = function(torch.tensor(x)[None], size)[0].numpy()
        assert np.allclose(network.layers[0].op.reference(x, {}), want, rtol=1e-14, atol=1e-14)


class GlobalPool(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.gap = nn.AdaptiveAvgPool2d((2, 3))
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_max_pool2d(self.gap(self.conv(x)), 1)
        return self.fc(x.flatten(1))


def test_adaptive_pools_as_written_in_every_engine(tmp_path: Path) -> None:
    model = _seeded(GlobalPool(), 6)
    x = _image(8)
    network = module_network(model, x)
    assert [str(layer.op) for layer in network.layers][1:3] == [
        "AdaptiveAvgPool2d(output_size=(2, 3))", "AdaptiveMaxPool2d(output_size=1)"]
    path = tmp_path / "gap.xlsx"
    convsheets.from_module(model, x, path)
    (report,) = verify_files([path], engine="gnumeric")
    assert report.ok
    for engine in ("libreoffice", "ironcalc"):
        (copy,) = get_engine(engine).recalculate([path], tmp_path / engine, timeout=300)
        with XlsxFile(copy) as xf:
            _check_layers(model, x, network, _reader(xf))


class Classic(nn.Module):
    """The classic LeNet activations: tanh and sigmoid, as modules, functions and methods."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 2, 3)
        self.act = nn.Tanh()
        self.fc = nn.Linear(72, 4)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.act(self.c1(x)))
        x = torch.sigmoid(x).tanh()
        return self.gate(self.fc(torch.flatten(x, 1)))


def test_tanh_and_sigmoid_equal_torch_in_every_engine(tmp_path: Path) -> None:
    model = _seeded(Classic(), 3)
    x = _image(6) / 4
    network = module_network(model, x)
    assert [layer.op.op for layer in network.layers] == [
        "conv2d", "tanh", "tanh", "sigmoid", "tanh", "flatten", "linear", "sigmoid"]
    assert [str(layer.op) for layer in network.layers][1:4] == ["Tanh()", "Tanh()", "Sigmoid()"]
    path = tmp_path / "classic.xlsx"
    convsheets.from_module(model, x, path)
    for engine in ("libreoffice", "gnumeric", "ironcalc"):
        (copy,) = get_engine(engine).recalculate([path], tmp_path / engine, timeout=300)
        with XlsxFile(copy) as xf:
            _check_layers(model, x, network, _reader(xf))
