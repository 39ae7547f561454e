"""Reference semantics of the `reduce` family (np.max and np.min propagate NaN, as
PyTorch's amax and amin do)."""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl

from mnistc.dialects import nn
from mnistc.interpreters.nn.common import as_f32

REDUCTIONS = {
    nn.ReduceMeanOp: np.mean,
    nn.ReduceSumOp: np.sum,
    nn.ReduceMaxOp: np.max,
    nn.ReduceMinOp: np.min,
}
"""The NumPy function of each reduction."""


def reduce(op_type: type[nn.ReduceOp], x: np.ndarray, dims, keepdim: bool) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return REDUCTIONS[op_type](x.astype(np.float64), axis=tuple(dims), keepdims=keepdim)


def _run_reduce(
    self: InterpreterFunctions, interpreter: Interpreter, op: nn.ReduceOp, args: tuple[Any, ...]
):
    return as_f32(reduce(type(op), args[0], op.reduced_dims(), bool(op.keepdim.value.data)))


class ReduceFunctions(InterpreterFunctions):
    """Every reduction through `reduce`: one @impl per op, made below from the table."""


for _op in REDUCTIONS:
    setattr(ReduceFunctions, f"run_{_op.name.removeprefix('nn.')}", impl(_op)(_run_reduce))
