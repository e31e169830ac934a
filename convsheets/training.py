"""What a workbook with a backward pass learns from: the loss, its target and the learning rate.

``--backward`` (template key ``backward = true``) adds to any variant or network a loss
against an editable target (``loss = "mse"``: PyTorch's ``F.mse_loss`` with the mean
reduction; ``target`` given in the template or seeded), the gradient of every block (the
backward pass, `backprop.py`) and one step of ``torch.optim.SGD`` with the learning rate
``lr`` (an editable cell). ``loss = "cross_entropy"`` (``F.cross_entropy``, mean over the
batch of one) is for networks that end in class scores (a vector); its ``target`` is one whole
number, the target class (0 .. classes - 1; seeded when not given), the cell
``target_class``. This module only reads and checks those keys and records them with the
network; it knows nothing of sheets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import SpecError
from .options import to_bool, to_float

if TYPE_CHECKING:
    from .network import Network

LOSSES = ("mse", "cross_entropy")
KEYS = ("backward", "loss", "target", "lr")
DEFAULT_LR = 0.001  # small enough that the integer presets' loss goes down after one step
# The forward pass is drawn a second time, with the updated weights, only when it is this
# small (in cells of editable tensors and layer outputs): beyond it the Update sheet says so.
RECOMPUTE_LIMIT = 20_000


@dataclass(frozen=True)
class Training:
    """The loss (``mse``) and the learning rate of the one SGD step the workbook shows."""

    loss: str = "mse"
    lr: float = DEFAULT_LR

    def record(self) -> dict[str, object]:
        return {"loss": self.loss, "lr": self.lr}

    @classmethod
    def from_record(cls, record: object) -> Training:
        """Inverse of `record`, validated again (the file is untrusted)."""
        if not isinstance(record, dict):
            raise SpecError("backward", record, "must be a mapping of loss and lr")
        return make(record.get("loss", "mse"), record.get("lr", DEFAULT_LR))


def make(loss: object, lr: object) -> Training:
    """A checked `Training`: a known loss, a finite learning rate."""
    if loss not in LOSSES:
        raise SpecError("loss", loss, "must be one of " + ", ".join(LOSSES) + " (F.mse_loss, "
                        "F.cross_entropy; mean reduction)")
    rate = to_float("lr", lr)
    if not np.isfinite(rate):
        raise SpecError("lr", lr, "must be a finite number")
    return Training(str(loss), rate)


def take(values: dict[str, object]) -> dict[str, object]:
    """Remove the training keys from a template's (or the command line's) values."""
    return {key: values.pop(key) for key in KEYS if key in values}


def attach(network: Network, keys: Mapping[str, object]) -> Network:
    """The network with its training (`keys`: backward, loss, target, lr as a template or the
    command line gave them), or unchanged when backward is off. A given target must have the
    output's shape."""
    on = to_bool("backward", keys.get("backward", False))
    if not on:
        extra = [key for key in ("loss", "target", "lr") if key in keys]
        if extra:
            raise SpecError(extra[0], keys[extra[0]], "needs backward = true (--backward)")
        return network
    training = make(keys.get("loss", "mse"), keys.get("lr", DEFAULT_LR))
    network = dataclasses.replace(network, training=training, given=dict(network.given),
                                  origins=dict(network.origins))
    network.check_backward()
    if "target" in keys and training.loss == "cross_entropy":
        classes = network.output_shape[-1]
        value = keys["target"]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not 0 <= int(value) < classes:
            raise SpecError("target", value, f"must be a whole number from 0 to {classes - 1} "
                            "(the target class of cross_entropy)")
        network.given["target_class"] = np.array([int(value)], dtype=np.int64)
        network.origins["target_class"] = "the template"
    elif "target" in keys:
        shape = network.output_shape
        try:
            target = np.asarray(keys["target"], dtype=np.float64)
        except (TypeError, ValueError):
            raise SpecError("target", "...", "must be nested lists of numbers") from None
        if target.shape != shape:
            raise SpecError("target", list(target.shape), "must have the output's shape "
                            f"{list(shape)} (channels, height, width)")
        if not np.isfinite(target).all():
            raise SpecError("target", "...", "must hold finite numbers")
        network.given["target"] = target
        network.origins["target"] = "the template"
    return network
