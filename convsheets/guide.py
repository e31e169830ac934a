"""The guide sheet: what the workbook computes, the seed's steps, the arithmetic with this
workbook's numbers (as live formulas), a colour legend and an index of the other sheets.

Two kinds of guide, one writer: a variant's (its parameter table `param_*`, output size and
parameter count, as the first release had them) and a network's (the chain as a table whose
output shapes and parameter counts are live formulas down the chain). Every formula cell is a
named block like any other, so `verify` checks the guide too.
"""

from __future__ import annotations

import dataclasses
import math
import re
import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np

from .budget import ALL_VIEWS
from .layout import COMPUTED, EDIT, GUIDE, PARAM, Block, Label, Meaning, SheetPlan
from .network import Layer, Network
from .ops import Cat, Merge, Op
from .plan import Plan
from .spec import LayerSpec
from .stages import Formula, Values
from .tensors import block_names
from .variants import VARIANTS
from .workbook import ROUNDING_NOTE

COL_TEXT, COL_VALUE = 2, 3  # text in B, values in C (and D for the width axis of pairs)
TEXT_WIDTH = 110  # characters per guide line

LEGEND = (("cs_edit", 3, "editable input, weight or bias: change it and watch the sheets "
           "recompute"),
          ("cs_computed", 7, "live formula, on every sheet one colour scale: purple below 0, "
           "white at 0, green above (each block its own range, so each channel shows its own "
           "pattern; --colour-scale tensor: one range per tensor)"),
          ("cs_pad", 0, "padding zero"),
          ("cs_mirror", 1, "padding that repeats an input cell (padding_mode reflect, replicate "
           "or circular): a reference to the cell it mirrors, clamps to or wraps around to"),
          ("cs_insert", 0, "zero inserted between pixels (transposed convolution)"),
          ("cs_hole", 0, "hole of a dilated kernel"),
          ("cs_struct", 0, "structural zero of a matrix view (no kernel tap joins the two)"),
          ("cs_cropped", 5, "computed, then cropped by the padding (the Scatter sheet's canvas)"),
          ("cs_param", 2, "layer parameter fixed by the build (rebuild to change it)"))
ZERO_STYLES = {"cs_pad", "cs_mirror", "cs_insert", "cs_hole", "cs_struct",
               "cs_cropped"}  # shown only when used


def first_sentence(text: str, width: int) -> str:
    """The note's first sentence, whole when it fits two lines of `width` characters, else up
    to the last clause (a comma, colon, semicolon or bracket) that does: never cut mid-word,
    never an ellipsis."""
    sentence = text.split(". ")[0].rstrip(".") if text else ""
    room = 2 * width - 4  # (wrapping loses a few characters at the line ends)
    if len(sentence) <= room:
        return sentence
    cut = max((sentence.rfind(mark, 0, room) for mark in (", ", ": ", "; ", " (")),
              default=-1)
    return sentence[:cut] if cut > 0 else textwrap.wrap(sentence, room)[0]


def sheet_index(sheets: list[SheetPlan], width: int) -> list[tuple[str, str]]:
    """The guide's index: per sheet its note's first sentence (the note says the rest). In a
    network the sheets of one kind (every layer's Explorer, Walk, Output ...) whose sentences
    differ only in numbers share one row, the kind and then the layers, each differing number
    written a/b/c in their order: wavenet's index of 34 sheets took a page of its own."""
    rows: list[tuple[str, list[str], list[str]]] = []  # (kind or sheet, layers, sentences)
    where: dict[tuple[str, str], int] = {}
    for other in sheets:
        sentence = first_sentence(other.clip_note if other.clip_note is not None
                                  else other.note, width)
        layer = other.layer
        if layer and other.name.startswith(layer + " ") and layer not in sentence:
            kind = other.name[len(layer) + 1:]
            key = (kind, _masked(sentence))
            if key in where:
                rows[where[key]][1].append(layer)
                rows[where[key]][2].append(sentence)
                continue
            where[key] = len(rows)
            rows.append((kind, [layer], [sentence]))
        else:
            rows.append((other.name, [], [sentence]))
    index = []
    for kind, layers, sentences in rows:
        if len(layers) <= 1:
            index.append((f"{layers[0]} {kind}" if layers else kind, sentences[0]))
            continue
        merged = _merged(sentences)
        numbers = " (numbers a/b/...: each layer's, in this order)" if len(set(sentences)) > 1 \
            else ""
        index.append((kind, f"{', '.join(layers)}{numbers}: {merged}"))
    return index


