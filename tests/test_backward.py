"""--backward: every gradient block equals torch.autograd, and the update step torch.optim.SGD.

The oracle is PyTorch itself: each network is run forward with torch.nn.functional in float64
on the numbers the recalculated workbook holds (input, weights, biases, target), the loss is
``F.mse_loss`` (mean), ``loss.backward()`` gives every gradient (grad_output and grad_input of
each layer through ``retain_grad``), one ``torch.optim.SGD`` step with the workbook's learning
rate gives the updated parameters and the loss after it. Those are compared with the
workbook's blocks, by name, after recalculation in LibreOffice, Gnumeric and IronCalc (one
start of each for the whole batch, through verify, which also checks every block against the
NumPy references of `gradients.py`, with its random probe).

Presets and shipped networks and a few fixed networks (stride, padding, dilation, groups,
output_padding, max pooling on small integers with ties) run by default; random networks
(hypothesis) behind ``slow``.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import openpyxl
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from engine_copies import verify_keeping_copies
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from test_build_cli import run_main
from test_graphs import random_graph, torch_graph
from test_networks import _layer
from test_stored_values import _compare_copies

from convsheets.build import make_plan, write_atomically
from convsheets.cli import cli
from convsheets.engines import get_engine
from convsheets.errors import ConvsheetsError, SpecError
from convsheets.network import Layer, Network
from convsheets.networks import network_from_template
from convsheets.request import resolve
from convsheets.tensors import block_names, random_tensors
from convsheets.training import attach
from convsheets.xlsxread import XlsxFile, parse_ref

TOLERANCE = 1e-9
DIFFERENTIABLE = ("conv2d", "conv_transpose2d", "relu", "leaky_relu", "max_pool2d",
                  "avg_pool2d", "batch_norm2d")
RESAMPLING = ("adaptive_avg_pool2d", "adaptive_max_pool2d", "upsample")  # `_resampling`
# the element-wise ops and softmax / log_softmax (issue 25's act part): the random sweep below
# draws from both lists (tests/test_backward_classes.py's from DIFFERENTIABLE alone)
ACTIVATION_OPS = ("identity", "dropout", "sigmoid", "tanh", "elu", "gelu", "hardsigmoid",
                  "hardswish", "hardtanh", "relu6", "silu", "softplus", "softmax", "log_softmax")


# ---------------------------------------------------------------------------- PyTorch
def _forward(network: Network, params: dict[str, torch.Tensor], x: torch.Tensor,
             keep: list[torch.Tensor] | None = None) -> torch.Tensor:
    """The network in torch.nn.functional; `keep` receives each layer's input (retained)."""
    for layer in network.layers:
        op, prefix = layer.op, layer.names.tensor
        if keep is not None:
            x.retain_grad()
            keep.append(x)
        w, b = params.get(prefix + "weight"), params.get(prefix + "bias")
        if op.dims == 1:  # a sequence (C, L), held as (C, 1, L): PyTorch's 1-D functions
            x = _sequence_forward(op, x[:, :, 0], None if w is None else w[:, :, 0], b)[:, :, None]
        elif op.op == "conv2d":
            with warnings.catch_warnings():  # "same" with an even kernel: a padded copy
                warnings.filterwarnings("ignore", "Using padding='same'")
                x = F.conv2d(x, w, b, op.stride, op.padding_rule or op.padding, op.dilation,
                             op.groups)
        elif op.op == "conv_transpose2d":
            x = F.conv_transpose2d(x, w, b, op.stride, op.padding, op.output_padding,
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
        elif op.op == "batch_norm2d":
            x = F.batch_norm(x, params[prefix + "running_mean"], params[prefix + "running_var"],
                             w, b, training=False, eps=op.eps)
        elif op.op == "flatten":
            x = torch.flatten(x, 1)
        elif op.op == "linear":
            x = F.linear(x, w, b)
        elif op.op == "adaptive_avg_pool2d":
            x = F.adaptive_avg_pool2d(x, op.output_size)
        elif op.op == "adaptive_max_pool2d":
            x = F.adaptive_max_pool2d(x, op.output_size)
        elif op.op == "upsample":
            x = F.interpolate(x, size=op.size, scale_factor=op.scale_factor, mode=op.mode,
                              align_corners=op.align_corners,
                              recompute_scale_factor=op.recompute_scale_factor)
        elif op.op == "identity":
            x = torch.nn.Identity()(x)
        elif op.op == "dropout":  # evaluation mode, as the workbook draws it
            x = F.dropout(x, op.p, training=False)
        elif op.op == "sigmoid":
            x = torch.sigmoid(x)
        elif op.op == "tanh":
            x = torch.tanh(x)
        elif op.op == "elu":
            x = F.elu(x, op.alpha)
        elif op.op == "gelu":
            x = F.gelu(x, approximate=op.approximate)
        elif op.op == "hardsigmoid":  # F.hardsigmoid by its definition: its own float64
            # backward kernel multiplies by 1/6 rounded to float32, 3e-8 off the derivative
            # (tests/test_gradients.py shows both; the forward values are bit-identical)
            x = F.relu6(x + 3) / 6
        elif op.op == "hardswish":
            x = F.hardswish(x)
        elif op.op == "hardtanh":
            x = F.hardtanh(x, op.min_val, op.max_val)
        elif op.op == "relu6":
            x = F.relu6(x)
        elif op.op == "silu":
            x = F.silu(x)
        elif op.op == "softplus":
            x = F.softplus(x, op.beta, op.threshold)
        elif op.op in ("softmax", "log_softmax"):  # dim: the channels, or a vector's features
            fn = F.softmax if op.op == "softmax" else F.log_softmax
            x = fn(x, dim=1 if op.dim is None else op.dim)
        else:
            raise AssertionError(f"no PyTorch call for {op.op}")
    if keep is not None:
        x.retain_grad()
        keep.append(x)
    return x


def _graph_forward(network: Network, params: dict[str, torch.Tensor], x: torch.Tensor,
                   edges: dict[object, torch.Tensor] | None = None) -> torch.Tensor:
    """A graph by test_graphs' forward (torch.nn.functional, each layer fed what it reads);
    `edges` receives every layer's output (by label) and, by (layer n, input k), a copy of
    what the layer read, whose gradient is what that one reader passed back."""
    def read(n: int, k: int, value: torch.Tensor) -> torch.Tensor:
        if edges is None:
            return value
        edges[n, k] = value.clone()
        edges[n, k].retain_grad()
        return edges[n, k]

    def single(layer: Layer, value: torch.Tensor) -> torch.Tensor:  # this file's oracle
        return _forward(SimpleNamespace(layers=(layer,)), params, value)  # type: ignore[arg-type]

    values = torch_graph(network, params.get, x, read, single)
    if edges is not None:
        for label, value in values.items():
            value.retain_grad()
            edges[label] = value
    return values[network.layers[-1].label]


def _graph_pairs(network: Network, n: int, edges: dict[object, torch.Tensor],
                 ) -> list[tuple[str, bool, torch.Tensor]]:
    """(block kind, a vector?, gradient) of layer n of a graph: what it passed back to each
    input (grad_input, a join's grad_input1, ...) and its output's gradient (every reader's
    summed by autograd)."""
    layer = network.layers[n]
    pairs = [("grad_input" + (str(k) if k else ""), layer.flat_input, edges[n, k].grad[0])
             for k in range(len(network.sources(n)))]
    return [*pairs, ("grad_output", layer.flat, edges[layer.label].grad[0])]


def _sequence_forward(op: Any, x: torch.Tensor, w: torch.Tensor | None,
                      b: torch.Tensor | None) -> torch.Tensor:
    """A 1-D op on (1, C, L) in torch.nn.functional; causal padding as its docstring says
    PyTorch spells it: ``F.pad(x, (dilation·(k-1), 0))`` then ``F.conv1d``."""
    one = {key: getattr(op, key)[1] for key in ("kernel_size", "stride", "padding", "dilation",
                                                 "output_padding") if hasattr(op, key)}
    if op.op == "conv1d" and op.padding_rule == "causal":
        x = F.pad(x, (one["dilation"] * (one["kernel_size"] - 1), 0))
        return F.conv1d(x, w, b, one["stride"], 0, one["dilation"], op.groups)
    if op.op == "conv1d":
        with warnings.catch_warnings():  # "same" with an even kernel: a padded copy
            warnings.filterwarnings("ignore", "Using padding='same'")
            return F.conv1d(x, w, b, one["stride"], op.padding_rule or one["padding"],
                            one["dilation"], op.groups)
    if op.op == "conv_transpose1d":
        return F.conv_transpose1d(x, w, b, one["stride"], one["padding"],
                                  one["output_padding"], op.groups, one["dilation"])
    if op.op == "max_pool1d":
        return F.max_pool1d(x, one["kernel_size"], one["stride"], one["padding"],
                            one["dilation"])
    if op.op == "avg_pool1d":
        return F.avg_pool1d(x, one["kernel_size"], one["stride"], one["padding"],
                            count_include_pad=op.count_include_pad)
    raise AssertionError(f"no PyTorch call for {op.op}")


def torch_training(network: Network, tensors: dict[str, np.ndarray], lr: float,
                   ) -> dict[str, np.ndarray]:
    """Every gradient block, the updated parameters, loss and loss_after, by block name."""
    def as_t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
        return torch.tensor(np.asarray(a, dtype=float), dtype=torch.float64, requires_grad=grad)

    names = [name for name in network.source_shapes()
             if name not in ("input", "target", "target_class") and "running_" not in name]
    params = {name: as_t(tensors[name], True) for name in names}
    buffers = {name: as_t(tensors[name]) for name in network.source_shapes()
               if "running_" in name}  # batch norm's statistics: not trained
    x = as_t(tensors["input"], True)[None]
    assert network.training is not None
    if network.training.loss == "cross_entropy":  # F.cross_entropy against one class
        classes = torch.tensor([int(tensors["target_class"][0])])

        def loss_of(y: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(y.reshape(1, -1), classes)
    else:
        target = as_t(tensors["target"])[None]

        def loss_of(y: torch.Tensor) -> torch.Tensor:
            return F.mse_loss(y, target)
    keep: list[torch.Tensor] = []
    edges: dict[object, torch.Tensor] = {}
    forward = _forward if network.is_chain else _graph_forward
    loss = loss_of(forward(network, {**params, **buffers}, x, keep if network.is_chain
                           else edges))
    loss.backward()
    out: dict[str, np.ndarray] = {"loss": np.array([[loss.item()]])}
    for n, layer in enumerate(network.layers):
        prefix = layer.names.tensor
        pairs = (("grad_input", layer.flat_input, keep[n].grad[0]),
                 ("grad_output", layer.flat, keep[n + 1].grad[0])) if network.is_chain else \
            _graph_pairs(network, n, edges)
        for name, flat, grad in pairs:
            if flat:  # a vector: one row, no channel in its name
                out[f"{prefix}{name}"] = grad.numpy().reshape(1, -1)
                continue
            for c, block in enumerate(grad.numpy()):
                out[f"{prefix}{name}_c{c}"] = block
        for local in layer.op.tensor_shapes():
            if prefix + local not in params:  # a buffer: no gradient sheet
                continue
            grad = params[prefix + local].grad.numpy()
            for name, index in block_names(f"{prefix}grad_{local}", grad.shape):
                out[name] = grad[index].reshape(1, -1) if grad.ndim == 1 else grad[index]
    if not network.is_chain and sum(s == "input" for n in range(len(network.layers))
                                    for s in network.sources(n)) > 1:
        for c, block in enumerate(x.grad[0].numpy()):  # the sum of the input's readers
            out[f"grad_input_c{c}"] = block
    if params:  # (a network without weights, e.g. pooling, upsample, activations)
        torch.optim.SGD(list(params.values()), lr=lr).step()
    with torch.no_grad():
        after = loss_of(forward(network, {**params, **buffers}, as_t(tensors["input"])[None]))
    out["loss_after"] = np.array([[after.item()]])
    for name, value in params.items():
        array = value.detach().numpy()
        prefix, local = name[:-len(name.split("_")[-1])], name.split("_")[-1]
        for block, index in block_names(f"{prefix}updated_{local}", array.shape):
            out[block] = array[index].reshape(1, -1) if array.ndim == 1 else array[index]
    return out


# ---------------------------------------------------------------------------- reading
class _Book:
    """A recalculated copy's named blocks."""

    def __init__(self, path: Path) -> None:
        self.xf = XlsxFile(path)
        self.names = self.xf.defined_names()
        self.sheets: dict[str, object] = {}

    def __call__(self, name: str) -> np.ndarray:
        sheet, r0, c0, r1, c1 = parse_ref(self.names[name])
        if sheet not in self.sheets:
            self.sheets[sheet] = self.xf.read_sheet(sheet)
        return self.sheets[sheet].region(r0, c0, r1, c1).values  # type: ignore[attr-defined]

    def tensors(self, network: Network) -> dict[str, np.ndarray]:
        out = {}
        for tensor, shape in network.source_shapes().items():
            array = np.zeros(shape)
            for name, index in block_names(tensor, shape):
                values = self(name)
                array[index] = values.reshape(-1) if len(shape) == 1 else values
            out[tensor] = array
        return out


def compare_with_torch(network: Network, read: _Book) -> list[str]:
    """Every block PyTorch gives that the workbook has (each gradient block must be there)."""
    lr = float(read("learning_rate")[0, 0])
    expected = torch_training(network, read.tensors(network), lr)
    problems = []
    for name, want in expected.items():
        if name not in read.names:  # (loss_after: only a small network's forward is redrawn)
            if name != "loss_after":
                problems.append(f"{name}: missing from the workbook")
            continue
        got = read(name)
        if got.shape != want.shape:
            problems.append(f"{name}: shape {got.shape}, PyTorch {want.shape}")
        elif not np.all(np.abs(got - want) <= TOLERANCE * np.maximum(1.0, np.abs(want))):
            problems.append(f"{name}: differs from PyTorch by {np.max(np.abs(got - want))}")
    return problems


def check_in_engines(networks: list[Network], tmp: Path, need_after: bool = True) -> None:
    """Write, verify in every engine (with the probe) and compare each copy with PyTorch."""
    paths = []
    for n, network in enumerate(networks):
        paths.append(tmp / f"{n:02d}.xlsx")
        write_atomically(make_plan(network), paths[-1])
    reports, kept = verify_keeping_copies(paths, tmp / "kept")
    failures: list[object] = []
    for network, report in zip(networks, reports, strict=True):
        engines = sorted(run.engine for run in report.runs)
        if engines != ["gnumeric", "ironcalc", "libreoffice"] or not report.ok:
            failures.append(("verify", Path(report.path).name, engines, report.unusable, [
                (b.name, b.problem) for run in report.runs for b in run.blocks if not b.ok][:3]))
        checked = {b.name for run in report.runs for b in run.blocks}
        plan = make_plan(network)
        gradient = [b.name for b in plan.blocks() if b.meaning and b.meaning.role == "gradient"
                    and b.kind == "computed"]
        if not gradient or not set(gradient) <= checked:
            failures.append(("verify skipped", sorted(set(gradient) - checked)[:3]))
        if not all(run.probed for run in report.runs):
            failures.append(("not probed", Path(report.path).name))
    for engine in ("libreoffice", "gnumeric", "ironcalc"):
        for network, path in zip(networks, paths, strict=True):
            book = _Book(kept[engine][path])
            problems = compare_with_torch(network, book)
            if need_after and "loss_after" not in book.names and \
                    sum(int(np.prod(s)) for s in network.source_shapes().values()) < 2000:
                problems.append("no loss_after in a small workbook")
            if problems:
                failures.append((engine, path.name, problems[:3]))
    # the values stored with the formulas (what a viewer that never recalculates shows), the
    # gradient sheets' included, are what LibreOffice computes
    _compare_copies({p.stem: p for p in paths},
                    {p.stem: kept["libreoffice"][p] for p in paths})
    assert not failures, failures


def backward(network: Network, lr: float = 0.001, loss: str = "mse") -> Network:
    return attach(network, {"backward": True, "lr": lr, "loss": loss})


FIXED = [
    # max pooling on small integers (ties), with padding and dilation, then a grouped,
    # strided, dilated conv2d, leaky_relu, a transposed conv with output_padding
    {"input_size": [7, 6], "in_channels": 2, "seed": 4, "layers": [
        {"op": "conv2d", "out_channels": 4, "kernel_size": [2, 3], "stride": [2, 1],
         "padding": [1, 2], "dilation": [1, 2], "groups": 2},
        {"op": "leaky_relu", "negative_slope": 0.25},
        {"op": "max_pool2d", "kernel_size": [3, 2], "stride": [1, 2], "padding": [1, 1],
         "dilation": [2, 1]},
        {"op": "conv_transpose2d", "out_channels": 2, "kernel_size": [3, 2], "stride": [2, 3],
         "padding": [1, 0], "output_padding": [1, 2], "dilation": [1, 2], "groups": 2,
         "bias": False}]},
    {"input_size": [6, 7], "in_channels": 1, "seed": 9, "values": "normal", "layers": [
        {"op": "conv_transpose2d", "out_channels": 2, "kernel_size": 2, "stride": 2},
        {"op": "relu"},
        {"op": "avg_pool2d", "kernel_size": 3, "stride": 2, "padding": 1,
         "count_include_pad": False},
        {"op": "conv2d", "out_channels": 2, "kernel_size": 3, "padding": 1, "stride": 2},
        {"op": "max_pool2d", "kernel_size": 2, "stride": 1}]},
]


@pytest.mark.slow  # (22 s: CI runs it; the default run keeps test_backward_classes' engines)
def test_presets_and_fixed_networks_equal_autograd_and_sgd_in_every_engine(
        tmp_path: Path) -> None:
    """Two presets and the fixed networks above (every preset and shipped network, and
    random networks: the slow tests below): every gradient block, the updated weights and the
    loss after one SGD step equal PyTorch's in LibreOffice, Gnumeric and IronCalc (ties in
    max pooling included: the integers tie)."""
    networks = [backward(resolve(variant="basic").network)]
    networks += [backward(network_from_template(t, "fixed"), lr=0.01) for t in FIXED]
    check_in_engines(networks, tmp_path)


# Every element-wise op and softmax / log_softmax (every option), in chains whose kinked ops
# read numbers that sit on their kinks: the given input holds the integers -4..7, and only
# layers that keep them whole come before a kink (identity, dropout, hardtanh and relu6 with
# whole bounds, a 1x1 conv with whole weight and bias, hardswish of 0 and 3, elu of 0, 3).
# The other options of each op: tests/test_gradients.py and the slow random sweep.
KINKED = [[[-4, -3, -2, -1], [0, 1, 2, 3], [4, 5, 6, 7]],
          [[3, -3, 0, 6], [-1, 2, 7, -4], [1, 0, -2, 3]]]


def _one_by_one(weight: int, bias: int) -> dict[str, object]:
    """A 1x1 conv2d that maps each of two channels to weight·x + bias (whole numbers)."""
    return {"op": "conv2d", "out_channels": 2, "kernel_size": 1, "groups": 2,
            "weight": [[[[weight]]], [[[weight]]]], "bias": [bias, bias]}


ACTIVATION_NETWORKS = [
    {"input": KINKED, "seed": 1, "layers": [
        {"op": "identity"}, {"op": "dropout", "p": 0.25},
        {"op": "hardtanh", "min_val": -3.0, "max_val": 6.0}, {"op": "relu6"},
        _one_by_one(1, -3), {"op": "hardswish"}, {"op": "elu", "alpha": 0.5},
        {"op": "softplus", "beta": 2.0, "threshold": 6.0}, {"op": "sigmoid"},
        {"op": "softmax"}, {"op": "gelu", "approximate": "tanh"}, {"op": "tanh"},
        {"op": "log_softmax", "dim": -3}]},
    # normal weights after the kinked input's hardsigmoid: the other smooth ops and options
    # (negative numbers in formulas), then a classifier's vector: softmax between two linear
    # layers, log_softmax over the class scores (cross_entropy after it)
    {"input": KINKED, "seed": 5, "values": "normal", "layers": [
        {"op": "hardsigmoid"}, {"op": "conv2d", "out_channels": 2, "kernel_size": 2},
        {"op": "gelu"}, {"op": "silu"},  # (ERF of negative numbers too)
        {"op": "softplus", "beta": -1.0, "threshold": 1.0}, {"op": "hardtanh"},
        {"op": "flatten"}, {"op": "linear", "out_features": 5}, {"op": "softmax", "dim": 1},
        {"op": "linear", "out_features": 4}, {"op": "log_softmax", "dim": -1}]},
]


def test_activations_equal_autograd_and_sgd_in_every_engine(tmp_path: Path) -> None:
    """Every element-wise op and softmax / log_softmax: every gradient block, the updated
    weights and the loss after one SGD step equal torch.autograd and torch.optim.SGD in
    LibreOffice, Gnumeric and IronCalc (one start of each), kinks included (the next test
    shows the integers reach them)."""
    networks = [backward(network_from_template(t, "act"), lr=0.1,
                         loss="cross_entropy" if n == 1 else "mse")
                for n, t in enumerate(ACTIVATION_NETWORKS)]
    check_in_engines(networks, tmp_path)


def test_the_activation_networks_hit_every_kink() -> None:
    """The inputs each kinked op reads (by the NumPy forward pass) include its kinks: 0 and 6
    of relu6, min_val and max_val of hardtanh, ±3 of hardswish and hardsigmoid, 0 of elu,
    beta·x = threshold of softplus; and every op of this part appears."""
    from convsheets.expected import forward

    hit = [{"hardtanh1": {-3, 6}, "relu6_1": {0, 6}, "hardswish1": {-3, 3}, "elu1": {0},
            "softplus1": {3}},  # (2·3 = 6, softplus's threshold: not above it)
           {"hardsigmoid1": {-3, 3}}]
    seen: set[str] = set()
    for template, kinks in zip(ACTIVATION_NETWORKS, hit, strict=False):
        network = network_from_template(template, "act")
        tensors = {k: np.asarray(v, dtype=float) for k, v in random_tensors(network).items()}
        inputs = {layer.label: set(np.unique(x).tolist())
                  for layer, x, _y in forward(network, tensors)}
        for label, want in kinks.items():
            assert want <= inputs[label], (label, want)
    for template in ACTIVATION_NETWORKS:
        seen |= {layer.op.op for layer in network_from_template(template, "act").layers}
    assert set(ACTIVATION_OPS) <= seen


def test_each_activation_sheet_says_its_own_rule() -> None:
    """The Grad Input sheet's note and block titles, and the Chain Rule sheet, give each op's
    own rule: only relu's says the gradient passes where the input was positive."""
    network = backward(network_from_template(ACTIVATION_NETWORKS[0], "act"))
    plan = make_plan(network)
    sheets = {sheet.name: sheet for sheet in plan.sheets}
    chain = " ".join(" ".join(str(label.value) for label in sheets["Chain Rule"].labels).split())
    for layer in network.layers:
        op = layer.op
        if not hasattr(op, "grad_rule"):
            continue
        sheet = sheets[f"{layer.label} Grad Input"]
        assert op.grad_rule() in sheet.note and op.grad_note() in sheet.note, layer.label
        assert "input was positive" not in sheet.note, (layer.label, sheet.note)
        assert all(block.title.endswith(f"= {op.grad_rule()}") for block in sheet.blocks)
        assert " ".join(op.backward_steps()[0].split()) in chain, layer.label
    for name in ("softmax1", "logsoftmax1"):
        assert sheets[f"{name} Grad Sum"].blocks and sheets[f"{name} Grad Input"].blocks
        (op,) = [la.op for la in network.layers if la.label == name]
        assert " ".join(op.backward_steps()[1].split()) in chain, name
    relu = make_plan(backward(network_from_template(FIXED[1], "fixed")))
    (note,) = [sheet.note for sheet in relu.sheets if sheet.name == "relu1 Grad Input"]
    assert "only where the input was positive" in note


@pytest.mark.slow  # (one LibreOffice PDF export)
def test_activation_gradient_sheets_print_on_one_readable_page(tmp_path: Path) -> None:
    """Each Grad Input and Grad Sum sheet of the activation networks prints on one page at
    50 % or more (LibreOffice's PDF export, pages counted by their footers)."""
    from test_every_screen import _printed

    paths: dict[str, Path] = {}
    wanted: dict[str, set[str]] = {}
    for n, template in enumerate(ACTIVATION_NETWORKS):
        network = backward(network_from_template(template, "act"),
                           loss="cross_entropy" if n == 1 else "mse")
        paths[f"act{n}"] = tmp_path / f"act{n}.xlsx"
        write_atomically(make_plan(network), paths[f"act{n}"])
        labels = {layer.label for layer in network.layers if layer.op.op in ACTIVATION_OPS}
        wanted[f"act{n}"] = {f"{label} Grad {role}" for label in labels
                             for role in ("Input", "Sum")}
    printed = _printed(paths, tmp_path / "pdf")
    for name, sheets in wanted.items():
        pages: dict[str, list[float]] = {}
        for sheet, scale, _text in printed[name]:
            pages.setdefault(sheet, []).append(scale)
        mine = {sheet: scales for sheet, scales in pages.items() if sheet in sheets}
        assert len(mine) >= 6, (name, sorted(pages))
        for sheet, scales in mine.items():
            assert len(scales) == 1 and scales[0] >= 0.5, (name, sheet, scales)


@pytest.mark.slow  # (30 s on the loaded 2-core machine)
def test_activation_gradients_never_overflow_in_every_engine(tmp_path: Path) -> None:
    """Inputs where a naive formula overflows (EXP(800), 1 / (1 + EXP(800))) or underflows,
    through each op with an EXP, TANH or ERF: every gradient equals torch.autograd in the
    three engines (no #NUM!)."""
    x = [[[-800.0, -745.0, -40.0, 0.0], [1e-12, 30.0, 800.0, -0.5]]]
    ops = [{"op": "sigmoid"}, {"op": "tanh"}, {"op": "elu"}, {"op": "gelu"},
           {"op": "gelu", "approximate": "tanh"}, {"op": "silu"}, {"op": "softplus"},
           {"op": "softplus", "beta": -1.0, "threshold": 1.0}]
    networks = [backward(network_from_template({"input": x, "seed": 1, "layers": [op]}, "x"))
                for op in ops]
    channels = [[[-800.0, 3.0]], [[800.0, 0.0]], [[0.0, -745.0]]]
    networks += [backward(network_from_template({"input": channels, "seed": 1, "layers": [
        {"op": op}]}, "x")) for op in ("softmax", "log_softmax")]
    check_in_engines(networks, tmp_path)


def test_max_pool_ties_are_in_the_fixed_networks() -> None:
    """The test above exercises ties: some window of the fixed network's max pooling has
    two equal maxima (the first, in row-major order, takes the gradient)."""
    from convsheets.expected import forward

    network = backward(network_from_template(FIXED[0], "fixed"))
    tensors = {k: np.asarray(v, dtype=float) for k, v in random_tensors(network).items()}
    steps = forward(network, tensors)
    layer, x, y = steps[2]
    ties = 0
    kh, kw = layer.op.kernel_size
    for c, r, k in np.ndindex(*y.shape):
        taps = [x[c, r * layer.op.stride[0] - 1 + i * 2, k * layer.op.stride[1] - 1 + j]
                for i in range(kh) for j in range(kw)
                if 0 <= r * layer.op.stride[0] - 1 + i * 2 < x.shape[1]
                and 0 <= k * layer.op.stride[1] - 1 + j < x.shape[2]]
        ties += taps.count(max(taps)) > 1
    assert ties > 0


# ---------------------------------------------------------------------------- the identity
def test_grad_input_is_a_conv_transpose2d_workbook_of_the_same_weights(tmp_path: Path) -> None:
    """On the sheets themselves: a conv2d layer's grad_input block, recalculated, equals the
    output of a transposed-variant workbook whose input is that layer's grad_output and whose
    weights are the layer's (bias 0), recalculated too."""
    source = backward(resolve(variant="basic").network)  # stride 2, padding 1, 5x5 -> 3x3
    first = tmp_path / "backward.xlsx"
    write_atomically(make_plan(source), first, store_values=False)  # only the engine's values
    engine = get_engine("ironcalc")
    book = _Book(engine.recalculate([first], tmp_path / "one", 120)[0])
    op = source.layers[0].op
    grad_output = np.stack([book(f"grad_output_c{o}") for o in range(op.out_channels)])
    weight = book.tensors(source)["weight"]
    twin = op.transposed_twin(source.input_shape)
    transposed = resolve(variant="transposed", options={
        "input_size": list(grad_output.shape[1:]), "in_channels": op.out_channels,
        "out_channels": op.in_channels, "kernel_size": list(op.kernel_size),
        "stride": list(op.stride), "padding": list(op.padding),
        "output_padding": list(twin.output_padding), "bias": False}).network
    assert transposed.output_shape == source.input_shape
    tensors = {"input": grad_output, "weight": weight}
    second = tmp_path / "transposed.xlsx"
    write_atomically(make_plan(transposed, tensors), second, store_values=False)
    other = _Book(engine.recalculate([second], tmp_path / "two", 120)[0])
    for c in range(op.in_channels):
        np.testing.assert_allclose(book(f"grad_input_c{c}"), other(f"output_c{c}"),
                                   rtol=1e-12, atol=1e-12)
    assert np.abs(grad_output).max() > 0


def test_backward_changes_no_number_of_the_forward_pass() -> None:
    """The target is drawn last from the seed: input, weights and biases are the plain
    workbook's."""
    for plain in (resolve(variant="basic").network, resolve(template="lenet").network):
        with_target = random_tensors(backward(plain))
        for name, array in random_tensors(plain).items():
            np.testing.assert_array_equal(with_target[name], array)
        assert "target" in with_target


# ---------------------------------------------------------------------------- requests
def test_cli_template_and_api_spell_the_same_request(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "a.xlsx"
    result = runner.invoke(cli, ["build", "--variant", "basic", "--backward", "--lr", "0.01",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "backward: loss mse against target, learning rate 0.01" in result.output
    wb = openpyxl.load_workbook(out)
    names = set(wb.defined_names)
    for name in ("loss", "target_c0", "grad_output_c0", "grad_weight_0_0", "grad_bias",
                 "grad_input_c0", "learning_rate", "updated_weight_0_0", "updated_bias",
                 "loss_after"):
        assert name in names, name
    assert {"Loss", "Grad Weights", "Grad Input", "Update", "New Output"} <= set(wb.sheetnames)
    template = tmp_path / "t.toml"
    template.write_text('variant = "basic"\nbackward = true\nlr = 0.01\n')
    again = resolve(template=str(template)).network
    assert again.training == resolve(variant="basic", options={
        "backward": True, "lr": 0.01}).network.training
    assert again.training is not None and again.training.lr == 0.01
    from convsheets.api import build

    result = build("basic", backward=True, lr=0.01, output=tmp_path / "api.xlsx")
    assert result.path.exists() and "learning_rate" in openpyxl.load_workbook(
        result.path).defined_names


@pytest.mark.parametrize(("args", "message"), [
    (["--variant", "basic", "--lr", "0.1"], "--lr=0.1: needs backward = true (--backward)"),
    (["--template", "TEMPLATE"], "target=[1, 2, 2]: must have the output's shape [2, 3, 3]"),
])
def test_bad_training_requests_are_one_line(tmp_path: Path, args: list[str],
                                            message: str) -> None:
    template = tmp_path / "t.toml"
    template.write_text('variant = "basic"\nbackward = true\ntarget = [[[1, 2], [3, 4]]]\n')
    args = [str(template) if a == "TEMPLATE" else a for a in args]
    result = run_main(tmp_path, "build", *args, "-o", "x.xlsx")
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.xlsx").exists()


def test_a_layer_without_a_gradient_rule_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """(An op class without `differentiable`: the message names the layer and lists the ops
    that have gradient sheets, from the op classes.)"""
    from convsheets.ops import Sigmoid

    monkeypatch.setattr(Sigmoid, "differentiable", False)
    template = {"input_size": [4, 4], "in_channels": 1, "backward": True, "layers": [
        {"op": "conv2d", "out_channels": 1, "kernel_size": 3}, {"op": "sigmoid"}]}
    with pytest.raises(SpecError, match="has no gradient sheets yet") as error:
        resolve(template=template)
    assert "sigmoid1 (sigmoid)" in str(error.value) and "conv2d, " in str(error.value)
    assert " sigmoid, " not in str(error.value) and "softmax, " in str(error.value)


def test_the_record_keeps_the_training(tmp_path: Path) -> None:
    network = backward(network_from_template(FIXED[1], "fixed"), lr=0.5)
    again = Network.from_record(network.record())
    assert again.training == network.training and "target" in again.source_shapes()
    variant = backward(resolve(variant="grouped").network)
    assert Network.from_record(variant.record()).training == variant.training
    assert variant.with_seed(3).training == variant.training


# ---------------------------------------------------------------------------- random, slow
def _activation_layer(draw: st.DrawFn, op: str) -> dict[str, object]:
    """Options for an element-wise op or softmax, every option, unset (PyTorch's default)
    or given."""
    table: dict[str, object] = {"op": op}
    if op == "dropout" and draw(st.booleans()):
        table["p"] = draw(st.sampled_from([0.0, 0.2, 0.9]))
    elif op == "elu" and draw(st.booleans()):
        table["alpha"] = draw(st.sampled_from([0.5, 2.0, -0.5]))
    elif op == "gelu" and draw(st.booleans()):
        table["approximate"] = draw(st.sampled_from(["none", "tanh"]))
    elif op == "hardtanh" and draw(st.booleans()):
        low = draw(st.sampled_from([-2.0, -0.5, 0.0, 1.0]))
        table.update(min_val=low, max_val=low + draw(st.sampled_from([0.25, 1.0, 3.0])))
    elif op == "softplus" and draw(st.booleans()):
        table.update(beta=draw(st.sampled_from([0.5, 2.0, -1.0])),
                     threshold=draw(st.sampled_from([1.0, 2.0, 20.0])))
    elif op in ("softmax", "log_softmax"):
        dim = draw(st.sampled_from([None, 1, -3]))
        if dim is not None:
            table["dim"] = dim
    return table


def _resampling(draw: st.DrawFn, op: str, h: int, w: int) -> dict[str, object]:
    """An adaptive pooling (output smaller or larger than the input: overlapping windows) or
    an upsample with every option PyTorch has: mode, a size or a scale_factor (up or down,
    one or two), align_corners, recompute_scale_factor."""
    if op != "upsample":
        return {"op": op, "output_size": [draw(st.integers(1, h + 2)),
                                          draw(st.integers(1, w + 2))]}
    table: dict[str, object] = {"op": op, "mode": draw(st.sampled_from(
        ["nearest", "nearest-exact", "bilinear"]))}
    if draw(st.booleans()):
        table["size"] = [draw(st.integers(max(1, h - 2), h + 5)),
                         draw(st.integers(max(1, w - 2), w + 5))]
    else:
        scales = st.sampled_from([0.75, 1.25, 1.5, 1.7, 2.0, 2.5, 3.0])
        table["scale_factor"] = draw(st.one_of(scales, st.lists(scales, min_size=2,
                                                                 max_size=2)))
        if draw(st.booleans()):
            table["recompute_scale_factor"] = True
    if table["mode"] == "bilinear" and draw(st.booleans()):
        table["align_corners"] = draw(st.booleans())
    return table


@st.composite
def trainable(draw: st.DrawFn) -> Network:
    """A random network of 2-4 differentiable layers (every option PyTorch has that they
    take; adaptive pooling, upsample, the activations and softmax included), with the
    backward pass."""
    channels = draw(st.integers(1, 3))
    template: dict[str, object] = {
        "input_size": [draw(st.integers(4, 7)), draw(st.integers(4, 7))],
        "in_channels": channels, "seed": draw(st.integers(0, 10_000)),
        "values": draw(st.sampled_from(["integers", "normal"])), "layers": []}
    wanted = draw(st.integers(2, 4))
    tables: list[dict[str, object]] = template["layers"]  # type: ignore[assignment]
    ops = DIFFERENTIABLE + RESAMPLING + ACTIVATION_OPS
    for op in draw(st.permutations(ops)) + draw(
            st.lists(st.sampled_from(ops), min_size=3, max_size=3)):
        if len(tables) == wanted:
            break
        current = network_from_template(template, "random") if tables else None
        c, h, w = current.output_shape if current else (channels, *template["input_size"])  # type: ignore[misc]
        candidate = (_resampling(draw, op, h, w) if op in RESAMPLING else
                     _activation_layer(draw, op) if op in ACTIVATION_OPS else
                     _layer(draw, op, c))
        try:
            network_from_template({**template, "layers": [*tables, candidate]}, "random")
        except ConvsheetsError:
            continue
        tables.append(candidate)
    assume(len(tables) >= 2)
    network = network_from_template(template, "random")
    assume(sum(int(np.prod(layer.out_shape)) for layer in network.layers) <= 1500)
    return backward(network, lr=draw(st.sampled_from([0.001, 0.01, 0.1])))


@pytest.mark.slow
@settings(max_examples=1, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(st.lists(trainable(), min_size=12, max_size=12))
def test_random_networks_equal_autograd_and_sgd_in_every_engine(batch: list[Network]) -> None:
    # distinct networks that mix many ops: Hypothesis's first example is the simplest one
    # (ten copies of the same conv2d and conv_transpose2d)
    assume(len({repr(n.record()) for n in batch}) == len(batch))
    assume(len({layer.op.op for network in batch for layer in network.layers}) >= 23)
    with tempfile.TemporaryDirectory(prefix="convsheets-backward-") as tmp:
        check_in_engines(batch, Path(tmp))


@pytest.mark.slow
def test_every_preset_and_shipped_network_with_backward_in_every_engine(
        tmp_path: Path) -> None:
    from convsheets.request import every_preset

    networks, refused = [], {}
    for name, request in every_preset().items():
        loss = "cross_entropy" if request.network.layers[-1].flat else "mse"
        try:
            networks.append(backward(request.network, loss=loss))
        except SpecError as error:  # ops without gradient sheets yet (e.g. sigmoid)
            refused[name] = str(error)
    assert all("no gradient sheets yet" in why for why in refused.values()), refused
    assert not {"resnet_block", "tiny_unet", "wavenet", "depthwise_causal"} & set(refused)
    assert len(networks) >= 10 and "digit_classifier" not in refused
    check_in_engines(networks, tmp_path, need_after=False)


# ---------------------------------------------------------------------------- exercises
def test_a_gradient_block_is_an_exercise_that_grades(tmp_path: Path) -> None:
    """--exercise --blank grad_weight,grad_input on a network with --backward: the answer
    blocks (and everything downstream: the update, the forward pass after it) are left
    empty; a handout filled in right scores full marks, one with wrong cells loses them."""
    from exercise_fill import assert_grades_right_and_wrong, handout_of

    from convsheets.api import build

    template = {**FIXED[1], "backward": True}
    handout = tmp_path / "handout.xlsx"
    build(template=template, output=handout, exercise=True, blank="grad_weight,grad_input")
    answers = handout_of(handout).answers
    kinds = {b.meaning.kind for b in answers}
    assert {"grad_weight", "grad_input", "updated_weight", "loss_after"} <= kinds
    assert "grad_output" not in {b.name for b in answers}  # upstream: shown
    assert_grades_right_and_wrong(handout, tmp_path)


UNEVEN = [
    # causal conv1d (left padding only), strided and dilated, then an even one and pooling
    {"input_size": 11, "in_channels": 2, "seed": 3, "layers": [
        {"op": "conv1d", "out_channels": 2, "kernel_size": 3, "padding": "causal",
         "stride": 2, "dilation": 2},
        {"op": "relu"},
        {"op": "conv1d", "out_channels": 2, "kernel_size": 2, "padding": "causal",
         "dilation": 3, "groups": 2},
        {"op": "conv1d", "out_channels": 1, "kernel_size": 3, "padding": 1, "stride": 2},
        {"op": "max_pool1d", "kernel_size": 2}]},
    # "same" with odd totals (the extra zero after), dilated, grouped, on an image
    {"input_size": [5, 6], "in_channels": 2, "seed": 8, "values": "normal", "layers": [
        {"op": "conv2d", "out_channels": 2, "kernel_size": [2, 3], "padding": "same",
         "dilation": [1, 2]},
        {"op": "leaky_relu", "negative_slope": 0.5},
        {"op": "conv2d", "out_channels": 2, "kernel_size": 4, "padding": "same",
         "groups": 2}]},
]


def test_uneven_padding_gets_gradients_equal_to_autograd_in_every_engine(
        tmp_path: Path) -> None:
    """Causal conv1d (F.pad left, then F.conv1d) and an odd "same" (PyTorch's own
    padding="same", the extra zero after): the gradient's padding is the layer's in mirror
    image, and every gradient block, the update and the loss after it equal torch.autograd
    and torch.optim.SGD in LibreOffice, Gnumeric and IronCalc. The Upsampled sheet gives
    each side's count of zeros."""
    networks = [backward(network_from_template(t, "uneven"), lr=0.01) for t in UNEVEN]
    notes = [sheet.note for sheet in make_plan(networks[0]).sheets
             if sheet.name == "conv1 Grad Upsampled"]
    assert notes and "2·(3-1) - 4 = 0 zero(s) on the left" in notes[0], notes
    check_in_engines(networks, tmp_path)


# ---------------------------------------------------------------------------- graphs
# A small graph where one tensor (relu1) feeds three readers (a conv, a mul, a cat), a mul
# reads one tensor twice (its square), and the network input is read twice (the first conv
# and a scaled residual add at the end): every kind of join and every sum sheet.
SPLIT = {"input_size": [5, 5], "in_channels": 1, "seed": 5, "values": "normal", "layers": [
    {"op": "conv2d", "name": "conv1", "out_channels": 2, "kernel_size": 3, "padding": 1},
    {"op": "relu", "name": "relu1"},
    {"op": "conv2d", "name": "gate", "out_channels": 2, "kernel_size": 3, "padding": 1},
    {"op": "mul", "name": "gated", "inputs": ["gate", "relu1"]},
    {"op": "cat", "name": "joined", "inputs": ["gated", "relu1"]},
    {"op": "mul", "name": "square", "inputs": ["joined", "joined"]},
    {"op": "conv2d", "name": "head", "out_channels": 1, "kernel_size": 1},
    {"op": "add", "name": "out", "inputs": ["head", "input"], "alpha": 0.5}]}


# Joins of feature vectors (after a flatten), read twice, on cross_entropy.
VECTORS = {"input_size": [4, 4], "in_channels": 1, "seed": 2, "values": "normal", "layers": [
    {"op": "conv2d", "name": "c1", "out_channels": 2, "kernel_size": 3},
    {"op": "flatten", "name": "flat"},
    {"op": "linear", "name": "fa", "out_features": 4},
    {"op": "linear", "name": "fb", "out_features": 4, "inputs": ["flat"]},
    {"op": "mul", "name": "m", "inputs": ["fa", "fb"]},
    {"op": "add", "name": "s", "inputs": ["m", "fa"], "alpha": -2.0},
    {"op": "relu", "name": "r"},
    {"op": "linear", "name": "head", "out_features": 3}]}


def test_a_graph_equals_autograd_and_sgd_in_every_engine(tmp_path: Path) -> None:
    """The split graph above (add, cat and mul; three readers of one tensor; a mul of a
    tensor with itself; the network input read twice): every gradient block, each sum of the
    readers' gradients, the updated weights and the loss after one SGD step equal
    torch.autograd and torch.optim.SGD in LibreOffice, Gnumeric and IronCalc; so do the
    vector joins above (sums of vectors: fa_grad_output, flat_grad_output). (The shipped
    graphs, resnet_block and tiny_unet, are in the slow test of every preset.)"""
    split = backward(network_from_template(SPLIT, "split"), lr=0.01)
    vectors = backward(network_from_template(VECTORS, "vectors"), 0.1, "cross_entropy")
    plan = make_plan(split)
    sums = {b.name for b in plan.blocks() if b.meaning is not None
            and b.meaning.role == "gradient" and b.name in ("relu1_grad_output_c0",
                                                            "joined_grad_output_c3",
                                                            "grad_input_c0")}
    assert len(sums) == 3  # the three sums are blocks of their own, not aliases
    check_in_engines([split, vectors], tmp_path)


@pytest.mark.slow
def test_random_graphs_equal_autograd_and_sgd_in_every_engine(tmp_path: Path) -> None:
    """test_graphs' random graphs (residual blocks with alpha, projection shortcuts,
    inception-like cats of branches and of the block's input itself, gates, U-Net levels) of
    differentiable ops, with the backward pass, in one batch per engine."""
    seeds = (300, 302, 303, 304, 310, 311)  # small ones: every join, a tensor read 3 times
    graphs = [backward(random_graph(seed, rich=False), lr=0.01) for seed in seeds]
    assert {"add", "cat", "mul", "avg_pool2d", "max_pool2d", "conv_transpose2d"} <= {
        layer.op.op for network in graphs for layer in network.layers}
    check_in_engines(graphs, tmp_path)


@pytest.mark.slow  # (one LibreOffice PDF export of three workbooks, ~20 s)
def test_the_graph_gradient_sheets_print_on_one_page(tmp_path: Path) -> None:
    """Every sum sheet (Grad Output of a tensor several layers read, the network input's Grad
    Input) and every join's Grad Input sheet of resnet_block, tiny_unet and the split graph
    prints on one page at 50 % or more."""
    from test_every_screen import _printed

    books, plans = {}, {}
    for name, network in (("resnet", resolve(template="resnet_block").network),
                          ("unet", resolve(template="tiny_unet").network),
                          ("split", network_from_template(SPLIT, "split"))):
        plans[name] = make_plan(backward(network))
        books[name] = tmp_path / f"{name}.xlsx"
        write_atomically(plans[name], books[name])
    for name, pages in _printed(books, tmp_path / "pdf").items():
        network = plans[name].network
        joins = {f"{layer.label} Grad Input" for layer in network.layers if layer.in_shapes}
        sums = {s.name for s in plans[name].sheets if s.name.endswith("Grad Output")
                or s.name == "Grad Input"}
        assert joins and sums, name
        for sheet in joins | sums:
            scales = [scale for printed, scale, _text in pages if printed == sheet]
            assert len(scales) == 1 and scales[0] >= 0.5, (name, sheet, scales)


def test_a_chain_keeps_its_gradient_names_and_a_graph_names_its_sums() -> None:
    """A tensor read once: its reader's grad_input is its grad_output (one block, two names,
    as in every chain); read by several: a Grad Output sheet whose blocks are the SUM of the
    readers' (a join's second input: grad_input1)."""
    plan = make_plan(backward(resolve(template="resnet_block").network))
    by_name = {name: b for b in plan.blocks() for name in (b.name, *b.aliases)}
    assert by_name["b1_conv1_grad_input_c0"] is not by_name["stem_relu_grad_output_c0"]
    assert by_name["b1_relu1_grad_input_c1"] is by_name["b1_bn1_grad_output_c1"]
    assert by_name["b1_add_grad_input_c0"] is by_name["b1_bn2_grad_output_c0"]
    total = by_name["stem_relu_grad_output_c0"]
    assert total.sheet == "stem_relu Grad Output"
    formula = total.content.make(total.sheet, 0, 0)  # type: ignore[union-attr]
    assert formula.count("+") == 1 and "b1_conv1 Grad Input" in formula \
        and "b1_add Grad Input" in formula
    note = next(s.note for s in plan.sheets if s.name == "stem_relu Grad Output")
    assert "read by 2 layers: b1_conv1 and b1_add (its input 1)." in note and "add up" in note
    assert "b2_add_grad_input1_c3" in by_name and "b1_out_grad_output_c0" in by_name


def test_a_graph_gradient_is_an_exercise_that_grades(tmp_path: Path) -> None:
    """--exercise --blank grad_input on the split graph: every layer's grad_input (a join's
    every input's) is an answer, and so is each sum of the readers' gradients downstream;
    the handout's solutions are torch.autograd's; right answers score full marks, two wrong
    cells lose two."""
    from exercise_fill import assert_grades_right_and_wrong, handout_of

    from convsheets.api import build

    handout = tmp_path / "handout.xlsx"
    build(template={**SPLIT, "backward": True, "lr": 0.01}, output=handout, exercise=True,
          blank="grad_input")
    made = handout_of(handout)
    names = {b.name for b in made.answers}
    assert {"gated_grad_input1_c1", "joined_grad_input1_c0", "square_grad_input1_c3",
            "out_grad_input1_c0", "relu1_grad_output_c0", "grad_input_c0"} <= names
    shown = made.plan.network
    want = torch_training(shown, {k: np.asarray(v, dtype=float) for k, v in shown.given.items()},
                          0.01)
    checked = [n for n in names if n in want]
    assert len(checked) >= 20
    for name in checked:
        np.testing.assert_allclose(made.solutions[name], want[name], rtol=1e-9, atol=1e-9)
    assert_grades_right_and_wrong(handout, tmp_path)


def test_backward_on_a_graph_from_the_shell(tmp_path: Path) -> None:
    """Graphs are no longer refused (issues 25 x 28): a shipped graph builds with --backward
    (tiny_unet and the others: the slow test of every preset)."""
    done = run_main(tmp_path, "build", "--template", "resnet_block", "--backward", "-o", "r.xlsx")
    assert done.returncode == 0, done.stderr
    book = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert {"loss_after", "learning_rate", "stem_relu_grad_output_c1", "b1_add_grad_input1_c0",
            "b2_down_updated_weight_3_1"} <= set(book.defined_names)
    assert {"stem_relu Grad Output", "b1_out Grad Output", "b1_add Grad Input"} <= set(
        book.sheetnames)


def test_an_activation_gradient_block_is_an_exercise_that_grades(tmp_path: Path) -> None:
    """--exercise --blank grad_input on a network with sigmoid and softmax: their grad_input
    blocks are answers (softmax's Grad Sum stays shown), a right handout scores full marks,
    one with wrong cells loses them."""
    from exercise_fill import assert_grades_right_and_wrong, handout_of

    from convsheets.api import build

    template = {"input_size": [3, 3], "in_channels": 2, "seed": 6, "values": "normal",
                "backward": True, "layers": [
                    {"op": "conv2d", "out_channels": 2, "kernel_size": 2},
                    {"op": "sigmoid"}, {"op": "softmax"}]}
    handout = tmp_path / "handout.xlsx"
    build(template=template, output=handout, exercise=True, blank="grad_input")
    answers = {b.name for b in handout_of(handout).answers}
    assert {"sigmoid1_grad_input_c0", "sigmoid1_grad_input_c1", "softmax1_grad_input_c0",
            "conv1_grad_input_c0"} <= answers, answers
    assert "softmax1_grad_dot" not in answers and "softmax1_grad_gy_c0" not in answers
    assert_grades_right_and_wrong(handout, tmp_path)
