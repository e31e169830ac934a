"""How a picture's 0..255 grey levels become a network's input: a template's ``invert``,
``scale``, ``round``, ``mean`` and ``std`` keys (the last two as torchvision's ``Normalize``).

A model learns on numbers of a certain range and polarity (scikit-learn's digits: 0..16, ink
high; MNIST in torchvision: 0..1, then standardised). A picture given with ``--image`` is read
as integers 0..255 (`images.load_image`, resized to the template's ``input_size`` by averaging
boxes of pixels); then, per pixel p of channel c, in this order:

1. ``invert = true``: p -> 255 - p (a drawing in dark ink on light paper, for a model that
   learned light ink on a dark background);
2. ``scale = s``: p -> p / s (``scale = 255``: 0..1; ``scale = 15.9375``: 0..16);
3. ``round = true``: to the nearest integer (the model learned on integers; no ties occur when
   ``scale`` is 255/16);
4. ``mean``/``std`` (one number, or one per channel): x -> (x - mean[c]) / std[c].

Unset keys change nothing (p stays 0..255). The keys apply to a picture only: a template's own
``input`` (or from_module's x) is taken as the network's input as it is. The guide says what
was done (`describe`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .errors import SpecError

KEYS = ("invert", "scale", "round", "mean", "std")


@dataclass(frozen=True)
class Scaling:
    invert: bool = False
    scale: float = 1.0
    round: bool = False
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        """(C, H, W) integers 0..255 -> the network input (int64 when every step keeps
        integers, so cells show 7, not 7.0)."""
        x = pixels.astype(np.float64)
        if self.invert:
            x = 255.0 - x
        if self.scale != 1.0:
            x = x / self.scale
        if self.round:
            x = np.floor(x + 0.5)
        mean = np.asarray(self.mean, dtype=np.float64).reshape(-1, 1, 1)
        std = np.asarray(self.std, dtype=np.float64).reshape(-1, 1, 1)
        standardise = bool(np.any(mean != 0.0) or np.any(std != 1.0))
        if standardise:
            x = (x - mean) / std
        integral = (self.round or self.scale == 1.0) and not standardise
        return x.astype(np.int64) if integral else x

    def describe(self) -> str:
        """The steps in words, for the guide's note on where the input came from."""
        steps = []
        if self.invert:
            steps.append("inverted (255 - p)")
        if self.scale != 1.0:
            steps.append(f"divided by {self.scale:g} (0..255 -> 0..{255 / self.scale:g})")
        if self.round:
            steps.append("rounded to the nearest integer")
        if any(m != 0.0 for m in self.mean) or any(s != 1.0 for s in self.std):
            steps.append(f"standardised (x - mean {_list(self.mean)}) / std {_list(self.std)}")
        return ", ".join(steps)


def _list(values: tuple[float, ...]) -> str:
    return f"{values[0]:g}" if len(values) == 1 else "[" + ", ".join(f"{v:g}" for v in values) + "]"


def read_scaling(values: Mapping[str, object], channels: int, where: str) -> Scaling | None:
    """The template's scaling keys, checked (one line naming the key); None when it has none."""
    if not any(key in values for key in KEYS):
        return None
    for key in ("invert", "round"):
        if not isinstance(values.get(key, False), bool):
            raise SpecError(key, values[key], "must be true or false", where)
    scale = values.get("scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or \
            not math.isfinite(scale) or scale <= 0:
        raise SpecError("scale", scale, "must be a number above 0 (pixels are divided by it)",
                        where)
    mean = _per_channel(values, "mean", 0.0, channels, where)
    std = _per_channel(values, "std", 1.0, channels, where)
    if any(s <= 0 for s in std):
        raise SpecError("std", values["std"], "must be above 0", where)
    return Scaling(bool(values.get("invert", False)), float(scale),
                   bool(values.get("round", False)), mean, std)


def _per_channel(values: Mapping[str, object], key: str, default: float, channels: int,
                 where: str) -> tuple[float, ...]:
    raw = values.get(key, default)
    items = raw if isinstance(raw, list) else [raw]
    if not items or len(items) not in (1, channels) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in items):
        raise SpecError(key, raw, f"must be a number or a list of {channels} numbers (one per "
                        "input channel)", where)
    return tuple(float(v) for v in items) * (channels if len(items) == 1 else 1)
