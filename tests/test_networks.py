"""Networks: chains of conv2d, conv_transpose2d, relu, leaky_relu, max_pool2d and avg_pool2d
layers.

The oracle here is PyTorch itself (torch.nn.functional, float64), applied layer by layer to
the tensors the workbook holds, never convsheets' own reference or layout: random networks
are recalculated by LibreOffice and Gnumeric (and by the in-process evaluator) and every
layer's `{name}_output_c{o}` block is compared with PyTorch to 1e-9 relative.

The sweeps of random networks (60 in process, 10 in every engine, 60 in IronCalc) are marked
slow (CI runs them with `-m slow`); the default run evaluates 8 random networks in process.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
import torch
import torch.nn.functional as F
from engine_copies import verify_keeping_copies
from formula_eval import Evaluator
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from test_formulas_inprocess import check_layer

from convsheets.build import make_plan, write_atomically
from convsheets.errors import ConvsheetsError
from convsheets.network import Network
from convsheets.networks import network_from_template, shipped_networks
from convsheets.ops import OPS
from convsheets.tensors import block_names
from convsheets.verify import verify_files
from convsheets.xlsxread import XlsxFile, parse_ref

TOLERANCE = 1e-9


# ---------------------------------------------------------------------------- the networks
def _pair(draw: st.DrawFn, low: int, high: int) -> list[int]:
    return [draw(st.integers(low, high)), draw(st.integers(low, high))]


def _layer(draw: st.DrawFn, op: str, channels: int) -> dict[str, object]:
    """Options for one layer, every option PyTorch has that convsheets draws."""
    if op == "relu":
        return {"op": "relu"}
    if op == "leaky_relu":  # PyTorch's default slope, or one given (exact in a spreadsheet)
        slope = draw(st.sampled_from([None, 0.2, 0.5, 1.5, -0.25]))
        return {"op": op} if slope is None else {"op": op, "negative_slope": slope}
    k = _pair(draw, 1, 3)
    table: dict[str, object] = {"op": op, "kernel_size": k}
    if op in ("conv2d", "conv_transpose2d"):
        groups = draw(st.sampled_from([g for g in (1, 2, 3) if channels % g == 0]))
        s, d = _pair(draw, 1, 2), _pair(draw, 1, 2)
        table.update(out_channels=groups * draw(st.integers(1, 2)), groups=groups, stride=s,
                     padding=_pair(draw, 0, 2), dilation=d, bias=draw(st.booleans()))
        if op == "conv_transpose2d":
            table["output_padding"] = [draw(st.integers(0, max(s[a], d[a]) - 1))
                                       for a in (0, 1)]
        return table
    if draw(st.booleans()):
        table["stride"] = _pair(draw, 1, 3)
    table["padding"] = [draw(st.integers(0, k[a] // 2)) for a in (0, 1)]
    if op == "max_pool2d":
        table["dilation"] = _pair(draw, 1, 2)
    else:
        table["count_include_pad"] = draw(st.booleans())
    return table


# The ops these random networks draw from: the registry as it was when the sweeps were
# recorded (only those `_layer` gives options to survive), so a new op does not reshuffle
# the derandomized examples; the later ops have their own sweeps (tests/test_new_ops.py).
MIXED = ["adaptive_avg_pool2d", "adaptive_max_pool2d", "avg_pool2d", "batch_norm2d", "conv2d",
         "conv_transpose2d", "dropout", "flatten", "identity", "leaky_relu", "linear",
         "max_pool2d", "relu", "sigmoid", "tanh"]
assert set(MIXED) <= set(OPS)


@st.composite
def networks(draw: st.DrawFn) -> Network:
    """A valid random network of 2-5 layers (a drawn layer its input cannot take is dropped)."""
    channels = draw(st.integers(1, 3))
    template: dict[str, object] = {
        "input_size": [draw(st.integers(4, 8)), draw(st.integers(4, 8))],
        "in_channels": channels, "seed": draw(st.integers(0, 10_000)),
        "values": draw(st.sampled_from(["integers", "normal"])), "layers": []}
    wanted = draw(st.integers(2, 5))
    # a permutation of every op first, so every network mixes different ops
    candidates = draw(st.permutations(MIXED)) + draw(
        st.lists(st.sampled_from(MIXED), min_size=4, max_size=4))
    for op in candidates:
        tables = template["layers"]
        assert isinstance(tables, list)
        if len(tables) == wanted:
            break
        current = network_from_template(template, "random") if tables else None
        c = current.output_shape[0] if current else channels
        candidate = _layer(draw, op, c)
        try:
            network_from_template({**template, "layers": [*tables, candidate]}, "random")
        except ConvsheetsError:
            continue
        tables.append(candidate)
    assume(len(template["layers"]) >= 2)  # type: ignore[arg-type]
    network = network_from_template(template, "random")
    assume(sum(int(np.prod(layer.out_shape)) for layer in network.layers) <= 3000)
    return network


# ---------------------------------------------------------------------------- PyTorch
def torch_outputs(network: Network, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every layer's output by block name, from torch.nn.functional in float64."""
    x = torch.tensor(tensors["input"], dtype=torch.float64)[None]
    out: dict[str, np.ndarray] = {}
    for layer in network.layers:
        op, prefix = layer.op, layer.names.tensor
        w = tensors.get(prefix + "weight")
        b = tensors.get(prefix + "bias")
        wt = None if w is None else torch.tensor(w, dtype=torch.float64)
        bt = None if b is None else torch.tensor(b, dtype=torch.float64)
        if op.op == "conv2d":
            x = F.conv2d(x, wt, bt, op.stride, op.padding, op.dilation, op.groups)
        elif op.op == "conv_transpose2d":
            x = F.conv_transpose2d(x, wt, bt, op.stride, op.padding, op.output_padding,
                                   op.groups, op.dilation)
        elif op.op == "relu":
            x = F.relu(x)
        elif op.op == "leaky_relu":
            x = F.leaky_relu(x, op.negative_slope)
        elif op.op == "max_pool2d":
            x = F.max_pool2d(x, op.kernel_size, op.stride, op.padding, op.dilation)
        elif op.op == "avg_pool2d":
            x = F.avg_pool2d(x, op.kernel_size, op.stride, op.padding,
                             count_include_pad=op.count_include_pad)
        else:
            raise AssertionError(f"no PyTorch call for {op.op}")
        for o in range(x.shape[1]):
            out[f"{layer.name}_output_c{o}"] = x[0, o].numpy()
    return out


