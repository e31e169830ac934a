"""Issue 27: sequences. 1-D and causal convolution, the dilated stack, receptive fields.

The oracle is PyTorch: `torch.nn.functional.conv1d`, `conv_transpose1d`, `max_pool1d`,
`avg_pool1d` (called with the options as a user gives them, "same"/"valid" passed to PyTorch
itself, "causal" as `F.pad(x, (d·(k-1), 0))` then `conv1d`), the modules' own reprs, and
`torch.autograd` for the receptive field: the cells the receptive-field view lights (its
conditional-format formulas, evaluated on the engines' recalculated masks) must be exactly the
cells where the selected output's gradient is non-zero.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
import torch
import torch.nn.functional as F
from engine_copies import verify_keeping_copies
from torch import nn

from convsheets.build import make_plan, write_atomically
from convsheets.errors import ConvsheetsError, SpecError
from convsheets.network import Network
from convsheets.networks import network_from_template, shipped_networks
from convsheets.ops import OPS
from convsheets.receptive import selected_layer
from convsheets.xlsxread import XlsxFile, parse_ref

TOLERANCE = 1e-9
# PyTorch warns that "same" with an even kernel copies the input; the copy is what we compare
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


def _close(got: np.ndarray, want: np.ndarray) -> bool:
    return got.shape == want.shape and bool(
        np.all(np.abs(got - want) <= TOLERANCE * np.maximum(1.0, np.abs(want))))


# ---------------------------------------------------------------------------- random layers
def _conv1d(rng: np.random.Generator, channels: int) -> dict[str, object]:
    groups = int(rng.choice([g for g in (1, 2, 3) if channels % g == 0]))
    stride = int(rng.integers(1, 3))
    rules = ["causal", "valid", int(rng.integers(0, 3))] + (["same"] if stride == 1 else [])
    return {"op": "conv1d", "out_channels": groups * int(rng.integers(1, 3)),
            "kernel_size": int(rng.integers(1, 5)), "stride": stride,
            "padding": rules[int(rng.integers(0, len(rules)))],
            "dilation": int(rng.integers(1, 4)), "groups": groups,
            "bias": bool(rng.integers(0, 2))}


def _layer(rng: np.random.Generator, op: str, channels: int) -> dict[str, object]:
    """Options for one random 1-D layer, every option PyTorch has that convsheets draws."""
    if op == "conv1d":
        return _conv1d(rng, channels)
    if op == "relu":
        return {"op": "relu"}
    if op == "leaky_relu":
        return {"op": "leaky_relu", "negative_slope": 0.25}
    k = int(rng.integers(1, 4))
    if op == "conv_transpose1d":
        groups = int(rng.choice([g for g in (1, 2, 3) if channels % g == 0]))
        s, d = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        return {"op": op, "out_channels": groups * int(rng.integers(1, 3)), "kernel_size": k,
                "stride": s, "padding": int(rng.integers(0, 3)),
                "output_padding": int(rng.integers(0, max(s, d))), "dilation": d,
                "groups": groups, "bias": bool(rng.integers(0, 2))}
    table: dict[str, object] = {"op": op, "kernel_size": k,
                                "padding": int(rng.integers(0, k // 2 + 1))}
    if rng.integers(0, 2):
        table["stride"] = int(rng.integers(1, 4))
    if op == "max_pool1d":
        table["dilation"] = int(rng.integers(1, 3))
    else:
        table["count_include_pad"] = bool(rng.integers(0, 2))
    return table


SEQUENCE_OPS = ("conv1d", "conv_transpose1d", "max_pool1d", "avg_pool1d", "relu",
                "leaky_relu")


def random_network(seed: int) -> Network:
    """A valid random sequence network of 2-5 layers that starts with a convolution (a drawn
    layer its input cannot take is drawn again)."""
    rng = np.random.default_rng(seed)
    channels = int(rng.integers(1, 4))
    template: dict[str, object] = {
        "input_size": int(rng.integers(6, 17)), "in_channels": channels, "seed": seed,
        "values": ["integers", "normal"][int(rng.integers(0, 2))], "layers": []}
    layers: list[dict[str, object]] = []
    wanted = int(rng.integers(2, 6))
    for _attempt in range(200):
        if len(layers) == wanted:
            break
        current = network_from_template({**template, "layers": layers}, "r") if layers else None
        c = current.output_shape[0] if current else channels
        op = "conv1d" if not layers else SEQUENCE_OPS[int(rng.integers(0, len(SEQUENCE_OPS)))]
        candidate = _layer(rng, op, c)
        try:
            network = network_from_template({**template, "layers": [*layers, candidate]}, "r")
        except ConvsheetsError:
            continue
        if sum(int(np.prod(layer.out_shape)) for layer in network.layers) > 600:
            continue
        layers.append(candidate)
    return network_from_template({**template, "layers": layers}, "r")


# ---------------------------------------------------------------------------- PyTorch
def torch_call(op: object, x: torch.Tensor, w: np.ndarray | None,
               b: np.ndarray | None) -> torch.Tensor:
    """One 1-D layer by torch.nn.functional, float64, from the options as a template gives
    them (`as_options`, PyTorch's spelling); a (O, C/g, 1, k) weight is PyTorch's (O, C/g, k)."""
    given = op.as_options()  # type: ignore[attr-defined]
    wt = None if w is None else torch.tensor(w[:, :, 0, :], dtype=torch.float64)
    bt = None if b is None else torch.tensor(b, dtype=torch.float64)
    name = given["op"]
    if name == "conv1d":
        padding = given["padding"]
        if padding == "causal":
            x = F.pad(x, (given["dilation"] * (given["kernel_size"] - 1), 0))
            padding = 0
        return F.conv1d(x, wt, bt, given["stride"], padding, given["dilation"], given["groups"])
    if name == "conv_transpose1d":
        return F.conv_transpose1d(x, wt, bt, given["stride"], given["padding"],
                                  given["output_padding"], given["groups"], given["dilation"])
    if name == "max_pool1d":
        return F.max_pool1d(x, given["kernel_size"], given["stride"], given["padding"],
                            given["dilation"])
    if name == "avg_pool1d":
        return F.avg_pool1d(x, given["kernel_size"], given["stride"], given["padding"],
                            count_include_pad=given["count_include_pad"])
    if name == "relu":
        return F.relu(x)
    if name == "leaky_relu":
        return F.leaky_relu(x, given["negative_slope"])
    raise AssertionError(f"no PyTorch call for {name}")


def torch_forward(network: Network, tensors: dict[str, np.ndarray],
                  x: torch.Tensor | None = None) -> list[torch.Tensor]:
    """Every layer's output (1, C, L), by `torch_call` down the chain."""
    if x is None:
        x = torch.tensor(tensors["input"][:, 0, :], dtype=torch.float64)[None]
    outs = []
    for layer in network.layers:
        prefix = layer.names.tensor
        x = torch_call(layer.op, x, tensors.get(prefix + "weight"), tensors.get(prefix + "bias"))
        outs.append(x)
    return outs


# ---------------------------------------------------------------------------- the references
@pytest.mark.parametrize("seed", range(40))
def test_each_1d_reference_equals_torch_functional(seed: int) -> None:
    """Each op's NumPy reference, on the (C, 1, L) it holds, equals PyTorch's 1-D function."""
    rng = np.random.default_rng(seed)
    c = int(rng.integers(1, 4))
    length = int(rng.integers(5, 14))
    for op_name in ("conv1d", "conv_transpose1d", "max_pool1d", "avg_pool1d"):
        table = _layer(rng, op_name, c)
        options = {k: v for k, v in table.items() if k != "op"}
        try:
            op = OPS[op_name].create(options, (c, 1, length))
        except SpecError:
            continue
        x = rng.normal(size=(c, length))
        tensors = {key: rng.normal(size=shape) for key, shape in op.tensor_shapes().items()}
        got = op.reference(x[:, None, :], tensors)
        want = torch_call(op, torch.tensor(x)[None], tensors.get("weight"),
                          tensors.get("bias"))[0].numpy()
        assert _close(got[:, 0, :], want), (str(op), table)
        assert got.shape == op.output_shape((c, 1, length))


@pytest.mark.parametrize("kernel,dilation", [((2, 4), (1, 1)), ((3, 2), (2, 3)),
                                             ((4, 4), (1, 2)), ((3, 3), (1, 1))])
def test_conv2d_padding_same_and_valid_equal_torch(kernel: tuple[int, int],
                                                   dilation: tuple[int, int]) -> None:
    """conv2d takes PyTorch's "same" (the extra zero of an odd total goes bottom/right) and
    "valid", for its reference, its padded stage and its output shape."""
    rng = np.random.default_rng(sum(kernel) + sum(dilation))
    x = rng.normal(size=(2, 9, 8))
    for rule in ("same", "valid"):
        op = OPS["conv2d"].create({"out_channels": 3, "kernel_size": list(kernel),
                                   "dilation": list(dilation), "padding": rule}, x.shape)
        w = rng.normal(size=op.tensor_shapes()["weight"])
        b = rng.normal(size=3)
        want = F.conv2d(torch.tensor(x)[None], torch.tensor(w), torch.tensor(b),
                        padding=rule, dilation=dilation)[0].numpy()
        got = op.reference(x, {"weight": w, "bias": b})
        assert _close(got, want)
        assert op.output_shape(x.shape) == want.shape
        module = nn.Conv2d(2, 3, kernel, padding=rule, dilation=dilation)
        assert str(op) == str(module)


def test_1d_layers_print_as_pytorch_prints_the_module() -> None:
    cases = [
        ("conv1d", {"out_channels": 4, "kernel_size": 3}, nn.Conv1d(2, 4, 3)),
        ("conv1d", {"out_channels": 4, "kernel_size": 3, "padding": "same", "dilation": 2,
                    "groups": 2, "bias": False},
         nn.Conv1d(2, 4, 3, padding="same", dilation=2, groups=2, bias=False)),
        ("conv1d", {"out_channels": 2, "kernel_size": [3], "padding": "valid", "stride": 2},
         nn.Conv1d(2, 2, 3, stride=2, padding="valid")),
        ("conv1d", {"out_channels": 2, "kernel_size": 3, "padding": 1},
         nn.Conv1d(2, 2, 3, padding=1)),
        ("conv_transpose1d", {"out_channels": 2, "kernel_size": 3, "stride": 2,
                              "output_padding": 1, "padding": 1},
         nn.ConvTranspose1d(2, 2, 3, stride=2, padding=1, output_padding=1)),
        ("max_pool1d", {"kernel_size": 2}, nn.MaxPool1d(2)),
        ("max_pool1d", {"kernel_size": 3, "stride": 1, "padding": 1, "dilation": 2},
         nn.MaxPool1d(3, 1, 1, 2)),
        ("avg_pool1d", {"kernel_size": 3, "padding": 1, "count_include_pad": False},
         nn.AvgPool1d(3, padding=1, count_include_pad=False)),
    ]
    for op_name, options, module in cases:
        op = OPS[op_name].create(options, (2, 1, 12))
        assert str(op) == str(module)
        x = torch.randn(1, 2, 12, dtype=torch.float64)
        assert op.output_shape((2, 1, 12)) == (module.double()(x).shape[1], 1,
                                               module(x).shape[2])
        if hasattr(module, "weight"):
            assert op.given_shapes()["weight"] == tuple(module.weight.shape)


def test_causal_is_left_padding_only_and_prints_its_rule() -> None:
    op = OPS["conv1d"].create({"out_channels": 1, "kernel_size": 2, "dilation": 4,
                               "padding": "causal"}, (1, 1, 16))
    assert op.pads() == ((0, 0), (4, 0))
    assert op.output_shape((1, 1, 16)) == (1, 1, 16)
    assert str(op) == "Conv1d(1, 1, kernel_size=(2,), stride=(1,), padding=causal, dilation=(4,))"
    assert op.as_options()["padding"] == "causal"


@pytest.mark.parametrize("op,options,shape,message", [
    ("conv2d", {"out_channels": 1, "kernel_size": 2, "padding": "causal"}, (1, 5, 5),
     "padding"),
    ("conv1d", {"out_channels": 1, "kernel_size": 3, "padding": "same", "stride": 2},
     (1, 1, 9), "strided"),
    ("conv1d", {"out_channels": 1, "kernel_size": [3, 3]}, (1, 1, 9), "one number"),
    ("conv1d", {"out_channels": 1, "kernel_size": 3}, (1, 4, 9), "sequence"),
    ("conv1d", {"out_channels": 1, "kernel_size": 3, "padding": "full"}, (1, 1, 9),
     "same"),
])
def test_bad_1d_options_name_the_option(op: str, options: dict[str, object],
                                        shape: tuple[int, int, int], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        OPS[op].create(options, shape)


def test_a_sequence_template_reads_c_x_l_and_refuses_2d_ops() -> None:
    network = network_from_template({
        "input_size": 5, "in_channels": 2, "input": [[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]],
        "layers": [{"op": "conv1d", "out_channels": 1, "kernel_size": 2,
                    "weight": [[[1, 2], [3, 4]]], "bias": [1]}]}, "t")
    assert network.input_shape == (2, 1, 5)
    assert network.given["input"].shape == (2, 1, 5)
    assert network.given["conv1_weight"].shape == (1, 2, 1, 2)
    with pytest.raises(SpecError, match="sequence"):
        network_from_template({"input_size": 8, "in_channels": 1, "layers": [
            {"op": "conv1d", "out_channels": 1, "kernel_size": 2},
            {"op": "conv2d", "out_channels": 1, "kernel_size": 1}]}, "t")
    with pytest.raises(SpecError, match="input_size"):
        network_from_template({"input_size": "4x4", "in_channels": 1, "layers": [
            {"op": "conv1d", "out_channels": 1, "kernel_size": 2}]}, "t")


def test_wavenet_template_is_the_issues_stack() -> None:
    import tomllib

    network = network_from_template(tomllib.loads(shipped_networks()["wavenet"]), "wavenet")
    convs = [layer.op for layer in network.layers if layer.op.op == "conv1d"]
    assert [op.dilation[1] for op in convs] == [1, 2, 4, 8]
    assert {op.kernel_size[1] for op in convs} == {2}
    assert {op.padding_rule for op in convs} == {"causal"}
    assert [layer.op.op for layer in network.layers[1::2]] == ["relu"] * 3
    from convsheets.guide import receptive_fields

    fields = receptive_fields(network)
    assert [fields[f"conv{n}_receptive_field"] for n in (1, 2, 3, 4)] == [2, 4, 8, 16]


# ---------------------------------------------------------------------------- in the engines
def _select(plan, network: Network, rng: np.random.Generator) -> tuple[int, int] | None:  # type: ignore[no-untyped-def]
    """Set the last explorer's yellow cells to a random output cell; None without the view."""
    last = selected_layer(network)
    if last is None:
        return None
    layer = network.layers[last]
    channel = int(rng.integers(0, layer.out_shape[0]))
    position = int(rng.integers(0, layer.out_shape[2]))
    prefix = layer.names.tensor
    for block in plan.blocks():
        if block.name in (f"{prefix}explore_channel", f"{prefix}explore_row",
                          f"{prefix}explore_col"):
            value = {"channel": channel, "row": 0, "col": position}[block.name.rsplit("_", 1)[1]]
            block.content.array[0, 0] = value
    return channel, position


_LIT = re.compile(r"INDEX\((rf_\w+),1,COLUMN\(\)-(\d+)\+1\)=1")


def lit_cells(original: Path, recalculated: Path) -> dict[str, np.ndarray]:
    """Evaluate the receptive-field conditional formats of `original` on the mask values an
    engine computed (`recalculated`): per named block the rules cover, a bool per cell."""
    book = openpyxl.load_workbook(original)
    names = {n: book.defined_names[n].attr_text for n in book.defined_names}
    by_area = {}
    for name, text in names.items():
        sheet, r0, c0, r1, c1 = parse_ref(text)
        if not name.startswith("output_"):  # the last layer's alias: its own name instead
            by_area[(sheet, r0, c0, r1, c1)] = name
    with XlsxFile(recalculated) as xf:
        cached: dict[str, object] = {}

        def values(name: str) -> np.ndarray:
            sheet, r0, c0, r1, c1 = parse_ref(names[name])
            if sheet not in cached:
                cached[sheet] = xf.read_sheet(sheet)
            return np.asarray(cached[sheet].region(r0, c0, r1, c1).values, dtype=float)  # type: ignore[attr-defined]

        lit: dict[str, np.ndarray] = {}
        for ws in book.worksheets:
            for cf in ws.conditional_formatting:
                for rule in cf.rules:
                    match = rule.formula and _LIT.fullmatch(rule.formula[0])
                    if not match:
                        continue
                    ref = str(cf.sqref)
                    sheet_ref = f"'{ws.title}'!" + "$" + ref.replace(":", ":$")
                    sheet, r0, c0, r1, c1 = parse_ref(re.sub(r"([A-Z]+)(\d+)", r"\1$\2",
                                                             sheet_ref))
                    block = by_area[(sheet, r0, c0, r1, c1)]
                    mask, left = values(match.group(1)), int(match.group(2))
                    columns = np.arange(c0, c1 + 1)  # COLUMN() of each cell of the range
                    lit[block] = mask[0, columns - left] == 1
    return lit


def autograd_fields(network: Network, tensors: dict[str, np.ndarray], channel: int,
                    position: int) -> dict[str, np.ndarray]:
    """Per tensor (input, each layer's output up to the selected one): where the gradient of
    the selected output cell is non-zero, by torch.autograd."""
    last = selected_layer(network)
    assert last is not None
    x = torch.tensor(tensors["input"][:, 0, :], dtype=torch.float64)[None].requires_grad_()
    outs = torch_forward(network, tensors, x)[:last + 1]
    for out in outs:
        out.retain_grad()
    outs[-1][0, channel, position].backward()
    fields = {"input": x.grad[0].numpy() != 0}  # type: ignore[union-attr]
    for layer, out in zip(network.layers, outs, strict=False):
        fields[layer.label] = out.grad[0].numpy() != 0  # type: ignore[union-attr]
    return fields


def bump_fields(network: Network, tensors: dict[str, np.ndarray], channel: int,
                position: int) -> dict[str, np.ndarray]:
    """Per tensor: where raising one cell by 1000 changes the selected output, by PyTorch's
    forward from that tensor on (the receptive field of a max, whose gradient reaches only
    the window's winner: with positive values a large bump anywhere in the window wins)."""
    last = selected_layer(network)
    assert last is not None
    layers = network.layers[:last + 1]
    outs = torch_forward(network, tensors)[:last + 1]
    x0 = torch.tensor(tensors["input"][:, 0, :], dtype=torch.float64)[None]
    starts = [("input", x0)] + [(layer.label, out.detach()) for layer, out in zip(layers, outs,
                                                                                  strict=True)]
    want = float(outs[-1][0, channel, position])
    fields = {}
    for n, (label, base) in enumerate(starts):
        field = np.zeros(base.shape[1:], dtype=bool)
        for c, p in np.ndindex(*field.shape):
            x = base.clone()
            x[0, c, p] += 1000.0
            for layer in layers[n:]:
                prefix = layer.names.tensor
                x = torch_call(layer.op, x, tensors.get(prefix + "weight"),
                               tensors.get(prefix + "bias"))
            field[c, p] = float(x[0, channel, position]) != want
        fields[label] = field
    return fields


def _engine_batch(seeds: list[int], tmp: Path) -> list[object]:
    """Build each random network (its odd ones with positive input and weights, where the
    gradient is non-zero exactly on the structural receptive field), recalculate all in the
    three engines with verify, and compare every layer with PyTorch and the lit cells with
    autograd."""
    failures: list[object] = []
    networks, paths, tensors_of, selections = [], [], [], []
    for seed in seeds:
        network = random_network(seed)
        rng = np.random.default_rng(seed + 1000)
        tensors = {name: rng.normal(size=shape) if network.values == "normal"
                   else rng.integers(-4, 5, size=shape).astype(float)
                   for name, shape in network.source_shapes().items()}
        if seed % 2:
            tensors = {name: np.abs(a) + 0.5 for name, a in tensors.items()}
        plan = make_plan(network, tensors)
        selections.append(_select(plan, network, rng))
        paths.append(tmp / f"{seed}.xlsx")
        write_atomically(plan, paths[-1])
        networks.append(network)
        tensors_of.append(tensors)
    reports, kept = verify_keeping_copies(paths, tmp / "kept")
    for network, report in zip(networks, reports, strict=True):
        engines = sorted(run.engine for run in report.runs)
        if engines != ["gnumeric", "ironcalc", "libreoffice"] or not report.ok:
            failures.append(("verify", [str(layer.op) for layer in network.layers], engines,
                             [(b.name, b.problem) for run in report.runs for b in run.blocks
                              if not b.ok][:3]))
    for engine in ("libreoffice", "gnumeric", "ironcalc"):
        for n, network in enumerate(networks):
            copy = kept[engine][paths[n]]
            want = torch_forward(network, tensors_of[n])
            with XlsxFile(copy) as xf:
                names = xf.defined_names()
                sheets: dict[str, object] = {}
                for layer, y in zip(network.layers, want, strict=True):
                    for o in range(y.shape[1]):
                        sheet, r0, c0, r1, c1 = parse_ref(names[f"{layer.name}_output_c{o}"])
                        if sheet not in sheets:
                            sheets[sheet] = xf.read_sheet(sheet)
                        got = np.asarray(sheets[sheet].region(r0, c0, r1, c1).values,  # type: ignore[attr-defined]
                                         dtype=float)[0]
                        if not _close(got, y[0, o].detach().numpy()):
                            failures.append((engine, str(layer.op), o))
            if seeds[n] % 2 and selections[n] is not None:  # the positive ones
                lit = lit_cells(paths[n], copy)
                fields = autograd_fields(network, tensors_of[n], *selections[n])
                # a max's gradient reaches only its winner: there the lit cells are those
                # whose bump changes the output, and the gradient's cells are among them
                maxima = any(layer.op.op == "max_pool1d" and layer.op.kernel_size[1] > 1
                             for layer in network.layers)
                bumps = bump_fields(network, tensors_of[n], *selections[n]) if maxima \
                    else fields
                for label, field in fields.items():
                    for c in range(field.shape[0]):
                        block = f"input_c{c}" if label == "input" else f"{label}_output_c{c}"
                        if block not in lit or not np.array_equal(lit[block], bumps[label][c]) \
                                or np.any(field[c] & ~lit[block]):
                            failures.append(("lit", engine, seeds[n], block, selections[n]))
    return failures


DEFAULT_SEEDS = [1, 5, 6, 15, 26]  # tconv, causal, same (odd and even k), groups, max pools


@pytest.mark.slow  # (14 s: CI runs it; by default wavenet, depthwise_causal verify in every engine)
def test_random_1d_networks_equal_pytorch_and_light_their_gradients_in_every_engine(
        ) -> None:
    """The default run's batch: every op and option (causal, same, valid, groups, dilation,
    output_padding), one start of each engine for all the workbooks."""
    with tempfile.TemporaryDirectory(prefix="convsheets-seq-") as tmp:
        covered = {str(layer.op).split("(")[0] for seed in DEFAULT_SEEDS
                   for layer in random_network(seed).layers}
        assert {"Conv1d", "ConvTranspose1d", "MaxPool1d", "AvgPool1d"} <= covered, covered
        assert not _engine_batch(DEFAULT_SEEDS, Path(tmp))


@pytest.mark.slow
def test_many_random_1d_networks_in_every_engine() -> None:
    with tempfile.TemporaryDirectory(prefix="convsheets-seq-") as tmp:
        assert not _engine_batch(list(range(100, 116)), Path(tmp))


def test_wavenet_lights_its_doubling_receptive_field(tmp_path: Path) -> None:
    """The shipped wavenet: the selected last cell's lit input cells are the 16 before it,
    conv3's the two 8 apart (by the masks' formulas, in IronCalc)."""
    import tomllib

    from convsheets.engines import get_engine

    network = network_from_template(tomllib.loads(shipped_networks()["wavenet"]), "wavenet")
    plan = make_plan(network)
    for block in plan.blocks():
        if block.name == "conv4_explore_col":
            block.content.array[0, 0] = 15
    path = tmp_path / "w.xlsx"
    write_atomically(plan, path)
    [copy] = get_engine("ironcalc").recalculate([path], tmp_path / "out", 120)
    lit = lit_cells(path, copy)
    assert lit["input_c0"].all()
    assert list(np.flatnonzero(lit["conv3_output_c0"])) == [7, 15]
    assert list(np.flatnonzero(lit["conv2_output_c1"])) == [3, 7, 11, 15]


# ---------------------------------------------------------------------------- from_module
class CausalStack(nn.Module):
    """A causal stack as people write it: F.pad on the left, then the convolution (a module,
    or F.conv1d with the module's own parameters), pooling by module and by function."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv1d(2, 3, 2)
        self.c2 = nn.Conv1d(3, 3, 3, dilation=2, groups=3)
        self.w = nn.Parameter(torch.randn(2, 3, 2))
        self.b = nn.Parameter(torch.randn(2))
        self.pool = nn.MaxPool1d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.c1(F.pad(x, (1, 0))))
        x = torch.tanh(self.c2(F.pad(x, (4, 0))))
        x = F.conv1d(F.pad(x, (4, 0)), self.w, self.b, dilation=4)
        return F.avg_pool1d(self.pool(x), 2)


def _modules() -> list[tuple[nn.Module, torch.Tensor, torch.Tensor]]:
    """(model, x as from_module takes it, x as the model takes it: a batch of one)."""
    torch.manual_seed(0)
    seq = torch.randn(2, 16, dtype=torch.float64)
    one = torch.randn(1, 1, 10, dtype=torch.float64)
    image = torch.randn(1, 5, 6, dtype=torch.float64)
    return [
        (CausalStack().double().eval(), seq, seq[None]),
        (nn.Sequential(nn.Conv1d(1, 2, 4, padding="same"), nn.ReLU(),
                       nn.ConvTranspose1d(2, 1, 3, stride=2, output_padding=1),
                       nn.AvgPool1d(3, padding=1, count_include_pad=False)).double().eval(),
         one, one),
        (nn.Sequential(nn.Conv2d(1, 2, 2, padding="same", dilation=(1, 3))).double().eval(),
         image, image[None]),
    ]


def test_from_module_reads_1d_layers_and_causal_pads(tmp_path: Path) -> None:
    """from_module: nn.Conv1d, ConvTranspose1d, pools, F.conv1d, F.pad + conv1d (causal) and
    an uneven padding="same"; the workbook, recalculated by IronCalc, equals the module's own
    forward."""
    from convsheets.engines import get_engine
    from convsheets.torch_module import from_module, module_network

    paths, wants = [], []
    for n, (model, x, batched) in enumerate(_modules()):
        network = module_network(model, x)
        if n == 0:
            assert [layer.op.padding_rule for layer in network.layers
                    if layer.op.op == "conv1d"] == ["causal"] * 3
        paths.append(tmp_path / f"m{n}.xlsx")
        from_module(model, x, paths[-1])
        wants.append(model(batched)[0].detach().numpy())
    copies = get_engine("ironcalc").recalculate(paths, tmp_path / "out", 300)
    for copy, want in zip(copies, wants, strict=True):
        with XlsxFile(copy) as xf:
            names = xf.defined_names()
            for o in range(want.shape[0]):
                sheet, r0, c0, r1, c1 = parse_ref(names[f"output_c{o}"])
                got = np.asarray(xf.read_sheet(sheet).region(r0, c0, r1, c1).values, float)
                assert _close(got.reshape(want[o].shape), want[o])


def test_from_module_refuses_a_pad_it_cannot_draw() -> None:
    from convsheets.errors import WeightsError
    from convsheets.torch_module import module_network

    class Uneven(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv1d(1, 1, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.c(F.pad(x, (1, 0)))

    with pytest.raises(WeightsError, match=r"F.pad\(x, \(1, 0\)\)"):
        module_network(Uneven(), torch.randn(1, 8))


def test_a_sequence_exercise_grades(tmp_path: Path) -> None:
    """An exercise on wavenet: the right answers typed in (one of them off by one) grade
    15 of 16."""
    import subprocess
    import sys

    from exercise_fill import fill, typed

    handout, filled = tmp_path / "ex.xlsx", tmp_path / "filled.xlsx"
    run = [sys.executable, "-m", "convsheets"]
    subprocess.run([*run, "build", "--template", "wavenet", "--exercise", "-o", str(handout)],
                   check=True, capture_output=True)
    fill(handout, filled, lambda _b, i, j, right: typed(right + (1 if (i, j) == (0, 3) else 0)))
    out = subprocess.run([*run, "grade", str(filled)], check=True, capture_output=True,
                         text=True).stdout
    assert "15     16" in out and "conv4_output_c0 (1 wrong)" in out, out


def test_weights_file_of_a_1d_model(tmp_path: Path) -> None:
    """--weights: a Conv1d / ConvTranspose1d state_dict (3-D weights) read by a template;
    the network's references equal the model's own forward."""
    from safetensors.torch import save_file

    from convsheets.expected import forward
    from convsheets.weights import read_safetensors

    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv1d(2, 4, 3, dilation=2, groups=2), nn.ReLU(),
                          nn.ConvTranspose1d(4, 1, 2, stride=2)).double().eval()
    save_file(model.state_dict(), tmp_path / "m.safetensors")
    x = torch.randn(2, 9, dtype=torch.float64)
    network = network_from_template({
        "input_size": 9, "in_channels": 2, "input": x.tolist(), "layers": [
            {"op": "conv1d", "out_channels": 4, "kernel_size": 3, "dilation": 2, "groups": 2,
             "weights": "0"},
            {"op": "relu"},
            {"op": "conv_transpose1d", "out_channels": 1, "kernel_size": 2, "stride": 2,
             "weights": "2"}]}, "t.toml", weights=read_safetensors(tmp_path / "m.safetensors"))
    tensors = {name: np.asarray(a, dtype=float) for name, a in network.given.items()}
    got = forward(network, tensors)[-1][2]
    assert _close(got[:, 0, :], model(x[None])[0].detach().numpy())
    with pytest.raises(ConvsheetsError, match=r"\(4, 1, 2\), the layer needs \(4, 2, 3\)"):
        network_from_template({"input_size": 9, "in_channels": 2, "layers": [
            {"op": "conv1d", "out_channels": 4, "kernel_size": 3, "weights": "2"}]}, "t.toml",
            weights=read_safetensors(tmp_path / "m.safetensors"))
