"""The backward pass: the loss, then every layer's gradients in reverse, as live formulas.

Like `torch.fx.Interpreter` run backwards over the drawn network, `draw_backward` hands each
layer (last first) to the gradient drawer registered for its op class, with the blocks of
dL/d(its output); the drawer adds the layer's gradient sheets and returns dL/d(its input),
which is the previous layer's output gradient (the same cells, under both names). In a graph
the layers are walked in reverse topological order, a join (add, mul, cat) returns the
gradient of each of its inputs, and a tensor several layers read gets the SUM of their
contributions on a sheet of its own (the multivariable chain rule). The chain rule per op
family:

* conv2d: grad_input is the *transposed convolution* of grad_output with the same weights,
  drawn with the transposed variant's own steps (zero insertion, padding, flipped kernels,
  a stride-1 convolution); grad_weight is the correlation of the (padded) input with
  grad_output stretched by the stride; grad_bias the sum of grad_output;
* element-wise ops: cell by cell, the op's slope times grad_output (relu's mask, y·(1 - y) of
  a sigmoid, ...: the op's `grad_cell`); softmax / log_softmax: a sum over the dim first (Σ
  g·y, Σ g: `backprop_softmax.py`), then y·(g - Σ g·y) or g - EXP(y)·Σ g;
* max_pool2d: each window's gradient to the window's first maximum (a "winner" block says
  which tap); avg_pool2d: spread evenly over the window (its divisor).

Every block carries a `Meaning(GRADIENT, layer, kind, index)`; `expected.py` checks each from
the ops' NumPy gradient references (`gradients.py`), never from these index maps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .draw import Drawn
from .draw.conv import upsample_stage
from .guide import COL_TEXT, COL_VALUE, GuideWriter
from .layout import (
    COMPUTED,
    EDIT,
    FIRST_COL,
    GRADIENT,
    STAGE,
    TENSOR,
    Block,
    Label,
    Meaning,
    SheetPlan,
    grid,
    row_block,
    stack,
)
from .network import Layer, LayerNames, Network
from .ops import (
    Add,
    AvgPool2d,
    BatchNorm2d,
    Cat,
    Conv2d,
    ConvTranspose2d,
    Flatten,
    Linear,
    MaxPool2d,
    Merge,
    Mul,
    Op,
)
from .ops._elementwise import Elementwise
from .plan import LayerContext, Plan, channel_list, grid_title, title
from .stages import (
    Conv,
    Formula,
    Gather,
    PerCell,
    Values,
    compose,
    dilate_map,
    flip_map,
    insert_map,
    pad_map,
)
from .tensors import block_names, block_of


@dataclass
class GradContext:
    """One layer's backward drawing: the plan, the layer as drawn forward, its names."""

    plan: Plan
    drawn: Drawn

    @property
    def layer(self) -> Layer:
        return self.drawn.ctx.layer

    @property
    def prefix(self) -> str:
        """Gradient blocks take the layer's tensor prefix: conv1_grad_weight_0_0,
        grad_weight_0_0 in a single-layer workbook."""
        return self.layer.names.tensor

    @property
    def sheet_prefix(self) -> str:
        names = self.layer.names
        if names.sheet:
            return names.sheet + "Grad "
        if names.tensor:  # separable's two unnamed layers: "Depthwise Grad Input"
            return names.tensor.rstrip("_").capitalize() + " Grad "
        return "Grad "

    def add_sheet(self, role: str, note: str) -> SheetPlan:
        return self.plan.add_sheet(self.sheet_prefix + role, note, layer=self.layer.label)

    def meaning(self, kind: str, index: tuple[int, ...] = ()) -> Meaning:
        return Meaning(GRADIENT, self.layer.label, kind, index=index)

    def grad_input_block(self, c: int, shape: tuple[int, int], content: object,
                         rule: str) -> Block:
        """The computed block of dL/d(input channel c), named and aliased by
        `grad_input_names`, titled with its rule (what every single-input drawer returns)."""
        name, aliases = self.grad_input_names(c)
        return Block(name, shape, COMPUTED, content, aliases=aliases,  # type: ignore[arg-type]
                     title=title(name, shape, rule), meaning=self.meaning("grad_input", (c,)))

    def grad_input_names(self, c: int, k: int = 0) -> tuple[str, tuple[str, ...]]:
        """grad_input_c{c} (a join's further inputs: grad_input1_c{c}, ...), also the name of
        the source's grad_output_c{c} when the source is read by this layer alone (the same
        cells, under both names: every layer of a chain); a tensor several layers read gets
        its grad_output as their sum on a sheet of its own (`reader_sum_stage`). A vector
        input's (after a flatten) without the channel, as its forward output: fc1_grad_input."""
        network = self.plan.network
        source = network.sources(network.layers.index(self.layer))[k]
        end = "" if self.layer.flat_input else f"_c{c}"
        aliases: tuple[str, ...] = ()
        if source != "input" and readers(network).get(source, 0) == 1:
            tensor = next(x for x in network.layers if x.label == source).names.tensor
            aliases = (f"{tensor}grad_output{end}",)
        kind = "grad_input" if k == 0 else f"grad_input{k}"
        return f"{self.prefix}{kind}{end}", aliases


    def passed_back(self) -> str:
        """What this layer's grad_input is to the tensor it reads: the whole gradient of the
        previous layer (a tensor read only here), or one share of a sum."""
        network = self.plan.network
        source = network.sources(network.layers.index(self.layer))[0]
        if readers(network).get(source, 0) <= 1:
            return "This is what the previous layer's gradient is."
        what = "the network input" if source == "input" else source
        sheet = "Grad Input" if source == "input" else f"{source} Grad Output"
        return (f"This is one share of the gradient of {what}, which other layers read too: "
                f"the shares add up on the '{sheet}' sheet.")


def readers(network: Network) -> dict[str, int]:
    """How many times each tensor (a layer's output by label, "input") is read by a layer."""
    count: dict[str, int] = {}
    for n in range(len(network.layers)):
        for source in network.sources(n):
            count[source] = count.get(source, 0) + 1
    return count


# "-0.1875" and a margin: gradients, updated weights and the forward pass after the step are
# fractions whatever the input (2·(y - t)/N), and every sheet is laid out for that width so it
# prints on one page once the columns are widened to their numbers
GRADIENT_WIDTH = 8.5

GradDrawer = Callable[[GradContext, list[Block]], list[Block]]
GRADIENT_DRAWERS: dict[type[Op], GradDrawer] = {}


def gradient_of(*classes: type[Op]) -> Callable[[GradDrawer], GradDrawer]:
    """Register the decorated function as the gradient drawer of `classes`."""
    def register(function: GradDrawer) -> GradDrawer:
        for cls in classes:
            GRADIENT_DRAWERS[cls] = function
        return function
    return register


def draw_backward(plan: Plan, drawn: Sequence[Drawn]) -> list[Block]:
    """The Loss sheet, then each layer's gradient sheets, last layer first, then the Update
    sheet (one SGD step) and, for a small network, the forward pass again with the updated
    weights. Returns the gradient of the network input."""
    plan.number_width = GRADIENT_WIDTH
    grads = loss_stage(plan, drawn[-1])
    network = plan.network
    # what each tensor's readers passed back so far: label -> [(reader, input k, blocks)]
    passed: dict[str, list[tuple[str, int, list[Block]]]] = {}
    for n in reversed(range(len(drawn))):
        layer = drawn[n]
        label = layer.ctx.layer.label
        if n < len(drawn) - 1:  # (the last layer's comes from the loss)
            grads = _gradient_of(plan, label, passed[label])
        ctx = GradContext(plan, layer)
        if isinstance(layer.op, Merge):
            per_input = MERGE_GRADIENT_DRAWERS[type(layer.op)](ctx, grads)
        else:
            for cls in type(layer.op).__mro__:
                if cls in GRADIENT_DRAWERS:
                    per_input = [GRADIENT_DRAWERS[cls](ctx, grads)]
                    break
            else:
                raise TypeError(f"no gradient drawer for {type(layer.op).__name__}")
        for k, source in enumerate(network.sources(n)):
            passed.setdefault(source, []).append((label, k, per_input[k]))
    grads = _gradient_of(plan, "input", passed["input"])
    update_stage(plan, drawn)
    _chain_rule(plan)
    return grads