class GuideWriter:
    """Writes the guide top to bottom: paragraphs, and named one-cell blocks beside labels."""

    def __init__(self, sheet: SheetPlan, exercise: bool = False) -> None:
        self.sheet, self.row = sheet, 1
        self.exercise = exercise  # an exercise handout: the yellow cells are not to be edited

    def edit_hint(self, normal: str) -> None:
        """The guide's line about the yellow cells (a handout's asks to leave them alone)."""
        self.text("The yellow cells are your numbers (leave them as they are). Grey, orange and "
                  "blue cells (where present) are structural zeros." if self.exercise else
                  normal, "cs_title")

    def text(self, value: str, style: str = "cs_label", col: int = COL_TEXT,
             width: int = TEXT_WIDTH) -> None:
        """Write a paragraph, wrapped so it stays inside the printed page."""
        for line in textwrap.wrap(value, width) or [""]:
            self.sheet.labels.append(Label(self.row, col, line, style))
            self.row += 1

    def gap(self) -> None:
        self.row += 1

    def label(self, col: int, value: object, style: str = "cs_label") -> None:
        self.sheet.labels.append(Label(self.row, col, value, style))

    def place(self, block: Block, col: int) -> Block:
        block.place(self.sheet.name, self.row, col)
        self.sheet.blocks.append(block)
        return block

    def block(self, label: str, block: Block, col: int = COL_VALUE, note: str = "") -> Block:
        self.label(COL_TEXT, label)
        self.place(block, col)
        if note:
            self.label(col + 2, note, "cs_note")
        self.row += 1
        return block

    @staticmethod
    def scalar(name: str, kind: str, value: object) -> Block:
        return Block(name, (1, 1), kind, Values(np.array([[value]])), colour_scale=False,
                     meaning=Meaning(GUIDE, key=name))

    @staticmethod
    def formula(name: str, make: str | Callable[[Block], str], style: str | None = None,
                ) -> Block:
        content = Formula(make if callable(make) else (lambda _here, text=make: text))
        return Block(name, (1, 1), COMPUTED, content, colour_scale=False, style=style,
                     meaning=Meaning(GUIDE, key=name))


