"""Everything a workbook will contain, before any file is written, and the stages ops draw.

A `Plan` is the network, its tensors and its sheets. Each layer's drawer (`convsheets.draw`)
adds its sheets through a `LayerContext` (which knows the layer's names), using the shared
stage helpers below:
an editable input, editable weights, a gather (pad, zero-insert, crop, flip, dilate), a direct
convolution, a per-cell map (ReLU) or a window reduction (pooling).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .layout import (
    CHAR_POINTS,
    COMPUTED,
    EDIT,
    FIRST_COL,
    MIN_SCALE,
    OUTPUT,
    PAGES,
    STAGE,
    TENSOR,
    VIEW,
    Block,
    Label,
    Meaning,
    SheetPlan,
    col_points,
    grid,
    row_block,
    stack,
)
from .stages import Conv, Gather, IndexMap, Values, Zero, identity_map, mode_map, pad_map
from .tensors import block_names, block_of

if TYPE_CHECKING:
    from .guide import GuideWriter
    from .network import Layer, LayerNames, Network
    from .spec import LayerSpec


# Optional views a workbook can show (all by default): the overview (input, kernel and output
# side by side, second sheet), each convolution or pooling layer's
# window explorer, each convolution's matrix view (im2col, or Cᵀ for a transposed one), each
# transposed convolution's scatter view.
VIEWS = ("overview", "explorer", "matrix", "scatter")
COLOUR_SCALES = ("block", "tensor")  # a colour scale per block, or one over a whole tensor


@dataclass
class Plan:
    """The network, every editable tensor by name, and the sheets in reading order."""

    network: Network
    tensors: dict[str, np.ndarray]
    sheets: list[SheetPlan] = field(default_factory=list)
    views: frozenset[str] = frozenset(VIEWS)  # the optional views this workbook shows
    all_views: bool = False  # also the views the default budget leaves out (`budget.py`)
    guide_parts: list[Callable[[GuideWriter], None]] = field(default_factory=list)  # views' own
    notes: list[str] = field(default_factory=list)  # for the guide: views left out, and why
    legend: set[str] = field(default_factory=set)  # zero styles the views use (cs_struct)
    # An exercise handout: its record in the metadata, and the guide's opening lines
    exercise: dict[str, object] | None = None
    intro: list[tuple[str, str]] = field(default_factory=list)  # (text, style)
    colour_scale: str = "block"  # one colour scale per "block" or per "tensor" (COLOUR_SCALES)
    # the columns' width, in characters, of sheets added from here on, when wider than the
    # values' kind gives (the backward pass: gradients are fractions like "-0.1875")
    number_width: float = 0.0

    @property
    def spec(self) -> LayerSpec | None:
        """The variant request the network was made from, if any (for its guide page)."""
        return self.network.request

    def add_sheet(self, name: str, note: str, **kwargs: object) -> SheetPlan:
        if any(sheet.name == name for sheet in self.sheets):
            raise AssertionError(f"two sheets named {name}")
        if self.number_width:
            kwargs.setdefault("default_width", self.number_width)
        elif self.network.values != "integers":  # "-1.234": room for a sign and 3 decimals
            kwargs.setdefault("default_width", 7.5)
        sheet = SheetPlan(name, note=note, **kwargs)  # type: ignore[arg-type]
        self.sheets.append(sheet)
        return sheet

    def blocks(self) -> Iterator[Block]:
        for sheet in self.sheets:
            yield from sheet.blocks


@dataclass
class LayerContext:
    """What an op's `build` needs: the plan to add sheets to and its layer's names."""

    plan: Plan
    layer: Layer
    # the weight grid and bias the layer reads instead of drawing editable ones (the forward
    # pass drawn again with the weights after one gradient step, `backprop.update_stage`)
    weights: tuple[list[list[Block]], Block | None] | None = None

    @property
    def names(self) -> LayerNames:
        return self.layer.names

    def tensor(self, local: str) -> np.ndarray | None:
        return self.plan.tensors.get(self.layer.names.tensor + local)

    def add_sheet(self, role: str, note: str) -> SheetPlan:
        return self.plan.add_sheet(self.layer.names.sheet_name(role), note,
                                   layer=self.layer.label)

    def output_names(self, o: int) -> tuple[str, tuple[str, ...]]:
        """The output block's name and its aliases (the last layer is also output_c{o}; a
        vector's one row is ``{name}_output``, the last also ``output``)."""
        return self.layer.output_name(o), self.layer.output_aliases(o)


