"""What ops with several inputs share (`torch.add`, `torch.mul`, `torch.cat`): a network that
is a graph, not a chain, joins two paths with one of these (a residual block adds its input
back, a U-Net concatenates an encoder map with the decoder's). They have no weights and no
windows; an op says how its inputs' shapes combine (`merged_shape`), which shapes it accepts
(`check_inputs`, naming both inputs when they disagree) and what it computes
(`reference_many`, in NumPy with PyTorch's semantics)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import SpecError
from .base import Op, Shape


@dataclass(frozen=True)
class Merge(Op):
    """Several inputs (other layers' outputs, by name), one output."""

    arity: ClassVar[int | None] = 2  # inputs it takes (None: two or more)
    function: ClassVar[str] = ""  # as PyTorch spells the call: "torch.add"

    def merged_shape(self, in_shapes: Sequence[Shape]) -> Shape:
        """The output shape for inputs of `in_shapes` (checked by `check_inputs`)."""
        return tuple(in_shapes[0])  # type: ignore[return-value]

    def check_inputs(self, in_shapes: Sequence[Shape], names: Sequence[str],
                     vectors: Sequence[bool]) -> None:
        """Every rule PyTorch enforces on these inputs; `names` name them in messages,
        `vectors` says which are feature vectors (after a flatten)."""
        if self.arity is not None and len(in_shapes) != self.arity:
            raise SpecError("inputs", list(names), f"{self.op} takes exactly {self.arity} "
                            "inputs")
        if self.arity is None and len(in_shapes) < 2:
            raise SpecError("inputs", list(names), f"{self.op} takes two or more inputs")
        if any(vectors) and not all(vectors):
            a = names[vectors.index(True)]
            b = names[vectors.index(False)]
            raise SpecError("inputs", list(names), f"{a} is a vector of features and {b} is "
                            "an image: they cannot be combined")

    def output_shape(self, in_shape: Shape) -> Shape:
        return in_shape  # (a layer's `out_shape` asks `merged_shape` with all its inputs)

    def reference_many(self, xs: Sequence[np.ndarray],
                       tensors: dict[str, np.ndarray]) -> np.ndarray:
        """NumPy (PyTorch semantics) output for inputs `xs`, each (C, H, W)."""
        raise NotImplementedError

    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        raise TypeError(f"{self.op} reads several inputs: use reference_many")

    def backward_many(self, xs: Sequence[np.ndarray], tensors: dict[str, np.ndarray],
                      grad_y: np.ndarray) -> list[np.ndarray]:
        """The gradient of each input (in `inputs` order) for the upstream gradient `grad_y`:
        torch.autograd's, by `gradients.py`. A merge has no weights."""
        raise NotImplementedError(f"{self.op} has no gradient rule")

    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        raise TypeError(f"{self.op} reads several inputs: use backward_many")

    def __str__(self) -> str:
        """As the call reads in a forward: ``torch.add(alpha=2.0)``, ``torch.cat(dim=1)``."""
        extra = self.extra_repr()
        return f"{self.function}({extra})" if extra else self.function

    def size_formula(self, axis: int, size: str) -> str:
        return size

    def size_text(self, axis: int, size: int) -> str:
        return "unchanged"

    def reference_size(self, axis: int, size: int) -> int:
        return size


def check_same_shape(op: str, in_shapes: Sequence[Shape], names: Sequence[str],
                     axes: Sequence[int], what: str) -> None:
    """Every input's `axes` equal the first's, or one line naming the two that differ."""
    first = in_shapes[0]
    for shape, name in zip(in_shapes[1:], names[1:], strict=True):
        if any(shape[a] != first[a] for a in axes):
            raise SpecError("inputs", list(names),
                            f"{names[0]} has shape {tuple(first)} and {name} has shape "
                            f"{tuple(shape)}: {op} needs {what}")