def _chain_rule(plan: Plan) -> None:
    """The Chain Rule sheet (after the Loss sheet): the backward pass step by step per kind
    of layer, as the seed writes its steps (a sheet of its own, so the guide still prints on
    one page)."""
    training = plan.network.training
    assert training is not None
    sheet = SheetPlan("Chain Rule", widths={1: 2, COL_TEXT: 34, COL_VALUE: 9, 4: 9},
                      default_width=12, note="How the gradient sheets compute, in order.")
    at = next(n for n, s in enumerate(plan.sheets) if s.name == "Loss")
    plan.sheets.insert(at, sheet)
    cur = GuideWriter(sheet)
    cur.row = sheet.first_row
    cur.text("The backward pass (--backward)", "cs_title")
    if training.loss == "cross_entropy":
        cur.text("Loss: cross-entropy of the class scores against the yellow target_class on "
                 "the Loss sheet (F.cross_entropy): LN(SUM(EXP(s - max))) + max - s[target], "
                 "minus the log of the target's softmax probability. Its gradient with respect "
                 "to each score is softmax - one_hot(target): grad_output of the last layer.")
    else:
        cur.text("Loss: the mean of (output - target)² over every output cell (F.mse_loss), "
                 "against the yellow target on the Loss sheet. Its gradient with respect to "
                 "each output cell is 2·(y - t)/N: grad_output of the last layer.")
    if plan.network.is_chain:
        cur.text("Then, last layer first, the chain rule: a layer's grad_input is the previous "
                 "layer's grad_output (the same cells, under both names). For each kind of "
                 "layer:")
    else:
        cur.text("Then, last layer first (every layer after all the layers that read it), the "
                 "chain rule: a layer's grad_input is the grad_output of the layer it reads (the "
                 "same cells, under both names, when no other layer reads it). Where the "
                 "forward pass split (one tensor read by several layers), the paths' gradients "
                 "add up (the multivariable chain rule): that tensor's grad_output is the SUM "
                 "of what each reader passed back, on its 'Grad Output' sheet. For each kind "
                 "of layer:")
    seen: set[object] = set()
    for layer in reversed(plan.network.layers):
        steps = layer.op.backward_steps()
        key = (type(layer.op), steps)
        if key in seen:
            continue
        seen.add(key)
        cur.gap()
        cur.text(f"{layer.op.module} ({layer.label})", "cs_heading")
        for n, step in enumerate(steps, 1):
            cur.text(f"{n}. {step}")
    cur.gap()
    cur.text(f"Update: each weight and bias minus learning_rate × its gradient, one step of "
             f"torch.optim.SGD (learning_rate {training.lr:g}, yellow, on the Update sheet).")
    cur.text("Which cells made a gradient cell: select it and use Trace Precedents (every "
             "formula refers to its cells literally). The Explorer sheets follow the forward "
             "windows only: a gradient's 'window' is the whole stretched grad_output, which "
             "Trace Precedents shows better than a copy would.")


# ---------------------------------------------------------------------------- one SGD step
def update_stage(plan: Plan, drawn: Sequence[Drawn]) -> None:
    """The Update sheet: the learning rate (yellow), every weight and bias minus lr × its
    gradient (torch.optim.SGD's step, no momentum), and the loss with the updated weights:
    the forward pass drawn again on sheets of its own (``conv1 New Output``), when the
    network is small enough (`training.RECOMPUTE_LIMIT` cells)."""
    from .build import minimum_cells
    from .draw import draw_layer
    from .training import RECOMPUTE_LIMIT

    training = plan.network.training
    assert training is not None
    cells = minimum_cells(plan.network)
    again = cells <= RECOMPUTE_LIMIT
    sheet = plan.add_sheet(
        "Update", "One step of gradient descent (torch.optim.SGD): each weight and bias minus "
        "learning_rate × its gradient. Change the yellow learning rate: "
        + ("loss_after is the loss recomputed with the updated weights (the forward pass "
           "again, on the New sheets); too large a rate overshoots and the loss goes up."
           if again else f"the loss is not recomputed here: the network has {cells:,} cells, "
           f"more than the {RECOMPUTE_LIMIT:,} up to which the forward pass is drawn again."),
        default_width=5.0)  # its gaps stay narrow (number columns widen to their numbers)
    found = {(b.meaning.layer, b.meaning.kind, b.meaning.index): b for b in plan.blocks()
             if b.meaning is not None and b.meaning.role == GRADIENT}
    rate = Block("learning_rate", (1, 1), EDIT, Values(np.array([[training.lr]])),
                 title="learning_rate (lr)", colour_scale=False,
                 meaning=Meaning(GRADIENT, "", "learning_rate"))
    row = row_block(sheet, rate, top=sheet.first_row)
    outputs: list[Block] = []
    if again and training.loss == "cross_entropy":
        (target,) = [b for b in plan.blocks() if b.meaning is not None
                     and (b.meaning.role, b.meaning.kind) == (TENSOR, "target_class")]
        scores = _after_names(plan.network.layers[-1].names).output + "output"
        row = _cross_entropy(sheet, row, "loss_after", outputs, target,
                             plan.network.output_shape[-1], scores)[1]
    elif again:
        targets = [b for b in plan.blocks() if b.meaning is not None
                   and (b.meaning.role, b.meaning.kind) == (TENSOR, "target")]
        n = plan.tensors["target"].size
        after = Block("loss_after", (1, 1), COMPUTED, Formula(
            lambda block: _mse(block.sheet, outputs, targets, n)),
            colour_scale=False, title="loss_after = the loss with the updated weights",
            meaning=Meaning(GRADIENT, "", "loss_after"))
        row = row_block(sheet, after, top=row)
    updated: dict[str, tuple[list[list[Block]], Block | None]] = {}
    for layer in drawn:
        label = layer.ctx.layer.label
        weights = _trained_weights(plan, layer)
        if weights is None:
            continue
        if not weights and layer.bias is None:  # batch norm without affine: nothing trained
            updated[label] = ([], None)
            continue
        prefix = layer.ctx.layer.names.tensor
        sheet.labels.append(Label(row, FIRST_COL, f"{label}: updated = value - "
                                  "learning_rate × gradient", "cs_group"))
        row += 1
        bias = None
        if layer.bias is not None:
            bias = _updated(f"{prefix}updated_bias", layer.bias, found[(label, "grad_bias", ())],
                            rate, Meaning(GRADIENT, label, "updated_bias"))
            row = row_block(sheet, bias, top=row)
        rows = [[_updated(f"{prefix}updated_weight" + _suffix(w), w,
                          found[(label, "grad_weight", _index(w))], rate,
                          Meaning(GRADIENT, label, "updated_weight", index=_index(w)),
                          short=w.short)
                 for w in line] for line in weights]
        if not rows:
            pass
        elif _index(weights[0][0]):
            row = grid(sheet, rows, [f"{label} {a}" for a in range(len(rows))], top=row) + 1
        else:  # linear's whole out×in matrix, one block
            row = row_block(sheet, rows[0][0], top=row)
        updated[label] = (rows, bias)
    if not again:
        return
    produced = {"input": _network_inputs(plan)}  # each layer's new output, by label
    for index, layer in enumerate(drawn):
        source = layer.ctx.layer
        names = _after_names(source.names)
        ctx = LayerContext(plan, replace(source, names=names),
                           updated.get(source.label))
        before = {id(b) for b in plan.blocks()}
        sources = [b for label in plan.network.sources(index) for b in produced[label]]
        sources = produced[source.label] = draw_layer(ctx, sources).outputs
        for block in plan.blocks():
            if id(block) in before or block.meaning is None:
                continue
            m = block.meaning
            block.meaning = Meaning(GRADIENT, source.label, "after_" + (m.kind or m.role),
                                    index=m.index)
    outputs.extend(sources)


