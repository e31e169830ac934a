"""Drawing: the pass that turns each layer of a network into sheets (see `registry`).

One module per family of ops; importing this package registers every drawer.
"""

from __future__ import annotations

from . import (  # noqa: F401 - registers the drawers
    adaptive,
    batch_norm,
    conv,
    elementwise,
    linear,
    merge,  # add, mul, cat
    pool,
    softmax,
    upsample,
)
from .registry import DRAWERS, Drawn, draw_layer, draws

__all__ = ["DRAWERS", "Drawn", "draw_layer", "draws"]
