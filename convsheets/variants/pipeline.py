"""The stages every variant is composed of, each adding one sheet to a `Plan`.

A variant module only decides which of these it calls, in which order: e.g. transposed is
`input -> upsample (zero-insert + pad/crop) -> weights -> flip -> [dilate] -> conv`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..layout import (
    COMPUTED,
    EDIT,
    Block,
    SheetPlan,
    grid,
    row_block,
    stack,
)
from ..spec import LayerSpec
from ..stages import (
    Conv,
    Gather,
    IndexMap,
    Values,
    compose,
    dilate_map,
    flip_map,
    insert_map,
    pad_map,
)
from ..tensors import block_names, block_of


@dataclass
class Plan:
    """Everything a workbook will contain, before any file is written."""

    spec: LayerSpec
    tensors: dict[str, np.ndarray]
    sheets: list[SheetPlan] = field(default_factory=list)

    def add_sheet(self, name: str, note: str, **kwargs: object) -> SheetPlan:
        sheet = SheetPlan(name, note=note, **kwargs)  # type: ignore[arg-type]
        self.sheets.append(sheet)
        return sheet

    def blocks(self) -> Iterator[Block]:
        for sheet in self.sheets:
            yield from sheet.blocks


def title(name: str, shape: tuple[int, int], note: str = "") -> str:
    text = f"{name}  ({shape[0]}×{shape[1]})"
    return f"{text}  {note}" if note else text


def grid_title(name: str, shape: tuple[int, int]) -> str:
    """Kernel titles sit side by side: add the shape only where the block is wide enough."""
    return title(name, shape) if shape[1] >= 3 else name


def input_stage(plan: Plan) -> list[Block]:
    """The input volume, one editable block per channel."""
    x = plan.tensors["input"]
    sheet = plan.add_sheet("Input", "The input volume, one block per channel. Edit the yellow "
                           "cells: every downstream cell recomputes.")
    blocks = [Block(name, x.shape[1:], EDIT, Values(block_of(x, idx)),
                    title=title(name, x.shape[1:], "(input channel)"))
              for name, idx in block_names("input", x.shape)]
    stack(sheet, blocks)
    return blocks


def weight_stage(plan: Plan, sheet_name: str, weight: str, bias: str, note: str,
                 row_label: Callable[[int], str], col_label: Callable[[int], str],
                 ) -> tuple[list[list[Block]], Block | None]:
    """The editable weights (one grid row per first index, PyTorch layout) and the bias row."""
    w = plan.tensors[weight]
    sheet = plan.add_sheet(sheet_name, note)
    top = sheet.first_row
    bias_block = None
    if bias in plan.tensors:
        b = plan.tensors[bias]
        bias_block = Block(bias, (1, b.shape[0]), EDIT, Values(block_of(b, ())),
                           title=title(bias, (1, b.shape[0]), "(one bias per output channel)"),
                           colour_scale=False)
        top = row_block(sheet, bias_block, top=top)
    rows: list[list[Block]] = [[] for _ in range(w.shape[0])]
    for name, (a, b_) in block_names(weight, w.shape):
        rows[a].append(Block(name, w.shape[2:], EDIT, Values(block_of(w, (a, b_))),
                             title=grid_title(name, w.shape[2:]), short=col_label(b_)))
    grid(sheet, rows, [row_label(a) for a in range(w.shape[0])], top=top)
    return rows, bias_block


def gather_stage(plan: Plan, sheet_name: str, note: str, sources: Sequence[Block],
                 name_of: Callable[[Block], str], row_map: IndexMap, col_map: IndexMap,
                 what: str) -> list[Block]:
    """One gathered block per source (padding, upsampling): stacked like the input."""
    sheet = plan.add_sheet(sheet_name, note)
    shape = (len(row_map), len(col_map))
    blocks = [Block(name_of(src), shape, COMPUTED, Gather(src, row_map, col_map),
                    title=title(name_of(src), shape, what)) for src in sources]
    stack(sheet, blocks)
    return blocks


def pad_stage(plan: Plan, sources: Sequence[Block], padding: tuple[int, int]) -> list[Block]:
    """Zero padding (skipped when there is none: the convolution then reads the input)."""
    if padding == (0, 0):
        return list(sources)
    (h, w), (ph, pw) = sources[0].shape, padding
    return gather_stage(
        plan, "Padded", f"The input with {ph} row(s) / {pw} column(s) of zeros around each "
        "channel (grey cells). White cells refer to the input.", sources,
        lambda src: src.name.replace("input_", "padded_", 1),
        pad_map(h, ph, ph), pad_map(w, pw, pw), "(zero-padded)")


def upsample_stage(plan: Plan, sources: Sequence[Block], spec: LayerSpec) -> list[Block]:
    """Transposed convolution, step 1: zeros inserted between input pixels (stride - 1 of them),
    then padded by dilation*(k-1)-padding on each side (cropped where that is negative),
    plus output_padding at the bottom/right."""
    maps = []
    for axis in (0, 1):
        n, s, k = spec.input_size[axis], spec.stride[axis], spec.kernel_size[axis]
        edge = spec.dilation[axis] * (k - 1) - spec.padding[axis]
        inserted = insert_map(n, s)
        maps.append(compose(pad_map(len(inserted), edge, edge + spec.output_padding[axis]),
                            inserted))
    return gather_stage(
        plan, "Upsampled", "Steps 1-2 of a transposed convolution: zeros inserted between input "
        "pixels (stride - 1 per gap, orange), then padded with dilation*(k-1) - padding zeros "
        "(grey; cropped if negative), plus output_padding at the bottom/right.", sources,
        lambda src: src.name.replace("input_", "upsampled_", 1), maps[0], maps[1],
        "(zero-inserted + padded)")


def kernel_transform_stage(plan: Plan, sheet_name: str, note: str, kernels: list[list[Block]],
                           prefix: str, row_map: IndexMap, col_map: IndexMap,
                           row_label: Callable[[int], str]) -> list[list[Block]]:
    """A gather applied to every kernel (flip, dilate), laid out like the weights."""
    sheet = plan.add_sheet(sheet_name, note)
    shape = (len(row_map), len(col_map))
    rows = [[Block(f"{prefix}_{k.name}", shape, COMPUTED, Gather(k, row_map, col_map),
                   title=grid_title(f"{prefix}_{k.name}", shape), short=k.short)
             for k in line] for line in kernels]
    grid(sheet, rows, [row_label(a) for a in range(len(rows))])
    return rows


def flip_stage(plan: Plan, kernels: list[list[Block]],
               row_label: Callable[[int], str]) -> list[list[Block]]:
    kh, kw = kernels[0][0].shape
    return kernel_transform_stage(
        plan, "Flipped", "Step 3: each kernel rotated by 180° (rows and columns reversed): a "
        "transposed convolution is a plain convolution with the flipped kernel.", kernels,
        "flipped",
        flip_map(kh), flip_map(kw), row_label)


def dilate_stage(plan: Plan, kernels: list[list[Block]], dilation: tuple[int, int],
                 row_label: Callable[[int], str]) -> list[list[Block]]:
    """The kernel with holes: a dilated kernel over a contiguous window equals the original
    kernel over the spread-out window, and keeps every SUMPRODUCT a plain rectangle."""
    if dilation == (1, 1):
        return kernels
    kh, kw = kernels[0][0].shape
    return kernel_transform_stage(
        plan, "Dilated", f"Each kernel with dilation {dilation[0]}x{dilation[1]}: "
        "dilation - 1 zeros (holes, blue) between taps, so it covers a spread-out window.",
        kernels, "dilated", dilate_map(kh, dilation[0]), dilate_map(kw, dilation[1]), row_label)


def conv_stage(plan: Plan, sheet_name: str, note: str, sources: Sequence[Block],
               kernel_for: Callable[[int, int], Block], bias: Block | None, *,
               out_channels: int, groups: int, stride: tuple[int, int],
               out_size: tuple[int, int], out_name: Callable[[int], str],
               describe: Callable[[int, Sequence[int]], str]) -> list[Block]:
    """A direct (grouped, strided) convolution, one output block per output channel.
    `kernel_for(o, k)` is the kernel convolved with the k-th input channel of o's group."""
    sheet = plan.add_sheet(sheet_name, note)
    per_group_in = len(sources) // groups
    per_group_out = out_channels // groups
    blocks = []
    for o in range(out_channels):
        g = o // per_group_out
        channels = list(range(g * per_group_in, (g + 1) * per_group_in))
        content = Conv([sources[c] for c in channels],
                       [kernel_for(o, k) for k in range(per_group_in)], bias, o, stride)
        blocks.append(Block(out_name(o), out_size, COMPUTED, content,
                            title=title(out_name(o), out_size, describe(o, channels))))
    stack(sheet, blocks)
    return blocks


def channel_list(channels: Sequence[int]) -> str:
    if len(channels) == 1:
        return f"channel {channels[0]}"
    if list(channels) == list(range(channels[0], channels[-1] + 1)):
        return f"channels {channels[0]}-{channels[-1]}"
    return "channels " + ", ".join(map(str, channels))
