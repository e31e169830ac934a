"""What every computed block of a workbook should hold, from NumPy alone.

Given a variant request or a network and its editable tensors (as read back from a workbook),
this computes the expected value of every named computed block:

* each layer's output comes from its op's `reference` (PyTorch semantics, `reference.py`), fed
  the previous layer's *reference* output, never the layout's index arithmetic: a wrong formula
  anywhere upstream shows up at every later output;
* intermediate blocks (padded, upsampled, flipped, dilated) come from the op's `stages`, the
  reference's own pad / zero-insert / crop / flip / dilate helpers, never from the drawing's
  index maps; each block is found by its `Meaning` (layer, stage, index), not its name;
* the guide's live arithmetic from the ops' reference size rules and parameter counts.

Each entry is `Expected(value, structural)`: `structural` marks cells that are constant zeros by
construction (padding, inserted zeros, dilation holes) and so need not be formulas.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from .errors import ConvsheetsError
from .explorer import explore_values
from .gradients import cross_entropy_grad, cross_entropy_loss, mse_grad, mse_loss, reader_sum
from .guide import network_guide_values
from .layout import COMPUTED, GRADIENT, OUTPUT, SELECTION, STAGE, VIEW
from .network import Layer, Network
from .ops import Merge
from .plan import VIEWS, Plan
from .prediction import KIND as PREDICTION
from .prediction import prediction_values
from .receptive import KIND as RECEPTIVE
from .receptive import receptive_values, selected_layer
from .stages import Gather, Values, Zero
from .variants import VARIANTS
from .views import view_values
from .walk import walk_values


@dataclass
class Expected:
    value: np.ndarray  # 2-D, as the block shows it
    structural: np.ndarray | None = None  # bool mask of constant-zero cells
    blank: np.ndarray | None = None  # bool mask of formula cells that show text ("" or a note)
    text: np.ndarray | None = None  # the text those cells show (object array; None: all "")


class Stored(dict[str, np.ndarray]):
    """The value of every computed block by name (NaN where a cell shows text), and in
    `texts` the text those cells show, by block name: what a recalculation gives, stored
    with each formula (`workbook.render`)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.texts: dict[str, np.ndarray] = {}
        # values a block may show besides its own (a view whose selection can change: the
        # layer's input, output and products), for its number format and column width
        self.shows: dict[str, np.ndarray] = {}


def forward(network: Network, t: dict[str, np.ndarray],
            ) -> list[tuple[Layer, np.ndarray, np.ndarray]]:
    """(layer, its input, its output) down the chain (a graph: in the layers' topological
    order, each fed what it reads), by the ops' references. A merge's input is its first
    input's value (its own `reference_many` reads them all)."""
    steps = []
    values = {"input": t["input"]}
    for n, layer in enumerate(network.layers):
        prefix = layer.names.tensor
        local = {name[len(prefix):]: t[name] for name in layer.tensor_shapes()}
        xs = [values[source] for source in network.sources(n)]
        if isinstance(layer.op, Merge):
            y = layer.op.reference_many(xs, local)
        else:
            y = layer.op.reference(xs[0], local)
        steps.append((layer, xs[0], y))
        values[layer.label] = y
    return steps


