"""cat: the inputs' channels one after another (`torch.cat(dim=1)`, U-Net's skip
concatenation): the output's first channels are the first input's, then the second's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import gradients as grad
from ..errors import SpecError
from ._merge import Merge, check_same_shape
from .base import Shape


@dataclass(frozen=True)
class Cat(Merge):
    op: ClassVar[str] = "cat"
    module: ClassVar[str] = "cat"
    function: ClassVar[str] = "torch.cat"
    default_prefix: ClassVar[str] = "cat"
    summary: ClassVar[str] = ("cat: the inputs' channels one after another (a skip "
                              "concatenation)")
    options: ClassVar[dict[str, tuple[str, object]]] = {"dim": ("int", 1)}
    arity: ClassVar[int | None] = None
    differentiable: ClassVar[bool] = True
    dim: int = 1

    def check(self, in_shape: Shape) -> None:
        if self.dim not in (1, -3):
            raise SpecError("dim", self.dim, "must be 1 (channels, of (N, C, H, W)): "
                            "convsheets concatenates channels only")

    def check_inputs(self, in_shapes: Sequence[Shape], names: Sequence[str],
                     vectors: Sequence[bool]) -> None:
        super().check_inputs(in_shapes, names, vectors)
        if any(vectors):
            raise SpecError("inputs", list(names), "cat joins channels of images; "
                            f"{names[list(vectors).index(True)]} is a vector of features")
        check_same_shape("cat", in_shapes, names, (1, 2), "equal heights and widths")

    def merged_shape(self, in_shapes: Sequence[Shape]) -> Shape:
        return (sum(s[0] for s in in_shapes), in_shapes[0][1], in_shapes[0][2])

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    def rule(self) -> str:
        return "a copy of one input channel"

    def steps(self) -> tuple[str, ...]:
        return ("The output's channels are the first input's channels, then the second's "
                "(and so on): each output channel is a live copy of one input channel "
                "(torch.cat along dim=1); heights and widths must agree.",)

    def reference_many(self, xs: Sequence[np.ndarray],
                       tensors: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([np.asarray(x, dtype=np.float64) for x in xs], axis=0)

    def backward_many(self, xs: Sequence[np.ndarray], tensors: dict[str, np.ndarray],
                      grad_y: np.ndarray) -> list[np.ndarray]:
        return grad.cat_backward([np.shape(x)[0] for x in xs], grad_y)

    def backward_steps(self) -> tuple[str, ...]:
        return ("Each output channel is a copy of one input channel, so each input gets back "
                "the gradient of its own channels: the first input's (grad_input) the first "
                "channels of grad_output, the second's (grad_input1) the next ones, and so on "
                "(a live copy of one grad_output channel each).",)
