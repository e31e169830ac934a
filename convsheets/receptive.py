"""The receptive-field view of a sequence network: for the output cell the last layer's explorer
selects, which cells of every earlier layer and of the input it depends on.

A sheet of 0/1 masks, one row per channel of every tensor (the selected layer's output on top,
the input at the bottom, as WaveNet's figure draws the stack), each cell a live formula: the
selected output's mask is 1 at the explorer's position in use; going down, a cell is 1 when
some cell above that reads it (through the layer's declared `window()`: taps
``position * stride + offset + tap * dilation`` of its window source, where input cell i sits at
`op.window_position(i)`; a per-cell op reads the same cell) is 1. Plain references and `MIN`,
so Trace Precedents works too. Conditional formats (orange, through the masks' workbook-scope
names) light the same cells on the input and output sheets, so choosing another output cell
in the explorer moves the cone everywhere.

The expected masks (`receptive_values`) come from the ops' references, not from this geometry:
a cell is in the receptive field when a positive bump there changes the selected output in a
copy of the network whose weights are all positive and biases zero (every op convsheets has
is then increasing in every input it reads, so nothing cancels and nothing is clipped away).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .layout import COMPUTED, VIEW, Block, Label, Meaning
from .network import Layer, Network
from .plan import Plan
from .stages import PerCell

KIND = "receptive_field"
SHEET = "Receptive field"


def selected_layer(network: Network) -> int | None:
    """Index of the layer whose explorer drives the view (the last layer with a window), or
    None when the view does not apply: only sequence networks (1-D ops and per-cell ops, no
    flatten), every layer up to it windowed or shape-preserving."""
    if network.request is not None or not network.layers or not network.is_chain:
        return None  # (a graph's paths: the view follows one chain of layers)
    dims = {layer.op.dims for layer in network.layers}
    if 1 not in dims or 2 in dims or any(layer.flat for layer in network.layers):
        return None
    last = max((n for n, layer in enumerate(network.layers) if layer.op.window() is not None),
               default=None)
    if last is None:
        return None
    for layer in network.layers[:last + 1]:
        if layer.op.window() is None and layer.in_shape != layer.out_shape:
            return None
    return last


def mask_name(label: str, c: int) -> str:
    """``rf_input_c0``, ``rf_conv2_c1``: the mask of one channel of one tensor."""
    return f"rf_{label}_c{c}"


def readers(layer: Layer, c: int, p: int) -> list[tuple[int, int]]:
    """The output cells (channel, position) of `layer` that read its input cell (c, p), from
    the op's declared window (a per-cell op: the same cell)."""
    op = layer.op
    window = op.window()
    out_c, _, out_len = layer.out_shape
    if window is None:
        return [(c, p)]
    q = op.window_position(1, p)
    k, s, off, d = window.kernel[1], window.stride[1], window.offset[1], window.dilation[1]
    if window.kernels_by:
        g = c // window.per_in
        channels = range(g * window.per_out, (g + 1) * window.per_out)
    else:
        channels = range(c, c + 1)
    found = []
    for o in channels:
        for j in range(k):
            t, rest = divmod(q - off - j * d, s)
            if not rest and 0 <= t < out_len:
                found.append((o, t))
    return found