def layer_outputs(steps: list[tuple[Layer, np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """Every layer's output channels by block name (and alias)."""
    out: dict[str, np.ndarray] = {}
    for layer, _x, y in steps:
        for o in range(y.shape[0]):
            for name in (layer.output_name(o), *layer.output_aliases(o)):
                out[name] = y[o]
    return out


def expected_blocks(source: Network, t: dict[str, np.ndarray],
                    scalars: dict[str, float],
                    guide: Network | None = None,
                    views: Collection[str] = VIEWS,
                    all_views: bool = False) -> dict[str, Expected]:
    """Expected values of every computed block, by defined name.

    `t` holds the tensors by name ("input", "weight", "conv1_bias", ...); `scalars` the
    editable guide cells (the pointwise bottleneck figures); `guide` the request or network
    whose numbers the guide's parameter cells hold, when a probe changed them."""
    from .build import make_plan  # (build stores these values in every workbook it writes)

    plan = make_plan(source, {name: np.asarray(a, dtype=float) for name, a in t.items()},
                     views, all_views=all_views)
    return plan_expected(plan, source, t, scalars, guide)


def stored_values(plan: Plan) -> Stored:
    """The value of every computed block of a plan about to be written, from its own tensors
    and editable guide cells: what a recalculation gives, stored with each formula."""
    source = plan.network
    scalars = {block.name: float(block.content.array[0, 0]) for block in plan.blocks()
               if isinstance(block.content, Values) and block.shape == (1, 1)
               and block.content.array[0, 0] is not None}
    tensors = {name: np.asarray(a, dtype=float) for name, a in plan.tensors.items()}
    stored = Stored()
    steps = forward(plan.network, tensors)
    for name, exp in plan_expected(plan, source, tensors, scalars, steps=steps).items():
        if exp.blank is None:
            stored[name] = exp.value
            continue
        stored[name] = np.where(exp.blank, np.nan, exp.value)
        text = exp.text if exp.text is not None else np.full(exp.value.shape, "", object)
        stored.texts[name] = np.where(exp.blank, text, "")
    _may_show(plan, steps, tensors, stored)
    return stored


def _may_show(plan: Plan, steps: list[tuple[Layer, np.ndarray, np.ndarray]],
              t: dict[str, np.ndarray], stored: Stored) -> None:
    """For each view block whose cells follow a selection (explorer, scatter), a few values
    standing for everything it may show: the layer's input and output, and a product of an
    input value and a weight with the most decimals each, and the largest window sum."""
    by_layer = {layer.label: (layer, x, y) for layer, x, y in steps}
    samples: dict[str, np.ndarray] = {}
    for block in plan.blocks():
        meaning = block.meaning
        if (meaning is None or meaning.role not in (VIEW, SELECTION)
                or meaning.kind not in ("explorer", "scatter", "walk") or block.kind != COMPUTED
                or meaning.layer not in by_layer):
            continue
        if meaning.layer not in samples:
            layer, x, y = by_layer[meaning.layer]
            samples[meaning.layer] = view_samples(layer, x, y, t)
        stored.shows[block.name] = samples[meaning.layer]


def view_samples(layer: Layer, x: np.ndarray, y: np.ndarray,
                 t: dict[str, np.ndarray]) -> np.ndarray:
    """A few values standing for everything a layer's view may show whatever its selection:
    the input's and output's extremes, a value with the most decimals of each, a product of
    an input value and a weight with the most decimals each, the largest window sum."""
    weights = [t[name] for name in layer.tensor_shapes()]
    x_, y_ = x[np.isfinite(x)], y[np.isfinite(y)]
    found = [x_.min(initial=0), x_.max(initial=0), y_.min(initial=0),
             y_.max(initial=0), _most_decimals(x_), _most_decimals(y_)]
    for w in weights:
        w = w[np.isfinite(w)]
        if w.size == 0:
            continue
        found += [_most_decimals(w), _most_decimals(x_) * _most_decimals(w)]
        window = w.size // max(1, w.shape[0]) if w.ndim else 1
        found.append(-np.abs(x_).max(initial=0) * np.abs(w).max() * window)
    return np.array(found, dtype=float)


def _most_decimals(values: np.ndarray) -> float:
    """A value with the most decimals (counted up to 5), for a format that fits them all."""
    flat = values.ravel()
    if flat.size == 0:
        return 0.0
    best = flat[0]
    for places in range(5):
        off = np.abs(np.round(flat, places) - flat) > 1e-12 * np.maximum(1.0, np.abs(flat))
        if not off.any():
            break
        best = flat[off][0]
    return float(best)


def plan_expected(plan: Plan, source: Network, t: dict[str, np.ndarray],
                  scalars: dict[str, float],
                  guide: Network | None = None,
                  steps: list[tuple[Layer, np.ndarray, np.ndarray]] | None = None,
                  ) -> dict[str, Expected]:
    """`expected_blocks` for a plan already made from `source` and the tensors `t`: each
    block by what it means (its `Meaning`), from the op references alone (`steps`: the
    chain's `forward`, when the caller has it)."""
    by_label = {layer.label: (layer, x, y)
                for layer, x, y in (steps if steps is not None else forward(plan.network, t))}
    stages: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}

    def stage(label: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """A layer's stage and its structural zeros: the stage of all-ones tensors is 0
        exactly where the stage inserts a constant zero (padding, insertion, holes)."""
        if (label, kind) not in stages:
            layer, x, _y = by_label[label]
            local = _local(layer, t)
            ones = {name: np.ones_like(a, dtype=float) for name, a in local.items()}
            stages[label, kind] = (layer.op.stages(x, local)[kind],
                                   layer.op.stages(np.ones_like(x, dtype=float), ones)[kind] == 0)
        return stages[label, kind]

    out: dict[str, Expected] = {}
    views: dict[str, set[str]] = {}  # layer -> local keys of its view blocks
    for block in plan.blocks():
        meaning = block.meaning
        assert meaning is not None
        if meaning.role == STAGE:
            value, zero = stage(meaning.layer, meaning.kind)
            out[block.name] = Expected(value[meaning.index], zero[meaning.index])
        elif meaning.role == OUTPUT:
            y = by_label[meaning.layer][2][meaning.index[0]]
            for name in (block.name, *block.aliases):
                out[name] = Expected(y)
        elif meaning.role in (VIEW, SELECTION) and meaning.layer:
            views.setdefault(meaning.layer, set()).add(meaning.key)
    if plan.network.training is not None:
        out.update(backward_expected(plan, t, list(by_label.values()), scalars))
    for block in plan.blocks():  # the overview's live copies of other blocks
        if block.meaning is not None and block.meaning.kind == "overview":
            assert isinstance(block.content, Gather)
            shown = block.content.source
            value = np.asarray(shown.content.array if isinstance(shown.content, Values)
                               else out[shown.name].value, dtype=float)
            out[block.name] = _copied(value, block.content)
    for block in plan.blocks():  # the guide's Prediction block, from the class scores
        if block.meaning is not None and block.meaning.kind == PREDICTION:
            scores = by_label[block.meaning.layer][2]
            out[block.name] = Expected(prediction_values(scores)[block.name])
    lit = [block for block in plan.blocks()
           if block.meaning is not None and block.meaning.kind == RECEPTIVE]
    if lit:  # the receptive-field masks, for the explorer's selection the file holds
        top = plan.network.layers[selected_layer(plan.network)]  # type: ignore[index]
        masks = receptive_values(plan.network, t, selection(top.names.tensor, scalars,
                                                            top.out_shape))
        for block in lit:
            out[block.name] = Expected(masks[block.name][None, :] if masks[block.name].ndim
                                       == 1 else masks[block.name])
    for name, value in guide_values(source, guide, scalars).items():
        out[name] = Expected(np.array([[float(value)]]))
    for label, keys in views.items():
        layer, x, y = by_label[label]
        if "explore_sum" in keys:
            out.update(explorer_expected(layer, x, t, y, scalars))
        if "walk_step" in keys:
            out.update(walk_expected(layer, x, t, y, scalars))
        out.update(view_expected(layer, x, t, y, scalars, keys))
    unchecked = [block.name for block in plan.blocks()
                 if block.kind == COMPUTED and block.name not in out]
    if unchecked:  # a new kind of computed block needs its expected value here
        raise AssertionError(f"no expected value for computed block(s) {unchecked[:3]}")
    return out


# the backward stages that are gathers (their constant zeros are structural)
GATHERED = ("grad_stretched", "grad_upsampled", "grad_flipped", "grad_dilated", "grad_padded")


def backward_chain(steps: list[tuple[Layer, np.ndarray, np.ndarray]],
                   t: dict[str, np.ndarray]) -> tuple[float, dict[str, dict[str, np.ndarray]]]:
    """The loss and, by layer label, every gradient the backward sheets show: grad_output,
    grad_input, grad_weight, grad_bias (the ops' `backward`, torch.autograd's rules) and the
    drawn intermediate steps (`backward_stages`) with, for gathers, their structural zeros
    (``zero:<kind>``: where the step of all-ones tensors is 0)."""
    y = steps[-1][2]
    if "target_class" in t:  # cross_entropy against a class
        target = int(round(float(np.asarray(t["target_class"]).reshape(-1)[0])))
        loss, g = cross_entropy_loss(y, target), cross_entropy_grad(y, target)
    else:
        loss, g = mse_loss(y, t["target"]), mse_grad(y, t["target"])
    found: dict[str, dict[str, np.ndarray]] = {}
    values = {"input": np.asarray(t["input"], dtype=float)}
    sources = []
    for n, (layer, _x, y) in enumerate(steps):
        sources.append(layer.inputs or ((steps[n - 1][0].label,) if n else ("input",)))
        values[layer.label] = y
    passed: dict[str, list[np.ndarray]] = {}  # what each tensor's readers passed back
    for n in reversed(range(len(steps))):
        layer, x, _y = steps[n]
        if n < len(steps) - 1:  # a tensor several layers read: the sum of their gradients
            g = reader_sum(passed[layer.label])
        local = _local(layer, t)
        if isinstance(layer.op, Merge):
            grad_xs = layer.op.backward_many([values[s] for s in sources[n]], local, g)
            found[layer.label] = {"grad_output": g, "grad_input": grad_xs}
        else:
            grad_x, grads = layer.op.backward(x, local, g)
            grad_xs = [grad_x]
            entry = {"grad_output": g, "grad_input": grad_x,
                     **{f"grad_{name}": value for name, value in grads.items()}}
            entry.update(layer.op.backward_stages(x, local, g))
            ones = layer.op.backward_stages(np.ones_like(x), {n: np.ones_like(a, dtype=float)
                                                              for n, a in local.items()},
                                            np.ones_like(g))
            entry.update({f"zero:{kind}": value == 0 for kind, value in ones.items()
                          if kind in GATHERED})
            found[layer.label] = entry
        for source, grad_x in zip(sources[n], grad_xs, strict=True):
            passed.setdefault(source, []).append(grad_x)
    found[""] = {"grad_input": reader_sum(passed["input"])}  # the network input's
    return loss, found


def backward_expected(plan: Plan, t: dict[str, np.ndarray],
                      steps: list[tuple[Layer, np.ndarray, np.ndarray]],
                      scalars: dict[str, float]) -> dict[str, Expected]:
    """Every block of the backward pass (role GRADIENT), by its meaning."""
    loss, found = backward_chain(steps, t)
    rate = scalars.get("learning_rate", float(plan.network.training.lr))  # type: ignore[union-attr]
    updated = dict(t)  # one SGD step: each parameter minus lr × its gradient
    for layer, _x, _y in steps:
        for local in layer.op.tensor_shapes():
            if f"grad_{local}" not in found[layer.label]:
                continue  # batch norm's running statistics: not trained
            name = layer.names.tensor + local
            updated[name] = t[name] - rate * found[layer.label][f"grad_{local}"]
    after = forward(plan.network, updated)
    by_label = {layer.label: (layer, x, y) for layer, x, y in after}
    for layer, _x, _y in steps:
        entry = found[layer.label]
        for local in layer.op.tensor_shapes():
            if f"grad_{local}" in entry:
                entry[f"updated_{local}"] = updated[layer.names.tensor + local]
        _, x, y = by_label[layer.label]
        entry["after_output"] = y
        local_t = _local(layer, updated)
        entry.update({f"after_{kind}": value
                      for kind, value in layer.op.stages(x, local_t).items()})
        ones = layer.op.stages(np.ones_like(x), {n: np.ones_like(a, dtype=float)
                                                 for n, a in local_t.items()})
        entry.update({f"zero:after_{kind}": value == 0 for kind, value in ones.items()})
    if "target_class" in t:
        target = int(round(float(np.asarray(t["target_class"]).reshape(-1)[0])))
        scalars_out = {**_log_sum_exp("loss", steps[-1][2]), "loss": loss,
                       **_log_sum_exp("loss_after", after[-1][2]),
                       "loss_after": cross_entropy_loss(after[-1][2], target)}
    else:
        scalars_out = {"loss": loss, "loss_after": mse_loss(after[-1][2], t["target"])}
    out: dict[str, Expected] = {}
    for block in plan.blocks():
        m = block.meaning
        if m is None or m.role != GRADIENT:
            continue
        if m.kind in scalars_out:
            value = np.atleast_2d(np.asarray(scalars_out[m.kind], dtype=float))
        elif m.kind not in found.get(m.layer, {}):
            continue
        else:
            value = found[m.layer][m.kind]
            if isinstance(value, list):  # a join's inputs: index (input k, channel c)
                value = value[m.index[0]]
                value = value.reshape(1, -1) if value.ndim == 1 else value[m.index[1:]]
            else:
                value = value.reshape(1, -1) if value.ndim == 1 else value[m.index]
        zero = found.get(m.layer, {}).get(f"zero:{m.kind}")
        mask = zero[m.index] if zero is not None else None
        for name in (block.name, *block.aliases):
            out[name] = Expected(np.asarray(value, dtype=float),
                                 mask if mask is not None and mask.any() else None)
    return out


def _log_sum_exp(name: str, scores: np.ndarray) -> dict[str, object]:
    """The visible steps of cross-entropy's log-sum-exp: the largest score, each score's EXP
    after taking it out, their sum (the loss itself: `gradients.cross_entropy_loss`)."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    top = s.max()
    exp = np.exp(s - top)
    return {f"{name}_max": top, f"{name}_exp": exp.reshape(1, -1), f"{name}_sum": exp.sum()}


def _copied(value: np.ndarray, copy: Gather) -> Expected:
    """A live copy of (part of) a block, its structural zeros kept as constant zeros."""
    zero_r = np.array([isinstance(i, Zero) for i in copy.row_map], dtype=bool)
    zero_c = np.array([isinstance(j, Zero) for j in copy.col_map], dtype=bool)
    rows = [0 if isinstance(i, Zero) else i for i in copy.row_map]
    cols = [0 if isinstance(j, Zero) else j for j in copy.col_map]
    structural = zero_r[:, None] | zero_c[None, :]
    picked = np.where(structural, 0.0, value[np.ix_(rows, cols)])
    return Expected(picked, structural if structural.any() else None)


def _local(layer: Layer, t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A layer's tensors by local name (weight, bias)."""
    prefix = layer.names.tensor
    return {name[len(prefix):]: t[name] for name in layer.tensor_shapes()}


def selection(prefix: str, scalars: dict[str, float], out_shape: tuple[int, int, int],
              ) -> tuple[float, float, float, bool]:
    """The output position an explorer shows, as its formulas decide it: a step number (the
    n-th cell in channel, row, column order) overrides the three coordinates."""
    channels, oh, ow = out_shape
    step = scalars.get(f"{prefix}explore_step")
    if step is not None and step == step:
        c, r, k = step // (oh * ow), (step % (oh * ow)) // ow, step % ow
    else:
        c, r, k = (scalars.get(f"{prefix}explore_{key}", 0.0) for key in ("channel", "row", "col"))
    valid = all(float(v).is_integer() and 0 <= v < n
                for v, n in ((c, channels), (r, oh), (k, ow)))
    return c, r, k, valid


def explorer_expected(layer: Layer, x: np.ndarray, t: dict[str, np.ndarray], y: np.ndarray,
                      scalars: dict[str, float]) -> dict[str, Expected]:
    """Every explorer block of one layer for the selection the file holds; an invalid
    selection shows blank cells and a message (not an error)."""
    prefix = layer.names.tensor
    c, r, k, valid = selection(prefix, scalars, y.shape)  # type: ignore[arg-type]
    out = {f"{prefix}explore_used_channel": c, f"{prefix}explore_used_row": r,
           f"{prefix}explore_used_col": k, f"{prefix}explore_valid": float(valid)}
    found = {name: Expected(np.array([[float(v)]])) for name, v in out.items()}
    local = {name[len(prefix):]: t[name] for name in layer.tensor_shapes()}
    values = explore_values(layer.op, x, local, y, int(c), int(r), int(k)) if valid else None
    template = explore_values(layer.op, x, local, y, 0, 0, 0)  # which blocks, which shapes
    for name, shape_of in template.items():
        value = values[name] if values is not None else np.full(shape_of.shape, np.nan)
        value = np.asarray(value, dtype=float)
        found[prefix + name] = Expected(np.nan_to_num(value), blank=np.isnan(value))
    channels, oh, ow = y.shape
    texts = {"explore_message": "" if valid else (
        f"This position is outside the output: channel 0-{channels - 1}, row 0-{oh - 1}, "
        f"column 0-{ow - 1} (0-based)"),
        "explore_agree": "equal" if valid else ""}  # the total is the output (reference)
    for name, text in texts.items():
        found[prefix + name] = Expected(np.zeros((1, 1)), blank=np.ones((1, 1), bool),
                                        text=np.array([[text]], dtype=object))
    return found


def walk_expected(layer: Layer, x: np.ndarray, t: dict[str, np.ndarray], y: np.ndarray,
                  scalars: dict[str, float]) -> dict[str, Expected]:
    """Every Walk block of one layer, for the output cell its explorer uses."""
    prefix = layer.names.tensor
    c, r, k, valid = selection(prefix, scalars, y.shape)  # type: ignore[arg-type]
    found = {}
    for name, value in walk_values(layer.op, x, _local(layer, t), y, c, r, k, valid).items():
        blank = np.isnan(value)
        found[prefix + name] = Expected(np.nan_to_num(value), blank=blank if blank.any()
                                        else None)
    return found


def view_expected(layer: Layer, x: np.ndarray, t: dict[str, np.ndarray], y: np.ndarray,
                  scalars: dict[str, float], shown: set[str]) -> dict[str, Expected]:
    """The matrix and scatter views of one layer (`shown`: the local keys of the blocks the
    workbook has), from its op's reference."""
    prefix = layer.names.tensor
    local = _local(layer, t)
    found = {}
    for name, (value, mask) in view_values(
            layer.op, x, local, y, lambda key: scalars.get(prefix + key, 0.0), shown).items():
        if name in shown:
            value = np.asarray(value, dtype=float)
            blank = np.isnan(value)
            found[prefix + name] = Expected(np.nan_to_num(value), mask,
                                            blank if blank.any() else None)
    return found


def guide_values(source: Network, guide: Network | None,
                 scalars: dict[str, float]) -> dict[str, float]:
    """The guide's formula cells: output size and parameter count of the layer its
    parameter table shows (a variant) or the chain's shapes (a network)."""
    shown = guide if guide is not None else source
    if shown.request is None:
        if "input_height" in scalars:  # the guide's what-if input size, as the file holds it
            size = (scalars["input_height"], scalars["input_width"])
            if not all(float(v).is_integer() for v in size):
                raise ValueError(f"the guide's input size {size[0]}x{size[1]} is not whole")
            try:
                shown = shown.with_input_size((int(size[0]), int(size[1])))
            except ConvsheetsError as exc:
                raise ValueError(f"the guide's input size {int(size[0])}x{int(size[1])} does "
                                 f"not fit this network ({exc})") from exc
        return network_guide_values(shown, shown.input_shape)
    network, request = shown, shown.request
    h, w = shown.input_size
    for layer in network.layers:
        h, w = layer.op.reference_size(0, h), layer.op.reference_size(1, w)
    values: dict[str, float] = {"output_height": h, "output_width": w,
                                "parameter_count": network.parameter_count()}
    variant = VARIANTS[request.variant]
    if variant.expected_more is not None:
        values.update(variant.expected_more(request, scalars))
    return values
