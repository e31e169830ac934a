"""The drawing pass's registry: which function draws each op, and what a drawn layer records.

Like `torch.fx.Interpreter` dispatching on a node's target, the workbook builder walks the
network and hands each layer to the drawer registered for its op class (or the nearest base
class: every element-wise op shares one drawer). A drawer adds the layer's sheets and returns
a `Drawn` record of the blocks it made, by what they mean; the views read that record and
the op's declared geometry, never the drawer's internals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..layout import Block
from ..ops import Op
from ..plan import LayerContext


@dataclass
class Drawn:
    """One layer as drawn: its input blocks, its output blocks, and the stages views read."""

    ctx: LayerContext
    inputs: list[Block]
    outputs: list[Block]
    windowed: list[Block] | None = None  # what the op's `window()` cuts from, per channel
    weights: list[list[Block]] | None = None  # the editable weight grid, PyTorch layout
    kernels: list[list[Block]] | None = None  # the kernels the windows multiply (undilated)
    bias: Block | None = None
    views: dict[str, list[Block]] = field(default_factory=dict)  # blocks views drew, by view

    @property
    def op(self) -> Op:
        return self.ctx.layer.op


Drawer = Callable[[LayerContext, Sequence[Block]], Drawn]
DRAWERS: dict[type[Op], Drawer] = {}


def draws(*classes: type[Op]) -> Callable[[Drawer], Drawer]:
    """Register the decorated function as the drawer of `classes` (and their subclasses)."""
    def register(function: Drawer) -> Drawer:
        for cls in classes:
            DRAWERS[cls] = function
        return function
    return register


def draw_layer(ctx: LayerContext, sources: Sequence[Block]) -> Drawn:
    """Draw one layer with the drawer of its op's class or nearest registered base class."""
    for cls in type(ctx.layer.op).__mro__:
        if cls in DRAWERS:
            return DRAWERS[cls](ctx, sources)
    raise TypeError(f"no drawer is registered for {type(ctx.layer.op).__name__}")