def _tensors(network: Network, read) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """The editable tensors as a workbook holds them; `read(name)` gives a block's values."""
    tensors = {}
    for tensor, shape in network.source_shapes().items():
        array = np.zeros(shape)
        for name, index in block_names(tensor, shape):
            values = read(name)
            array[index] = values.reshape(-1) if len(shape) == 1 else values
        tensors[tensor] = array
    return tensors


def _compare(network: Network, read) -> list[str]:  # type: ignore[no-untyped-def]
    problems = []
    expected = torch_outputs(network, _tensors(network, read))
    last = network.layers[-1].name
    for name, want in expected.items():
        got = read(name)
        if got.shape != want.shape:
            problems.append(f"{name}: shape {got.shape}, PyTorch {want.shape}")
            continue
        if not np.all(np.abs(got - want) <= TOLERANCE * np.maximum(1.0, np.abs(want))):
            problems.append(f"{name}: differs from PyTorch by {np.max(np.abs(got - want))}")
        if name.startswith(f"{last}_"):
            alias = name[len(last) + 1:]
            if not np.array_equal(read(alias), got):
                problems.append(f"{alias} is not the last layer's output")
    return problems


# ---------------------------------------------------------------------------- in process
RANDOM = dict(deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                     HealthCheck.data_too_large])


