"""Reference semantics of the `activation` family, and of the activation that conv2d and
linear fuse."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl

from mnistc.dialects import nn
from mnistc.interpreters.nn.common import as_f32


_erf = np.frompyfunc(math.erf, 1, 1)


def activation(x, kind: str, params: Sequence[float] = ()):
    x = x.astype(np.float64)
    if kind == "relu":
        return np.maximum(x, 0)
    if kind == "hardtanh":
        return np.clip(x, params[0], params[1])
    if kind == "leaky_relu":
        return np.where(x >= 0, x, params[0] * x)
    if kind == "elu":
        return np.where(x > 0, x, params[0] * np.expm1(np.minimum(x, 0)))
    if kind == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if kind == "tanh":
        return np.tanh(x)
    if kind == "silu":
        return x / (1 + np.exp(-x))
    if kind == "hardswish":
        return x * np.clip(x + 3, 0, 6) / 6
    if kind == "hardsigmoid":
        return np.clip(params[0] * x + params[1], 0, 1)
    if kind == "gelu":
        return 0.5 * x * (1 + _erf(x / math.sqrt(2)).astype(np.float64))
    if kind == "gelu_tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    raise ValueError(f"unknown activation {kind}")


def fused(op: nn.FusedActivationOp, value: np.ndarray) -> np.ndarray:
    fused = op.fused_activation()
    return value if fused is None else activation(value, fused.kind, fused.params)


def _run_activation(
    self: InterpreterFunctions, interpreter: Interpreter, op: nn.ActivationOp, args: tuple[Any, ...]
):
    spec = op.activation()
    return as_f32(activation(args[0], spec.kind, spec.params))


class ActivationFunctions(InterpreterFunctions):
    """Every op of the family through `activation`: one @impl per op, made below from the
    family's list, so an activation needs only its formula there."""


for _op in nn.activation.OPS:
    setattr(ActivationFunctions, f"run_{_op.name.removeprefix('nn.')}", impl(_op)(_run_activation))