def _trained_weights(plan: Plan, layer: Drawn) -> list[list[Block]] | None:
    """The weight blocks one SGD step updates: a convolution's grid, linear's matrix, batch
    norm's weight row (none without affine: its running statistics are not trained); None
    for a layer without parameters."""
    if isinstance(layer.op, BatchNorm2d):
        found = [b for b in plan.blocks() if b.meaning is not None and b.meaning.role == TENSOR
                 and b.meaning.layer == layer.ctx.layer.label and b.meaning.kind == "weight"]
        return [found] if found else []
    return layer.weights


def _index(weight: Block) -> tuple[int, ...]:
    """The slice of its tensor a weight block shows: (a, b) of a conv's, () of linear's
    whole matrix."""
    assert weight.meaning is not None
    return weight.meaning.index


def _suffix(weight: Block) -> str:
    return "".join(f"_{k}" for k in _index(weight))


def _network_inputs(plan: Plan) -> list[Block]:
    return [b for b in plan.blocks() if b.meaning is not None and b.meaning.role == TENSOR
            and b.meaning.kind == "input"]


def _after_names(names: LayerNames) -> LayerNames:
    """How the forward pass after the step names its blocks: conv1_updated_output_c0,
    updated_output_c0 (a single layer's), sheets ``conv1 New Output``, ``New Output``."""
    return LayerNames(names.tensor + "updated_", names.output + "updated_",
                      names.stage + "updated_", (names.sheet or "") + "New ",
                      tuple((role, "New " + sheet) for role, sheet in names.sheets),
                      tuple(a + "updated_" for a in names.aliases))


def _updated(name: str, value: Block, grad: Block, rate: Block, meaning: Meaning,
             short: str = "") -> Block:
    def cell(here: str, i: int, j: int) -> str:
        return (f"{value.ref(i, j, from_sheet=here)}-"
                f"{rate.ref(0, 0, absolute=True, from_sheet=here)}*"
                f"{grad.ref(i, j, from_sheet=here)}")

    return Block(name, value.shape, COMPUTED, PerCell(cell, _last_cell), short=short,
                 title=grid_title(name, value.shape) if value.shape[0] > 1 else
                 title(name, value.shape), meaning=meaning, colour_scale=value.shape[0] > 1)


def _mse(here: str, outputs: Sequence[Block], targets: Sequence[Block], n: int) -> str:
    """F.mse_loss (mean) of the output blocks against the target blocks, one SUMPRODUCT of
    the differences with themselves per channel."""
    terms = "+".join(f"SUMPRODUCT({y.area(from_sheet=here)}-{t.area(from_sheet=here)},"
                     f"{y.area(from_sheet=here)}-{t.area(from_sheet=here)})"
                     for y, t in zip(outputs, targets, strict=True))
    return f"({terms})/{n}"


# ---------------------------------------------------------------------------- the loss
def loss_stage(plan: Plan, last: Drawn) -> list[Block]:
    """The Loss sheet: the editable target, the loss cell (F.mse_loss, mean) and dL/dy of the
    last layer's output, 2·(y - t)/N per cell (cross_entropy: `cross_entropy_stage`)."""
    training = plan.network.training
    assert training is not None
    if training.loss == "cross_entropy":
        return cross_entropy_stage(plan, last)
    outputs = last.outputs
    target = plan.tensors["target"]
    n = target.size
    sheet = plan.add_sheet("Loss", f"The loss: the mean of (output - target)² over all {n} "
                           "output cells (PyTorch's F.mse_loss). Edit the yellow target. Below, "
                           "its gradient with respect to each output cell, 2·(y - t)/N: where "
                           "the backward pass starts.")
    targets = [Block(name, target.shape[1:], EDIT, Values(block_of(target, idx)),
                     title=title(name, target.shape[1:], "(target)"),
                     meaning=Meaning(TENSOR, "", "target", index=idx))
               for name, idx in block_names("target", target.shape)]

    loss_block = Block("loss", (1, 1), COMPUTED,
                       Formula(lambda block: _mse(block.sheet, outputs, targets, n)),
                       colour_scale=False,
                       title="loss = mean((output - target)²)",
                       meaning=Meaning(GRADIENT, "", "loss"))
    row = row_block(sheet, loss_block, top=sheet.first_row)
    row = stack(sheet, targets, top=row + 1)
    layer = last.ctx.layer
    prefix = layer.names.tensor
    grads = []
    for o, (y, t) in enumerate(zip(outputs, targets, strict=True)):
        name = f"{prefix}grad_output_c{o}"

        def cell(here: str, i: int, j: int, y: Block = y, t: Block = t) -> str:
            return f"2*({y.ref(i, j, from_sheet=here)}-{t.ref(i, j, from_sheet=here)})/{n}"

        grads.append(Block(name, y.shape, COMPUTED, PerCell(cell, _last_cell),
                           title=title(name, y.shape, "= 2·(y - t)/N"),
                           meaning=Meaning(GRADIENT, layer.label, "grad_output", index=(o,))))
    stack(sheet, grads, top=row + 1)
    return grads


def cross_entropy_stage(plan: Plan, last: Drawn) -> list[Block]:
    """The Loss sheet of class scores: the editable target class (a whole number, data
    validated), the loss (F.cross_entropy) by log-sum-exp in visible steps and dL/d(scores)
    = softmax - one_hot(target) as the last layer's grad_output."""
    (scores,) = last.outputs
    n = scores.shape[1]
    layer = last.ctx.layer
    sheet = plan.add_sheet(
        "Loss", f"The loss: cross-entropy of the {n} class scores s ({scores.name}) against the "
        "target class "
        "(PyTorch's F.cross_entropy): LN(SUM of EXP(s - max)) + max - s[target], the minus log "
        "of the target's softmax probability (the largest score is taken out first so EXP "
        "never overflows: the same number). Edit the yellow target class. Below, its gradient "
        "with respect to each score, softmax - one_hot(target): where the backward pass "
        "starts.")
    value = block_of(plan.tensors["target_class"], ())
    target = Block("target_class", (1, 1), EDIT, Values(value), colour_scale=False,
                   title=f"target_class (0 to {n - 1})", validation=(0, n - 1),
                   meaning=Meaning(TENSOR, "", "target_class"))
    row = row_block(sheet, target, top=sheet.first_row)
    exps, row = _cross_entropy(sheet, row + 1, "loss", [scores], target, n, scores.name)
    exp, total = exps
    name = f"{layer.names.tensor}grad_output"

    def cell(here: str, _i: int, j: int) -> str:
        return (f"{exp.ref(0, j, from_sheet=here)}/"
                f"{total.ref(0, 0, absolute=True, from_sheet=here)}-"
                f"IF({target.ref(0, 0, absolute=True, from_sheet=here)}={j},1,0)")

    grad = Block(name, (1, n), COMPUTED, PerCell(cell, _last_cell),
                 title=title(name, (1, n), "= loss_exp / loss_sum - (1 at target_class)"),
                 meaning=Meaning(GRADIENT, layer.label, "grad_output", index=(0,)))
    row_block(sheet, grad, top=row + 1)
    return [grad]


