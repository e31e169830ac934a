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
    """A tiny decoder: nn.Upsample modules and F.interpolate calls of every mode."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3)
        self.up1 = nn.Upsample(scale_factor=2)
        self.up2 = nn.Upsample(size=(5, 7), mode="bilinear", align_corners=True)
        self.smooth = nn.Conv2d(2, 1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.up2(self.up1(self.conv(x)))
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


UPSAMPLE = {f"upsample{seed}": (upsample_template(seed), None) for seed in (1, 2, 3)}


# ---------------------------------------------------------------------------- the batch
SEEDS = (1, 2, 3)


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
    for name, (template, _x) in UPSAMPLE.items():
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


@pytest.mark.parametrize("name", list(UPSAMPLE))
def test_upsample_networks_equal_torch_functional_in_every_engine(built, name: str) -> None:  # type: ignore[no-untyped-def]
    _check(built, f"{name}.xlsx")


@pytest.mark.parametrize("name", ["activations", "sequential", "upsampling"])
def test_from_module_equals_its_forward_in_every_engine(built, name: str) -> None:  # type: ignore[no-untyped-def]
    _check(built, f"{name}.xlsx")