def add_guide(plan: Plan) -> None:
    """Insert the guide as the first sheet of `plan` (the other sheets must already exist)."""
    network = plan.network
    sheet = SheetPlan("Guide", widths={1: 2, COL_TEXT: 34, COL_VALUE: 9, 4: 9}, note="")
    if network.is_network:  # (column B holds the layers' and, in the index, sheets' names)
        longest = max(len(other.name) for other in plan.sheets)
        sheet.widths = {**NET_WIDTHS, 2: float(max(NET_WIDTHS[2], min(20, longest + 1)))}
    sheet.default_width = 12
    plan.sheets.insert(0, sheet)
    cur = GuideWriter(sheet, exercise=bool(plan.intro))
    for text, style in plan.intro:  # an exercise: what to fill in, and for whom
        cur.text(text, style) if text else cur.gap()
    if plan.spec is not None:
        _variant_guide(cur, plan.spec, network)
    else:
        _network_guide(cur, network)
    for part in plan.guide_parts:
        part(cur)
    if plan.notes:
        cur.gap()
        cur.text("Views left out", "cs_title")
        for note in plan.notes:
            cur.text(note)
        by_budget = [note for note in plan.notes if ALL_VIEWS in note]
        if by_budget and len(by_budget) < len(plan.notes):
            cur.text(f"{ALL_VIEWS.split(' ')[0]} adds only the views left out by default; the "
                     "others listed here stay out whatever the options.", "cs_note")
    if network.origins:
        cur.gap()
        cur.text("Where the numbers come from", "cs_title")
        for tensor, origin in network.origins.items():
            seeded = set(network.source_shapes()) - set(network.given)
            cur.text(f"{tensor}: {origin}; everything else from seed {network.seed}."
                     if tensor == "input" and seeded else f"{tensor}: {origin}.")
    cur.gap()
    cur.text("Colours", "cs_title")
    used = set().union(*(layer.op.zero_styles(layer.in_shape) for layer in network.layers),
                       plan.legend)
    # the legend's text starts in column E: as wide as the guide's text from there
    legend_width = TEXT_WIDTH - int(sum(sheet.col_width(c) for c in range(1, COL_VALUE + 2)))
    for style, value, meaning in LEGEND:
        if style in ZERO_STYLES and style not in used:
            continue  # only the colours this workbook uses
        if style == "cs_computed" and plan.colour_scale == "tensor":
            meaning = ("live formula (one colour scale per tensor: all channels of a stage "
                       "share its range, so equal values look equal): on every sheet purple "
                       "below 0, white at 0, green above")
        sheet.labels.append(Label(cur.row, COL_VALUE, value, style))
        cur.text(meaning, col=COL_VALUE + 2, width=legend_width)
    if plan.intro:  # an exercise's answer cells
        sheet.labels.append(Label(cur.row, COL_VALUE, None, "cs_answer"))
        cur.text("your answer: type a number, or write a formula", col=COL_VALUE + 2,
                 width=legend_width)
    cur.text(ROUNDING_NOTE, "cs_note")
    cur.gap()
    cur.text("Sheets", "cs_title")
    width = TEXT_WIDTH - int(sheet.col_width(COL_TEXT))  # (the text starts in column C)
    for name, text in sheet_index(plan.sheets[1:], width):
        sheet.labels.append(Label(cur.row, COL_TEXT, name, "cs_label"))
        cur.text(text, col=COL_VALUE, width=width)
    cur.gap()
    weighted = [layer for layer in network.layers if layer.op.has_parameters]
    kernel = ""  # the first weight's first block: weight_0_0, or fc1_weight (a matrix)
    for layer in weighted:
        shapes, weight = layer.tensor_shapes(), layer.names.tensor + "weight"
        if weight in shapes:
            kernel = next(block_names(weight, shapes[weight]))[0] + ", "
            break
    last = network.layers[-1]
    example = ("input_c0, weight_0_0, output_c0" if not network.is_network else
               f"input_c0, {kernel}{network.layers[0].output_name(0)}, "
               f"{last.output_aliases(0)[0] if last.output_aliases(0) else 'output_c0'} "
               "(the last layer's output)")
    cur.text("Every block has a workbook-scope defined name (Formulas > Name Manager), e.g. "
             f"{example}. The command convsheets verify FILE recomputes "
             "everything in a spreadsheet application and compares it with NumPy.", "cs_note")


# ---------------------------------------------------------------------------- variants
def _variant_guide(cur: GuideWriter, spec: LayerSpec, network: Network) -> None:
    variant = VARIANTS[spec.variant]
    cur.text(f"convsheets: {spec.variant} convolution", "cs_heading")
    cur.text(variant.summary[0].upper() + variant.summary[1:] + ".")
    cur.text(f"PyTorch: {variant.torch}", "cs_note")
    cur.edit_hint("Edit the yellow cells on any sheet: every formula downstream recomputes. "
                  "Grey, orange and blue cells (where present) are structural zeros.")
    cur.gap()
    cur.text("Steps", "cs_title")
    for n, step in enumerate(variant.steps, 1):
        cur.text(f"{n}. {step}")
    cur.gap()
    params = _parameters_table(cur, spec, network)
    cur.gap()
    _arithmetic(cur, spec, network, params)
    if variant.guide_extra is not None:
        variant.guide_extra(cur, spec)