def _cross_entropy(sheet: SheetPlan, top: int, name: str, outputs: list[Block],
                   target: Block, n: int, scores: str,
                   ) -> tuple[tuple[Block, Block], int]:
    """`name`_max, `name`_exp (EXP(s - max), one cell per class: a one-cell
    SUMPRODUCT(EXP(range)) is an array formula Gnumeric gets wrong), `name`_sum and `name`
    itself = LN(sum) + max - INDEX(scores, target + 1), for the scores `outputs[0]` (a list
    filled in later by the Update sheet's forward pass). Returns ((exp, sum), next row)."""
    def gradient(key: str) -> Meaning:
        return Meaning(GRADIENT, "", key)

    biggest = Block(f"{name}_max", (1, 1), COMPUTED, Formula(
        lambda block: f"MAX({outputs[0].area(from_sheet=block.sheet)})"), colour_scale=False,
        title=f"{name}_max = MAX({scores})", meaning=gradient(f"{name}_max"))

    def exp_cell(here: str, _i: int, j: int) -> str:
        return (f"EXP({outputs[0].ref(0, j, from_sheet=here)}-"
                f"{biggest.ref(0, 0, absolute=True, from_sheet=here)})")

    exp = Block(f"{name}_exp", (1, n), COMPUTED, PerCell(exp_cell), colour_scale=False,
                title=title(f"{name}_exp", (1, n), f"= EXP({scores} - {name}_max)"),
                meaning=gradient(f"{name}_exp"))
    total = Block(f"{name}_sum", (1, 1), COMPUTED, Formula(
        lambda block: f"SUM({exp.area(from_sheet=block.sheet)})"), colour_scale=False,
        title=f"{name}_sum = SUM({name}_exp)", meaning=gradient(f"{name}_sum"))
    loss = Block(name, (1, 1), COMPUTED, Formula(
        lambda block: f"LN({total.ref(0, 0, from_sheet=block.sheet)})+"
        f"{biggest.ref(0, 0, from_sheet=block.sheet)}-INDEX("
        f"{outputs[0].area(from_sheet=block.sheet)},1,"
        f"{target.ref(0, 0, from_sheet=block.sheet)}+1)"), colour_scale=False,
        title=f"{name} = LN({name}_sum) + {name}_max - {scores}[target_class]",
        meaning=gradient(name))
    for block in (biggest, exp, total, loss):
        top = row_block(sheet, block, top=top)
    return (exp, total), top


def _last_cell(shape: tuple[int, int]) -> list[tuple[int, int]]:
    return [(shape[0] - 1, shape[1] - 1)]


# ---------------------------------------------------------------------------- conv2d
@gradient_of(Conv2d)
def conv2d_gradient(ctx: GradContext, grads: list[Block]) -> list[Block]:
    """grad_weight and grad_bias, then grad_input as the transposed convolution."""
    _weight_gradient(ctx, grads)
    return _input_gradient(ctx, grads)


def _weight_gradient(ctx: GradContext, grads: list[Block]) -> None:
    """grad_weight[a][b] = the padded input channel b of a's group correlated with grad_output
    a stretched by the stride (stride - 1 zeros between its cells), the windows `dilation`
    apart; grad_bias[a] = SUM(grad_output a)."""
    op = ctx.drawn.op
    assert isinstance(op, Conv2d)
    stretched = grads
    if op.stride != (1, 1):
        stretched = _stretched(ctx, grads, op.stride, (
            f"grad_output with stride - 1 zeros between its cells (stride {op.stride[0]}x"
            f"{op.stride[1]}, orange): each weight met the input every stride cells, so its "
            "gradient correlates the input with this."))
    windowed = ctx.drawn.windowed or ctx.drawn.inputs
    per_in = op.in_channels // op.groups
    per_out = op.out_channels // op.groups
    kh, kw = op.kernel_size
    what = "padded input" if op.padding != (0, 0) else "input"
    sheet = ctx.add_sheet(
        "Weights", f"dL/d(weight)[a][b]: SUMPRODUCT of grad_output channel a (stretched by the "
        f"stride) with each window of the {what} channel its filter read, windows "
        f"{op.dilation[0]}x{op.dilation[1]} (the dilation) apart; dL/d(bias)[a] = SUM of "
        "grad_output channel a. Trace Precedents shows the cells each gradient read.")
    top = _bias_gradient(ctx, sheet, grads, op.bias)
    rows = []
    for a in range(op.out_channels):
        line = []
        g = a // per_out
        for b in range(per_in):
            c = g * per_in + b
            name = f"{ctx.prefix}grad_weight_{a}_{b}"
            line.append(Block(name, (kh, kw), COMPUTED,
                              Conv([windowed[c]], [stretched[a]], None, 0, op.dilation),
                              title=grid_title(name, (kh, kw)), short=f"in {b}",
                              meaning=ctx.meaning("grad_weight", (a, b))))
        rows.append(line)
    grid(sheet, rows, [_filter_label(a, per_in, per_out, op.groups)
                       for a in range(op.out_channels)], top=top)


def _stretched(ctx: GradContext, sources: Sequence[Block], stride: tuple[int, int],
               note: str) -> list[Block]:
    """A Stretched sheet: each source block with stride - 1 zeros between its cells (what a
    weight gradient correlates with: conv2d's grad_output, conv_transpose2d's input)."""
    h, w = sources[0].shape
    return _gathered(ctx, "Stretched", note, sources, "grad_stretched",
                     insert_map(h, stride[0]), insert_map(w, stride[1]), "(zeros inserted)")


def _gathered(ctx: GradContext, role: str, note: str, sources: Sequence[Block], kind: str,
              rows: tuple[object, ...], cols: tuple[object, ...], what: str) -> list[Block]:
    """A sheet of one gather per channel (`{prefix}{kind}_c{c}`, `rows` and `cols` the
    index maps of zero insertion or padding), stacked."""
    sheet = ctx.add_sheet(role, note)
    shape = (len(rows), len(cols))
    blocks = []
    for c, source in enumerate(sources):
        name = f"{ctx.prefix}{kind}_c{c}"
        blocks.append(Block(name, shape, COMPUTED, Gather(source, rows, cols),  # type: ignore[arg-type]
                            title=title(name, shape, what), meaning=ctx.meaning(kind, (c,))))
    stack(sheet, blocks)
    return blocks


def _filter_label(a: int, per_in: int, per_out: int, groups: int) -> str:
    if groups == 1:
        return f"filter {a}"
    g = a // per_out
    return f"filter {a} (input {channel_list(range(g * per_in, (g + 1) * per_in))})"


