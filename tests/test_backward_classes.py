"""--backward --loss cross_entropy: class scores, linear and flatten gradients, checked
against torch.autograd and torch.optim.SGD.

The oracle is `test_backward.torch_training`: the network in torch.nn.functional (float64) on
the numbers the recalculated workbook holds, ``F.cross_entropy`` against its target_class,
``loss.backward()`` and one SGD step. Every gradient block, the loss and loss_after are compared
by name after recalculation in LibreOffice, Gnumeric and IronCalc (one start of each for the
batch, through verify, which also checks each block against the NumPy references and probes
it with random numbers and another target class).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from test_backward import DIFFERENTIABLE, backward, check_in_engines
from test_build_cli import run_main
from test_networks import _layer

from convsheets.errors import ConvsheetsError, SpecError
from convsheets.gradients import cross_entropy_grad, cross_entropy_loss
from convsheets.networks import network_from_template
from convsheets.request import resolve
from convsheets.tensors import random_tensors

CLASSIFIERS = [
    # a strided conv, batch norm, leaky_relu, avg pooling, batch norm without affine, then
    # flatten and linear to 3 classes
    {"input_size": [6, 5], "in_channels": 2, "seed": 5, "values": "normal", "layers": [
        {"op": "conv2d", "out_channels": 3, "kernel_size": 3, "stride": 2, "padding": 1},
        {"op": "batch_norm2d", "eps": 0.01},
        {"op": "leaky_relu", "negative_slope": 0.1},
        {"op": "avg_pool2d", "kernel_size": 2, "stride": 1},
        {"op": "batch_norm2d", "affine": False},
        {"op": "flatten"}, {"op": "linear", "out_features": 3}]},
    # an MLP on small integers: flatten, linear, relu on the vector, linear without bias
    {"input_size": [3, 3], "in_channels": 1, "seed": 2, "layers": [
        {"op": "flatten"}, {"op": "linear", "out_features": 4}, {"op": "relu"},
        {"op": "linear", "out_features": 5, "bias": False}]},
]


def test_classifiers_equal_autograd_and_sgd_in_every_engine(tmp_path: Path) -> None:
    """Two small classifiers: every gradient block, the cross-entropy loss, the updated
    weights and loss_after equal PyTorch's in LibreOffice, Gnumeric and IronCalc."""
    check_in_engines([backward(network_from_template(t, "fixed"), lr=0.1, loss="cross_entropy")
                      for t in CLASSIFIERS], tmp_path)


@pytest.mark.slow
def test_the_digit_classifier_equals_autograd_and_sgd_in_every_engine(tmp_path: Path) -> None:
    """The shipped trained classifier (conv, relu, pool twice, flatten, linear; 10 classes):
    every gradient block, the loss and loss_after (its forward pass is drawn again: under the
    Update sheet's limit) equal PyTorch's in the three engines."""
    network = backward(resolve(template="digit_classifier").network, lr=0.05,
                       loss="cross_entropy")
    check_in_engines([network], tmp_path)
    from convsheets.build import make_plan

    assert "loss_after" in {b.name for b in make_plan(network).blocks()}


