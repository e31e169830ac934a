"""The editable tensors of a layer: their random values and the names of their blocks.

Block names are the contract between a workbook and `verify` (and any user formula that refers to
them), so they are produced in exactly one place: here. Names follow PyTorch's layout, 0-based:
``input_c{c}`` for each input channel, ``{weight}_{a}_{b}`` for each kH x kW slice of a 4-D weight,
and ``{bias}`` (one row) for a bias vector.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .spec import LayerSpec

# Ranges of the default small integers: a learner can check a product in their head.
_INTEGER_RANGES = {"input": (0, 9), "weight": (-2, 2), "bias": (-3, 3)}


def random_tensors(spec: LayerSpec) -> dict[str, np.ndarray]:
    """Every editable tensor of `spec`, reproducible from its seed."""
    rng = np.random.default_rng(spec.seed)
    tensors: dict[str, np.ndarray] = {}
    for name, shape in spec.source_shapes().items():
        kind = "input" if name == "input" else "bias" if name.endswith("bias") else "weight"
        if spec.values == "integers":
            low, high = _INTEGER_RANGES[kind]
            tensors[name] = rng.integers(low, high + 1, size=shape).astype(np.int64)
        else:
            tensors[name] = np.round(rng.standard_normal(shape), 3)
    return tensors


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
    elif len(shape) == 1:
        yield tensor, ()
    else:
        raise ValueError(f"no block naming for tensor {tensor} of shape {shape}")


def block_of(array: np.ndarray, index: tuple[int, ...]) -> np.ndarray:
    """The 2-D slice that one block shows (a bias vector is shown as one row)."""
    block = array[index] if index else array
    return block.reshape(1, -1) if block.ndim == 1 else block
