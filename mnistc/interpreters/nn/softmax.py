"""Reference semantics of the `softmax` family."""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl

from mnistc.dialects import nn
from mnistc.interpreters.nn.common import as_f32


def softmax(x, dim, log=False):
    x = x.astype(np.float64)
    shifted = x - x.max(axis=dim, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
    return shifted - log_sum if log else np.exp(shifted - log_sum)


class SoftmaxFunctions(InterpreterFunctions):
    """softmax and log_softmax, computed stably."""

    @impl(nn.SoftmaxOp)
    def run_softmax(self, interpreter: Interpreter, op: nn.SoftmaxOp, args: tuple[Any, ...]):
        return as_f32(softmax(args[0], op.dim.value.data))

    @impl(nn.LogSoftmaxOp)
    def run_log_softmax(self, interpreter: Interpreter, op: nn.LogSoftmaxOp, args: tuple[Any, ...]):
        return as_f32(softmax(args[0], op.dim.value.data, log=True))