def receptive_stage(plan: Plan, inputs: Sequence[Block]) -> None:
    """Add the Receptive field sheet and its lit cells, when the network is a sequence whose
    explorer is drawn."""
    from .explorer import explore_names

    network = plan.network
    last = selected_layer(network)
    if last is None or "explorer" not in plan.views:
        return
    label = network.layers[last].label
    if not any(block.meaning is not None and block.meaning.layer == label
               and block.meaning.kind == "explorer" for block in plan.blocks()):
        return  # (the budget left that explorer out: `budget.py`)
    outputs: dict[str, list[Block]] = {}
    for block in plan.blocks():
        m = block.meaning
        if m is not None and m.role == "output":
            outputs.setdefault(m.layer, []).append(block)
    layers = network.layers[:last + 1]
    tensors: list[tuple[str, list[Block]]] = [("input", list(inputs))] + [
        (layer.label, sorted(outputs[layer.label], key=lambda b: b.meaning.index))  # type: ignore[union-attr]
        for layer in layers]
    names = explore_names(layers[-1].names.tensor)
    sel_c, sel_r, sel_k, valid = (names[key] for key in ("used_channel", "used_row",
                                                          "used_col", "valid"))
    top_label = layers[-1].label
    sheet = plan.add_sheet(
        SHEET, f"The receptive field of the output cell chosen on the {top_label} Explorer "
        "sheet: 1 (orange) marks every cell of every layer and of the input that this output "
        "depends on, 0 the cells it cannot see. Each mask cell is a formula: 1 when a cell "
        "above that reads it is 1 (through the layer's window: kernel, stride, dilation, "
        "padding). The same cells are lit on the input and output sheets. Choose another "
        f"output cell in the {top_label} explorer and the cone follows.")
    sheet.default_width = 3.2
    sheet.widths = {2: 16}
    masks: dict[str, list[Block]] = {}
    for n, (label, blocks) in enumerate(tensors):
        masks[label] = [Block(mask_name(label, c), b.shape, COMPUTED, PerCell(lambda *_: "0"),
                              colour_scale=False, style="cs_computed",
                              meaning=Meaning(VIEW, "", KIND, mask_name(label, c), (n, c)))
                        for c, b in enumerate(blocks)]
    # formulas: the selected output's mask from the explorer, each other from the one above
    for c, block in enumerate(masks[top_label]):
        block.content = PerCell(lambda _s, _i, t, c=c: (
            f"IF(AND({valid}=1,{sel_c}={c},{sel_r}=0,{sel_k}={t}),1,0)"))
    for n in range(len(layers) - 1, -1, -1):
        layer, below, above = layers[n], tensors[n][0], masks[tensors[n + 1][0]]
        for c, block in enumerate(masks[below]):
            def make(sheet_name: str, _i: int, p: int, layer: Layer = layer, c: int = c,
                     above: list[Block] = above) -> str:
                refs = [above[o].ref(0, t, from_sheet=sheet_name) for o, t in readers(layer, c, p)]
                return f"MIN(1,{'+'.join(refs)})" if refs else "0"
            block.content = PerCell(make)
    # the sheet: the selected output on top, the input at the bottom
    row = sheet.first_row
    for label, _blocks in reversed(tensors):
        what = "input" if label == "input" else f"{label} output"
        sheet.labels.append(Label(row, 2, what, "cs_title"))
        row += 1
        for c, block in enumerate(masks[label]):
            sheet.labels.append(Label(row, 2, f"channel {c}", "cs_label"))
            block.place(sheet.name, row, 3)
            sheet.blocks.append(block)
            row += 1
        row += 1
    for label, blocks in tensors:
        for block, mask in zip(blocks, masks[label], strict=True):
            rule = f"INDEX({mask.name},1,COLUMN()-{block.left}+1)=1"
            block.lit.append(rule)
            mask.lit.append(f"INDEX({mask.name},1,COLUMN()-{mask.left}+1)=1")


def receptive_values(network: Network, t: dict[str, np.ndarray],
                     selection: tuple[float, float, float, bool]) -> dict[str, np.ndarray]:
    """Expected masks by block name, from the op references: cell (c, p) of tensor n is in
    the receptive field of the selected output when a bump of +1 there changes that output
    in the network with every weight made positive (|w| + 1) and every bias zero."""
    last = selected_layer(network)
    assert last is not None
    layers = network.layers[:last + 1]
    positive = {}
    for layer in layers:
        prefix = layer.names.tensor
        local = {name[len(prefix):]: np.asarray(t[name], dtype=float)
                 for name in layer.tensor_shapes()}
        positive[layer.label] = {key: (np.abs(a) + 1.0 if key == "weight" else np.zeros_like(a))
                                 for key, a in local.items()}
    c_sel, r_sel, k_sel, valid = selection
    shapes = [network.input_shape] + [layer.out_shape for layer in layers]
    labels = ["input"] + [layer.label for layer in layers]

    def run(x: np.ndarray, start: int) -> float:
        for layer in layers[start:]:
            x = layer.op.reference(x, positive[layer.label])
        return float(x[int(c_sel), int(r_sel), int(k_sel)])

    out: dict[str, np.ndarray] = {}
    for n, (label, shape) in enumerate(zip(labels, shapes, strict=True)):
        mask = np.zeros(shape)
        if valid:
            base_input = np.zeros(shape)
            base = run(base_input, n)
            for index in np.ndindex(*shape):
                bumped = base_input.copy()
                bumped[index] = 1.0
                mask[index] = float(run(bumped, n) != base)
        for c in range(shape[0]):
            out[mask_name(label, c)] = mask[c]
    return out