def parameter_rows(spec: LayerSpec) -> list[tuple[str, str, object]]:
    """(key, label, value) of a variant guide's parameter table; pairs are (height, width)."""
    variant = VARIANTS[spec.variant]
    first = spec.network().layers[0].op
    rows: list[tuple[str, str, object]] = [
        ("in_channels", "input channels C", spec.in_channels),
        ("out_channels", "output channels O", spec.out_channels),
        ("input", "input size H, W", spec.input_size),
        ("kernel", "kernel size kH, kW", spec.kernel_size),
        ("stride", "stride s", spec.stride),
        ("padding", "padding p", spec.padding),
        ("dilation", "dilation d", spec.dilation),
    ]
    if "output_padding" in variant.honoured:
        rows.append(("output_padding", "output padding", spec.output_padding))
    rows.append(("groups", "groups g" + variant.groups_label, getattr(first, "groups", 1)))
    if "depth_multiplier" in variant.honoured:
        rows.append(("depth_multiplier", "depth multiplier m", spec.depth_multiplier))
    rows.append(("bias", "bias (1 = yes, 0 = no)", int(spec.bias)))
    return rows


def parameter_cells(spec: LayerSpec) -> dict[str, int]:
    """The parameter table by defined name (param_stride_height, param_bias, ...)."""
    cells: dict[str, int] = {}
    for key, _label, value in parameter_rows(spec):
        if isinstance(value, tuple):
            cells[f"param_{key}_height"], cells[f"param_{key}_width"] = value
        else:
            cells[f"param_{key}"] = int(value)  # type: ignore[call-overload]
    return cells


def _parameters_table(cur: GuideWriter, spec: LayerSpec, network: Network) -> dict[str, Block]:
    """The layer parameters as named cells (height in C, width in D for pairs)."""
    cur.text("Layer parameters (height, width)", "cs_title")
    params: dict[str, Block] = {}
    for key, label, value in parameter_rows(spec):
        if isinstance(value, tuple):
            cur.label(COL_TEXT, label)
            for axis, suffix in enumerate(("height", "width")):
                name = f"param_{key}_{suffix}"
                params[name] = cur.place(cur.scalar(name, PARAM, value[axis]), COL_VALUE + axis)
            cur.row += 1
        else:
            params[f"param_{key}"] = cur.block(label, cur.scalar(f"param_{key}", PARAM, value))
    return params


def _arithmetic(cur: GuideWriter, spec: LayerSpec, network: Network,
                p: dict[str, Block]) -> None:
    """Output size and parameter count as live formulas over the parameter cells."""
    def ref(name: str) -> str:
        return p[name].ref(0, 0, absolute=True, from_sheet=cur.sheet.name)

    variant = VARIANTS[spec.variant]
    first = network.layers[0].op  # the layer whose arithmetic decides the output size
    cur.text("Arithmetic (live formulas)", "cs_title")
    sizes = {}
    for axis, suffix in enumerate(("height", "width")):
        formula = first.size_expression(lambda key, suffix=suffix: ref(f"param_{key}_{suffix}"))
        sizes[f"output_{suffix}"] = cur.block(
            f"output {suffix}", cur.formula(f"output_{suffix}", formula, "cs_count"),
            note=first.size_text(axis, spec.input_size[axis]))

    def count_ref(key: str) -> str:
        if key in sizes:  # (the output size, for multiply-adds)
            return sizes[key].ref(0, 0, absolute=True, from_sheet=cur.sheet.name)
        return ref(f"param_{key}")

    if variant.count is not None:
        count, text = variant.count(count_ref)
    else:
        count, text = first.count_expression(count_ref), first.count_text
    if variant.mult_adds is None:
        cur.block("parameters (weights + biases)",
                  cur.formula("parameter_count", count, "cs_count"), note=text)
    else:  # multiply-adds beside the parameters: what the layer costs to run
        mult_adds, how = variant.mult_adds(count_ref)
        for col, width in ((COL_VALUE, 11.0), (COL_VALUE + 1, 13.0)):
            cur.sheet.widths[col] = max(cur.sheet.col_width(col), width)
        cur.label(COL_VALUE, "parameters", "cs_note")
        cur.label(COL_VALUE + 1, "multiply-adds", "cs_note")
        cur.row += 1
        cur.label(COL_TEXT, "this layer (weights + biases)")
        cur.place(cur.formula("parameter_count", count, "cs_count"), COL_VALUE)
        cur.place(cur.formula("mult_adds", mult_adds, "cs_count"), COL_VALUE + 1)
        cur.row += 1
        notes = [f"Parameters: {text}. Multiply-adds: {how}."]
    if variant.guide_more is not None:
        variant.guide_more(cur, count_ref)
    if variant.mult_adds is not None:
        for note in notes + list(variant.mult_adds_notes):
            cur.text(note, "cs_note")


