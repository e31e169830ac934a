"""--backward through adaptive_avg_pool2d, adaptive_max_pool2d and upsample (every mode and
option), checked against torch.autograd and torch.optim.SGD.

The oracle is `test_backward.torch_training` (F.adaptive_avg_pool2d, F.adaptive_max_pool2d,
F.interpolate with the layer's size / scale_factor / mode / align_corners /
recompute_scale_factor, in float64, on the numbers the recalculated workbook holds). One
batch of networks runs in LibreOffice, Gnumeric and IronCalc (one start each): ties in
adaptive max pooling on small integers, overlapping adaptive windows (5 -> 3, 7 -> 3, and
2 -> 5 where every input cell is covered several times), bilinear with and without
align_corners, nearest and nearest-exact, a size, a scale_factor up and down, and
recompute_scale_factor. The NumPy references of `gradients.py` are checked against PyTorch
directly too (the winners against ``return_indices``, the interpolation weights against
F.interpolate of one-hot rows), and so are the interpolation weights a sheet writes in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pytest
import torch
import torch.nn.functional as F
from test_backward import backward, check_in_engines

from convsheets.build import make_plan, write_atomically
from convsheets.expected import forward
from convsheets.gradients import (
    adaptive_avg_pool2d_backward,
    adaptive_max_pool2d_winners,
    upsample_axis_weights,
)
from convsheets.networks import network_from_template
from convsheets.tensors import random_tensors

RESAMPLING = [
    # small integers: adaptive max 5x5 -> 3x3 (overlapping windows, ties), bilinear with
    # align_corners to a size, adaptive average 7x5 -> 3x2 (overlapping, unequal windows)
    {"input_size": [5, 5], "in_channels": 2, "seed": 11, "layers": [
        {"op": "adaptive_max_pool2d", "output_size": 3},
        {"op": "upsample", "size": [7, 5], "mode": "bilinear", "align_corners": True},
        {"op": "adaptive_avg_pool2d", "output_size": [3, 2]},
        {"op": "conv2d", "out_channels": 1, "kernel_size": 2}]},
    # normal values: conv, bilinear by 1.5 (align_corners False), relu, adaptive max with
    # output larger than the input along one axis, nearest by 2, adaptive average 2 -> 5
    {"input_size": [4, 5], "in_channels": 1, "seed": 3, "values": "normal", "layers": [
        {"op": "conv2d", "out_channels": 2, "kernel_size": 2, "padding": 1},
        {"op": "upsample", "scale_factor": 1.5, "mode": "bilinear", "align_corners": False},
        {"op": "relu"},
        {"op": "adaptive_max_pool2d", "output_size": [4, 9]},
        {"op": "upsample", "scale_factor": [2.0, 0.75]},
        {"op": "adaptive_avg_pool2d", "output_size": [5, 2]}]},
    # nearest-exact to a size, bilinear down with recompute_scale_factor, nearest by a
    # scale that is not a whole number, a conv, then global average pooling before a
    # classifier's linear layer (the common pattern; cross_entropy): its gradient from flatten
    {"input_size": [6, 4], "in_channels": 1, "seed": 8, "values": "normal", "layers": [
        {"op": "upsample", "size": [4, 7], "mode": "nearest-exact"},
        {"op": "upsample", "scale_factor": [1.7, 0.75], "mode": "bilinear",
         "recompute_scale_factor": True},
        {"op": "upsample", "scale_factor": 2.5},
        {"op": "conv2d", "out_channels": 2, "kernel_size": 3, "stride": 2},
        {"op": "adaptive_avg_pool2d", "output_size": 1}, {"op": "flatten"},
        {"op": "linear", "out_features": 3}]},
]


def _networks() -> list:  # type: ignore[type-arg]
    """The batch, the last one a classifier on cross_entropy."""
    return [backward(network_from_template(t, "resample"), lr=0.05,
                     loss="cross_entropy" if t["layers"][-1]["op"] == "linear" else "mse")
            for t in RESAMPLING]


@pytest.mark.slow  # (15-30 s; the default run keeps the in-process references and exercise)
def test_resampling_networks_equal_autograd_and_sgd_in_every_engine(tmp_path: Path) -> None:
    """Every gradient block (grad_output, the shares, the winners' routing, the gathered
    columns, grad_input), the updated weights and loss_after equal PyTorch's in LibreOffice,
    Gnumeric and IronCalc; verify checks every computed block against `gradients.py`."""
    check_in_engines(_networks(), tmp_path)


def test_the_batch_has_adaptive_max_ties_and_overlapping_windows() -> None:
    """What the batch above exercises, in the workbook's own numbers: a window of the first
    network's adaptive max pooling holds two equal maxima (the first, row by row, takes the
    gradient), and its adaptive windows overlap (some input cell has several windows)."""
    network = _networks()[0]
    tensors = {k: np.asarray(v, dtype=float) for k, v in random_tensors(network).items()}
    layer, x, y = forward(network, tensors)[0]
    t = torch.tensor(x)[None]
    _, index = F.adaptive_max_pool2d(t, layer.op.output_size, return_indices=True)
    ties = 0
    for c, i, j in np.ndindex(*y.shape):
        r0, r1 = (i * 5) // 3, -(-((i + 1) * 5) // 3)
        c0, c1 = (j * 5) // 3, -(-((j + 1) * 5) // 3)
        window = x[c, r0:r1, c0:c1]
        ties += int((window == window.max()).sum() > 1)
    assert ties > 0
    # autograd of the average of ones: an input cell in two windows gets two shares
    t = torch.tensor(x, requires_grad=True)
    F.adaptive_avg_pool2d(t[None], layer.op.output_size).sum().backward()
    assert len(np.unique(t.grad.numpy().round(12))) > 1
    np.testing.assert_array_equal(adaptive_max_pool2d_winners(x, layer.op.output_size),
                                  index[0].numpy())


@pytest.mark.parametrize("values", ["integers", "normal"])
def test_references_equal_pytorch(values: str) -> None:
    """gradients.py against PyTorch itself, for many sizes: the winners are return_indices
    (ties on small integers: the first maximum), the adaptive average's grad_input is
    autograd's, and the per-axis interpolation weights are F.interpolate of one-hot rows
    (every mode, size or scale_factor, align_corners, recompute_scale_factor)."""
    rng = np.random.default_rng(7)
    for h, w, oh, ow in [(5, 5, 3, 3), (7, 4, 3, 9), (2, 3, 5, 2), (6, 6, 1, 1), (4, 9, 4, 2)]:
        x = (rng.integers(-2, 3, (2, h, w)) if values == "integers"
             else rng.normal(size=(2, h, w))).astype(float)
        t = torch.tensor(x, requires_grad=True)
        y, index = F.adaptive_max_pool2d(t[None], (oh, ow), return_indices=True)
        np.testing.assert_array_equal(adaptive_max_pool2d_winners(x, (oh, ow)), index[0].numpy())
        g = rng.normal(size=(2, oh, ow))
        F.adaptive_avg_pool2d(t[None], (oh, ow)).backward(torch.tensor(g)[None])
        np.testing.assert_allclose(adaptive_avg_pool2d_backward(x, g), t.grad.numpy(),
                                   rtol=1e-12, atol=1e-12)
    cases = [("nearest", None, (5,), None), ("nearest", None, None, 2.0),
             ("nearest", None, None, 1.7), ("nearest", None, (3,), None),
             ("nearest-exact", None, (7,), None), ("nearest-exact", None, None, 0.75),
             ("bilinear", True, (9,), None), ("bilinear", False, (9,), None),
             ("bilinear", False, None, 1.5), ("bilinear", True, None, 2.5),
             ("bilinear", False, None, 0.6), ("bilinear", None, (1,), None),
             ("bilinear", False, None, 1.1)]
    for n_in in (1, 4, 5):
        for mode, corners, size, scale in cases:
            if scale is not None and int(n_in * scale) < 1:
                continue  # an empty output: PyTorch refuses it, and so does convsheets
            for recompute in (None, True) if scale else (None,):
                eye = torch.eye(n_in, dtype=torch.float64)[:, None, :, None]  # (n_in,1,n_in,1)
                out = F.interpolate(eye, size=None if size is None else (size[0], 1),
                                    scale_factor=None if scale is None else (scale, 1.0),
                                    mode=mode, align_corners=corners,
                                    recompute_scale_factor=recompute)
                want = out[:, 0, :, 0].numpy()  # [s, d]: what output d read input s with
                given = scale if scale is not None and not recompute else None
                got = upsample_axis_weights(n_in, want.shape[1], mode, corners, given)
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15,
                                           err_msg=f"{n_in} {mode} {corners} {size} {scale}")


def test_interpolation_weights_on_the_sheet_equal_pytorch(tmp_path: Path) -> None:
    """The weight matrices an upsample's Interpolation sheet writes in (numbers, not formulas,
    so verify checks them only through the blocks that use them) equal F.interpolate of
    one-hot rows and columns of the layer's input size."""
    network = _networks()[2]
    path = tmp_path / "w.xlsx"
    write_atomically(make_plan(network), path)
    wb = openpyxl.load_workbook(path)

    def block(name: str) -> np.ndarray:
        sheet, ref = wb.defined_names[name].attr_text.rsplit("!", 1)
        cells = wb[sheet.strip("'")][ref.replace("$", "")]
        return np.array([[c.value for c in row] for row in cells], dtype=float)

    for layer in network.layers:
        if layer.op.op != "upsample":
            continue
        op, (h, w) = layer.op, layer.in_shape[1:]
        for axis, n, word in ((0, h, "row"), (1, w, "col")):
            eye = torch.eye(n, dtype=torch.float64)
            probe = (eye[:, None, :, None] * torch.ones(n, 1, 1, w, dtype=torch.float64)
                     if axis == 0 else
                     eye[:, None, None, :] * torch.ones(n, 1, h, 1, dtype=torch.float64))
            out = F.interpolate(probe, size=op.size, scale_factor=op.scale_factor,
                                mode=op.mode, align_corners=op.align_corners,
                                recompute_scale_factor=op.recompute_scale_factor)
            want = out[:, 0, :, 0].numpy() if axis == 0 else out[:, 0, 0, :].numpy()
            np.testing.assert_allclose(block(f"{layer.names.tensor}grad_{word}_weights"),
                                       want.T, rtol=1e-12, atol=1e-15)  # [d, s] on the sheet


