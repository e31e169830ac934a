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
from .avg_pool1d import AvgPool1d
from .avg_pool2d import AvgPool2d
from .base import Op, Shape
from .batch_norm2d import BatchNorm2d
from .cat import Cat
from .conv1d import Conv1d
from .conv2d import Conv2d
from .conv_transpose1d import ConvTranspose1d
from .conv_transpose2d import ConvTranspose2d
from .dropout import Dropout
from .elu import ELU
from .flatten import Flatten
from .gelu import GELU
from .hardsigmoid import Hardsigmoid
from .hardswish import Hardswish
from .hardtanh import Hardtanh
from .identity import Identity
from .leaky_relu import LeakyReLU
from .linear import Linear
from .log_softmax import LogSoftmax
from .max_pool1d import MaxPool1d
from .max_pool2d import MaxPool2d
from .mul import Mul
from .relu import ReLU
from .relu6 import ReLU6
from .sigmoid import Sigmoid
from .silu import SiLU
from .softmax import Softmax
from .softplus import Softplus
from .tanh import Tanh
from .upsample import Upsample

OPS: dict[str, type[Op]] = {
    cls.op: cls for cls in (Conv2d, ConvTranspose2d, ReLU, MaxPool2d, AvgPool2d, LeakyReLU,
                          Flatten, Linear, BatchNorm2d, Dropout, Identity, AdaptiveAvgPool2d,
                          AdaptiveMaxPool2d, Sigmoid, Tanh, Conv1d, ConvTranspose1d, MaxPool1d,
                          AvgPool1d, ReLU6, SiLU, GELU, Hardtanh, Hardsigmoid, Hardswish, ELU,
                          Softplus, Softmax, LogSoftmax, Upsample, Add, Mul, Cat)}

__all__ = ["ELU", "GELU", "OPS", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "AvgPool1d",
           "AvgPool2d", "BatchNorm2d", "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d",
           "Dropout", "Flatten", "Hardsigmoid", "Hardswish", "Hardtanh", "Identity", "LeakyReLU",
           "Linear", "LogSoftmax", "MaxPool1d", "MaxPool2d", "Op", "ReLU", "ReLU6", "Shape",
           "SiLU", "Sigmoid", "Softmax", "Softplus", "Tanh", "Upsample"]
__all__ += ["Add", "Cat", "Merge", "Mul"]  # ops with several inputs (a graph)
