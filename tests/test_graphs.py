"""Networks that are graphs (issue 28): residual adds, concatenations, gates, branches.

Random DAG networks are made of the blocks real CNNs are made of (a residual block with an
identity or a projection shortcut, an Inception-style block of different branches
concatenated, a sigmoid gate multiplied in, a U-Net level: pool, conv, transposed conv, skip
concatenation); each layer's output is compared with PyTorch (`torch.nn.functional`,
`torch.add`, `torch.cat`, `torch.mul` in float64, never the NumPy reference), after the
in-process evaluator (many networks) and after LibreOffice, Gnumeric and IronCalc (one
start each for a batch: random graphs, the shipped templates and two fx-traced modules,
whose every module's output is compared with the module's own forward).
"""

from __future__ import annotations

import random
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import openpyxl
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from engine_copies import verify_keeping_copies
from formula_eval import Evaluator
from test_networks import _tensors

from convsheets.build import make_plan, write_atomically
from convsheets.network import Layer, Network
from convsheets.networks import network_from_template, shipped_networks
from convsheets.ops import Merge
from convsheets.torch_module import from_module, module_network
from convsheets.xlsxread import XlsxFile, parse_ref

TOLERANCE = 1e-9


# ---------------------------------------------------------------------------- random graphs
class _Graph:
    """A template under construction: each block appends layers reading earlier ones."""

    def __init__(self, rng: random.Random, channels: int, size: int, rich: bool) -> None:
        self.rng, self.tables, self.count, self.rich = rng, [], 0, rich
        self.last, self.shape = "input", (channels, size, size)

    def add(self, table: dict[str, object], reads: list[str]) -> str:
        self.count += 1
        name = f"{table['op'][:4]}{self.count}"  # type: ignore[index]
        self.tables.append({**table, "name": name, "inputs": reads})
        return name

    def conv(self, src: str, cin: int, cout: int, k: int, stride: int = 1, pad: int = 0,
             dilation: int = 1) -> str:
        return self.add({"op": "conv2d", "out_channels": cout, "kernel_size": k,
                         "stride": stride, "padding": pad, "dilation": dilation,
                         "bias": self.rng.random() < 0.5}, [src])


