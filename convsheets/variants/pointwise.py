"""1x1 convolution (network in network): a small MLP applied at every pixel."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..layout import EDIT
from .base import COMMON, Variant

if TYPE_CHECKING:
    from ..guide import GuideWriter
    from ..layout import Block
    from ..spec import LayerSpec

# The seed's 1x1 bottleneck example (a 128x128 input; editable on the pointwise guide).
BOTTLENECK = (("bottleneck_in_channels", "input channels C", 256),
              ("bottleneck_out_channels", "k x k kernels K (output channels)", 512),
              ("bottleneck_kernel", "kernel size k", 3),
              ("bottleneck_mid_channels", "1x1 kernels M in between", 64),
              ("bottleneck_size", "input height = width H (same-size output)", 128))
BOTTLENECK_INPUTS = tuple(name for name, _label, _value in BOTTLENECK)


def _bottleneck(cur: GuideWriter, spec: LayerSpec) -> None:
    """The seed's arithmetic: a 1x1 bottleneck cuts 1,179,648 weights to 311,296, and the
    multiply-adds on a 128x128 input in the same proportion."""
    from ..guide import COL_TEXT, COL_VALUE

    cur.gap()
    cur.text("Bottleneck arithmetic from the seed (edit the yellow cells)", "cs_title")
    cur.text("A 128x128 input with C channels, K kernels of k x k (padded: the output is "
             "128x128 too): weights and multiply-adds needed directly, and with a 1x1 "
             "convolution of M kernels first. Each weight is used once per output pixel.")
    cells = {name: cur.block(label, cur.scalar(name, EDIT, value))
             for name, label, value in BOTTLENECK}

    def r(name: str) -> Callable[[Block], str]:
        return lambda h: cells[name].ref(0, 0, absolute=True, from_sheet=h.sheet)

    cin, cout, k, mid, size = (r(f"bottleneck_{n}") for n in
                               ("in_channels", "out_channels", "kernel", "mid_channels", "size"))
    formulas = (
        ("direct", "k x k conv directly: k·k·C·K",
         lambda h: f"{k(h)}*{k(h)}*{cin(h)}*{cout(h)}"),
        ("reduce", "1x1 conv first: 1·1·C·M", lambda h: f"1*1*{cin(h)}*{mid(h)}"),
        ("conv", "then the k x k conv: k·k·M·K", lambda h: f"{k(h)}*{k(h)}*{mid(h)}*{cout(h)}"),
    )
    cur.sheet.widths[COL_VALUE + 1] = max(cur.sheet.col_width(COL_VALUE + 1), 15.0)
    cur.label(COL_VALUE, "weights", "cs_note")
    cur.label(COL_VALUE + 1, "multiply-adds", "cs_note")
    cur.row += 1
    made: dict[str, Block] = {}

    def row(key: str, label: str, weights: Callable[[Block], str]) -> None:
        cur.label(COL_TEXT, label)
        made[key] = cur.place(cur.formula(f"bottleneck_{key}_weights", weights, "cs_count"),
                              COL_VALUE)
        cur.place(cur.formula(f"bottleneck_{key}_mult_adds", lambda h: (
            f"{size(h)}*{size(h)}*" + made[key].ref(0, 0, absolute=True, from_sheet=h.sheet)),
            "cs_count"), COL_VALUE + 1)
        cur.row += 1

    for key, label, make in formulas:
        row(key, label, make)

    def m(key: str) -> Callable[[Block], str]:
        return lambda h: made[key].ref(0, 0, absolute=True, from_sheet=h.sheet)

    row("total", "total with the bottleneck", lambda h: f"{m('reduce')(h)}+{m('conv')(h)}")
    cur.block("reduction factor (both)", cur.formula(
        "bottleneck_reduction", lambda h: f"{m('direct')(h)}/{m('total')(h)}", "cs_ratio"))


def _expected(spec: LayerSpec, scalars: dict[str, float]) -> dict[str, float]:
    """The bottleneck figures from the guide's editable cells, in plain Python."""
    if not scalars:
        return {}
    k, cin, cout, mid, size = (scalars[f"bottleneck_{n}"] for n in
                               ("kernel", "in_channels", "out_channels", "mid_channels", "size"))
    direct, reduce, conv = k * k * cin * cout, cin * mid, k * k * mid * cout
    weights = {"direct": direct, "reduce": reduce, "conv": conv, "total": reduce + conv}
    out = {f"bottleneck_{key}_weights": value for key, value in weights.items()}
    out.update({f"bottleneck_{key}_mult_adds": size * size * value
                for key, value in weights.items()})
    out["bottleneck_reduction"] = direct / (reduce + conv)
    return out


VARIANT = Variant(
    name="pointwise",
    torch="torch.nn.functional.conv2d(x, weight, bias, stride) with a 1x1 weight",
    summary="1x1 convolution: a weighted sum across channels at every pixel (an MLP per pixel)",
    steps=(
        "Every filter is 1x1 with one weight per input channel: the Kernels sheet is a "
        "matrix, filters by input channels.",
        "At every pixel, each output channel is the weighted sum of that pixel's input "
        "channels plus a bias: the same small MLP at every pixel, no flattening.",
        "Use it to shrink or grow the number of channels (a bottleneck): see the weight "
        "arithmetic below, live.",
    ),
    honoured=COMMON | {"out_channels", "stride"},
    fixed=lambda fields: {**fields, "kernel_size": (1, 1), "padding": (0, 0),
                          "dilation": (1, 1), "groups": 1},
    refusals={"kernel_size": "a pointwise convolution has a 1x1 kernel by definition",
              "padding": "a pointwise convolution has no padding (1x1 kernel)",
              "dilation": "a pointwise convolution has no dilation (1x1 kernel)"},
    guide_extra=_bottleneck,
    expected_more=_expected,
    editable_guide_cells=BOTTLENECK_INPUTS,
)