def title(name: str, shape: tuple[int, int], note: str = "") -> str:
    text = f"{name}  ({shape[0]}×{shape[1]})"
    return f"{text}  {note}" if note else text


def grid_title(name: str, shape: tuple[int, int]) -> str:
    """Kernel titles sit side by side: add the shape only where the block is wide enough."""
    return title(name, shape) if shape[1] >= 3 else name


def group_labels(count: int, groups: int, what: str, extra: Callable[[int], str] | None = None,
                 ) -> list[str]:
    """One label per group of `count` channels ("group 0: input channels 0-1"), none when
    the layer is not grouped, or when groups are single channels (depth-wise) or too many
    to give each a row of its own."""
    per = count // groups
    if groups <= 1 or per <= 1 or groups > 8:  # depth-wise: every channel its own group
        return []
    return [f"group {g}: {what} {channel_list(range(g * per, (g + 1) * per))}"
            + (extra(g) if extra else "") for g in range(groups)]


def channel_list(channels: Sequence[int]) -> str:
    if len(channels) == 1:
        return f"channel {channels[0]}"
    if list(channels) == list(range(channels[0], channels[-1] + 1)):
        return f"channels {channels[0]}-{channels[-1]}"
    return "channels " + ", ".join(map(str, channels))


# ---------------------------------------------------------------------------- stages
def input_stage(plan: Plan) -> list[Block]:
    """The network input, one editable block per channel."""
    x = plan.tensors["input"]
    sheet = plan.add_sheet("Input", "The input volume, one block per channel. Edit the yellow "
                           "cells: every downstream cell recomputes.")
    picture = "input" in plan.network.given  # a given input (an image): show it as one
    if picture:  # square cells wide enough for 0-255, zoomed out so a large picture fits
        sheet.default_width, sheet.row_height = 4.3, 24.0
        sheet.zoom = max(40, min(100, int(100 * 40 / max(x.shape[1:]))))
    colours = ("red", "green", "blue") if x.shape[0] == 3 else ()
    blocks = [Block(name, x.shape[1:], EDIT, Values(block_of(x, idx)),
                    title=title(name, x.shape[1:], "(input channel)"),
                    meaning=Meaning(TENSOR, "", "input", index=idx),
                    scale=(colours[idx[0]] if colours else "grey") if picture else "")
              for name, idx in block_names("input", x.shape)]
    groups = plan.network.layers[0].op.input_groups() if plan.network.layers else 1
    stack(sheet, blocks, groups=group_labels(len(blocks), groups, "input"))
    return blocks


def weight_stage(ctx: LayerContext, role: str, note: str,
                 row_label: Callable[[int], str], col_label: Callable[[int], str],
                 ) -> tuple[list[list[Block]], Block | None]:
    """The editable weights (one grid row per first index, PyTorch layout) and the bias row
    (or, in a forward pass drawn again after a gradient step, the updated ones)."""
    if ctx.weights is not None:
        return ctx.weights
    weight, bias = ctx.names.tensor + "weight", ctx.names.tensor + "bias"
    w = ctx.plan.tensors[weight]
    sheet = ctx.add_sheet(role, note)
    top = sheet.first_row
    bias_block = None
    b = ctx.tensor("bias")
    if b is not None:
        bias_block = Block(bias, (1, b.shape[0]), EDIT, Values(block_of(b, ())),
                           title=title(bias, (1, b.shape[0]), "(one bias per output channel)"),
                           meaning=Meaning(TENSOR, ctx.layer.label, "bias"),
                           colour_scale=False)
        top = row_block(sheet, bias_block, top=top)
    rows: list[list[Block]] = [[] for _ in range(w.shape[0])]
    for name, (a, b_) in block_names(weight, w.shape):
        rows[a].append(Block(name, w.shape[2:], EDIT, Values(block_of(w, (a, b_))),
                             title=grid_title(name, w.shape[2:]), short=col_label(b_),
                             meaning=Meaning(TENSOR, ctx.layer.label, "weight",
                                             index=(a, b_))))
    grid(sheet, rows, [row_label(a) for a in range(w.shape[0])], top=top)
    return rows, bias_block


