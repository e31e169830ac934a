"""Issue 24's remaining ops: relu6, silu, gelu (none and tanh), hardtanh, hardsigmoid,
hardswish, elu, softplus, softmax and log_softmax (over a map's channels and a vector's
features), upsample (nearest, bilinear with and without align_corners).

The oracle is PyTorch (`torch.nn.functional` with the layer's options, the modules' own
forward and repr), never convsheets' reference. Every workbook of this file is built once and
recalculated by LibreOffice (one start for all), Gnumeric and IronCalc; the options and shapes
come from a seeded generator (a larger sweep of seeds runs with `-m slow`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import convsheets
from convsheets.engines import get_engine
from convsheets.errors import ConvsheetsError
from convsheets.network import Network
from convsheets.networks import network_from_template
from convsheets.torch_module import module_network
from convsheets.verify import verify_files
from convsheets.xlsxread import XlsxFile, parse_ref

TOLERANCE = 1e-9
ENGINES = ("libreoffice", "gnumeric", "ironcalc")
# inputs that break naive formulas: EXP overflows below -709.78 (1 / (1 + EXP(-x))), large
# positive values, zeros, tiny values
EXTREMES = (-800.0, -745.0, -40.0, 0.0, -0.0, 1e-12, 30.0, 800.0)


def torch_layer(op, x: torch.Tensor) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """One layer by torch.nn.functional, from the layer's options (PyTorch's names)."""
    name = op.op
    if name == "conv2d":
        raise AssertionError("conv2d has weights: see _forward")
    calls = {
        "relu": lambda: F.relu(x), "relu6": lambda: F.relu6(x), "silu": lambda: F.silu(x),
        "sigmoid": lambda: torch.sigmoid(x), "tanh": lambda: torch.tanh(x),
        "gelu": lambda: F.gelu(x, approximate=op.approximate),
        "hardtanh": lambda: F.hardtanh(x, op.min_val, op.max_val),
        "hardsigmoid": lambda: F.hardsigmoid(x), "hardswish": lambda: F.hardswish(x),
        "elu": lambda: F.elu(x, op.alpha), "softplus": lambda: F.softplus(x, op.beta, op.threshold),
        "softmax": lambda: F.softmax(x, dim=1 if op.dim is None else op.dim),
        "log_softmax": lambda: F.log_softmax(x, dim=1 if op.dim is None else op.dim),
        "flatten": lambda: torch.flatten(x, 1),
        "max_pool2d": lambda: F.max_pool2d(x, op.kernel_size, op.stride, op.padding,
                                           op.dilation, ceil_mode=op.ceil_mode),
        "avg_pool2d": lambda: F.avg_pool2d(x, op.kernel_size, op.stride, op.padding,
                                           ceil_mode=op.ceil_mode,
                                           count_include_pad=op.count_include_pad),
        "upsample": lambda: F.interpolate(
            x, size=op.size, scale_factor=op.scale_factor, mode=op.mode,
            align_corners=op.align_corners, recompute_scale_factor=op.recompute_scale_factor),
    }
    return calls[name]()


def _forward(network: Network, read) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """Every layer's output by PyTorch, from the input and weights the workbook holds."""
    x = torch.tensor(np.stack([read(f"input_c{c}") for c in range(network.in_channels)]),
                     dtype=torch.float64)[None]
    out = {}
    for layer in network.layers:
        op = layer.op
        if op.op == "conv2d":
            w = torch.tensor(np.array([[read(f"{layer.name}_weight_{a}_{b}")
                                        for b in range(op.in_channels // op.groups)]
                                       for a in range(op.out_channels)]))
            bias = torch.tensor(read(f"{layer.name}_bias").reshape(-1)) if op.bias else None
            if op.padding_mode != "zeros":  # what nn.Conv2d does: F.pad, then no padding
                (ph, pw), mode = op.padding, op.padding_mode
                x = F.conv2d(F.pad(x, (pw, pw, ph, ph), mode=mode), w, bias, op.stride, 0,
                             op.dilation, op.groups)
            else:
                x = F.conv2d(x, w, bias, op.stride, op.padding, op.dilation, op.groups)
        elif op.op == "linear":
            w = torch.tensor(read(f"{layer.name}_weight"))
            bias = torch.tensor(read(f"{layer.name}_bias").reshape(-1)) if op.bias else None
            x = F.linear(x, w, bias)
        else:
            x = torch_layer(op, x)
        out[layer.label] = x[0].numpy().copy()
    return out


def _reader(path: Path):  # type: ignore[no-untyped-def]
    xf = XlsxFile(path)
    names, sheets = xf.defined_names(), {}

    def read(name: str) -> np.ndarray:
        sheet, r0, c0, r1, c1 = parse_ref(names[name])
        if sheet not in sheets:
            sheets[sheet] = xf.read_sheet(sheet)
        return np.asarray(sheets[sheet].region(r0, c0, r1, c1).values, dtype=float)
    return xf, read


def _problems(network: Network, path: Path) -> list[str]:
    xf, read = _reader(path)
    with xf:
        want = _forward(network, read)
        problems = []
        for layer in network.layers:
            y = want[layer.label]
            got = (read(layer.output_name(0)).reshape(1, 1, -1) if layer.flat else
                   np.stack([read(layer.output_name(o)) for o in range(y.shape[0])]))
            y = y.reshape(got.shape) if layer.flat else y
            if got.shape != y.shape:
                problems.append(f"{layer.label}: shape {got.shape}, PyTorch {y.shape}")
            elif not np.all(np.abs(got - y) <= TOLERANCE * np.maximum(1.0, np.abs(y))):
                problems.append(f"{layer.label} ({layer.op}): off by {np.max(np.abs(got - y))}")
    return problems


# ---------------------------------------------------------------------------- hidden networks
ACTIVATIONS = ("relu6", "silu", "gelu", "hardtanh", "hardsigmoid", "hardswish", "elu",
               "softplus", "sigmoid")


def _activation(rng: np.random.Generator, op: str) -> dict[str, object]:
    """One activation with options drawn the way a user would give them (or left unset)."""
    table: dict[str, object] = {"op": op}
    if op == "gelu" and rng.random() < 0.5:
        table["approximate"] = str(rng.choice(["none", "tanh"]))
    elif op == "hardtanh" and rng.random() < 0.7:
        low = float(rng.choice([-2.0, -1.5, -0.25, 0.0]))
        table.update(min_val=low, max_val=low + float(rng.choice([0.5, 1.0, 3.0])))
    elif op == "elu" and rng.random() < 0.7:
        table["alpha"] = float(rng.choice([0.5, 1.5, 2.0, -0.5]))
    elif op == "softplus" and rng.random() < 0.7:
        table.update(beta=float(rng.choice([0.5, 2.0, 3.0, -1.0])),
                     threshold=float(rng.choice([1.0, 5.0, 20.0])))
    return table


def hidden_template(seed: int) -> dict[str, object]:
    """A random network: a map of random size through every activation (random order and
    options) and softmax / log_softmax over its channels, then a flatten, a linear and softmax
    / log_softmax over the features. Its input holds the extreme values above."""
    rng = np.random.default_rng(seed)
    c, h, w = int(rng.integers(2, 4)), int(rng.integers(2, 5)), int(rng.integers(2, 5))
    image = rng.normal(size=(c, h, w)) * 6
    flat = image.reshape(-1)
    flat[: len(EXTREMES)] = EXTREMES[: flat.size]
    order = list(rng.permutation(ACTIVATIONS))
    layers: list[dict[str, object]] = [_activation(rng, str(op)) for op in order[:5]]
    layers.append({"op": str(rng.choice(["softmax", "log_softmax"])),
                   **({"dim": int(rng.choice([1, -3]))} if rng.random() < 0.5 else {})})
    layers.append({"op": "conv2d", "out_channels": int(rng.integers(2, 4)), "kernel_size": 1})
    layers += [_activation(rng, str(op)) for op in order[5:]]
    layers.append({"op": str(rng.choice(["softmax", "log_softmax"]))})
    layers += [{"op": "flatten"}, {"op": "linear", "out_features": int(rng.integers(3, 7))},
               {"op": str(rng.choice(["softmax", "log_softmax"])),
                **({"dim": int(rng.choice([1, -1]))} if rng.random() < 0.5 else {})}]
    return {"input_size": [h, w], "in_channels": c, "seed": seed, "values": "normal",
            "input": image.tolist(), "layers": layers}


# ---------------------------------------------------------------------------- from_module
class Activations(nn.Module):
    """Every new op as a module, a function and (where PyTorch has one) a method."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.r6 = nn.ReLU6()
        self.gelu = nn.GELU(approximate="tanh")
        self.clamp = nn.Hardtanh(-0.5, 2.0)
        self.hs = nn.Hardswish()
        self.soft = nn.Softplus(beta=2.0, threshold=3.0)
        self.fc = nn.Linear(3 * 4 * 4, 5)
        self.out = nn.LogSoftmax(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        x = F.gelu(self.gelu(self.r6(x)))
        x = F.hardsigmoid(self.hs(F.silu(self.clamp(x))))
        x = F.elu(F.softplus(self.soft(x), 0.5), alpha=0.75)
        x = F.relu6(F.hardtanh(nn.functional.hardswish(x), -1.0, 1.5))
        x = torch.softmax(F.silu(x), dim=1).log_softmax(1)
        x = x.softmax(dim=1)
        return self.out(F.softmax(self.fc(x.flatten(1)), dim=-1))


def sequential() -> nn.Module:
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.SiLU(), nn.ELU(0.5), nn.Softmax(1),
                         nn.Hardsigmoid(), nn.LogSoftmax(dim=-3), nn.Flatten(),
                         nn.Linear(48, 4), nn.GELU(), nn.Softmax(dim=-1))


class Upsampling(nn.Module):
    """A tiny decoder: nn.Upsample modules and F.interpolate calls of every mode, poolings
    with ceil_mode, convolutions with padding_mode."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=(2, 1), padding_mode="reflect")
        self.up1 = nn.Upsample(scale_factor=2)
        self.up2 = nn.Upsample(size=(5, 7), mode="bilinear", align_corners=True)
        self.smooth = nn.Conv2d(2, 1, 2, padding=1, padding_mode="circular")
        self.pool = nn.MaxPool2d(2, stride=2, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.up2(self.up1(self.conv(x))))
        x = F.avg_pool2d(x, 2, 1, 1, True, True)  # ceil_mode, count_include_pad
        x = F.interpolate(x, scale_factor=1.5, mode="bilinear")
        x = F.interpolate(x, size=(4, 9), mode="nearest-exact")
        return self.smooth(F.interpolate(x, scale_factor=(0.75, 1.25)))


def _seeded(model: nn.Module, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    for p in model.parameters():
        nn.init.normal_(p, std=0.7)
    return model.double().eval()


def _model_input(seed: int) -> torch.Tensor:
    x = torch.randn(1, 2, 4, 4, generator=torch.Generator().manual_seed(seed),
                    dtype=torch.float64) * 3
    x[0, 0, 0, :3] = torch.tensor([-800.0, 800.0, -745.0])
    return x


def _layer_outputs(model: nn.Module, x: torch.Tensor) -> list[np.ndarray]:
    """Every node's output by the module's own forward, node by node (torch.fx)."""
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


def _module_problems(model: nn.Module, x: torch.Tensor, path: Path) -> list[str]:
    network = module_network(model, x)
    want = _layer_outputs(model, x)
    assert len(want) == len(network.layers)
    xf, read = _reader(path)
    problems = []
    with xf:
        for layer, y in zip(network.layers, want, strict=True):
            got = (read(layer.output_name(0)).reshape(-1) if layer.flat else
                   np.stack([read(layer.output_name(o)) for o in range(y.shape[0])]))
            y = y.reshape(-1) if layer.flat else y
            if got.shape != y.shape or not np.all(
                    np.abs(got - y) <= TOLERANCE * np.maximum(1.0, np.abs(y))):
                problems.append(f"{layer.label} ({layer.op})")
    return problems


def _upsample(rng: np.random.Generator, h: int, w: int) -> dict[str, object]:
    """An upsample with a random mode, size or scale_factor (up or down) and options."""
    table: dict[str, object] = {"op": "upsample"}
    mode = str(rng.choice(["nearest", "nearest-exact", "bilinear", "bilinear"]))
    if mode != "nearest" or rng.random() < 0.5:
        table["mode"] = mode
    if rng.random() < 0.5:
        table["size"] = [int(rng.integers(max(1, h - 2), h + 5)),
                         int(rng.integers(max(1, w - 2), w + 5))]
    else:
        pick = [0.75, 1.5, 2.0, 2.5, 1.25, 3.0, 1.7]
        table["scale_factor"] = (float(rng.choice(pick)) if rng.random() < 0.5
                                 else [float(rng.choice(pick)), float(rng.choice(pick))])
        if rng.random() < 0.3:
            table["recompute_scale_factor"] = True
    if mode == "bilinear" and rng.random() < 0.8:
        table["align_corners"] = bool(rng.random() < 0.5)
    return table


def upsample_template(seed: int) -> dict[str, object]:
    """conv -> three random upsample layers (each from the shape before it) -> relu."""
    rng = np.random.default_rng(100 + seed)
    template: dict[str, object] = {
        "input_size": [int(rng.integers(2, 5)), int(rng.integers(2, 5))], "in_channels": 2,
        "seed": seed, "values": "normal",
        "layers": [{"op": "conv2d", "out_channels": 2, "kernel_size": 1}]}
    layers = template["layers"]
    assert isinstance(layers, list)
    while len(layers) < 4:
        shape = network_from_template(template, "up").output_shape
        candidate = _upsample(rng, shape[1], shape[2])
        try:
            network_from_template({**template, "layers": [*layers, candidate]}, "up")
        except ConvsheetsError:
            continue
        if max(network_from_template({**template, "layers": [*layers, candidate]},
                                     "up").output_shape[1:]) <= 14:
            layers.append(candidate)
    layers.append({"op": "relu"})
    return template


UPSAMPLE = {f"upsample{seed}": (upsample_template(seed), None) for seed in (1, 2)}


def extreme_template(op: str) -> dict[str, object]:
    """The activation alone on the extreme values (and a spread of ordinary ones)."""
    image = np.concatenate([EXTREMES, np.linspace(-6, 6, 8)]).reshape(1, 2, 8)
    return {"input_size": [2, 8], "in_channels": 1, "input": image.tolist(),
            "layers": [{"op": op, **({"approximate": "tanh"} if op == "gelu" else {})}] + (
                [{"op": "gelu"}] if op == "gelu" else [])}


def pool_template(seed: int) -> dict[str, object]:
    """conv -> three random poolings with ceil_mode (max or average, random kernel, stride,
    padding, dilation, count_include_pad), each kept only if PyTorch's shape rules allow it
    and a window hangs over the edge somewhere (what ceil_mode changes)."""
    rng = np.random.default_rng(200 + seed)
    template: dict[str, object] = {
        "input_size": [int(rng.integers(6, 11)), int(rng.integers(6, 11))], "in_channels": 2,
        "seed": seed, "values": "normal",
        "layers": [{"op": "conv2d", "out_channels": 2, "kernel_size": 1}]}
    layers = template["layers"]
    assert isinstance(layers, list)
    tries = 0
    while len(layers) < 4 and tries < 500:
        tries += 1
        k = [int(v) for v in rng.integers(1, 4, 2)]
        op = str(rng.choice(["max_pool2d", "avg_pool2d"]))
        table: dict[str, object] = {
            "op": op, "kernel_size": k, "stride": [int(v) for v in rng.integers(1, 4, 2)],
            "padding": [int(rng.integers(0, k[a] // 2 + 1)) for a in (0, 1)],
            "ceil_mode": True}
        if op == "max_pool2d":
            table["dilation"] = [int(v) for v in rng.integers(1, 3, 2)]
        else:
            table["count_include_pad"] = bool(rng.random() < 0.6)
        try:
            ceil = network_from_template({**template, "layers": [*layers, table]}, "pool")
            floor = network_from_template({**template, "layers": [
                *layers, {**table, "ceil_mode": False}]}, "pool")
        except ConvsheetsError:
            continue
        if ceil.output_shape != floor.output_shape:
            layers.append(table)
    return template


POOLS = {f"ceil{seed}": (pool_template(seed), None) for seed in (1, 2)}


def padding_mode_template(seed: int) -> dict[str, object]:
    """Two convolutions with random padding modes, paddings (up to what PyTorch allows),
    strides, dilations and groups."""
    rng = np.random.default_rng(300 + seed)
    template: dict[str, object] = {
        "input_size": [int(rng.integers(3, 7)), int(rng.integers(3, 7))], "in_channels": 2,
        "seed": seed, "values": "normal", "layers": []}
    layers = template["layers"]
    assert isinstance(layers, list)
    modes = list(rng.permutation(["reflect", "replicate", "circular"]))
    while len(layers) < 3:
        table = {"op": "conv2d", "out_channels": 2, "padding_mode": str(modes[len(layers)]),
                 "kernel_size": [int(v) for v in rng.integers(1, 4, 2)],
                 "padding": [int(v) for v in rng.integers(1, 4, 2)],
                 "stride": [int(v) for v in rng.integers(1, 3, 2)],
                 "dilation": [int(v) for v in rng.integers(1, 3, 2)],
                 "groups": int(rng.choice([1, 2]))}
        try:
            network_from_template({**template, "layers": [*layers, table]}, "pm")
        except ConvsheetsError:
            continue
        layers.append(table)
    return template


PADDING_MODES = {f"padmode{seed}": (padding_mode_template(seed), None) for seed in (1, 2)}


# the ops whose formulas hold EXP or ERF (the others are MIN / MAX / IF arithmetic)
EXTREME = {f"extreme_{op}": (extreme_template(op), None)
           for op in ("sigmoid", "silu", "gelu", "elu", "softplus")}


# ---------------------------------------------------------------------------- the batch
SEEDS = (1, 2)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Every workbook of this file, built once, recalculated once per engine."""
    folder = tmp_path_factory.mktemp("new_ops")
    books: dict[str, tuple[Path, object]] = {}
    for seed in SEEDS:
        template = hidden_template(seed)
        path = folder / f"hidden{seed}.xlsx"
        convsheets.build(template=template, output=path)
        books[path.name] = (path, network_from_template(template, "hidden"))
    for name, make in (("activations", Activations), ("sequential", sequential),
                       ("upsampling", Upsampling)):
        model, x = _seeded(make(), 5), _model_input(7)
        path = folder / f"{name}.xlsx"
        convsheets.from_module(model, x, path)
        books[path.name] = (path, (model, x))
    for name, (template, _x) in {**UPSAMPLE, **EXTREME, **POOLS, **PADDING_MODES}.items():
        path = folder / f"{name}.xlsx"
        convsheets.build(template=template, output=path)
        books[path.name] = (path, network_from_template(template, name))
    paths = [path for path, _ in books.values()]
    copies = {"stored": {p.name: p for p in paths}}
    for engine in ENGINES:
        done = get_engine(engine).recalculate(paths, folder / engine, timeout=600)
        copies[engine] = {p.name: c for p, c in zip(paths, done, strict=True)}
    return {"books": books, "copies": copies}


def _check(built: dict[str, object], name: str) -> None:
    books, copies = built["books"], built["copies"]
    _path, what = books[name]  # type: ignore[index]
    for engine, by_name in copies.items():  # type: ignore[union-attr]
        copy = by_name[name]
        problems = (_problems(what, copy) if isinstance(what, Network)
                    else _module_problems(*what, copy))
        assert problems == [], (engine, name, problems)


@pytest.mark.parametrize("seed", SEEDS)
def test_hidden_networks_equal_torch_functional_in_every_engine(built, seed: int) -> None:  # type: ignore[no-untyped-def]
    _check(built, f"hidden{seed}.xlsx")


@pytest.mark.parametrize("name", [*UPSAMPLE, *EXTREME, *POOLS, *PADDING_MODES])
def test_upsample_ceil_and_extremes_equal_torch_in_every_engine(built, name: str) -> None:  # type: ignore[no-untyped-def]
    _check(built, f"{name}.xlsx")


@pytest.mark.parametrize("name", ["activations", "sequential", "upsampling"])
def test_from_module_equals_its_forward_in_every_engine(built, name: str) -> None:  # type: ignore[no-untyped-def]
    _check(built, f"{name}.xlsx")


def test_verify_with_probe_passes_on_the_new_ops(built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """verify (stored values, recalculation, a probe with random inputs) in Gnumeric, on a
    hidden network and an upsample network; the conv that reads an activation's output keeps
    its explorer."""
    books = built["books"]
    paths = [books["hidden1.xlsx"][0], books["upsample2.xlsx"][0], books["padmode1.xlsx"][0],
             books["ceil1.xlsx"][0]]
    reports = verify_files(paths, engine="gnumeric")
    assert all(r.ok and all(run.probed for run in r.runs) for r in reports), [
        (r.path, r.unusable, [(run.probed, [b.problem for b in run.blocks if not b.ok][:3])
                       for run in r.runs]) for r in reports]
    checked = {b.name for r in reports for run in r.runs for b in run.blocks}
    assert {"softmax1_max", "softmax1_exp_c0", "softmax1_sum", "logsoftmax1_output_c0",
            "conv1_explore_sum", "upsample3_output_c1", "upsample1_output_c0",
            "conv1_padded_c1", "conv2_im2col", "maxpool1_explore_sum"} <= checked


def test_exercise_on_softmax_and_upsample_graded_from_pytorch(tmp_path: Path) -> None:
    """Answers filled from PyTorch's values (not the key under test): all right is 100 %,
    one wrong cell loses exactly one cell."""
    from exercise_fill import fill, typed

    from convsheets.grade import grade_files

    template = {"input_size": [3, 3], "in_channels": 2, "seed": 4, "values": "normal",
                "layers": [{"op": "softmax", "name": "probs"},
                           {"op": "upsample", "name": "big", "scale_factor": 1.5,
                            "mode": "bilinear"}]}
    network = network_from_template(template, "hw")
    handout = tmp_path / "hw.xlsx"
    convsheets.build(template=template, output=handout, exercise=True, blank="probs,big")
    xf, read = _reader(handout)
    with xf:
        want = _forward(network, read)
    answers = {f"{label}_output_c{c}": want[label][c] for label in ("probs", "big")
               for c in range(2)}
    right, wrong = tmp_path / "right.xlsx", tmp_path / "wrong.xlsx"
    fill(handout, right, lambda block, i, j, _key: typed(float(answers[block][i, j]))
         if block in answers else None)
    fill(handout, wrong, lambda block, i, j, _key: typed(
        float(answers[block][i, j]) + (1 if (block, i, j) == ("big_output_c1", 2, 3) else 0))
        if block in answers else None)
    graded = {Path(g.file).name: g for g in grade_files([right, wrong])}
    cells = sum(v.size for v in answers.values())
    for name, missed in (("right.xlsx", 0), ("wrong.xlsx", 1)):
        blocks = [b for b in graded[name].blocks if b.name in answers]
        assert sum(b.total for b in blocks) == cells
        assert sum(b.total - b.correct for b in blocks) == missed, name


def test_new_ops_print_as_pytorch() -> None:
    pairs = [
        ({"op": "relu6"}, nn.ReLU6()), ({"op": "silu"}, nn.SiLU()), ({"op": "gelu"}, nn.GELU()),
        ({"op": "gelu", "approximate": "tanh"}, nn.GELU(approximate="tanh")),
        ({"op": "hardtanh"}, nn.Hardtanh()),
        ({"op": "hardtanh", "min_val": 0, "max_val": 2.5}, nn.Hardtanh(0.0, 2.5)),
        ({"op": "hardsigmoid"}, nn.Hardsigmoid()), ({"op": "hardswish"}, nn.Hardswish()),
        ({"op": "elu"}, nn.ELU()), ({"op": "elu", "alpha": 0.5}, nn.ELU(0.5)),
        ({"op": "softplus"}, nn.Softplus()),
        ({"op": "softplus", "beta": 2.0, "threshold": 5.0}, nn.Softplus(2.0, 5.0)),
        ({"op": "softmax"}, nn.Softmax()), ({"op": "softmax", "dim": 1}, nn.Softmax(1)),
        ({"op": "log_softmax", "dim": -3}, nn.LogSoftmax(-3)),
        ({"op": "upsample", "scale_factor": 2}, nn.Upsample(scale_factor=2)),
        ({"op": "upsample", "size": [5, 7], "mode": "bilinear"},
         nn.Upsample(size=(5, 7), mode="bilinear")),
        ({"op": "upsample", "size": 6, "mode": "nearest-exact"},
         nn.Upsample(size=6, mode="nearest-exact"))]
    for table, module in pairs:
        network = network_from_template({"input_size": [3, 3], "in_channels": 2,
                                         "layers": [table]}, "t")
        assert str(network.layers[0].op) == repr(module), table
        defaults = {k: getattr(network.layers[0].op, k) for k in table if k != "op"}
        assert defaults == {k: getattr(module, k) if not isinstance(getattr(module, k), tuple)
                            else getattr(module, k) for k in defaults} or table["op"] in (
            "upsample", "hardtanh"), table


@pytest.mark.parametrize("seed", range(6))
def test_references_equal_torch_functional(seed: int) -> None:
    """Each op's NumPy reference (what verify and the stored values use) equals PyTorch on
    random shapes, options and extreme values."""
    rng = np.random.default_rng(seed)
    for op in ACTIVATIONS:
        table = _activation(rng, op)
        c, h, w = (int(v) for v in rng.integers(1, 5, 3))
        x = rng.normal(size=(c, h, w)) * 20
        flat = x.reshape(-1)
        flat[:3] = rng.choice(EXTREMES, 3)[: flat.size]
        layer = network_from_template({"input_size": [h, w], "in_channels": c,
                                       "layers": [table]}, "t").layers[0]
        want = torch_layer(layer.op, torch.tensor(x)[None])[0].numpy()
        got = layer.op.reference(x, {})
        assert np.all(np.abs(got - want) <= 1e-14 * np.maximum(1, np.abs(want))), table


REFUSED = [
    ('op = "gelu"\napproximate = "fast"', "approximate", "'none' or 'tanh'"),
    ('op = "hardtanh"\nmin_val = 1\nmax_val = 1', "max_val", "greater than min_val"),
    ('op = "softplus"\nbeta = 0', "beta", "must not be 0"),
    ('op = "softmax"\ndim = 2', "dim", "over the channels"),
    ('op = "upsample"\nscale_factor = 2\nmode = "bicubic"', "mode", "'bilinear'"),
    ('op = "upsample"\nscale_factor = 2\nsize = 3', "size", "exactly one of size"),
    ('op = "upsample"\nscale_factor = 2\nalign_corners = true', "align_corners",
     "interpolating mode"),
    ('op = "upsample"\nsize = 3\nrecompute_scale_factor = true', "recompute_scale_factor",
     "explicit size"),
    ('op = "upsample"\nscale_factor = 0.1', "scale_factor", "at least 1"),
    ('op = "conv2d"\nout_channels = 1\nkernel_size = 1\npadding_mode = "mirror"',
     "padding_mode", "'reflect'"),
    ('op = "conv2d"\nout_channels = 1\nkernel_size = 1\npadding = 4\n'
     'padding_mode = "reflect"', "padding", "less than the input height (4)"),
    ('op = "conv2d"\nout_channels = 1\nkernel_size = 1\npadding = 5\n'
     'padding_mode = "circular"', "padding", "at most the input height (4)"),
]


@pytest.mark.parametrize(("layer", "param", "words"), REFUSED)
def test_refused_options_are_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             layer: str, param: str, words: str) -> None:
    """The command's own entry point, in process (the first case also as a real process)."""
    from convsheets.cli import main

    template = tmp_path / "t.toml"
    template.write_text(f'input_size = 4\nin_channels = 2\n[[layers]]\n{layer}\n')
    out = tmp_path / "t.xlsx"
    args = ["build", "--template", str(template), "-o", str(out)]
    if (layer, param, words) == REFUSED[0]:
        done = subprocess.run([sys.executable, "-m", "convsheets", *args],
                              capture_output=True, text=True)
        code, err = done.returncode, done.stderr
    else:
        with pytest.raises(SystemExit) as exited:
            main(args)
        code, err = exited.value.code, capsys.readouterr().err
    assert code == 2 and param in err and words in err and \
        len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_vector_softmax_refuses_a_maps_dim_and_modules_refuse_what_is_not_drawn(
        tmp_path: Path) -> None:
    template = {"input_size": [2, 2], "in_channels": 2, "layers": [
        {"op": "flatten"}, {"op": "softmax", "dim": -3}]}
    with pytest.raises(ConvsheetsError, match=r"dim=-3: .*vector of features"):
        network_from_template(template, "t")

    class Cast(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.softmax(x, dim=1, dtype=torch.float32)

    class Antialias(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.interpolate(x, scale_factor=0.5, mode="bilinear", antialias=True)

    for model, words in ((Cast(), "dtype=torch.float32"), (Antialias(), "antialias=True"),
                         (nn.Sequential(nn.Upsample(scale_factor=2, mode="bicubic")), "mode"),
                         (nn.Sequential(nn.Softmax(dim=3)), "dim=3")):
        with pytest.raises(ConvsheetsError, match=words) as caught:
            convsheets.from_module(model, torch.zeros(1, 2, 4, 4), tmp_path / "m.xlsx")
        assert "\n" not in str(caught.value)
        assert not (tmp_path / "m.xlsx").exists()


@pytest.mark.slow
def test_a_larger_sweep_of_hidden_networks_in_every_engine(tmp_path: Path) -> None:
    """Twelve more seeds of each generator (activations, softmax, upsample, ceil_mode
    pooling, padding modes), one engine run per engine for all 48 workbooks."""
    books = {}
    for seed in range(3, 15):
        for name, template in ((f"hidden{seed}", hidden_template(seed)),
                               (f"upsample{seed}", upsample_template(seed)),
                               (f"ceil{seed}", pool_template(seed)),
                               (f"padmode{seed}", padding_mode_template(seed))):
            path = tmp_path / f"{name}.xlsx"
            convsheets.build(template=template, output=path)
            books[path] = network_from_template(template, name)
    paths = list(books)
    for engine in ENGINES:
        copies = get_engine(engine).recalculate(paths, tmp_path / engine, timeout=900)
        for path, copy in zip(paths, copies, strict=True):
            assert _problems(books[path], copy) == [], (engine, path.name)
