"""One module per op; `OPS` is the one registry (template spelling -> op class).

Adding an op is one module here, one line below and tests: the rest of convsheets (drawing,
views, guide, expected values, verify, exercises, `from_module`) only uses the `Op` interface
of `base.py` (an element-wise op is drawn by `draw/elementwise.py`, whatever it computes).
"""

from __future__ import annotations

from ._merge import Merge
from .adaptive_avg_pool2d import AdaptiveAvgPool2d
from .adaptive_max_pool2d import AdaptiveMaxPool2d
from .add import Add
from .avg_pool2d import AvgPool2d
from .base import Op, Shape
from .batch_norm2d import BatchNorm2d
from .cat import Cat
from .conv2d import Conv2d
from .conv_transpose2d import ConvTranspose2d
from .dropout import Dropout
from .flatten import Flatten
from .identity import Identity
from .leaky_relu import LeakyReLU
from .linear import Linear
from .max_pool2d import MaxPool2d
from .mul import Mul
from .relu import ReLU
from .sigmoid import Sigmoid
from .tanh import Tanh

OPS: dict[str, type[Op]] = {
    cls.op: cls for cls in (Conv2d, ConvTranspose2d, ReLU, MaxPool2d, AvgPool2d, LeakyReLU,
                          Flatten, Linear, BatchNorm2d, Dropout, Identity, AdaptiveAvgPool2d,
                          AdaptiveMaxPool2d, Sigmoid, Tanh, Add, Mul, Cat)}

__all__ = ["OPS", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "AvgPool2d", "BatchNorm2d", "Conv2d",
           "ConvTranspose2d", "Dropout", "Flatten", "Identity", "LeakyReLU", "Linear",
           "MaxPool2d", "Op", "ReLU", "Shape", "Sigmoid", "Tanh"]
__all__ += ["Add", "Cat", "Merge", "Mul"]  # ops with several inputs (a graph)