def test_a_resampling_gradient_is_an_exercise_that_grades(tmp_path: Path) -> None:
    """--exercise --blank grad_input on the first network: the grad_input blocks of adaptive
    max, upsample and adaptive average pooling are answers; a handout filled in right scores
    full marks, one with two wrong cells loses two."""
    from exercise_fill import assert_grades_right_and_wrong, handout_of

    from convsheets.api import build

    handout = tmp_path / "handout.xlsx"
    build(template={**RESAMPLING[0], "backward": True}, output=handout, exercise=True,
          blank="grad_input")
    answers = {b.name for b in handout_of(handout).answers}
    assert {"adaptivemax1_grad_input_c0", "upsample1_grad_input_c1",
            "adaptiveavg1_grad_input_c0"} <= answers, sorted(answers)
    assert_grades_right_and_wrong(handout, tmp_path)


# ---------------------------------------------------------------------------- random, slow
def _random_resampling(seed: int) -> dict[str, object]:
    """A conv, then 2-4 layers drawn from adaptive max / average pooling (output smaller or
    larger than the input), upsample (`test_new_ops._upsample`: every mode, a size or a
    scale_factor up or down, align_corners, recompute_scale_factor) and relu, on integers
    (ties) or normal values; at most 1,500 cells in all."""
    from test_new_ops import _upsample

    rng = np.random.default_rng(900 + seed)
    template: dict[str, object] = {
        "input_size": [int(rng.integers(3, 7)), int(rng.integers(3, 7))],
        "in_channels": int(rng.integers(1, 3)), "seed": seed,
        "values": str(rng.choice(["integers", "normal"])),
        "layers": [{"op": "conv2d", "out_channels": int(rng.integers(1, 3)),
                    "kernel_size": int(rng.integers(1, 3)), "padding": int(rng.integers(0, 2))}]}
    layers: list[dict[str, object]] = template["layers"]  # type: ignore[assignment]
    for _ in range(int(rng.integers(2, 5))):
        _c, h, w = network_from_template(template, "random").output_shape
        op = str(rng.choice(["adaptive_max_pool2d", "adaptive_avg_pool2d", "upsample", "relu"]))
        table = (_upsample(rng, h, w) if op == "upsample" else {"op": op} if op == "relu" else
                 {"op": op, "output_size": [int(rng.integers(1, h + 3)),
                                            int(rng.integers(1, w + 3))]})
        network = network_from_template({**template, "layers": [*layers, table]}, "random")
        if sum(int(np.prod(layer.out_shape)) for layer in network.layers) <= 1500:
            layers.append(table)
    return template


@pytest.mark.slow
def test_random_resampling_networks_equal_autograd_and_sgd_in_every_engine(
        tmp_path: Path) -> None:
    """Ten random networks of the resampling ops (seeded, so every run draws the same): every
    gradient block, the updated weights and loss_after equal PyTorch's in the three engines."""
    networks = [backward(network_from_template(_random_resampling(seed), "random"),
                         lr=float(np.random.default_rng(seed).choice([0.001, 0.01, 0.1])))
                for seed in range(10)]
    ops = {layer.op.op for network in networks for layer in network.layers}
    assert {"adaptive_max_pool2d", "adaptive_avg_pool2d", "upsample"} <= ops
    check_in_engines(networks, tmp_path)