def _input_gradient(ctx: GradContext, grads: list[Block]) -> list[Block]:
    """grad_input = conv_transpose2d(grad_output, the same weights): the transposed
    variant's steps 1-4 with this layer's kernel, stride, padding and dilation."""
    op = ctx.drawn.op
    assert isinstance(op, Conv2d)
    layer = ctx.layer
    twin = op.transposed_twin(layer.in_shape)
    names = LayerNames(ctx.prefix, ctx.prefix, f"{ctx.prefix}grad_", ctx.sheet_prefix)
    twin_ctx = LayerContext(ctx.plan, Layer(layer.name, twin, layer.out_shape, names))
    upsampled = upsample_stage(twin_ctx, twin, grads, _upsampled_note(op, twin))
    for c, block in enumerate(upsampled):
        block.meaning = ctx.meaning("grad_upsampled", (c,))
    ctx.plan.sheets[-1].layer = layer.label
    kh, kw = op.kernel_size
    weights = ctx.drawn.weights
    assert weights is not None
    per_in, per_out = op.in_channels // op.groups, op.out_channels // op.groups
    flipped = _kernels(ctx, "Flipped", "Each kernel rotated by 180° (rows and columns "
                       "reversed): grad_input is the transposed convolution of grad_output, a "
                       "plain convolution of the upsampled gradient with the flipped kernels.",
                       weights, "grad_flipped", flip_map(kh), flip_map(kw))
    kernels = flipped
    if op.dilation != (1, 1):
        dh, dw = op.dilation
        rows = compose(dilate_map(kh, dh), flip_map(kh))
        cols = compose(dilate_map(kw, dw), flip_map(kw))
        kernels = _kernels(ctx, "Dilated", f"The flipped kernels with dilation {dh}x{dw}: "
                           "dilation - 1 zeros (holes, blue) between taps.", weights,
                           "grad_dilated", rows, cols)
    sheet = ctx.add_sheet(
        "Input", "dL/d(input): the transposed convolution of grad_output with the same "
        "weights: for each input channel, SUMPRODUCT of each window of the upsampled "
        "gradient (stride 1) with the flipped kernels of every filter that read the channel, "
        "summed. " + ctx.passed_back())
    c_in, h, w = layer.in_shape
    dkh, dkw = kernels[0][0].shape
    size = upsampled[0].shape
    if (size[0] - dkh + 1, size[1] - dkw + 1) != (h, w):
        raise AssertionError("grad_input out of step with the input")
    blocks = []
    for c in range(c_in):
        g = c // per_in
        filters = range(g * per_out, (g + 1) * per_out)
        content = Conv([upsampled[a] for a in filters],
                       [kernels[a][c - g * per_in] for a in filters], None, 0, (1, 1))
        blocks.append(ctx.grad_input_block(c, (h, w), content, "= Σ over grad_output "
                                           f"{channel_list(list(filters))} of upsampled ⊛ "
                                           "flipped kernel"))
    stack(sheet, blocks)
    return blocks


def _upsampled_note(op: Conv2d, twin: ConvTranspose2d) -> str | None:
    """The Upsampled sheet's words when the layer pads unevenly (causal, an odd "same"): the
    gradient's zeros differ per side, so the sheet gives each side's count; None (the
    transposed variant's own note) when the layer pads evenly."""
    pads = op.pads()
    if all(before == after for before, after in pads):
        return None
    padded, sides = [], []
    for axis, (first, last) in ((0, ("top", "bottom")), (1, ("left", "right"))):
        if op.dims == 1 and axis == 0:
            continue
        d, k = op.dilation[axis], op.kernel_size[axis]
        (before, after), (zeros_first, zeros_last) = pads[axis], twin.edges(axis)
        skipped = zeros_last - (d * (k - 1) - after)
        padded.append(f"{before} {first}, {after} {last}")
        sides.append(f"{d}·({k}-1) - {before} = {_zeros(zeros_first)} on the {first} and "
                     f"{d}·({k}-1) - {after}" + (f" + {skipped} (what the stride skipped)"
                                                 if skipped else "")
                     + f" = {_zeros(zeros_last)} on the {last}")
    return ("Steps 1-2 of the transposed convolution: grad_output with stride - 1 zeros "
            "between its cells (orange), then padded (grey) with dilation·(k-1) minus the "
            "layer's own padding on each side. The layer padded unevenly ("
            + "; ".join(padded) + "), so its gradient gets " + "; ".join(sides) + ".")


def _zeros(count: int) -> str:
    return f"{count} zero(s)" if count >= 0 else f"{-count} cell(s) cropped"


def _kernels(ctx: GradContext, role: str, note: str, weights: list[list[Block]], kind: str,
             rows: tuple[object, ...], cols: tuple[object, ...]) -> list[list[Block]]:
    """A gather of every kernel (flip, then holes), laid out like the weights."""
    sheet = ctx.add_sheet(role, note)
    shape = (len(rows), len(cols))
    out = []
    for a, line in enumerate(weights):
        row = []
        for b, k in enumerate(line):
            name = f"{ctx.prefix}{kind}_{a}_{b}"
            row.append(Block(name, shape, COMPUTED, Gather(k, rows, cols),  # type: ignore[arg-type]
                             title=grid_title(name, shape), short=k.short,
                             meaning=ctx.meaning(kind, (a, b))))
        out.append(row)
    grid(sheet, out, [f"filter {a}" for a in range(len(out))])
    return out


# ---------------------------------------------------------------------------- conv_transpose2d
@gradient_of(ConvTranspose2d)
def conv_transpose2d_gradient(ctx: GradContext, grads: list[Block]) -> list[Block]:
    """The mirror image of conv2d's: grad_input is a plain (strided, dilated) convolution of
    the padded grad_output with the same, unflipped kernels; grad_weight correlates the
    padded grad_output with the input stretched by the stride."""
    op = ctx.drawn.op
    assert isinstance(op, ConvTranspose2d)
    layer = ctx.layer
    padded = grads
    if op.padding != (0, 0):
        ph, pw = op.padding
        padded = _gathered(
            ctx, "Padded", f"grad_output with {ph} row(s) / {pw} column(s) of zeros around it "
            "(grey): the rows and columns the transposed convolution cropped had no gradient.",
            grads, "grad_padded", pad_map(grads[0].shape[0], ph, ph),
            pad_map(grads[0].shape[1], pw, pw), "(zero-padded)")
    # grad_weight[c][o'] = SUMPRODUCT(window of padded grad_output o, stretched input c)
    stretched = ctx.drawn.inputs
    if op.stride != (1, 1):
        stretched = _stretched(ctx, stretched, op.stride, (
            f"The layer's input with stride - 1 zeros between its cells (stride "
            f"{op.stride[0]}x{op.stride[1]}, orange): each weight met grad_output every stride "
            "cells."))
    per_in, per_out = op.in_channels // op.groups, op.out_channels // op.groups
    kh, kw = op.kernel_size
    sheet = ctx.add_sheet(
        "Weights", "dL/d(weight)[c][o]: SUMPRODUCT of input channel c (stretched by the "
        "stride) with each window of the padded grad_output channel it wrote into, windows "
        f"{op.dilation[0]}x{op.dilation[1]} (the dilation) apart; dL/d(bias)[o] = SUM of "
        "grad_output channel o.")
    top = _bias_gradient(ctx, sheet, grads, op.bias)
    rows_ = []
    for c in range(op.in_channels):
        g = c // per_in
        rows_.append([Block(f"{ctx.prefix}grad_weight_{c}_{b}", (kh, kw), COMPUTED,
                            Conv([padded[g * per_out + b]], [stretched[c]], None, 0,
                                 op.dilation),
                            title=grid_title(f"{ctx.prefix}grad_weight_{c}_{b}", (kh, kw)),
                            short=f"out {b}", meaning=ctx.meaning("grad_weight", (c, b)))
                      for b in range(per_out)])
    grid(sheet, rows_, [f"input channel {c}" for c in range(op.in_channels)], top=top)
    # grad_input: a plain convolution of the padded grad_output, stride and dilation as the
    # layer's, with the kernels as they are (conv2d's layout [out][in/g] is this one's [in])
    weights = ctx.drawn.weights
    assert weights is not None
    kernels = weights
    if op.dilation != (1, 1):
        kernels = _kernels(ctx, "Dilated", f"The kernels with dilation {op.dilation[0]}x"
                           f"{op.dilation[1]}: dilation - 1 zeros (holes, blue) between taps.",
                           weights, "grad_dilated", dilate_map(kh, op.dilation[0]),
                           dilate_map(kw, op.dilation[1]))
    sheet = ctx.add_sheet(
        "Input", "dL/d(input): a plain convolution of the padded grad_output with the same "
        f"kernels (not flipped), stride {op.stride[0]}x{op.stride[1]}: each input pixel "
        "collects grad_output × weight from every cell it wrote into.")
    c_in, h, w = layer.in_shape
    blocks = []
    for c in range(c_in):
        g = c // per_in
        outs = range(g * per_out, (g + 1) * per_out)
        content = Conv([padded[o] for o in outs], [kernels[c][o - g * per_out] for o in outs],
                       None, 0, op.stride)
        blocks.append(ctx.grad_input_block(c, (h, w), content, "= Σ over grad_output "
                                           f"{channel_list(list(outs))} of padded ⊛ kernel"))
    stack(sheet, blocks)
    return blocks


