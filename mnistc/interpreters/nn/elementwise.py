"""Reference semantics of the `elementwise` family (NumPy broadcasting is PyTorch's)."""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl

from mnistc.dialects import nn
from mnistc.interpreters.nn.activation import fused
from mnistc.interpreters.nn.common import as_f32


class ElementwiseFunctions(InterpreterFunctions):
    """add, mul and prelu, each with its fused activation."""

    @impl(nn.AddOp)
    def run_add(self, interpreter: Interpreter, op: nn.AddOp, args: tuple[Any, ...]):
        return as_f32(fused(op, args[0].astype(np.float64) + args[1]))

    @impl(nn.MulOp)
    def run_mul(self, interpreter: Interpreter, op: nn.MulOp, args: tuple[Any, ...]):
        return as_f32(fused(op, args[0].astype(np.float64) * args[1]))

    @impl(nn.PReluOp)
    def run_prelu(self, interpreter: Interpreter, op: nn.PReluOp, args: tuple[Any, ...]):
        x = args[0].astype(np.float64)
        return as_f32(fused(op, np.where(x >= 0, x, x * args[1])))