def _block(g: _Graph) -> None:
    rng, x = g.rng, g.last
    c, h, w = g.shape
    kinds = ["residual", "projection", "inception", "gate"]
    if h % 2 == 0 and w % 2 == 0 and h >= 4:
        kinds.append("unet")
    kind = rng.choice(kinds)
    if kind == "residual":  # conv-relu-conv + x (alpha as torch.add's, sometimes)
        d = rng.choice([1, 2])
        a = g.conv(x, c, c, 3, pad=d, dilation=d)
        a = g.add({"op": rng.choice(["relu", "leaky_relu"])}, [a])
        a = g.conv(a, c, c, 3, pad=1)
        alpha = rng.choice([None, 2.0, -0.5])
        g.last = g.add({"op": "add", **({} if alpha is None else {"alpha": alpha})}, [a, x])
    elif kind == "projection":  # a stride and/or more channels: a 1x1 conv on the shortcut
        s, c2 = rng.choice([1, 2]), rng.choice([c + 1, 2 * c])
        a = g.conv(x, c, c2, 3, stride=s, pad=1)
        if g.rich:
            a = g.add({"op": "batch_norm2d"}, [a])
        a = g.add({"op": "relu"}, [a])
        a = g.conv(a, c2, c2, 3, pad=1)
        short = g.conv(x, c, c2, 1, stride=s)
        first = rng.random() < 0.5  # either order of the add's operands
        g.last = g.add({"op": "add"}, [a, short] if first else [short, a])
        g.shape = (c2, (h - 1) // s + 1, (w - 1) // s + 1)
    elif kind == "inception":  # branches of different ops side by side, concatenated
        branches = rng.sample(["k1", "k3", "max", "avg", "id"], rng.choice([2, 3]))
        outs, total = [], 0
        for b in branches:
            if b == "k1":
                outs.append(g.conv(x, c, 2, 1))
                total += 2
            elif b == "k3":
                outs.append(g.conv(x, c, 1, 3, pad=1))
                total += 1
            elif b == "max":
                outs.append(g.add({"op": "max_pool2d", "kernel_size": 3, "stride": 1,
                                   "padding": 1}, [x]))
                total += c
            elif b == "avg":
                outs.append(g.add({"op": "avg_pool2d", "kernel_size": 3, "stride": 1,
                                   "padding": 1,
                                   "count_include_pad": rng.random() < 0.5}, [x]))
                total += c
            else:
                outs.append(x)  # the block's input itself, concatenated
                total += c
        g.last = g.add({"op": "cat"}, outs)
        g.shape = (total, h, w)
    elif kind == "gate":  # x * sigmoid(conv1x1(x))
        a = g.add({"op": "sigmoid" if g.rich else "relu"}, [g.conv(x, c, c, 1)])
        g.last = g.add({"op": "mul"}, [x, a] if rng.random() < 0.5 else [a, x])
    else:  # a U-Net level: pool, conv, transposed conv back up, skip concatenation
        a = g.add({"op": "max_pool2d", "kernel_size": 2}, [x])
        a = g.add({"op": "relu"}, [g.conv(a, c, c + 1, 3, pad=1)])
        up = g.add({"op": "conv_transpose2d", "out_channels": c, "kernel_size": 2,
                    "stride": 2}, [a])
        g.last = g.add({"op": "cat"}, [up, x] if rng.random() < 0.5 else [x, up])
        g.shape = (2 * c, h, w)


def random_graph(seed: int, rich: bool = True) -> Network:
    """A random network of two or three blocks, validated as a template. `rich`: with batch
    norms and sigmoids (SQRT and EXP, outside the in-process evaluator's grammar)."""
    rng = random.Random(seed)
    channels, size = rng.choice([1, 2]), rng.choice([4, 5, 6])
    g = _Graph(rng, channels, size, rich)
    for _ in range(rng.choice([2, 3])):
        _block(g)
    template = {"input_size": [size, size], "in_channels": channels, "seed": seed,
                "values": rng.choice(["integers", "normal"]), "layers": g.tables}
    return network_from_template(template, f"random {seed}")


# ---------------------------------------------------------------------------- PyTorch
def torch_outputs(network: Network, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every layer's output by block name, from PyTorch in float64, each layer fed the
    outputs of the layers it reads."""
    def t(name: str) -> torch.Tensor | None:
        return None if name not in tensors else torch.tensor(tensors[name], dtype=torch.float64)

    values = torch_graph(network, t, torch.tensor(tensors["input"], dtype=torch.float64)[None])
    out: dict[str, np.ndarray] = {}
    for layer in network.layers:
        y = values[layer.label]
        if layer.flat:  # a vector of features: one row, one block
            out[layer.output_name(0)] = y.detach().numpy().reshape(1, -1)
            continue
        for o in range(y.shape[1]):
            out[layer.output_name(o)] = y[0, o].detach().numpy()
    return out


def torch_graph(network: Network, t: Callable[[str], torch.Tensor | None], x: torch.Tensor,
                read: Callable[[int, int, torch.Tensor], torch.Tensor] | None = None,
                single: Callable[[Layer, torch.Tensor], torch.Tensor] | None = None,
                ) -> dict[str, torch.Tensor]:
    """Every layer's output tensor (N, C, H, W) by label, from torch.nn.functional, each layer
    fed the outputs of the layers it reads (`t`: a tensor by name; `read(n, k, x)`: what layer
    n sees as its input k, e.g. a copy whose gradient autograd keeps: the gradient passed back
    along that one edge of the graph; `single(layer, x)`: another oracle's call for a layer
    that reads one input, e.g. test_backward's, which knows every op with gradients)."""
    values = {"input": x}
    for n, layer in enumerate(network.layers):
        op, prefix = layer.op, layer.names.tensor
        xs = [values[s] for s in network.sources(n)]
        if read is not None:
            xs = [read(n, k, v) for k, v in enumerate(xs)]
        x = xs[0]
        w, b = t(prefix + "weight"), t(prefix + "bias")
        if single is not None and not isinstance(op, Merge):
            y = single(layer, x)
        elif op.op == "conv2d":
            y = F.conv2d(x, w, b, op.stride, op.padding, op.dilation, op.groups)
        elif op.op == "conv_transpose2d":
            y = F.conv_transpose2d(x, w, b, op.stride, op.padding, op.output_padding,
                                   op.groups, op.dilation)
        elif op.op == "batch_norm2d":
            y = F.batch_norm(x, t(prefix + "running_mean"), t(prefix + "running_var"), w, b,
                             training=False, eps=op.eps)
        elif op.op == "relu":
            y = F.relu(x)
        elif op.op == "leaky_relu":
            y = F.leaky_relu(x, op.negative_slope)
        elif op.op == "sigmoid":
            y = torch.sigmoid(x)
        elif op.op == "max_pool2d":
            y = F.max_pool2d(x, op.kernel_size, op.stride, op.padding, op.dilation)
        elif op.op == "avg_pool2d":
            y = F.avg_pool2d(x, op.kernel_size, op.stride, op.padding,
                             count_include_pad=op.count_include_pad)
        elif op.op == "flatten":
            y = torch.flatten(x, 1)
        elif op.op == "linear":
            y = F.linear(x, w, b)
        elif op.op == "add":
            y = torch.add(xs[0], xs[1], alpha=op.alpha)
        elif op.op == "mul":
            y = torch.mul(xs[0], xs[1])
        elif op.op == "cat":
            y = torch.cat(xs, dim=1)
        else:
            raise AssertionError(f"no PyTorch call for {op.op}")
        values[layer.label] = y
    return values


def compare(expected: dict[str, np.ndarray], read) -> list[str]:  # type: ignore[no-untyped-def]
    problems = []
    for name, want in expected.items():
        got = read(name)
        if got.shape != want.shape:
            problems.append(f"{name}: shape {got.shape}, PyTorch {want.shape}")
        elif not np.all(np.abs(got - want) <= TOLERANCE * np.maximum(1.0, np.abs(want))):
            problems.append(f"{name}: differs from PyTorch by {np.max(np.abs(got - want))}")
    return problems


def reader(xf: XlsxFile):  # type: ignore[no-untyped-def]
    names, sheets = xf.defined_names(), {}

    def read(name: str) -> np.ndarray:
        sheet, r0, c0, r1, c1 = parse_ref(names[name])
        if sheet not in sheets:
            sheets[sheet] = xf.read_sheet(sheet)
        return sheets[sheet].region(r0, c0, r1, c1).values
    return read


def test_random_graphs_cover_every_kind_of_join() -> None:
    """The generator really makes graphs: adds (with alpha), cats, muls, projections."""
    ops: set[str] = set()
    alphas: set[float] = set()
    for seed in range(12):
        network = random_graph(seed)
        assert not network.is_chain
        ops.update(layer.op.op for layer in network.layers)
        alphas.update(layer.op.alpha for layer in network.layers if layer.op.op == "add")
    assert {"add", "cat", "mul", "conv_transpose2d", "batch_norm2d", "avg_pool2d"} <= ops
    assert len(alphas) > 1


@pytest.mark.parametrize("seed", range(4))
def test_random_graphs_equal_pytorch_in_process_and_as_stored(seed: int,
                                                              tmp_path: Path) -> None:
    """Every formula evaluated by the strict in-process evaluator equals PyTorch layer by
    layer; so do the values stored with the formulas (what a viewer shows unrecalculated)."""
    network = random_graph(seed, rich=False)
    path = tmp_path / "graph.xlsx"
    write_atomically(make_plan(network), path)
    ev = Evaluator(openpyxl.load_workbook(path))
    ev.evaluate_all()
    got = lambda name: ev.rect(ev.name(name))  # noqa: E731
    expected = torch_outputs(network, _tensors(network, got))
    assert compare(expected, got) == []
    with XlsxFile(path) as xf:
        assert compare(expected, reader(xf)) == []


# ---------------------------------------------------------------------------- fx modules
class BasicBlock(nn.Module):
    """torchvision's BasicBlock (expansion 1), as written there."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class TinyResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 2, 3, padding=1)
        self.layer1 = BasicBlock(2, 2, 1)
        self.layer2 = BasicBlock(2, 3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer2(self.layer1(F.relu(self.stem(x))))


class TinyUNet(nn.Module):
    """A U-Net level as PyTorch ports write it (torch.cat([up, skip], dim=1)), a sigmoid gate
    multiplied in and a scaled residual add (torch.add with alpha)."""

    def __init__(self) -> None:
        super().__init__()
        self.inc = nn.Conv2d(1, 2, 3, padding=1)
        self.down = nn.Conv2d(2, 3, 3, padding=1)
        self.up = nn.ConvTranspose2d(3, 2, 2, stride=2)
        self.gate = nn.Conv2d(4, 4, 1)
        self.outc = nn.Conv2d(4, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = F.relu(self.inc(x))
        x2 = F.relu(self.down(F.max_pool2d(x1, 2)))
        joined = torch.cat([self.up(x2), x1], dim=1)
        gated = joined * torch.sigmoid(self.gate(joined))
        return self.outc(torch.add(gated, joined, alpha=0.5))


def _modules() -> list[tuple[nn.Module, torch.Tensor]]:
    torch.manual_seed(0)
    made = []
    for module in (TinyResNet(), TinyUNet()):
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-1, 1)
        made.append((module.eval().double(), torch.randn(1, 1, 6, 6, dtype=torch.float64)))
    return made


def module_outputs(module: nn.Module, x: torch.Tensor,
                   layers: dict[str, str], network: Network) -> dict[str, np.ndarray]:
    """Each module's output in the module's own forward (hooks; a module run twice: each
    call), by the block names of its layer, and the forward's result as the last layer's."""
    seen: dict[str, list[np.ndarray]] = {}
    hooks = []
    for qualified, sub in module.named_modules():
        if qualified and not list(sub.children()):
            hooks.append(sub.register_forward_hook(
                lambda _m, _i, out, q=qualified: seen.setdefault(q, []).append(
                    out.detach().clone()[0].numpy())))
    with torch.no_grad():
        result = module(x)[0].numpy()
    for hook in hooks:
        hook.remove()
    by_label = {layer.label: layer for layer in network.layers}
    out: dict[str, np.ndarray] = {}
    for key, label in layers.items():
        qualified, _, call = key.partition(" (call ")
        if qualified.startswith("node ") or qualified not in seen:
            continue
        value = seen[qualified][int(call.rstrip(")")) - 1 if call else 0]
        for o in range(value.shape[0]):
            out[by_label[label].output_name(o)] = value[o]
    last = network.layers[-1]
    for o in range(result.shape[0]):
        out[last.output_name(o)] = result[o]
    return out


def test_fx_graphs_name_their_inputs() -> None:
    (resnet, x), (unet, y) = _modules()
    net = module_network(resnet, x)
    reads = {layer.label: net.sources(n) for n, layer in enumerate(net.layers)}
    adds = [label for label in reads if label.startswith("add")]
    assert len(adds) == 2
    assert reads[adds[0]] == ("layer1_bn2", "relu1")  # out += identity
    down = [label for label, src in reads.items() if src == ("relu3",)]
    assert len(down) == 2  # layer2.conv1 and the 1x1 downsample conv both read block 1
    net = module_network(unet, y)
    cat = next(layer for layer in net.layers if layer.op.op == "cat")
    assert cat.inputs == ("up", "relu1") and cat.out_shape == (4, 6, 6)


# ---------------------------------------------------------------------------- real engines
def _check_in_engines(networks: list[Network], modules: list[tuple[nn.Module, torch.Tensor]],
                      tmp: Path) -> list[object]:
    """Build every network (and from_module every module), verify them all in every engine
    (one start each), and compare each engine's recalculated copy with PyTorch."""
    paths, wants = [], []
    for n, network in enumerate(networks):
        paths.append(tmp / f"g{n:02d}.xlsx")
        write_atomically(make_plan(network), paths[-1])
        wants.append(lambda read, network=network: torch_outputs(
            network, _tensors(network, read)))
    for n, (module, x) in enumerate(modules):
        paths.append(tmp / f"m{n}.xlsx")
        result = from_module(module, x, paths[-1])
        network = module_network(module, x)
        outputs = module_outputs(module, x, result.layers, network)
        wants.append(lambda _read, outputs=outputs: outputs)
        networks = [*networks, network]
    reports, kept = verify_keeping_copies(paths, tmp / "kept")
    failures: list[object] = []
    for engine in ("libreoffice", "gnumeric", "ironcalc"):
        for path, want in zip(paths, wants, strict=True):
            with XlsxFile(kept[engine][path]) as xf:
                read = reader(xf)
                problems = compare(want(read), read)
            if problems:
                failures.append((engine, path.name, problems[:3]))
    for network, report in zip(networks, reports, strict=True):
        engines = sorted(run.engine for run in report.runs)
        if engines != ["gnumeric", "ironcalc", "libreoffice"] or not report.ok:
            failures.append(("verify", report.path, engines, report.unusable, [
                (b.name, b.problem) for run in report.runs for b in run.blocks if not b.ok][:3]))
        names = {b.name for run in report.runs for b in run.blocks}
        missing = [layer.label for layer in network.layers
                   if layer.output_name(0) not in names]
        if missing:
            failures.append(("verify skipped", missing))
    return failures


@pytest.mark.slow  # (23 s: CI runs it; the default run verifies the shipped graphs in every engine)
def test_graphs_and_fx_modules_equal_pytorch_in_every_engine(tmp_path: Path) -> None:
    """One start of each engine: a random graph and the fx-traced residual and U-Net
    modules (the shipped templates, larger, are in the slow sweep below)."""
    failures = _check_in_engines([random_graph(100)], _modules(), tmp_path)
    assert not failures, failures


@pytest.mark.slow
def test_many_random_graphs_and_the_templates_equal_pytorch_in_every_engine(
        tmp_path: Path) -> None:
    shipped = [network_from_template(tomllib.loads(shipped_networks()[name]), name)
               for name in ("resnet_block", "tiny_unet")]
    failures = _check_in_engines([random_graph(seed) for seed in range(200, 206)] + shipped,
                                 [], tmp_path)
    assert not failures, failures


# ---------------------------------------------------------------------------- bad graphs
BAD = {
    'name = "a"\n[[layers]]\nop = "relu"\nname = "b"\ninput = "c"\n[[layers]]\nop = "relu"\n'
    'name = "c"\ninput = "b"': "cycle: b → c → b",
    '[[layers]]\nop = "relu"\ninput = "nowhere"': "'nowhere', which names no layer",
    '[[layers]]\nop = "conv2d"\nout_channels = 2\nkernel_size = 3\n[[layers]]\nop = "add"\n'
    'inputs = ["conv1", "input"]': "conv1 has shape (2, 4, 4) and input has shape (1, 6, 6)",
    '[[layers]]\nop = "conv2d"\nout_channels = 2\nkernel_size = 3\n[[layers]]\nop = "cat"\n'
    'inputs = ["conv1", "input"]': "cat needs equal heights and widths",
    '[[layers]]\nop = "relu"\n[[layers]]\nop = "relu"\ninput = "input"':
        "the output of relu1 is read by no layer",
    '[[layers]]\nop = "add"': "add reads several layers",
    '[[layers]]\nop = "relu"\ninputs = ["input", "input"]': "relu reads one input",
    '[[layers]]\nop = "relu"\nname = "input"\n[[layers]]\nop = "add"\n'
    'inputs = ["input", "input"]': 'name="input": names the network input',
}


@pytest.mark.parametrize("body", BAD)
def test_bad_graph_is_one_line_naming_the_layers(tmp_path: Path, body: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI in process (`main`, as `convsheets build` runs it): exit 2, one line."""
    from convsheets.cli import main

    template = tmp_path / "bad.toml"
    template.write_text('input_size = "6x6"\nin_channels = 1\n'
                        + body.replace('name = "a"\n', ""))
    target = tmp_path / "out.xlsx"
    with pytest.raises(SystemExit) as done:
        main(["build", "--template", str(template), "-o", str(target)])
    err = capsys.readouterr().err
    assert done.value.code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and BAD[body] in lines[0], err
    assert "Traceback" not in err and not target.exists()


def test_a_bad_graph_from_the_shell(tmp_path: Path) -> None:
    """The same through a real process: no traceback, exit 2."""
    template = tmp_path / "bad.toml"
    template.write_text('input_size = "6x6"\nin_channels = 1\n'
                        + next(iter(BAD)).replace('name = "a"\n', ""))
    run = subprocess.run([sys.executable, "-m", "convsheets", "build", "--template",
                          str(template), "-o", str(tmp_path / "out.xlsx")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "cycle" in run.stderr


def test_a_chain_records_no_inputs_and_a_graph_reads_back() -> None:
    """A chain's record has no `inputs` (its workbooks are unchanged); a graph's record names
    them and reads back into the same network."""
    lenet = network_from_template(tomllib.loads(shipped_networks()["lenet"]),
                                  "lenet")
    assert lenet.is_chain and all("inputs" not in entry
                                  for entry in lenet.as_options()["layers"])  # type: ignore[union-attr]
    graph = random_graph(3)
    again = Network.from_options(graph.as_options())
    assert [(la.label, la.inputs, la.out_shape) for la in again.layers] == \
        [(la.label, la.inputs, la.out_shape) for la in graph.layers]
    assert any(isinstance(layer.op, Merge) for layer in again.layers)


# ---------------------------------------------------------------------------- exercises
def test_an_exercise_on_a_graph_blanks_a_join_and_what_follows(tmp_path: Path) -> None:
    """A handout of the shipped U-Net with a skip concatenation blank: the answers are the
    concatenation and everything downstream of it, not the encoder; PyTorch's values graded
    right, one wrong value graded wrong."""
    from exercise_fill import fill, handout_of, typed

    from convsheets.build import build_exercise
    from convsheets.exercise import Exercise
    from convsheets.grade import grade_files

    network = network_from_template(tomllib.loads(shipped_networks()["tiny_unet"]), "tiny_unet")
    path = tmp_path / "unet.xlsx"
    build_exercise(network, path, Exercise(blank=("skip1",)))
    handout = handout_of(path)
    assert {block.meaning.layer for block in handout.answers} == {  # type: ignore[union-attr]
        "skip1", "dec1", "dec1_relu", "head"}
    shown = handout.plan.network
    want = torch_outputs(shown, {name: np.asarray(a, dtype=float)
                                 for name, a in shown.given.items()})
    joined = np.stack([want[f"skip1_output_c{c}"] for c in range(4)])
    padded = F.pad(torch.tensor(joined), (1, 1, 1, 1)).numpy()  # dec1's padding 1
    want.update({f"dec1_padded_c{c}": padded[c] for c in range(4)})
    assert {block.name for block in handout.answers} <= set(want)
    for block in handout.answers:
        assert np.allclose(handout.solutions[block.name], want[block.name], atol=1e-9)

    def answer(wrong: tuple[str, int, int] | None):  # type: ignore[no-untyped-def]
        return lambda b, i, j, _right: typed(float(want[b][i, j]) + ((b, i, j) == wrong))

    fill(path, tmp_path / "right.xlsx", answer(None))
    (g,) = grade_files([tmp_path / "right.xlsx"])
    assert g.correct == g.total > 0
    fill(path, tmp_path / "one-wrong.xlsx", answer(("skip1_output_c3", 1, 2)))
    (g,) = grade_files([tmp_path / "one-wrong.xlsx"])
    assert g.correct == g.total - 1


def test_an_in_place_change_read_again_is_refused() -> None:
    """``F.relu(y, inplace=True)`` then ``z + y``: PyTorch adds the changed y (2·relu(y)), a
    graph of values would add the old one, so the model is refused naming both nodes."""
    from convsheets.errors import WeightsError

    class InPlace(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x)
            return F.relu(y, inplace=True) + y

    with pytest.raises(WeightsError) as info:
        module_network(InPlace().eval(), torch.randn(1, 1, 4, 4))
    assert "changes conv in place, and add reads conv afterwards" in str(info.value)