def gather_stage(ctx: LayerContext, role: str, note: str, sources: Sequence[Block], kind: str,
                 row_map: IndexMap, col_map: IndexMap, what: str, groups: int = 1,
                 ) -> list[Block]:
    """One gathered block per source channel (padding, upsampling), stacked like the input."""
    sheet = ctx.add_sheet(role, note)
    shape = (len(row_map), len(col_map))
    blocks = []
    for c, src in enumerate(sources):
        name = ctx.names.intermediate(kind, c)
        blocks.append(Block(name, shape, COMPUTED, Gather(src, row_map, col_map),
                            title=title(name, shape, what),
                            meaning=Meaning(STAGE, ctx.layer.label, kind, index=(c,))))
    stack(sheet, blocks, groups=group_labels(len(blocks), groups, "input"))
    return blocks


def pad_stage(ctx: LayerContext, sources: Sequence[Block],
              padding: tuple[int, int], groups: int = 1,
              sides: tuple[tuple[int, int], tuple[int, int]] | None = None,
              mode: str = "zeros") -> list[Block]:
    """Zero padding (skipped when there is none: the convolution then reads its input);
    `sides` gives (before, after) per axis when they differ ("same" with an even kernel,
    "causal"); with a padding_mode (even sides only), the ring's cells are references to the
    input cells it repeats."""
    (ph, pw) = padding
    rows, cols = sides or ((ph, ph), (pw, pw))
    if not any(rows + cols):
        return list(sources)
    h, w = sources[0].shape
    if mode != "zeros":
        how = {"reflect": "the input mirrored at its edges (the edge itself not repeated)",
               "replicate": "the edge cells repeated", "circular": "the opposite side of "
               "the input wrapped around"}[mode]
        sheet_note = (f"The input with {ph} row(s) / {pw} column(s) of padding around each "
                      f"channel, padding_mode={mode!r}: {how}. The padding cells (violet "
                      "italics) refer to the input cells they repeat; white cells refer to the "
                      "input.")
        ring = (frozenset([*range(ph), *range(ph + h, 2 * ph + h)]),
                frozenset([*range(pw), *range(pw + w, 2 * pw + w)]), "cs_mirror")
        sheet = ctx.add_sheet("Padded", sheet_note)
        row_map, col_map = mode_map(h, ph, mode), mode_map(w, pw, mode)
        blocks = []
        for c, src in enumerate(sources):
            name = ctx.names.intermediate("padded", c)
            shape = (len(row_map), len(col_map))
            blocks.append(Block(name, shape, COMPUTED, Gather(src, row_map, col_map, ring),
                                title=title(name, shape, f"({mode}-padded)"),
                                meaning=Meaning(STAGE, ctx.layer.label, "padded", index=(c,))))
        stack(sheet, blocks, groups=group_labels(len(blocks), groups, "input"))
        return blocks
    if rows[0] == rows[1] and cols[0] == cols[1]:
        how = f"{rows[0]} row(s) / {cols[0]} column(s) of zeros around each channel"
    elif h == 1 and not any(rows):  # a sequence
        how = f"{cols[0]} zero(s) on the left and {cols[1]} on the right of each channel"
    else:
        how = (f"zeros around each channel: {rows[0]} row(s) above, {rows[1]} below, "
               f"{cols[0]} column(s) left, {cols[1]} right")
    return gather_stage(
        ctx, "Padded", f"The input with {how} (grey cells). White cells refer to the input.",
        sources, "padded", pad_map(h, *rows), pad_map(w, *cols), "(zero-padded)", groups)


