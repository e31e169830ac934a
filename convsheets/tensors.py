"""The editable tensors of a layer: their random values and the names of their blocks.

Block names are the contract between a workbook and `verify` (and any user formula that refers to
them), so they are produced in exactly one place: here. Names follow PyTorch's layout, 0-based:
``input_c{c}`` for each input channel, ``{weight}_{a}_{b}`` for each kH x kW slice of a 4-D weight,
and ``{bias}`` (one row) for a bias vector.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .network import Network

# Ranges of the default small integers: a learner can check a product in their head.
_INTEGER_RANGES = {"input": (0, 9), "weight": (-2, 2), "bias": (-3, 3), "mean": (-3, 3),
                   "variance": (1, 4), "target": (-3, 3)}
# batch norm's statistics come last, then --backward's target (so it changes no other number)
_ORDER = ("input", "weight", "bias", "mean", "variance", "target", "target_class")


def random_tensors(network: Network) -> dict[str, np.ndarray]:
    """Every editable tensor of `network`, reproducible from its seed; tensors the template
    gave (`network.given`) replace the random ones, which are still drawn so that giving one
    tensor does not change the others."""
    rng = np.random.default_rng(network.seed)
    tensors: dict[str, np.ndarray] = {}
    shapes = network.source_shapes()
    # Drawn in a fixed order, the input, then every weight, then every bias (layer order),
    # so the first release's workbooks keep their numbers.
    order = sorted(shapes, key=lambda name: _ORDER.index(_kind(name)))
    for name in order:
        shape, kind = shapes[name], _kind(name)
        if kind == "target_class":  # cross_entropy's: one of the classes
            tensors[name] = rng.integers(0, network.output_shape[-1], size=shape)
        elif network.values == "integers":
            low, high = _INTEGER_RANGES[kind]
            tensors[name] = rng.integers(low, high + 1, size=shape).astype(np.int64)
        elif kind == "variance":  # a variance is positive
            tensors[name] = np.round(0.5 + np.abs(rng.standard_normal(shape)), 3)
        else:
            tensors[name] = np.round(rng.standard_normal(shape), 3)
    for name, array in network.given.items():
        tensors[name] = array
    return {name: tensors[name] for name in shapes}


def _kind(name: str) -> str:
    if name in ("input", "target", "target_class"):
        return name
    if name.endswith("running_var"):
        return "variance"
    if name.endswith("running_mean"):
        return "mean"
    return "bias" if name.endswith("bias") else "weight"


def block_names(tensor: str, shape: tuple[int, ...]) -> Iterator[tuple[str, tuple[int, ...]]]:
    """(block name, index into the tensor) for every 2-D block of a named tensor."""
    if tensor == "input" or len(shape) == 3:
        prefix = "input" if tensor == "input" else tensor
        for c in range(shape[0]):
            yield f"{prefix}_c{c}", (c,)
    elif len(shape) == 4:
        for a in range(shape[0]):
            for b in range(shape[1]):
                yield f"{tensor}_{a}_{b}", (a, b)
    elif len(shape) in (1, 2):  # a vector (one row), or a linear layer's out x in matrix
        yield tensor, ()
    else:
        raise ValueError(f"no block naming for tensor {tensor} of shape {shape}")


def block_of(array: np.ndarray, index: tuple[int, ...]) -> np.ndarray:
    """The 2-D slice that one block shows (a bias vector is shown as one row)."""
    block = array[index] if index else array
    return block.reshape(1, -1) if block.ndim == 1 else block