# ---------------------------------------------------------------------------- networks
NET_COLS = {"name": 2, "channels": 3, "height": 4, "width": 5, "count": 6, "field": 7,
            "jump": 8, "torch": 9}
NET_WIDTHS = {1: 2, 2: 12, 3: 9, 4: 9, 5: 9, 6: 11, 7: 9, 8: 7}


def field_steps(layer: Layer, axis: int) -> tuple[int, int, bool] | None:
    """How a layer grows the receptive field along `axis`: (input cells one output cell reads
    at most, stride, transposed), from the window the layer declares. A window of k taps d
    apart spans d·(k-1)+1 cells; a transposed convolution's output cell reads ceil(span /
    stride) input cells, its output cells 1/stride input cells apart; an op that keeps every
    size for every input (ReLU: not an upsample or adaptive pool that happens to keep this
    one) reads one cell. None for a layer without such a window (the chain stops there)."""
    from .ops import ConvTranspose2d

    op = layer.op
    if isinstance(op, ConvTranspose2d):
        span = op.dilation[axis] * (op.kernel_size[axis] - 1) + 1
        return -(-span // op.stride[axis]), op.stride[axis], True
    window = op.window()
    if window is not None:
        return window.dilation[axis] * (window.kernel[axis] - 1) + 1, window.stride[axis], False
    if _keeps_sizes(op):
        return 1, 1, False
    return None


def _keeps_sizes(op: Op) -> bool:
    """The op's output has its input's height and width whatever they are (ReLU, batch norm,
    softmax), by its own size arithmetic."""
    try:
        return all(op.size_formula(a, "H") == "H" for a in (0, 1))
    except NotImplementedError:  # flatten: its sizes mix the axes
        return False


def _network_guide(cur: GuideWriter, network: Network) -> None:
    c, h, w = network.input_shape
    oc, oh, ow = network.output_shape
    cur.text(f"convsheets: a network of {len(network.layers)} layers", "cs_heading")
    shape = f"{c}×{w} sequence (channels × length)" if network.sequence else \
        f"{c}×{h}×{w} input (channels × height × width)"
    out_shape = f"{oc}×{ow}" if network.sequence else f"{oc}×{oh}×{ow}"
    if network.is_chain:
        cur.text(f"A {shape} through "
                 + " → ".join(layer.label for layer in network.layers)
                 + f" to a {out_shape} output, every layer a live formula.")
        cur.text("PyTorch: nn.Sequential(" + ", ".join(str(layer.op)
                                                       for layer in network.layers)
                 + ")", "cs_note")
    else:  # a graph: what each layer reads is part of what it is
        cur.text(f"A {shape} through a graph of layers "
                 f"(the table below says which layers each one reads) to a {out_shape} "
                 f"output ({network.layers[-1].label}), every layer a live formula.")
        # (no-break spaces around "=": a wrapped line never starts with one, a formula)
        cur.text("PyTorch, the forward in order: " + "; ".join(
            f"{layer.label}\u00a0=\u00a0{layer.op.function}(" + ", ".join(
                [*_operands(layer.op, network.sources(n)),
                 *filter(None, [layer.op.extra_repr()])]) + ")"
            if isinstance(layer.op, Merge) else
            f"{layer.label}\u00a0=\u00a0{layer.op}({network.sources(n)[0]})"
            for n, layer in enumerate(network.layers)), "cs_note")
    cur.edit_hint("Edit the yellow cells on any sheet: every formula downstream recomputes, "
                  "through every layer. Grey, orange and blue cells (where present) are "
                  "structural zeros.")
    cur.gap()
    layer_table(cur, network)
    cur.gap()
    cur.text("Steps, once per kind of layer", "cs_title")
    kinds: dict[tuple[str, tuple[str, ...]], list[tuple[str, tuple[str, ...]]]] = {}
    for layer in network.layers:  # layers whose steps read the same but for numbers share them
        steps = layer.op.steps()
        key = (_masked(layer.op.summary), tuple(_masked(step) for step in steps))
        kinds.setdefault(key, []).append((layer.label, steps))
    for members in kinds.values():
        labels = ", ".join(label for label, _steps in members)
        texts = [steps for _label, steps in members]
        summary = network.layers[[lyr.label for lyr in network.layers].index(
            members[0][0])].op.summary
        if len(set(texts)) == 1:
            cur.text(f"{labels}: {summary}.", "cs_title")
            merged = list(texts[0])
        else:  # the same steps with each layer's own numbers: a/b/c in the layers' order
            cur.text(f"{labels}: {summary} (a number written a/b/... is each layer's own, "
                     "in this order).", "cs_title")
            merged = [_merged(list(step)) for step in zip(*texts, strict=True)]
        for n, step in enumerate(merged, 1):
            cur.text(f"{n}. {step}")


_NUMBER = re.compile(r"(\d+(?:\.\d+)?(?:x\d+(?:\.\d+)?)*)")  # 3, 0.01, 5x5: one number each


def _masked(text: str) -> str:
    """A step with its numbers left out: layers whose steps differ only in numbers (wavenet's
    paddings and dilations 1, 2, 4, 8) share one list."""
    return _NUMBER.sub("#", text)


def _merged(texts: list[str]) -> str:
    """One step for several layers, each number the layers differ in written a/b/c in the
    layers' order (texts that differ only in numbers: `_masked` grouped them)."""
    pieces = [_NUMBER.split(text) for text in texts]
    out = []
    for i, column in enumerate(zip(*pieces, strict=True)):
        out.append(column[0] if i % 2 == 0 or len(set(column)) == 1 else "/".join(column))
    return "".join(out)


def _operands(op: Merge, sources: tuple[str, ...]) -> list[str]:
    """A join's operands as its call reads: ``a, b`` (torch.add), ``[a, b]`` (torch.cat)."""
    return [f"[{', '.join(sources)}]"] if op.arity is None else list(sources)


def layer_table(cur: GuideWriter, network: Network) -> None:
    """The chain: per layer its output shape (live: each row's size formula reads the row
    above, so the input size flows down the chain), its parameter count, its receptive field
    and jump (live too, down the chain) and its PyTorch module (the guide's first lines print
    the whole nn.Sequential)."""
    cur.sheet.widths.update({c: w for c, w in NET_WIDTHS.items() if c != COL_TEXT})
    square = all(field_steps(layer, 0) == field_steps(layer, 1) for layer in network.layers)
    along = 1 if network.sequence else 0  # a sequence's receptive field runs along its length
    graph = not network.is_chain
    cols = {**NET_COLS, "reads": 9, "torch": 10} if graph else NET_COLS
    if graph:  # the reads column as wide as its longest list of layers
        longest = max(len(", ".join(network.sources(n))) for n in range(len(network.layers)))
        cur.sheet.widths[cols["reads"]] = float(min(34, max(8, longest + 1)))
    cur.text("Layers (output shape, parameters, receptive field and jump are live formulas "
             + ("from the rows of the layers each one reads)" if graph else "down the chain)"),
             "cs_title")
    heads = [("name", "layer"), ("channels", "channels"), ("height", "height"),
             ("width", "width"), ("count", "parameters"), ("field", "RF"), ("jump", "jump")]
    heads += [("reads", "reads")] if graph else []
    heads += [("torch", "PyTorch module (in full above)")]
    for key, text in heads:
        cur.label(cols[key], text, "cs_title")
    cur.row += 1
    cur.label(NET_COLS["name"], "input")
    c, h, w = network.input_shape
    above = {"channels": cur.place(cur.scalar("input_channels", PARAM, c), NET_COLS["channels"]),
             "height": cur.place(cur.scalar("input_height", EDIT, h), NET_COLS["height"]),
             "width": cur.place(cur.scalar("input_width", EDIT, w), NET_COLS["width"])}
    field: Block | None = cur.place(cur.scalar("input_receptive_field", PARAM, 1),
                                    NET_COLS["field"])
    jump: Block | None = cur.place(cur.scalar("input_jump", PARAM, 1), NET_COLS["jump"])
    cur.label(cols["torch"], "(what if? edit H, W)", "cs_note")
    cur.row += 1
    counts: list[Block] = []
    # each layer's row by label ("input" too), so a layer's formulas read what it reads
    rows: dict[str, dict[str, Block]] = {"input": above}
    fields: dict[str, tuple[Block, Block] | None] = {"input": (field, jump)}

    def ref(block: Block) -> str:
        return block.ref(0, 0, from_sheet=cur.sheet.name)

    for n, layer in enumerate(network.layers):
        name = layer.label
        sources = network.sources(n)
        above = rows[sources[0]]
        cur.label(cols["name"], name, "cs_title")
        mixed = layer.op.shape_formulas({key: ref(block) for key, block in above.items()})
        together = "+".join(ref(rows[s]["channels"]) for s in sources)  # a cat's channels
        channels = (cur.scalar(f"{name}_output_channels", PARAM, layer.out_shape[0])
                    if layer.op.has_parameters else
                    cur.formula(f"{name}_output_channels", mixed["channels"] if mixed else
                                together if isinstance(layer.op, Cat) else
                                f"{ref(above['channels'])}", "cs_count"))
        row = {"channels": cur.place(channels, cols["channels"])}
        for axis, key in enumerate(("height", "width")):
            formula = mixed[key] if mixed else layer.op.size_formula(axis, ref(above[key]))
            row[key] = cur.place(cur.formula(f"{name}_output_{key}", formula, "cs_count"),
                                 cols[key])
        count = layer.op.parameter_count_formula(ref(above["channels"]))
        if count is not None:
            counts.append(cur.place(cur.formula(f"{name}_parameter_count", count, "cs_count"),
                                    cols["count"]))
        known = [fields[s] for s in sources]
        steps = field_steps(layer, along) if all(known) else None
        if steps is not None and len(known) > 1:  # paths meet: the largest over them
            fields[name] = (
                cur.place(cur.formula(f"{name}_receptive_field", "MAX(" + ",".join(
                    ref(f) for f, _j in known) + ")", "cs_computed"), cols["field"]),  # type: ignore[misc]
                cur.place(cur.formula(f"{name}_jump", "MAX(" + ",".join(
                    ref(j) for _f, j in known) + ")", "cs_computed"), cols["jump"]))  # type: ignore[misc]
        elif steps is not None:
            field, jump = known[0]  # type: ignore[misc]
            reads, stride, transposed = steps
            grow = f"+{reads - 1}*{ref(jump)}" if reads > 1 else ""
            field = cur.place(cur.formula(f"{name}_receptive_field", f"{ref(field)}{grow}",
                                          "cs_computed"), cols["field"])
            step = "" if stride == 1 else (f"/{stride}" if transposed else f"*{stride}")
            jump = cur.place(cur.formula(f"{name}_jump", f"{ref(jump)}{step}", "cs_computed"),
                             cols["jump"])
            fields[name] = (field, jump)
        else:  # (a layer without a window: a receptive field no longer says much)
            fields[name] = None
        if graph:
            cur.label(cols["reads"], ", ".join(sources), "cs_label")
        cur.label(cols["torch"], str(layer.op).split("(")[0], "cs_note")
        cur.row += 1
        dense = dense_equivalent(layer.op)
        if dense is not None:  # a grouped convolution: what groups save, live
            cur.label(cols["name"], "(dense)", "cs_note")
            cur.place(cur.formula(f"{name}_dense_parameter_count",
                                  dense.parameter_count_formula(ref(above["channels"])),
                                  "cs_count"), cols["count"])
            cur.label(cols["torch"], f"the same {layer.op.module} with groups=1 (not in "
                      "the total)", "cs_note")
            cur.row += 1
        rows[name] = row
    if counts:
        total = "+".join(block.ref(0, 0, from_sheet=cur.sheet.name) for block in counts)
        cur.label(NET_COLS["name"], "total")
        cur.place(cur.formula("parameter_count", total, "cs_count"), NET_COLS["count"])
        cur.row += 1
    if network.sequence:
        cur.text("RF (receptive field): how many input positions one output cell depends "
                 "on; jump: input positions between neighbouring output cells (the effective "
                 "stride so far). The Receptive field sheet lights them for one output cell.",
                 "cs_note")
        return
    cur.text("RF (receptive field): how many input rows one output cell depends on"
             + (" (and as many columns)" if square else "") + "; jump: input rows between "
             "neighbouring output cells (the effective stride so far)."
             + (" Where paths meet (add, cat), both are the largest over the paths: the "
                "receptive field of the widest path, the jump of the sparsest." if graph
                else ""), "cs_note")


def dense_equivalent(op: object) -> Any:
    """A grouped convolution's dense twin (groups=1, the same channels and kernel), for the
    parameter count groups save; None for any other layer."""
    from .ops._conv import ConvNd

    if isinstance(op, ConvNd) and op.groups > 1:
        return dataclasses.replace(op, groups=1)
    return None


def network_guide_values(network: Network, input_shape: tuple[int, int, int],
                         ) -> dict[str, float]:
    """Expected values of the network guide's formula cells when its input row holds
    `input_shape`, by each op's reference size rule (not the formulas' own arithmetic)."""
    out: dict[str, float] = {}
    shapes = {"input": input_shape}
    total = 0.0
    for n, layer in enumerate(network.layers):
        name = layer.label
        sources = network.sources(n)
        c, h, w = shapes[sources[0]]
        if layer.op.has_parameters:
            count = layer.op.reference_parameter_count(c)
            out[f"{name}_parameter_count"] = count
            total += count
            dense = dense_equivalent(layer.op)
            if dense is not None:
                out[f"{name}_dense_parameter_count"] = dense.reference_parameter_count(c)
        if isinstance(layer.op, Cat):  # channels one after another; sizes as the first's
            c = sum(shapes[s][0] for s in sources)
        elif not isinstance(layer.op, Merge):
            c, h, w = layer.op.guide_shape((c, h, w))
        shapes[name] = (c, h, w)
        if not layer.op.has_parameters:
            out[f"{name}_output_channels"] = c
        out[f"{name}_output_height"], out[f"{name}_output_width"] = h, w
    if any(layer.op.has_parameters for layer in network.layers):
        out["parameter_count"] = total
    out.update(receptive_fields(network))
    return out


def receptive_fields(network: Network) -> dict[str, float]:
    """Expected receptive field and jump of each layer (rows), from the layers' own options
    (kernel_size, stride, dilation), not from the formulas: a receptive field grows by (cells
    read - 1) times the jump before the layer, and the jump is multiplied by the stride
    (divided, for a transposed convolution); up to the first layer without a window."""
    from .ops import ConvTranspose2d

    out: dict[str, float] = {}
    axis = 1 if network.sequence else 0
    known: dict[str, tuple[float, float] | None] = {"input": (1.0, 1.0)}
    for n, layer in enumerate(network.layers):
        op = layer.op
        before = [known[s] for s in network.sources(n)]
        known[layer.label] = None
        if field_steps(layer, axis) is None or not all(before):
            continue
        if len(before) > 1:  # where paths meet: the largest over them
            rf = max(b[0] for b in before)  # type: ignore[index]
            jump = max(b[1] for b in before)  # type: ignore[index]
            out[f"{layer.label}_receptive_field"], out[f"{layer.label}_jump"] = rf, jump
            known[layer.label] = (rf, jump)
            continue
        rf, jump = before[0]  # type: ignore[misc]
        kernel = getattr(op, "kernel_size", (1, 1))
        stride = getattr(op, "stride", (1, 1))
        spread = getattr(op, "dilation", None) or getattr(op, "spread", None) or (1, 1)
        span = spread[axis] * (kernel[axis] - 1) + 1
        if isinstance(op, ConvTranspose2d):
            rf += (math.ceil(span / stride[axis]) - 1) * jump
            jump /= stride[axis]
        else:
            rf += (span - 1) * jump
            jump *= stride[axis]
        out[f"{layer.label}_receptive_field"], out[f"{layer.label}_jump"] = rf, jump
        known[layer.label] = (rf, jump)
    return out
