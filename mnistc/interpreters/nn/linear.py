"""Reference semantics of the `linear` family."""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl

from mnistc.dialects import nn
from mnistc.interpreters.nn.activation import fused
from mnistc.interpreters.nn.common import as_f32


def linear(x, weight, bias=None):
    out = x.astype(np.float64) @ weight.astype(np.float64).T
    return out if bias is None else out + bias


class LinearFunctions(InterpreterFunctions):
    """nn.linear, with its fused activation."""

    @impl(nn.LinearOp)
    def run_linear(self, interpreter: Interpreter, op: nn.LinearOp, args: tuple[Any, ...]):
        return as_f32(fused(op, linear(*args)))