def test_cross_entropy_reference_is_pytorchs() -> None:
    """The NumPy reference of the loss and its gradient, against F.cross_entropy and autograd,
    with scores large enough that a naive EXP would overflow."""
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    for scale in (1.0, 400.0):
        scores = rng.standard_normal(7) * scale
        for target in (0, 3, 6):
            s = torch.tensor(scores, requires_grad=True)
            loss = F.cross_entropy(s[None], torch.tensor([target]))
            loss.backward()
            assert np.isclose(cross_entropy_loss(scores.reshape(1, 1, -1), target),
                              loss.item(), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(cross_entropy_grad(scores.reshape(1, 1, -1), target),
                                       s.grad.numpy().reshape(1, 1, -1), rtol=1e-12, atol=1e-12)


def test_the_target_class_cell_and_its_spellings(tmp_path: Path) -> None:
    """CLI --loss cross_entropy, template target = an int, API loss=: the yellow target_class
    cell, data-validated 0..classes-1; the loss and the last layer's gradient named."""
    out = tmp_path / "a.xlsx"
    done = run_main(tmp_path, "build", "--template", "digit_classifier", "--backward",
                    "--loss", "cross_entropy", "-o", str(out))
    assert done.returncode == 0, done.stderr
    wb = openpyxl.load_workbook(out)
    names = set(wb.defined_names)
    for name in ("target_class", "loss", "loss_exp", "loss_sum", "fc1_grad_output",
                 "fc1_grad_weight", "fc1_grad_bias", "fc1_grad_input", "flatten1_grad_output",
                 "flatten1_grad_input_c0", "maxpool2_grad_output_c0", "fc1_updated_weight",
                 "fc1_updated_bias", "loss_after"):
        assert name in names, name
    sheet, cell = next(iter(wb.defined_names["target_class"].destinations))
    rules = [dv for dv in wb[sheet].data_validations.dataValidation
             if cell.replace("$", "") in str(dv.sqref)]
    assert rules and rules[0].type == "whole" and (rules[0].formula1, rules[0].formula2) == \
        ("0", "9")
    network = resolve(template="digit_classifier", options={
        "backward": True, "loss": "cross_entropy", "target": 7}).network
    assert random_tensors(network)["target_class"].tolist() == [7]
    seeded = random_tensors(backward(resolve(template="digit_classifier").network,
                                     loss="cross_entropy"))["target_class"]
    assert seeded.shape == (1,) and 0 <= seeded[0] <= 9
    from convsheets.api import build

    result = build(template="digit_classifier", backward=True, loss="cross_entropy",
                   output=tmp_path / "api.xlsx")
    assert "target_class" in openpyxl.load_workbook(result.path).defined_names


@pytest.mark.parametrize(("options", "message"), [
    ({"loss": "cross_entropy", "target": 10}, "target=10: must be a whole number from 0 to 9"),
    ({"loss": "cross_entropy", "target": 2.5}, "must be a whole number from 0 to 9"),
    ({}, 'use loss = "cross_entropy"'),
])
def test_bad_cross_entropy_requests_are_refused(options: dict[str, object],
                                                 message: str) -> None:
    with pytest.raises(SpecError, match=message.replace("(", r"\(")):
        resolve(template="digit_classifier", options={"backward": True, **options})


def test_cross_entropy_needs_class_scores(tmp_path: Path) -> None:
    done = run_main(tmp_path, "build", "--variant", "basic", "--backward", "--loss",
                    "cross_entropy", "-o", "x.xlsx")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "cross_entropy" in done.stderr and "class scores" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.xlsx").exists()


def test_a_linear_gradient_block_is_an_exercise_that_grades(tmp_path: Path) -> None:
    """--blank grad_weight on a classifier: linear's out×in grad_weight is an answer block;
    a right handout scores full marks, a wrong one loses the wrong cells."""
    from exercise_fill import assert_grades_right_and_wrong, handout_of

    from convsheets.api import build

    template = {**CLASSIFIERS[1], "backward": True, "loss": "cross_entropy"}
    handout = tmp_path / "handout.xlsx"
    build(template=template, output=handout, exercise=True, blank="grad_weight")
    answers = {b.name for b in handout_of(handout).answers}
    assert {"fc1_grad_weight", "fc2_grad_weight", "loss_after"} <= answers, answers
    assert_grades_right_and_wrong(handout, tmp_path)


# ---------------------------------------------------------------------------- random, slow
@st.composite
def classifier(draw: st.DrawFn) -> object:
    """1-3 random differentiable image layers, then flatten, linear (maybe relu, linear)."""
    channels = draw(st.integers(1, 3))
    template: dict[str, object] = {
        "input_size": [draw(st.integers(3, 6)), draw(st.integers(3, 6))],
        "in_channels": channels, "seed": draw(st.integers(0, 10_000)),
        "values": draw(st.sampled_from(["integers", "normal"])), "layers": []}
    tables: list[dict[str, object]] = template["layers"]  # type: ignore[assignment]
    wanted = draw(st.integers(0, 3))
    for op in draw(st.lists(st.sampled_from(DIFFERENTIABLE), min_size=6, max_size=6)):
        if len(tables) == wanted:
            break
        c = network_from_template(template, "r").output_shape[0] if tables else channels
        candidate = _layer(draw, op, c)
        try:
            network_from_template({**template, "layers": [*tables, candidate]}, "r")
        except ConvsheetsError:
            continue
        tables.append(candidate)
    tables.append({"op": "flatten"})
    if draw(st.booleans()):
        tables += [{"op": "linear", "out_features": draw(st.integers(2, 5))}, {"op": "relu"}]
    tables.append({"op": "linear", "out_features": draw(st.integers(2, 6)),
                   "bias": draw(st.booleans())})
    try:
        network = network_from_template(template, "r")
    except ConvsheetsError:
        assume(False)
    assume(sum(int(np.prod(layer.out_shape)) for layer in network.layers) <= 1200)
    return backward(network, lr=draw(st.sampled_from([0.01, 0.1, 1.0])), loss="cross_entropy")


@pytest.mark.slow
@settings(max_examples=1, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(st.lists(classifier(), min_size=8, max_size=8))
def test_random_classifiers_equal_autograd_and_sgd_in_every_engine(batch: list) -> None:
    # distinct networks: Hypothesis's first example is the simplest one, repeated
    assume(len({repr(n.record()) for n in batch}) == len(batch))
    with tempfile.TemporaryDirectory(prefix="convsheets-classes-") as tmp:
        check_in_engines(batch, Path(tmp))


def test_a_linear_layer_of_1000_inputs_has_short_gradient_formulas(tmp_path: Path) -> None:
    """grad_input is one MMULT per input and grad_weight one product per cell: a linear
    layer reading 1,000 features writes no formula near Excel's 8,192 characters."""
    network = resolve(template={
        "input_size": [10, 10], "in_channels": 10, "values": "normal", "backward": True,
        "loss": "cross_entropy", "target": 3, "layers": [
            {"op": "flatten"}, {"op": "linear", "out_features": 12}]}).network
    from convsheets.build import make_plan, write_atomically

    path = tmp_path / "wide.xlsx"
    write_atomically(make_plan(network), path)
    wb = openpyxl.load_workbook(path)
    longest = max(len(c.value) for ws in wb for row in ws.iter_rows() for c in row
                  if isinstance(c.value, str) and c.value.startswith("="))
    assert longest < 200, longest
    assert "fc1_grad_input" in wb.defined_names and "fc1_grad_weight" in wb.defined_names
