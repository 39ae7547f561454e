"""Reference semantics of the `elementwise` family (NumPy broadcasting is PyTorch's)."""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl

from mnistc.dialects import nn
from mnistc.interpreters.nn.activation import fused
from mnistc.interpreters.nn.common import as_f32


class ElementwiseFunctions(InterpreterFunctions):
    """add, mul, prelu, sub, div, max, min and powf, each with its fused activation."""

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

    # NumPy's maximum and minimum propagate NaN, as torch's do.
    @impl(nn.SubOp)
    def run_sub(self, interpreter: Interpreter, op: nn.SubOp, args: tuple[Any, ...]):
        return as_f32(fused(op, args[0].astype(np.float64) - args[1]))

    @impl(nn.DivOp)
    def run_div(self, interpreter: Interpreter, op: nn.DivOp, args: tuple[Any, ...]):
        with np.errstate(all="ignore"):
            return as_f32(fused(op, args[0].astype(np.float64) / args[1]))

    @impl(nn.MaxOp)
    def run_max(self, interpreter: Interpreter, op: nn.MaxOp, args: tuple[Any, ...]):
        return as_f32(fused(op, np.maximum(args[0].astype(np.float64), args[1])))

    @impl(nn.MinOp)
    def run_min(self, interpreter: Interpreter, op: nn.MinOp, args: tuple[Any, ...]):
        return as_f32(fused(op, np.minimum(args[0].astype(np.float64), args[1])))

    @impl(nn.PowfOp)
    def run_powf(self, interpreter: Interpreter, op: nn.PowfOp, args: tuple[Any, ...]):
        """NumPy's power is C's pow, special values included (0^0 = 1, (-2)^0.5 = NaN)."""
        with np.errstate(all="ignore"):
            return as_f32(fused(op, np.power(args[0].astype(np.float64), args[1])))