def kernel_transform_stage(ctx: LayerContext, role: str, note: str,
                           kernels: list[list[Block]], kind: str, row_map: IndexMap,
                           col_map: IndexMap, row_label: Callable[[int], str],
                           ) -> list[list[Block]]:
    """A gather applied to every kernel (flip, dilate), laid out like the weights."""
    sheet = ctx.add_sheet(role, note)
    shape = (len(row_map), len(col_map))
    rows = []
    for a, line in enumerate(kernels):
        row = []
        for b, k in enumerate(line):
            name = ctx.names.transformed(kind, k.name)
            row.append(Block(name, shape, COMPUTED, Gather(k, row_map, col_map),
                             title=grid_title(name, shape), short=k.short,
                             meaning=Meaning(STAGE, ctx.layer.label, kind, index=(a, b))))
        rows.append(row)
    grid(sheet, rows, [row_label(a) for a in range(len(rows))])
    return rows


def conv_stage(ctx: LayerContext, note: str, sources: Sequence[Block],
               kernel_for: Callable[[int, int], Block], bias: Block | None, *,
               out_channels: int, groups: int, stride: tuple[int, int],
               out_size: tuple[int, int], describe: Callable[[int, Sequence[int]], str],
               ) -> list[Block]:
    """A direct (grouped, strided) convolution, one output block per output channel.
    `kernel_for(o, k)` is the kernel convolved with the k-th input channel of o's group."""
    sheet = ctx.add_sheet("Output", note)
    per_group_in = len(sources) // groups
    per_group_out = out_channels // groups
    blocks = []
    for o in range(out_channels):
        g = o // per_group_out
        channels = list(range(g * per_group_in, (g + 1) * per_group_in))
        content = Conv([sources[c] for c in channels],
                       [kernel_for(o, k) for k in range(per_group_in)], bias, o, stride)
        name, aliases = ctx.output_names(o)
        blocks.append(Block(name, out_size, COMPUTED, content, aliases=aliases,
                            title=title(name, out_size, describe(o, channels)),
                            meaning=Meaning(OUTPUT, ctx.layer.label, index=(o,)),
                            scale="diverging" if "input" in ctx.plan.network.given else ""))
    per_in = len(sources) // groups
    stack(sheet, blocks, groups=group_labels(
        out_channels, groups, "output", lambda g: " from input " + channel_list(
            range(g * per_in, (g + 1) * per_in))))
    return blocks


def per_channel_stage(ctx: LayerContext, note: str, sources: Sequence[Block],
                      shape: tuple[int, int], content: Callable[[Block], object],
                      what: str) -> list[Block]:
    """One output block per input channel (ReLU, pooling), stacked on the layer's sheet."""
    sheet = ctx.add_sheet("Output", note)
    blocks = []
    for c, src in enumerate(sources):
        name, aliases = ctx.output_names(c)
        blocks.append(Block(name, shape, COMPUTED, content(src), aliases=aliases,  # type: ignore[arg-type]
                            title=title(name, shape, what),
                            meaning=Meaning(OUTPUT, ctx.layer.label, index=(c,))))
    stack(sheet, blocks)
    return blocks


OVERVIEW_TERMS = 3  # input channels an overview equation shows; it names the rest


@dataclass
class _Relation:
    """One relation the Overview draws: `result` is computed from `operands` (each with the
    kernel it is convolved with, if any), plus a named term the sheet does not show, plus one
    bias cell. Blocks are the workbook's own; the Overview shows live copies."""

    title: str
    operands: list[tuple[Block, Block | None]]
    result: Block
    how: str  # under the arrow: "pad 1", "stride 2", "flip", "MAX(0, x)"
    rest: str = ""  # a term named, not shown ("channels 3-15 ⊛ their kernels ...")
    bias: tuple[Block, int] | None = None  # the bias row and the filter's index in it


