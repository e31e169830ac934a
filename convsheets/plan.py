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
    COMPUTED,
    EDIT,
    OUTPUT,
    STAGE,
    TENSOR,
    VIEW,
    Block,
    Label,
    Meaning,
    SheetPlan,
    grid,
    row_block,
    stack,
)
from .stages import Conv, Gather, IndexMap, Values, identity_map, pad_map
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
    guide_parts: list[Callable[[GuideWriter], None]] = field(default_factory=list)  # views' own
    notes: list[str] = field(default_factory=list)  # for the guide: views left out, and why
    legend: set[str] = field(default_factory=set)  # zero styles the views use (cs_struct)
    # An exercise handout: its record in the metadata, and the guide's opening lines
    exercise: dict[str, object] | None = None
    intro: list[tuple[str, str]] = field(default_factory=list)  # (text, style)
    colour_scale: str = "block"  # one colour scale per "block" or per "tensor" (COLOUR_SCALES)

    @property
    def spec(self) -> LayerSpec | None:
        """The variant request the network was made from, if any (for its guide page)."""
        return self.network.request

    def add_sheet(self, name: str, note: str, **kwargs: object) -> SheetPlan:
        if any(sheet.name == name for sheet in self.sheets):
            raise AssertionError(f"two sheets named {name}")
        if self.network.values != "integers":  # "-1.234": room for a sign and 3 decimals
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
    """The editable weights (one grid row per first index, PyTorch layout) and the bias row."""
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
              padding: tuple[int, int], groups: int = 1) -> list[Block]:
    """Zero padding (skipped when there is none: the convolution then reads its input)."""
    if padding == (0, 0):
        return list(sources)
    (h, w), (ph, pw) = sources[0].shape, padding
    return gather_stage(
        ctx, "Padded", f"The input with {ph} row(s) / {pw} column(s) of zeros around each "
        "channel (grey cells). White cells refer to the input.", sources, "padded",
        pad_map(h, ph, ph), pad_map(w, pw, pw), "(zero-padded)", groups)


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


def overview_stage(plan: Plan, inputs: Sequence[Block], outputs: Sequence[Block]) -> None:
    """The Overview sheet (second, after the guide): input channel 0, the first kernel that
    reads it and output channel 0 side by side, live copies of the blocks on their own sheets,
    the way the README shows a workbook."""
    shown = [(inputs[0], "overview_input", "input channel 0")]
    weighted = [layer for layer in plan.network.layers if layer.op.has_parameters]
    if weighted:
        name = weighted[0].names.tensor + "weight_0_0"
        kernel = next((b for b in plan.blocks() if b.name == name), None)
        if kernel is not None:
            shown.append((kernel, "overview_kernel", f"the kernel {name} that reads it"))
    shown.append((outputs[0], "overview_output", "output channel 0"))
    source_sheet = next(s for s in plan.sheets if s.name == inputs[0].sheet)
    sheet = SheetPlan("Overview", note="At a glance: " + ", ".join(
        f"{what} ({b.name})" if what != f"the kernel {b.name} that reads it" else what
        for b, _n, what in shown)
                      + ", side by side (live copies of the blocks on the other sheets: edit "
                      "those and these follow). Every step is on the sheets after this one.",
                      default_width=source_sheet.default_width,
                      row_height=source_sheet.row_height, zoom=source_sheet.zoom)
    plan.sheets.insert(0, sheet)
    left = 2
    symbols = ("⊛", "→") if len(shown) == 3 else ("→",)  # (a text "=" would be a formula)
    for n, (src, name, _what) in enumerate(shown):
        shape = src.shape
        block = Block(name, shape, COMPUTED, Gather(src, identity_map(shape[0]),
                                                    identity_map(shape[1])),
                      meaning=Meaning(VIEW, "", "overview", name),
                      scale=src.scale, title=f"{src.name}  ({shape[0]}×{shape[1]})")
        sheet.labels.append(Label(sheet.first_row, left, block.title, "cs_title"))
        block.place(sheet.name, sheet.first_row + 1, left)
        sheet.blocks.append(block)
        left += shape[1] + 1
        if n < len(symbols):
            sheet.labels.append(Label(sheet.first_row + 1 + (shape[0] - 1) // 2, left + 1,
                                      symbols[n], "cs_heading"))
            left += 3
