"""log_softmax: the logarithm of softmax, x - max - LN(SUM(EXP(x - max))), over the channels of
each pixel or a vector's features (`torch.nn.LogSoftmax`): what NLLLoss reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ._softmax import SoftmaxBase


@dataclass(frozen=True)
class LogSoftmax(SoftmaxBase):
    op: ClassVar[str] = "log_softmax"
    module: ClassVar[str] = "LogSoftmax"
    default_prefix: ClassVar[str] = "logsoftmax"
    summary: ClassVar[str] = ("log_softmax over the channels (dim=1): x - max - "
                              "LN(SUM(EXP(x - max)))")
    log: ClassVar[bool] = True