def overview_stage(plan: Plan, inputs: Sequence[Block]) -> None:
    """The Overview sheet (second, after the guide): what output channel 0 of the first layer
    is computed from, literally, as live copies of the blocks on their own sheets. Every `→`
    is true: the block on its right is computed from the blocks on its left (and any term the
    sheet names). The windows' source (the padded or zero-inserted input, from input channel
    0), the kernels as the windows multiply them (flipped, with holes: from weight_0_0), then
    every channel the filter reads (the first three, the rest named) ⊛ its kernel, with the
    stride, + the bias -> the output channel. A variant of several layers (separable) follows
    the chain to its output; a network shows its first layer and names the ones that follow.
    Copies: `overview_input` (input channel 0), `overview_kernel` (the first layer's
    weight_0_0), `overview_output` (the last block the chain computes), `overview_<name>` for
    the others."""
    layers = list(plan.network.layers)
    if not layers:
        return
    found: dict[tuple[object, ...], Block] = {}
    for block in plan.blocks():
        m = block.meaning
        if m is not None and m.role in (TENSOR, STAGE, OUTPUT):
            found.setdefault((m.role, m.layer, m.kind, m.index), block)
    shown = layers if plan.spec is not None else layers[:1]
    bands: list[list[_Relation]] = []
    previous: Block | None = None
    for n, layer in enumerate(shown):
        if n == 0:
            sources = list(inputs)
        else:
            before = layers[n - 1].label
            sources = [found[(OUTPUT, before, "", (c,))] for c in range(layer.in_shape[0])]
        prepare, kernel_steps, main = _relations(layer, sources, found)
        if previous is not None and not prepare and not kernel_steps \
                and main.operands[0][0] is previous:
            bands[-1].append(main)  # the chain goes on: the last result is read next
        else:
            bands += [[r] for r in prepare] + ([kernel_steps] if kernel_steps else []) + [[main]]
        previous = main.result
    source_sheet = next(s for s in plan.sheets if s.name == inputs[0].sheet)
    first = layers[0]

    def blank(note: str = "", square: bool = True) -> SheetPlan:
        return SheetPlan("Overview", note=note, default_width=source_sheet.default_width,
                         row_height=source_sheet.row_height if square else None,
                         zoom=source_sheet.zoom)

    names = _OverviewNames(inputs[0], found.get((TENSOR, first.label, "weight", (0, 0))),
                           previous)
    down = [_too_wide(blank(), band, names) for band in bands]
    # a picture's square cells (tall rows) would leave no page room for a block and its
    # arrow: a sheet drawn top to bottom keeps the default row height, as the Padded sheet
    arrows = "each → (↓) gives the block on its right (below it) from the blocks on its left " \
        "(above it)" if any(down) else "each → gives the block on its right from the blocks " \
        "on its left"
    sheet = blank(
        f"What output channel 0 of {_layer_words(plan, first)} is computed from, literally: "
        f"{arrows} (and any term named there). ⊛ slides the kernel over the block: at each "
        "position, the sum of window × kernel. Live copies of the blocks on the other sheets: "
        "edit those and these follow.", square=not any(down))
    plan.sheets.insert(0, sheet)
    row = sheet.first_row
    for band, vertical in zip(bands, down, strict=True):
        row = _draw_band(sheet, band, row, names, vertical) + 2
    if plan.spec is None and len(layers) > 1 and not plan.network.is_chain:  # a graph
        sheet.labels.append(Label(row, FIRST_COL, f"Then the other {len(layers) - 1} layers, "
                                  "each on its own sheets, in the order of the guide's layer "
                                  "table, which says what each one reads.", "cs_note"))
    elif plan.spec is None and len(layers) > 1:
        rest = " → ".join(f"{layer.label} ({layer.op.module})" for layer in layers[1:])
        sheet.labels.append(Label(row, FIRST_COL, f"Then {rest}: each on its own sheets, "
                                  "after this layer's.", "cs_note"))


def _layer_words(plan: Plan, layer: Layer) -> str:
    if plan.spec is not None:
        return f"this {plan.spec.variant} layer" if len(plan.network.layers) == 1 else \
            f"this {plan.spec.variant} convolution"
    return f"the first layer, {layer.label} ({layer.op.module})"