def _bias_gradient(ctx: GradContext, sheet: SheetPlan, grads: list[Block], bias: bool) -> int:
    """dL/d(bias) = SUM of each grad_output channel, one row. Returns the next free row."""
    if not bias:
        return sheet.first_row
    n = len(grads)
    name = f"{ctx.prefix}grad_bias"
    block = Block(name, (1, n), COMPUTED,
                  PerCell(lambda here, i, j: f"SUM({grads[j].area(from_sheet=here)})"),
                  title=title(name, (1, n), "= SUM(grad_output channel)"),
                  meaning=ctx.meaning("grad_bias"), colour_scale=False)
    return row_block(sheet, block, top=sheet.first_row)


# ---------------------------------------------------------------------------- element-wise
@gradient_of(Elementwise)
def elementwise_gradient(ctx: GradContext, grads: list[Block]) -> list[Block]:
    """Cell by cell, the op's derivative times grad_output (`grad_cell`): the mask of a relu,
    y·(1 - y) of a sigmoid, ... The note says why, per op (`grad_note`)."""
    op = ctx.drawn.op
    assert isinstance(op, Elementwise) and op.differentiable
    sheet = ctx.add_sheet("Input", f"dL/d(input) = {op.grad_rule()} with {op.grad_names()}, "
                          f"cell by cell: {op.grad_note()}")
    blocks = []
    for c, (x, y, g) in enumerate(zip(ctx.drawn.inputs, ctx.drawn.outputs, grads, strict=True)):
        def cell(here: str, i: int, j: int, x: Block = x, y: Block = y, g: Block = g) -> str:
            return op.grad_cell(x.ref(i, j, from_sheet=here), g.ref(i, j, from_sheet=here),
                                y.ref(i, j, from_sheet=here))

        blocks.append(ctx.grad_input_block(c, x.shape, PerCell(cell, _last_cell),
                                           f"= {op.grad_rule()}"))
    stack(sheet, blocks)
    return blocks


# ---------------------------------------------------------------------------- batch norm
@gradient_of(BatchNorm2d)
def batch_norm_gradient(ctx: GradContext, grads: list[Block]) -> list[Block]:
    """Evaluation mode, a fixed line per channel: grad_input = g · scale; grad_weight[c] =
    (SUMPRODUCT(g, x) - mean · SUM(g)) / SQRT(var + eps); grad_bias[c] = SUM(g)."""
    op = ctx.drawn.op
    assert isinstance(op, BatchNorm2d)
    label = ctx.layer.label
    found = {b.meaning.kind: b for b in ctx.plan.blocks() if b.meaning is not None
             and b.meaning.layer == label and (b.meaning.role, b.meaning.kind) in (
                 (TENSOR, "running_mean"), (TENSOR, "running_var"), (STAGE, "scale"))}
    mean, var, scale = found["running_mean"], found["running_var"], found["scale"]
    xs = ctx.drawn.inputs
    c = op.num_features
    if op.affine:
        sheet = ctx.add_sheet(
            "Weights", "dL/d(weight)[c]: each cell of channel c was (x - running_mean) / "
            "SQRT(running_var + eps) times the weight, so its gradient is SUMPRODUCT(grad_output"
            ", input) - running_mean · SUM(grad_output), over SQRT(running_var + eps)"
            + ("; dL/d(bias)[c] = SUM of grad_output channel c" if op.shifted else "")
            + ". The running statistics are not trained.")
        top = _bias_gradient(ctx, sheet, grads, op.shifted)
        name = f"{ctx.prefix}grad_weight"

        def weight_cell(here: str, _i: int, k: int) -> str:
            g, x = grads[k].area(from_sheet=here), xs[k].area(from_sheet=here)
            return (f"(SUMPRODUCT({g},{x})-{mean.ref(0, k, from_sheet=here)}*SUM({g}))/"
                    f"SQRT({var.ref(0, k, from_sheet=here)}+{op.epsilon})")

        block = Block(name, (1, c), COMPUTED, PerCell(weight_cell), colour_scale=False,
                      title=title(name, (1, c), "= Σ g·(x - mean) / SQRT(var + eps)"),
                      meaning=ctx.meaning("grad_weight"))
        row_block(sheet, block, top=top)
    sheet = ctx.add_sheet("Input", "dL/d(input) = grad_output × scale of its channel "
                          f"({scale.name}), cell by cell: in evaluation mode each channel is a "
                          "fixed straight line, whose slope is the scale.")
    blocks = []
    for k, g in enumerate(grads):
        def cell(here: str, i: int, j: int, g: Block = g, k: int = k) -> str:
            factor = scale.ref(0, k, absolute=True, from_sheet=here)
            return f"{g.ref(i, j, from_sheet=here)}*{factor}"

        blocks.append(ctx.grad_input_block(k, g.shape, PerCell(cell, _last_cell),
                                           "= g × scale"))
    stack(sheet, blocks)
    return blocks


# ---------------------------------------------------------------------------- vectors
@gradient_of(Linear)
def linear_gradient(ctx: GradContext, grads: list[Block]) -> list[Block]:
    """grad_bias = grad_output; grad_weight = grad_output · inputᵀ (the outer product, an
    out×in matrix as the weight's); grad_input = Wᵀ · grad_output, one MMULT of the
    grad_output row with a column of the weight matrix per input feature (a formula of fixed
    length, whatever the number of outputs)."""
    op = ctx.drawn.op
    assert isinstance(op, Linear)
    (g,) = grads
    (x,) = ctx.drawn.inputs
    assert ctx.drawn.weights is not None
    matrix = ctx.drawn.weights[0][0]
    out, features = op.out_features, op.in_features
    sheet = ctx.add_sheet(
        "Weights", "dL/d(weight): output j read weight (j, i) times input i, so cell (j, i) is "
        "grad_output j × input i (the outer product grad_output · inputᵀ, one row per output "
        "as the weight matrix)" + ("; dL/d(bias) = grad_output (each bias was added once)"
                                   if op.bias else "") + ".")
    top = sheet.first_row
    if op.bias:
        name = f"{ctx.prefix}grad_bias"
        bias = Block(name, (1, out), COMPUTED,
                     PerCell(lambda here, _i, j: g.ref(0, j, from_sheet=here)),
                     title=title(name, (1, out), "= grad_output"),
                     meaning=ctx.meaning("grad_bias"), colour_scale=False)
        top = row_block(sheet, bias, top=top)
    name = f"{ctx.prefix}grad_output_column"
    column = Block(name, (out, 1), COMPUTED,
                   PerCell(lambda here, i, _j: g.ref(0, i, from_sheet=here)),
                   title=f"{name} (grad_output as a column)", colour_scale=False,
                   meaning=ctx.meaning("grad_output_column"))
    top = row_block(sheet, column, top=top)
    name = f"{ctx.prefix}grad_weight"

    def weight_cell(here: str, j: int, i: int) -> str:
        return (f"{column.ref(j, 0, absolute=True, from_sheet=here)}*"
                f"{x.ref(0, i, absolute=True, from_sheet=here)}")

    weight = Block(name, (out, features), COMPUTED, PerCell(weight_cell, _last_cell),
                   title=title(name, (out, features), "= grad_output j × input i"),
                   meaning=ctx.meaning("grad_weight"))
    row_block(sheet, weight, top=top)
    sheet = ctx.add_sheet(
        "Input", "dL/d(input): input i was multiplied by weight (j, i) in every output j, so "
        "its gradient is the sum over j of grad_output j × weight (j, i): MMULT of the "
        "grad_output row with column i of the weight matrix (Wᵀ · grad_output).")
    name, aliases = ctx.grad_input_names(0)
    def input_cell(here: str, _i: int, i: int) -> str:
        row = g.range(0, 0, 1, out, absolute=True, from_sheet=here)
        return f"MMULT({row},{matrix.range(0, i, out, 1, absolute=True, from_sheet=here)})"

    block = Block(name, x.shape, COMPUTED, PerCell(input_cell), aliases=aliases,
                  title=title(name, x.shape, f"= MMULT({g.name}, column i of {matrix.name})"),
                  meaning=ctx.meaning("grad_input", (0,)))
    row_block(sheet, block, top=sheet.first_row)
    return [block]


