"""The default view budget: which optional views a layer gets unless ``--all-views`` is given.

A view is worth drawing by default only where it is *readable* (what it shows fits a screen or
a page) and *cheap* (its cells, formulas and conditional formats keep a model-sized workbook
quick to open and to verify). Each view's rule is one function here, consulted by
`views.draw_views` (the registry's `View.budget`), so the decision is made in one place; the
guide's "Views left out" names each view it leaves out, per layer, with why, and the option
that adds it back. Hard limits are different: an explorer or matrix that Excel cannot hold
(8,192-character formulas, `limits.py`) or that is absurdly large (`matrix.MAX_MATRIX_CELLS`)
is left out by its own drawer even with ``--all-views``.

The thresholds, measured on every preset and shipped network (``convsheets build --all``)
and on LeNet-5 on a 28x28 digit (``bench/lenet28.py``):

- Explorer: the largest filter a shipped workbook explores reads 8 input channels of 3x3
  (tiny_unet's dec2: 72 products, two rows of panels) or 16 channels of 1x1 (separable's
  pointwise: a 16-row column); LeNet-5's c3 reads 6 channels of 5x5 (150 products, one row
  of six panels, about 40 columns). Past 16 channels the 1x1 explorer is a column longer than
  a screen and the panels wrap to more rows than a screen holds; and its conditional formats
  grow as (kernel blocks x channels): one per kernel block, each an OR over the filter's
  channels. Measured on LeNet-5 28x28 written with convolutions (c5 5x5 over 16 channels, f6
  1x1 over 120, output 1x1 over 84; overview and explorers only) on 2 shared cores: with
  those three explorers the workbook took 15.1 s to build (4.5 MB) and neither Gnumeric nor
  IronCalc verification ended in 200 s; without them 4.2 s (1.5 MB), Gnumeric 10 s, IronCalc
  52 s.
  So: at most `EXPLORER_MAX_CHANNELS` input channels and `EXPLORER_MAX_PRODUCTS` products.
- Matrix: every cell of an im2col (or C-transposed) matrix is its own formula. The largest a
  shipped workbook draws holds 8,192 cells (tiny_unet's up1) and 7,074 (digit_edges' 28x28
  Sobel layer, 784 patches x 9 taps); LeNet-5 28x28's c1 would hold 19,750 (784 rows x 25)
  and c3 17,400 (100 rows x 150 columns): a third of that workbook's cells, and no page shows
  150 columns or 784 rows readably. So: at most `MATRIX_MAX_CELLS`.
"""

from __future__ import annotations

from collections.abc import Callable

from .network import Layer
from .ops import Conv2d, ConvTranspose2d

EXPLORER_MAX_CHANNELS = 16  # input channels one explored filter reads (a screen's panels)
EXPLORER_MAX_PRODUCTS = 150  # channels x kernel taps: LeNet-5's c3 (6 x 5x5) is the largest
MATRIX_MAX_CELLS = 10_000  # cells of a layer's matrices (about 100 rows x 100 columns)
ALL_VIEWS = "--all-views (all_views=True in the API)"  # how every left-out view comes back

Budget = Callable[[Layer], "str | None"]  # a layer -> why the view is left out, or None


def explorer_budget(layer: Layer) -> str | None:
    """Why the layer's Explorer sheet is left out by default, or None when it is drawn."""
    window = layer.op.window()
    if window is None:
        return None
    kh, kw = window.kernel
    products = window.per_in * kh * kw
    if window.per_in > EXPLORER_MAX_CHANNELS:
        return (f"its filter reads {window.per_in} input channels (more than "
                f"{EXPLORER_MAX_CHANNELS} do not fit a screen, and each kernel cell would "
                "carry a highlight rule testing every one of them)")
    if products > EXPLORER_MAX_PRODUCTS:
        return (f"one output cell sums {products} products ({window.per_in} channels × "
                f"{kh}×{kw}; more than {EXPLORER_MAX_PRODUCTS} do not fit a screen)")
    return None


def matrix_cells(layer: Layer) -> int:
    """The cells a layer's matrix view would hold, counted as its drawer counts them
    (`matrix.direct_matrix_stage`: im2col and the weights; `transposed_matrix_stage`: C)."""
    op = layer.op
    window = op.window()
    assert window is not None and isinstance(op, (Conv2d, ConvTranspose2d))
    kh, kw = window.kernel
    channels, h, w = layer.in_shape
    filters, oh, ow = layer.out_shape
    if isinstance(op, ConvTranspose2d):
        return channels * (filters // op.groups) * h * w * oh * ow
    taps = channels * kh * kw
    return oh * ow * taps + taps * filters


def matrix_budget(layer: Layer) -> str | None:
    """Why the layer's Matrix sheet is left out by default, or None when it is drawn."""
    cells = matrix_cells(layer)
    if cells <= MATRIX_MAX_CELLS:
        return None
    return (f"its matrices would hold {cells:,} cells (more than {MATRIX_MAX_CELLS:,}: more "
            "than a page shows readably, each cell its own formula)")


def left_out_note(label: str, sheet: str, why: str) -> str:
    """The guide's line for a view the budget leaves out."""
    return (f"{label}: the {sheet} sheet is left out by default: {why}; {ALL_VIEWS} adds "
            "it.")
