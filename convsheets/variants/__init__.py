"""The seven variants: presets that compose ops, with the first release's block names.

`VARIANTS` is the registry the CLI, the guide sheet and the tests iterate over.
"""

from __future__ import annotations

from . import basic, depthwise, dilated, grouped, pointwise, separable, transposed
from .base import Variant

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (basic.VARIANT, pointwise.VARIANT, depthwise.VARIANT, separable.VARIANT,
              transposed.VARIANT, dilated.VARIANT, grouped.VARIANT)
}

__all__ = ["VARIANTS", "Variant"]