def _relations(layer: Layer, sources: Sequence[Block],
               found: dict[tuple[object, ...], Block],
               ) -> tuple[list[_Relation], list[_Relation], _Relation]:
    """The relations that give the layer's output channel 0: the preparation of the windows'
    source (padding, zero insertion) and of the kernels (flip, holes), and the layer itself."""
    op, label, o = layer.op, layer.label, 0
    result = found[(OUTPUT, label, "", (o,))]
    window = op.window()
    if window is None:  # element-wise
        rule = getattr(op, "rule", lambda: op.module)()
        return [], [], _Relation(f"{label}: every cell is {rule} of the same input cell",
                                 [(sources[o], None)], result, rule)
    kh, kw = window.kernel
    (sh, sw), (dh, dw) = window.stride, window.dilation
    stride = f"stride {sh}" if sh == sw else f"stride {sh}x{sw}"
    if not window.kernels_by:  # pooling: windows of the raw input, channel by channel
        ph, pw = -window.offset[0], -window.offset[1]
        what = {"MAX": "the largest value", "MEAN": f"the sum / {kh * kw}",
                "AVERAGE": "the mean of the cells inside the input"}[window.reduce]
        padding = f", padding {ph}x{pw} left out" if (ph or pw) and window.reduce == "MAX" \
            else f", padding {ph}x{pw}" if ph or pw else ""
        return [], [], _Relation(
            f"{label}: each cell of output channel {o} is {what} of a {kh}x{kw} window of "
            f"input channel {o}, {stride}{padding}", [(sources[o], None)], result,
            f"{window.reduce} {kh}x{kw}, {stride}")
    per_in, per_out = window.per_in, window.per_out
    g = o // per_out
    channels = list(range(g * per_in, (g + 1) * per_in))

    def source(c: int) -> Block:
        for kind in ("padded", "upsampled"):
            if (STAGE, label, kind, (c,)) in found:
                return found[(STAGE, label, kind, (c,))]
        return sources[c]

    def kernel_index(j: int) -> tuple[int, int]:
        return (o, j) if window.kernels_by == "out" else (g * per_in + j, o - g * per_out)

    def kernel(j: int) -> Block:
        for role, kind in ((STAGE, "dilated"), (STAGE, "flipped"), (TENSOR, "weight")):
            if (role, label, kind, kernel_index(j)) in found:
                return found[(role, label, kind, kernel_index(j))]
        raise AssertionError(f"{label}: no kernel {kernel_index(j)}")

    prepare = []
    c0 = channels[0]
    if source(c0) is not sources[c0]:
        kind = source(c0).meaning.kind  # type: ignore[union-attr]
        if kind == "padded":
            (top, bottom), (left, right) = op.pads()  # type: ignore[attr-defined]
            if op.dims == 1:  # a sequence: zeros before and after it
                how = f"pad {left}" if left == right else f"pad {left} left, {right} right"
                title = (f"{label}: input channel {c0} with {left} zero(s) on the left and "
                         f"{right} on the right (grey)")
            elif (top, left) == (bottom, right):
                how = f"pad {top}" if top == left else f"pad {top}x{left}"
                title = (f"{label}: input channel {c0} with {top} row(s) and {left} "
                         "column(s) of zeros around it (grey)")
            else:
                how = f"pad {top},{bottom},{left},{right}"
                title = (f"{label}: input channel {c0} with zeros (grey): {top} row(s) above, "
                         f"{bottom} below, {left} column(s) left, {right} right")
        else:
            how = "zeros in, pad"
            title = (f"{label}: input channel {c0} with stride - 1 zeros between its pixels "
                     "(orange), then padded (grey) or cropped")
        prepare.append(_Relation(title, [(sources[c0], None)], source(c0), how))
    kernel_steps = []
    chain = [found[(role, label, kind, kernel_index(0))]
             for role, kind in ((TENSOR, "weight"), (STAGE, "flipped"), (STAGE, "dilated"))
             if (role, label, kind, kernel_index(0)) in found]
    for before, after in zip(chain, chain[1:], strict=False):
        kind = after.meaning.kind  # type: ignore[union-attr]
        how = "flip" if kind == "flipped" else f"dilate {dh}" if dh == dw \
            else f"dilate {dh}x{dw}"
        title = (f"{label}: the kernel rotated by 180° (rows and columns reversed)"
                 if kind == "flipped" else f"{label}: the kernel with dilation - 1 zeros "
                 "(holes, blue) between its taps")
        kernel_steps.append(_Relation(title, [(before, None)], after, how))
    if len(kernel_steps) > 1:
        kernel_steps[0].title += ", then " + kernel_steps[1].title.split(": ", 1)[1]
    shown = channels[:OVERVIEW_TERMS]
    rest = channels[OVERVIEW_TERMS:]
    bias = found.get((TENSOR, label, "bias", ()))
    what = "upsampled input" if window.kernels_by == "in" else \
        "padded input" if source(c0) is not sources[c0] else "input"
    if layer.op.op == "conv2d" and sources is not None and sources[0].meaning is not None \
            and sources[0].meaning.role == OUTPUT:
        what = f"{sources[0].meaning.layer} output"
    plus = ", + the bias" if bias is not None else ""
    title = (f"{label}: output channel {o} = Σ over {what} {channel_list(channels)} of "
             f"(channel ⊛ its kernel), {stride}{plus}" if len(channels) > 1 else
             f"{label}: output channel {o} = {what} channel {channels[0]} ⊛ its kernel, "
             f"{stride}{plus}")
    return prepare, kernel_steps, _Relation(
        title, [(source(c), kernel(c - channels[0])) for c in shown], result,
        stride, rest=(f"{channel_list(rest)} ⊛ their kernels (on their own sheets)"
                      if rest else ""),
        bias=(bias, o) if bias is not None else None)