@gradient_of(Flatten)
def flatten_gradient(ctx: GradContext, grads: list[Block]) -> list[Block]:
    """The grad_output row laid back as channels × height × width (PyTorch's order)."""
    (g,) = grads
    c, h, w = ctx.layer.in_shape
    sheet = ctx.add_sheet(
        "Input", f"dL/d(input): the {c * h * w} gradients of the flat output laid back as "
        f"{c}×{h}×{w}, in the order flatten read them (feature c·{h * w} + i·{w} + j is "
        "channel c, row i, column j). Each cell refers to one grad_output cell.")
    blocks = []
    for channel in range(c):
        def cell(here: str, i: int, j: int, channel: int = channel) -> str:
            return g.ref(0, channel * h * w + i * w + j, from_sheet=here)

        blocks.append(ctx.grad_input_block(channel, (h, w), PerCell(cell),
                                           "(grad_output, channel by channel)"))
    stack(sheet, blocks)
    return blocks


# ---------------------------------------------------------------------------- pooling
@gradient_of(MaxPool2d)
def max_pool_gradient(ctx: GradContext, grads: list[Block]) -> list[Block]:
    """Winners (which tap of each window holds its first maximum), then each input cell
    gathers the gradient of every window it won."""
    op = ctx.drawn.op
    assert isinstance(op, MaxPool2d)
    kh, kw = op.kernel_size
    sheet = ctx.add_sheet("Winners", f"For each output cell, which tap of its {kh}x{kw} window "
                          "holds the maximum (numbered row by row from 0, i·kW + j); on a tie "
                          "the first one, as PyTorch does. Padding never wins.")
    winners = []
    h, w = ctx.layer.in_shape[1:]
    for c, (x, y) in enumerate(zip(ctx.drawn.inputs, ctx.drawn.outputs, strict=True)):
        def cell(here: str, r: int, k: int, x: Block = x, y: Block = y) -> str:
            taps = [(i * kw + j, x.ref(a, b, from_sheet=here))
                    for i, a in _taps(op, 0, r, h) for j, b in _taps(op, 1, k, w)]
            best = y.ref(r, k, from_sheet=here)
            text = str(taps[-1][0])
            for tap, ref in reversed(taps[:-1]):
                text = f"IF({ref}={best},{tap},{text})"
            return text

        name = f"{ctx.prefix}grad_winner_c{c}"
        winners.append(Block(name, y.shape, COMPUTED, PerCell(cell), colour_scale=False,
                             title=title(name, y.shape, "(tap of the maximum)"),
                             meaning=ctx.meaning("grad_winner", (c,))))
    stack(sheet, winners)
    sheet = ctx.add_sheet("Input", "dL/d(input): each input cell receives the grad_output of "
                          "every window whose winner it is, and 0 from the others: "
                          "IF(winner = this tap, g, 0), summed over the windows that cover it.")
    blocks = []
    for c, (x, g, win) in enumerate(zip(ctx.drawn.inputs, grads, winners, strict=True)):
        def cell(here: str, i: int, j: int, g: Block = g, win: Block = win) -> str:
            terms = [f"IF({win.ref(r, k, from_sheet=here)}={ti * kw + tj},"
                     f"{g.ref(r, k, from_sheet=here)},0)"
                     for r, ti in _covering(op, 0, i, g.shape[0])
                     for k, tj in _covering(op, 1, j, g.shape[1])]
            return "+".join(terms) or "0"

        blocks.append(ctx.grad_input_block(c, x.shape, PerCell(cell),
                                           "= Σ IF(winner = tap, g, 0)"))
    stack(sheet, blocks)
    return blocks


@gradient_of(AvgPool2d)
def avg_pool_gradient(ctx: GradContext, grads: list[Block]) -> list[Block]:
    """Each input cell gathers every covering window's gradient over its divisor."""
    op = ctx.drawn.op
    assert isinstance(op, AvgPool2d)
    kh, kw = op.kernel_size
    h, w = ctx.layer.in_shape[1:]
    divisor = (f"{kh * kw} (the window, padding included)" if op.count_include_pad else
               "the number of the window's cells inside the input")
    sheet = ctx.add_sheet("Input", "dL/d(input): each window's gradient spread evenly over its "
                          f"cells, g / {divisor}, summed over the windows that cover the cell.")
    blocks = []
    for c, (x, g) in enumerate(zip(ctx.drawn.inputs, grads, strict=True)):
        def cell(here: str, i: int, j: int, g: Block = g) -> str:
            terms = []
            for r, _ti in _covering(op, 0, i, g.shape[0]):
                for k, _tj in _covering(op, 1, j, g.shape[1]):
                    count = kh * kw if op.count_include_pad else \
                        len(_taps(op, 0, r, h)) * len(_taps(op, 1, k, w))
                    terms.append(f"{g.ref(r, k, from_sheet=here)}/{count}")
            return "+".join(terms) or "0"

        blocks.append(ctx.grad_input_block(c, x.shape, PerCell(cell),
                                           "= Σ g / divisor"))
    stack(sheet, blocks)
    return blocks


def _taps(op: MaxPool2d | AvgPool2d, axis: int, out: int, size: int) -> list[tuple[int, int]]:
    """(tap number, input index) of output position `out`'s window along `axis`, inside."""
    start = out * op.stride[axis] - op.padding[axis]
    step = op.spread[axis]
    return [(t, start + t * step) for t in range(op.kernel_size[axis])
            if 0 <= start + t * step < size]


def _covering(op: MaxPool2d | AvgPool2d, axis: int, index: int, outs: int,
              ) -> list[tuple[int, int]]:
    """(output position, tap number) of every window that covers input `index` on `axis`."""
    found = []
    for out in range(outs):
        for tap, at in _taps(op, axis, out, 10**9):
            if at == index:
                found.append((out, tap))
    return found


# ---------------------------------------------------------------------------- graphs
# A graph's joins (add, mul, cat) pass a gradient to each of their inputs; a tensor that
# several layers read (a residual block's input: the shortcut and the first conv) gets the
# SUM of what each reader passed back, on a "Grad Output" sheet of its own.
MergeGradDrawer = Callable[[GradContext, list[Block]], list[list[Block]]]
MERGE_GRADIENT_DRAWERS: dict[type[Op], MergeGradDrawer] = {}


