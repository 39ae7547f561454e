"""Reference semantics of the `norm` family."""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl

from mnistc.dialects import nn
from mnistc.interpreters.nn.common import as_f32


def batch_norm(x, mean, var, gamma, beta, eps):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    return (x - mean.reshape(shape)) * scale.reshape(shape) + beta.reshape(shape)


class NormFunctions(InterpreterFunctions):
    """Batch norm and local response normalisation."""

    @impl(nn.BatchNormOp)
    def run_batch_norm(self, interpreter: Interpreter, op: nn.BatchNormOp, args: tuple[Any, ...]):
        return as_f32(batch_norm(*args, op.eps.value.data))

    @impl(nn.LRNOp)
    def run_lrn(self, interpreter: Interpreter, op: nn.LRNOp, args: tuple[Any, ...]):
        x = args[0].astype(np.float64)
        size = op.size.value.data
        before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
        squares = np.pad(x * x, ((0, 0), (before, after), (0, 0), (0, 0)))
        window = sum(squares[:, i : i + x.shape[1]] for i in range(size))
        scale = op.bias.value.data + op.alpha.value.data / size * window
        return as_f32(x / scale ** op.beta.value.data)