@dataclass
class _OverviewNames:
    """The defined names of the Overview's copies: the public three, overview_<name> else."""

    input: Block
    kernel: Block | None
    output: Block | None
    used: set[str] = field(default_factory=set)

    def __call__(self, src: Block) -> str:
        name = ("overview_input" if src is self.input else "overview_kernel"
                if src is self.kernel else "overview_output" if src is self.output
                else f"overview_{src.name}")
        base, n = name, 1
        while name in self.used:  # shown twice (a result the next relation reads)
            n += 1
            name = f"{base}_{n}"
        self.used.add(name)
        return name

    def scratch(self) -> _OverviewNames:
        """A copy whose names do not count as used (for a drawing that is measured only)."""
        return _OverviewNames(self.input, self.kernel, self.output, set(self.used))


def _copy(sheet: SheetPlan, src: Block, name: str, top: int, left: int,
          cell: tuple[int, int] | None = None) -> Block:
    """A live copy of `src` (or of one of its cells) under its title; structural zeros stay
    constant zeros in their colours, as on the source's sheet."""
    content = src.content
    if cell is not None:
        rows, cols = (cell[0],), (cell[1],)
    elif isinstance(content, Gather):
        rows = tuple(i if not isinstance(z, Zero) else z for i, z in enumerate(content.row_map))
        cols = tuple(j if not isinstance(z, Zero) else z for j, z in enumerate(content.col_map))
    else:
        rows, cols = identity_map(src.shape[0]), identity_map(src.shape[1])
    shape = (len(rows), len(cols))
    block = Block(name, shape, COMPUTED, Gather(src, rows, cols),
                  meaning=Meaning(VIEW, "", "overview", name), scale=src.scale,
                  colour_scale=cell is None,
                  title=f"{src.name}  ({shape[0]}×{shape[1]})" if cell is None else "")
    if block.title:
        sheet.labels.append(Label(top - 1, left, block.title, "cs_title"))
    block.place(sheet.name, top, left)
    sheet.blocks.append(block)
    return block