def merge_gradient_of(*classes: type[Op]) -> Callable[[MergeGradDrawer], MergeGradDrawer]:
    """Register the decorated function as the gradient drawer of the joins `classes`: it
    returns the gradient blocks of each input, in the layer's `inputs` order."""
    def register(function: MergeGradDrawer) -> MergeGradDrawer:
        for cls in classes:
            MERGE_GRADIENT_DRAWERS[cls] = function
        return function
    return register


def _gradient_of(plan: Plan, label: str, passed: list[tuple[str, int, list[Block]]],
                 ) -> list[Block]:
    """The gradient of the tensor `label` (a layer's output, "input"): what its one reader
    passed back (the same cells, already named `label`'s grad_output), or, when several
    layers read it, the SUM of their contributions, drawn on a sheet of its own."""
    if len(passed) == 1:
        return passed[0][2]
    network = plan.network
    passed = passed[::-1]  # (drawn last reader first: list them in the forward order)
    twice = {reader for reader, k, _ in passed if k}  # (a join reads it as input k)
    named = [f"{reader}" + (f" (its input {k})" if k or reader in twice else "")
             for reader, k, _ in passed]
    readers_text = ", ".join(named[:-1]) + " and " + named[-1]
    if label == "input":
        prefix, sheet_name, layer_label, what = "", "Grad Input", "", "The network input"
        flat, kind, meaning_layer = False, "grad_input", ""
    else:
        layer = next(x for x in network.layers if x.label == label)
        prefix, layer_label = layer.names.tensor, label
        sheet_name = layer.names.sheet_name("Grad Output")
        what, flat, kind, meaning_layer = f"The output of {label}", layer.flat, "grad_output", label
    sheet = plan.add_sheet(
        sheet_name, f"{what} is read by {len(passed)} layers: "
        f"{readers_text}. Where the forward pass splits, the gradients add up (the "
        "multivariable chain rule): a change of one of its cells changes the loss through "
        "every path, so dL/d(it) is the SUM of what each reader passed back, cell by cell.",
        layer=layer_label)
    parts = [blocks for _, _, blocks in passed]
    out = []
    for c, terms in enumerate(zip(*parts, strict=True)):
        def cell(here: str, i: int, j: int, terms: tuple[Block, ...] = terms) -> str:
            return "+".join(t.ref(i, j, from_sheet=here) for t in terms)

        name = f"{prefix}{kind}" + ("" if flat else f"_c{c}")
        shape = terms[0].shape
        out.append(Block(name, shape, COMPUTED, PerCell(cell, _last_cell),
                         title=title(name, shape, "= " + " + ".join(t.name for t in terms)),
                         meaning=Meaning(GRADIENT, meaning_layer, kind, index=(c,))))
    stack(sheet, out)
    return out


def _merge_inputs(ctx: GradContext) -> list[list[Block]]:
    """The join's input blocks, one list per input (its `inputs` order)."""
    from .draw.merge import split_sources

    return split_sources(ctx.drawn.ctx, ctx.drawn.inputs)


def _input_blocks(ctx: GradContext, k: int, shapes: list[tuple[int, int]],
                  cell_of: Callable[[int], Callable[[str, int, int], str]],
                  rule_of: Callable[[int], str]) -> list[Block]:
    """Input k's gradient blocks (one per channel c), cells `cell_of(c)(here, i, j)`."""
    blocks = []
    for c, shape in enumerate(shapes):
        name, aliases = ctx.grad_input_names(c, k)
        blocks.append(Block(name, shape, COMPUTED, PerCell(cell_of(c), _last_cell),
                            aliases=aliases, title=title(name, shape, rule_of(c)),
                            meaning=ctx.meaning("grad_input", (k, c))))
    return blocks


@merge_gradient_of(Add, Mul)
def add_mul_gradient(ctx: GradContext, grads: list[Block]) -> list[list[Block]]:
    """add: the first input gets grad_output unchanged, the second alpha times it; mul: each
    input gets grad_output times the other input, cell by cell."""
    op = ctx.drawn.op
    a_blocks, b_blocks = _merge_inputs(ctx)
    a_label, b_label = ctx.layer.inputs
    if isinstance(op, Mul):
        note = (f"dL/d(input): the output is a × b cell by cell (a = {a_label}, b = {b_label}), "
                "so each input's gradient is grad_output times the other input (the product "
                f"rule): {ctx.prefix}grad_input = g × b, {ctx.prefix}grad_input1 = g × a.")
        others = [b_blocks, a_blocks]
        rules = ["= g × b", "= g × a"]
    else:
        assert isinstance(op, Add)
        second = "grad_output unchanged" if op.alpha == 1.0 else f"{op.factor} × grad_output"
        note = (f"dL/d(input): the output is {op.rule()} cell by cell (a = {a_label}, b = "
                f"{b_label}), so the gradient passes to a unchanged ({ctx.prefix}grad_input = "
                f"grad_output) and to b as {second} ({ctx.prefix}grad_input1).")
        others = [[], []]
        rules = ["= grad_output", "= grad_output" if op.alpha == 1.0
                 else f"= {op.factor} × grad_output"]
    sheet = ctx.add_sheet("Input", note)
    out = []
    for k in range(2):
        def cell_of(c: int, k: int = k) -> Callable[[str, int, int], str]:
            g = grads[c]

            def cell(here: str, i: int, j: int) -> str:
                ref = g.ref(i, j, from_sheet=here)
                if others[k]:
                    return f"{ref}*{others[k][c].ref(i, j, from_sheet=here)}"
                if k == 1 and isinstance(op, Add) and op.alpha != 1.0:
                    return f"{op.factor}*{ref}"
                return ref
            return cell

        to = ctx.layer.inputs[k]
        out.append(_input_blocks(ctx, k, [g.shape for g in grads], cell_of,
                                 lambda _c, k=k, to=to: f"{rules[k]} (to {to})"))
    _stack_inputs(ctx, sheet, out)
    return out


def _stack_inputs(ctx: GradContext, sheet: SheetPlan, out: list[list[Block]]) -> None:
    """Every input's gradient blocks in one grid, first input first (each title says whose
    it is), wrapped so the sheet fits a page as a forward join's Output sheet does."""
    stack(sheet, [b for part in out for b in part])


@merge_gradient_of(Cat)
def cat_gradient(ctx: GradContext, grads: list[Block]) -> list[list[Block]]:
    """Each input gets the gradient of its own channels: a live copy of one grad_output
    channel per input channel."""
    parts = _merge_inputs(ctx)
    labels = ctx.layer.inputs
    spans, start = [], 0
    for part in parts:
        spans.append(start)
        start += len(part)
    sheet = ctx.add_sheet(
        "Input", "dL/d(input): torch.cat put the inputs' channels one after another, so each "
        "input gets back the gradient of its own channels: "
        + ", ".join(f"{label} gets grad_output {channel_list(list(range(s, s + len(p))))}"
                    for label, s, p in zip(labels, spans, parts, strict=True))
        + ". Each block is a live copy of one grad_output channel.")
    out = []
    for k, (part, first) in enumerate(zip(parts, spans, strict=True)):
        def cell_of(c: int, first: int = first) -> Callable[[str, int, int], str]:
            g = grads[first + c]
            return lambda here, i, j: g.ref(i, j, from_sheet=here)

        blocks = _input_blocks(ctx, k, [x.shape for x in part], cell_of,
                               lambda c, first=first, k=k: f"= grad_output channel {first + c} "
                               f"(to {labels[k]})")
        out.append(blocks)
    _stack_inputs(ctx, sheet, out)
    return out


# (importing them registers the resampling ops' and softmax's drawers)
from . import backprop_resample, backprop_softmax  # noqa: E402, F401
