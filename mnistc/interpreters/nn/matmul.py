"""Reference semantics of the `matmul` family."""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl

from mnistc.dialects import nn
from mnistc.interpreters.nn.common import as_f32
from mnistc.interpreters.nn.softmax import softmax


def matmul(lhs, rhs):
    return np.matmul(lhs.astype(np.float64), rhs.astype(np.float64))


def attention(query, key, value, mask=None, scale=1.0, causal=False):
    """softmax(q k^T * scale + mask) v, as PyTorch's reference (math) implementation: a
    causal mask hides key j from query i when j > i; a row masked whole is NaN."""
    scores = matmul(query, np.swapaxes(key, -1, -2)) * scale
    if mask is not None:
        scores = scores + mask.astype(np.float64)
    if causal:
        length, keys = scores.shape[-2:]
        hidden = np.triu(np.ones((length, keys), dtype=bool), k=1)
        scores = np.where(hidden, -np.inf, scores)
    with np.errstate(invalid="ignore"):
        return matmul(softmax(scores, -1), value)


class MatmulFunctions(InterpreterFunctions):
    """nn.matmul and nn.attention."""

    @impl(nn.MatmulOp)
    def run_matmul(self, interpreter: Interpreter, op: nn.MatmulOp, args: tuple[Any, ...]):
        return as_f32(matmul(*args))

    @impl(nn.AttentionOp)
    def run_attention(self, interpreter: Interpreter, op: nn.AttentionOp, args: tuple[Any, ...]):
        query, key, value, *mask = args
        return as_f32(attention(
            query, key, value, mask[0] if mask else None, op.scale.value.data,
            bool(op.causal.value.data),
        ))  # fmt: skip