def _columns(sheet: SheetPlan, text: str) -> int:
    """Columns a text runs over on the sheet."""
    return -(-int(len(text) * CHAR_POINTS) // int(col_points(sheet.default_width)))


def _too_wide(scratch: SheetPlan, relations: Sequence[_Relation],
              names: _OverviewNames) -> bool:
    """Whether the band, drawn left to right, is wider than a landscape page holds at the
    smallest readable print scale (the bundled 28×28 digit beside its padded copy printed at
    28 %): such a band is drawn top to bottom instead. Measured by drawing it on a scratch
    sheet."""
    _draw_band(scratch, relations, scratch.first_row, names.scratch(), vertical=False)
    return scratch.print_extent()[1] * MIN_SCALE > PAGES["landscape"][0]


def _draw_band(sheet: SheetPlan, relations: Sequence[_Relation], top: int,
               names: _OverviewNames, vertical: bool = False) -> int:
    """One band of relations, each result read by the next relation (a chain), under its
    titles: left to right, the arrow `→` pointing at the result on the right; or, for a band
    too wide to print readably, top to bottom, the arrow `↓` pointing at the result below
    (which the next relation then reads in place). Each operand sits on its own rows with its
    kernel beside it, `+` between them. Returns the last row used."""
    def label(row: int, col: int, text: str, style: str = "cs_heading") -> None:
        sheet.labels.append(Label(row, col, text, style))

    for n, relation in enumerate(relations):
        label(top + n, FIRST_COL, relation.title, "cs_group")
    y0 = top + len(relations) + 1  # the first operand's top row (its title above)
    left, bottom = FIRST_COL, y0
    placed: Block | None = None  # the previous result, which the next relation reads
    for relation in relations:
        height = max(b.shape[0] for b, _k in relation.operands)
        width = max(b.shape[1] for b, _k in relation.operands)
        symbol_col = left + width + 1
        kernel_col = symbol_col + 1
        right = left + width - 1
        row = y0
        for n, (operand, kernel) in enumerate(relation.operands):
            if vertical and kernel is not None and not (n == 0 and placed is not None):
                # the kernel above its operand (beside it, the band would be as wide again)
                _copy(sheet, kernel, names(kernel), row, left)
                label(row + kernel.shape[0], left, "⊛")
                label(row + kernel.shape[0], left + 1, "the kernel above slides over the "
                      "block below", "cs_note")
                row += kernel.shape[0] + 2
                kernel = None
            if not (n == 0 and placed is not None):
                _copy(sheet, operand, names(operand), row, left)
            if kernel is not None:
                label(row + (height - 1) // 2, symbol_col, "⊛")
                title = _copy(sheet, kernel, names(kernel), row, kernel_col).title
                right = max(right, kernel_col + kernel.shape[1] - 1,
                            kernel_col + _columns(sheet, title) - 1)
            row += height
            if n < len(relation.operands) - 1 or relation.rest or relation.bias:
                label(row, left, "+")
                row += 2 if n < len(relation.operands) - 1 else 1
        if relation.rest:
            label(row, left, relation.rest, "cs_note")
            row += 1
            if relation.bias:
                label(row, left, "+")
                row += 1
        if relation.bias:
            bias, index = relation.bias
            _copy(sheet, bias, names(bias), row, left, cell=(0, index))
            label(row, left + 1, f"{bias.name}[{index}], the filter's bias", "cs_label")
            right = max(right, left + 4)
            row += 1
        result = relation.result
        if vertical:  # the arrow under the operands, the result under the arrow
            label(row + 1, left, "↓")  # after a blank row: a page may break before it
            label(row + 1, left + 1, relation.how, "cs_note")
            placed = _copy(sheet, result, names(result), row + 3, left)
            bottom = placed.bottom
            y0 = placed.top
            continue
        arrow = right + 2
        result_left = arrow + 2
        arrow_row = y0 + (min(height, result.shape[0]) - 1) // 2  # beside both
        label(arrow_row, arrow, "→")
        label(arrow_row + 1, arrow, relation.how, "cs_note")
        placed = _copy(sheet, result, names(result), y0, result_left)
        bottom = max(bottom, row - 1, y0 + result.shape[0] - 1, arrow_row + 1)
        left = result_left
    return bottom