@pytest.mark.slow
@settings(max_examples=60, **RANDOM)  # type: ignore[arg-type]
@given(network=networks())
def test_random_networks_equal_pytorch_in_process(network: Network) -> None:
    """Every formula evaluated by the strict in-process evaluator: each layer equals PyTorch,
    and every block equals what verify expects (with and without random probe inputs)."""
    _check_in_process(network)


@settings(max_examples=8, **RANDOM)  # type: ignore[arg-type]
@given(network=networks())
def test_a_few_random_networks_equal_pytorch_in_process(network: Network) -> None:
    """The default run's share of the sweep above (another derandomized sequence)."""
    _check_in_process(network)


def _check_in_process(network: Network) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "net.xlsx"
        problems = check_layer(network, path)
        assert not problems, problems[:5]
        ev = Evaluator(openpyxl.load_workbook(path))
        ev.evaluate_all()
        assert _compare(network, lambda name: ev.rect(ev.name(name))) == []


# ---------------------------------------------------------------------------- real engines
BATCH = 10


@pytest.mark.slow
@settings(max_examples=1, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(st.lists(networks(), min_size=BATCH, max_size=BATCH))
def test_random_networks_equal_pytorch_in_every_engine(
        batch: list[Network]) -> None:
    """verify_files(engine="all") recalculates each network once per engine (and its probe);
    the engines' copies of the networks themselves are kept and compared with PyTorch."""
    # distinct networks: Hypothesis's first example is the simplest one, repeated
    assume(len({repr(n.record()) for n in batch}) == len(batch))
    failures: list[object] = []
    with tempfile.TemporaryDirectory(prefix="convsheets-nets-") as tmp:
        paths = []
        for n, network in enumerate(batch):
            paths.append(Path(tmp) / f"{n:02d}.xlsx")
            write_atomically(make_plan(network), paths[-1])
        reports, kept = verify_keeping_copies(paths, Path(tmp) / "kept")
        for engine in ("libreoffice", "gnumeric", "ironcalc"):
            copies = [kept[engine][p] for p in paths]
            for network, copy in zip(batch, copies, strict=True):
                with XlsxFile(copy) as xf:
                    names = xf.defined_names()
                    sheets: dict[str, object] = {}

                    def read(name: str, xf=xf, names=names, sheets=sheets) -> np.ndarray:
                        sheet, r0, c0, r1, c1 = parse_ref(names[name])
                        if sheet not in sheets:
                            sheets[sheet] = xf.read_sheet(sheet)
                        return sheets[sheet].region(r0, c0, r1, c1).values  # type: ignore[attr-defined]

                    problems = _compare(network, read)
                if problems:
                    failures.append((engine, [str(layer.op) for layer in network.layers],
                                     problems[:3]))
        # verify itself checks every layer's blocks in every engine, with the probe
        for network, report in zip(batch, reports, strict=True):
            engines = sorted(run.engine for run in report.runs)
            if engines != ["gnumeric", "ironcalc", "libreoffice"] or not report.ok:
                failures.append(("verify", engines, report.unusable, [
                    (b.name, b.problem) for run in report.runs for b in run.blocks
                    if not b.ok][:3]))
            names = {b.name for run in report.runs for b in run.blocks}
            for layer in network.layers:
                if f"{layer.name}_output_c0" not in names:
                    failures.append(("verify skipped", layer.name))
            if not all(run.probed for run in report.runs):
                failures.append(("not probed", report.path))
    assert not failures, failures


# ---------------------------------------------------------------------------- templates
def _network(text: str) -> Network:
    import tomllib

    return network_from_template(tomllib.loads(text), "t.toml")


def test_unset_options_take_pytorchs_defaults() -> None:
    net = _network('input_size = "6x6"\nin_channels = 2\n'
                   '[[layers]]\nop = "conv2d"\nout_channels = 3\nkernel_size = 3\n'
                   '[[layers]]\nop = "max_pool2d"\nkernel_size = 2\n'
                   '[[layers]]\nop = "avg_pool2d"\nkernel_size = 2\n')
    conv, maxpool, avgpool = (layer.op for layer in net.layers)
    module = torch.nn.Conv2d(2, 3, 3)
    assert (conv.stride, conv.padding, conv.dilation, conv.groups, conv.bias) == (
        module.stride, module.padding, module.dilation, module.groups, True)
    assert maxpool.stride == (2, 2) and torch.nn.MaxPool2d(2).stride == 2  # stride = kernel
    assert avgpool.count_include_pad is torch.nn.AvgPool2d(2).count_include_pad
    assert [layer.name for layer in net.layers] == ["conv1", "maxpool1", "avgpool1"]


@settings(max_examples=80, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(network=networks())
def test_layers_print_as_pytorch_prints_the_module(network: Network) -> None:
    for layer in network.layers:
        op = layer.op
        if op.op == "conv2d":
            module = torch.nn.Conv2d(op.in_channels, op.out_channels, op.kernel_size, op.stride,
                                     op.padding, op.dilation, op.groups, op.bias)
        elif op.op == "conv_transpose2d":
            module = torch.nn.ConvTranspose2d(op.in_channels, op.out_channels, op.kernel_size,
                                              op.stride, op.padding, op.output_padding,
                                              op.groups, op.bias, op.dilation)
        elif op.op == "relu":
            module = torch.nn.ReLU()
        elif op.op == "leaky_relu":
            module = torch.nn.LeakyReLU(op.negative_slope)
        else:
            def given(pair: tuple[int, int]) -> int | tuple[int, int]:
                return pair[0] if pair[0] == pair[1] else pair  # as a template writes it
            args = [given(op.kernel_size), given(op.stride), given(op.padding)]
            if op.op == "max_pool2d":
                module = torch.nn.MaxPool2d(*args, dilation=given(op.dilation))
            else:
                module = torch.nn.AvgPool2d(*args, count_include_pad=op.count_include_pad)
        assert str(op) == repr(module)


def test_names_prefix_every_block_and_the_last_layer_is_also_output(tmp_path: Path) -> None:
    net = _network('input_size = "5x5"\nin_channels = 1\n'
                   '[[layers]]\nop = "conv2d"\nout_channels = 2\nkernel_size = 3\npadding = 1\n'
                   'dilation = 1\n'
                   '[[layers]]\nop = "conv_transpose2d"\nname = "up"\nout_channels = 1\n'
                   'kernel_size = 2\nstride = 2\ndilation = 2\n')
    path = tmp_path / "n.xlsx"
    write_atomically(make_plan(net), path)
    names = set(openpyxl.load_workbook(path).defined_names)
    assert {"input_c0", "conv1_weight_0_0", "conv1_weight_1_0", "conv1_bias", "conv1_padded_c0",
            "conv1_output_c1", "up_upsampled_c1", "up_weight_1_0", "up_flipped_weight_1_0",
            "up_dilated_flipped_weight_1_0", "up_bias", "up_output_c0", "output_c0",
            "conv1_output_height", "up_output_width", "up_parameter_count",
            "parameter_count"} <= names
    assert "output_c1" not in names and not any(n.startswith("padded") for n in names)


def test_shipped_networks_match_the_issue() -> None:
    edges = _network(shipped_networks()["edges"])
    assert [layer.op.op for layer in edges.layers] == [
        "conv2d", "relu", "conv2d", "relu", "max_pool2d"]
    assert edges.given["conv1_weight"].shape == (2, 1, 3, 3)
    ed = _network(shipped_networks()["encoder_decoder"])
    assert [layer.op.op for layer in ed.layers] == ["conv2d", "relu", "conv_transpose2d"]
    assert ed.layers[0].op.stride == (2, 2)
    assert ed.output_shape[1:] == ed.input_shape[1:]  # back to the input size


# (template body, words the one-line error must contain)
BAD_TEMPLATES = [
    ('[[layers]]\nop = "conv3d"\n', ["layers[0]", 'op="conv3d"', "must be one of"]),
    ('[[layers]]\nop = "relu"\n[[layers]]\nop = "max_pool2d"\nkernel_size = 2\nstrides = 2\n',
     ["layers[1] (maxpool1)", "strides", "not an option of max_pool2d"]),
    ('[[layers]]\nop = "upsample"\nscale_factor = 2\nmode = "bicubic"\n',
     ["layers[0] (upsample1)", "mode", "not supported"]),
    ('[[layers]]\nop = "conv2d"\nout_channels = 2\nkernel_size = 3\nstride = 2\n'
     '[[layers]]\nop = "relu"\n[[layers]]\nop = "max_pool2d"\nkernel_size = 3\n',
     ["layers[2] (maxpool1)", "kernel_size", "padded input is only 1"]),
    ('[[layers]]\nop = "conv2d"\nout_channels = 3\nkernel_size = 1\ngroups = 3\n',
     ["layers[0] (conv1)", "groups=3", "divide in_channels=4"]),
    ('[[layers]]\nop = "conv2d"\nin_channels = 3\nout_channels = 4\nkernel_size = 1\n',
     ["layers[0] (conv1)", "in_channels=3", "(4)"]),
    ('[[layers]]\nop = "conv2d"\nkernel_size = 1\n', ["layers[0] (conv1)", "out_channels",
                                                       "required"]),
    ('[[layers]]\nop = "avg_pool2d"\nkernel_size = 2\npadding = 2\n',
     ["layers[0] (avgpool1)", "padding=2x2", "half of kernel_size"]),
    ('[[layers]]\nop = "max_pool2d"\nkernel_size = 2\npadding = 1\ndilation = 5\n',
     ["layers[0] (maxpool1)", "dilation", "only padding"]),
    # a name that reads as a cell reference (C1, R1C1) is only ever a prefix: allowed
    ('[[layers]]\nop = "relu"\nname = "TRUE"\n', ["layers[0]", 'name="TRUE"', "reserved"]),
    ('[[layers]]\nop = "flatten"\n[[layers]]\nop = "conv2d"\nout_channels = 1\n'
     'kernel_size = 1\n', ["layers[1] (conv1)", 'op="conv2d"', "cannot follow flatten1"]),
    ('[[layers]]\nop = "relu"\nname = "1x"\n', ['name="1x"', "start with a letter"]),
    ('[[layers]]\nop = "relu"\nname = "a"\n[[layers]]\nop = "relu"\nname = "a"\n',
     ["layers[1]", 'name="a"', "unique"]),
    ('[[layers]]\nop = "relu"\nname = "relu"\n[[layers]]\nop = "relu"\nname = "Relu"\n',
     ["layers[1]", "unique"]),
    ('[[layers]]\nop = "conv2d"\nout_channels = 1\nkernel_size = 2\nweight = [[[1, 2]]]\n',
     ["layers[0] (conv1)", "weight", "shape (1, 1, 2)", "(1, 4, 2, 2)"]),
    ('[[layers]]\nop = "relu"\nstride = 2\n', ["layers[0] (relu1)", "stride",
                                                "not an option of relu"]),
    ('layers = []\n', ["layers"]),
    ('variant = "basic"\n[[layers]]\nop = "relu"\n', ["unknown key 'variant'"]),
    ('[[layers]]\nop = ["conv2d"]\n', ["layers[0]", "op=", "must be one of"]),
    ('[[layers]]\nop = "conv2d"\nout_channels = "2"\nkernel_size = 1\n',
     ["layers[0] (conv1)", 'out_channels="2"', "whole number"]),
    ('[[layers]]\nop = "avg_pool2d"\nkernel_size = 2\ndivisor_override = 0\n',
     ["layers[0] (avgpool1)", "divisor_override=0", "not supported"]),
    ('[[layers]]\nop = "max_pool2d"\nkernel_size = 2\ndivisor_override = 3\n',
     ["layers[0] (maxpool1)", "divisor_override", "not an option of max_pool2d"]),
    ('[[layers]]\nop = "max_pool2d"\nkernel_size = "300x1"\ndilation = "2x1"\n',
     ["layers[0] (maxpool1)", "300 arguments", "255"]),
    ('[[layers]]\nop = "conv_transpose2d"\nname = "up"\nout_channels = 1\nkernel_size = 2\n'
     '[[layers]]\nop = "conv2d"\nname = "up_flipped"\nout_channels = 1\nkernel_size = 2\n',
     ["up_flipped_weight_0_0", "layer up", "rename"]),
    ("input = " + str([[[1e300] + [0] * 3] + [[0] * 4] * 3] * 4) + '\n[[layers]]\nop = "relu"\n',
     ["input", "between"]),
    ('description = 5\n[[layers]]\nop = "relu"\n', ["description", "text"]),
    ('[[layers]]\nop = "relu"\n' * 65, ["65 layers", "64"]),
    ('[[layers]]\nop = "relu"\n[[layers]]\nop = "relu"\nname = "relu1"\n',
     ["layers[1]", "unique"]),
]


@pytest.mark.parametrize(("body", "words"), BAD_TEMPLATES,
                         ids=[words[-1] for _, words in BAD_TEMPLATES])
def test_bad_network_template_is_one_line_naming_layer_and_key(tmp_path: Path, body: str,
                                                                words: list[str]) -> None:
    (tmp_path / "net.toml").write_text('input_size = "4x4"\nin_channels = 4\n' + body)
    result = subprocess.run([sys.executable, "-m", "convsheets", "build", "--template",
                             "net.toml", "-o", "out.xlsx"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.toml"]


def test_network_refuses_layer_options_on_the_command_line(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "convsheets", "build", "--template", "edges",
                             "--stride", "2", "-o", "x.xlsx"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "--stride" in result.stderr
    assert "[[layers]]" in result.stderr and not (tmp_path / "x.xlsx").exists()


def test_build_prints_layers_as_pytorch_and_marks_preset_values(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "convsheets", "build", "--variant",
                             "transposed", "--stride", "2", "--groups", "2", "--in-channels",
                             "4", "-o", "t.xlsx"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert ("ConvTranspose2d(4, 2, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), "
            "output_padding=(1, 1), groups=2) -> (2, 6, 6)") in result.stdout
    preset_line = next(line for line in result.stdout.splitlines() if "preset" in line)
    assert "padding=1x1" in preset_line and "output_padding=1x1" in preset_line
    assert "stride" not in preset_line and "groups" not in preset_line


def test_network_overrides_from_the_command_line(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "convsheets", "build", "--template",
                             "encoder_decoder", "--input-size", "6x10", "--seed", "9", "-o",
                             "n.xlsx"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "decode: ConvTranspose2d(2, 1" in result.stdout and "-> (1, 6, 10)" in result.stdout


@pytest.mark.slow
@settings(max_examples=6, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much, HealthCheck.large_base_example])
@given(st.lists(networks(), min_size=10, max_size=10))  # 6 x 10: a list of 60 is too large
def test_many_random_networks_verify_in_ironcalc(batch: list[Network]) -> None:
    # distinct networks: Hypothesis's first example is the simplest one, repeated
    assume(len({repr(n.record()) for n in batch}) == len(batch))
    with tempfile.TemporaryDirectory(prefix="convsheets-nets-ic-") as tmp:
        paths = []
        for n, network in enumerate(batch):
            paths.append(Path(tmp) / f"{n:02d}.xlsx")
            write_atomically(make_plan(network), paths[-1])
        reports = verify_files(paths, engine="ironcalc")
    bad = [(str([str(layer.op) for layer in net.layers]), r.unusable,
            [(b.name, b.problem) for run in r.runs for b in run.blocks if not b.ok][:2])
           for net, r in zip(batch, reports, strict=True) if not r.ok]
    assert not bad, bad
