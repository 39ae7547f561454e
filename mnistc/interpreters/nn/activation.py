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
    if kind in _MATH:
        with np.errstate(all="ignore"):
            return _MATH[kind](x, *params)
    raise ValueError(f"unknown activation {kind}")


def _softplus(x, beta=1.0, threshold=20.0):
    return np.where(x * beta > threshold, x, np.log1p(np.exp(x * beta)) / beta)


def _selu(x):
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return scale * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _pow(x, exponent: float):
    """PyTorch's pow by a constant: the exponents it special-cases by the same operations."""
    special = {2: np.square, 3: lambda v: v * v * v, 0.5: np.sqrt, -0.5: lambda v: 1 / np.sqrt(v),
               -1: lambda v: 1 / v, -2: lambda v: 1 / (v * v)}  # fmt: skip
    return special[exponent](x) if exponent in special else np.power(x, exponent)


_MATH = {
    "mish": lambda x: x * np.tanh(_softplus(x)),
    "softplus": _softplus,
    "softsign": lambda x: x / (1 + np.abs(x)),
    "selu": _selu,
    "celu": lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0) / alpha)),
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "rsqrt": lambda x: 1 / np.sqrt(x),
    "neg": np.negative,
    "abs": np.abs,
    "pow": _pow,
    "reciprocal": lambda x: 1 / x,
}
"""The activations and element-wise math of issue 12, in float64 (NaN and infinities
come through as in PyTorch)."""


def glu(x, dim: int):
    a, b = np.split(x.astype(np.float64), 2, axis=dim)
    with np.errstate(over="ignore"):
        return a / (1 + np.exp(-b))


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
    family's list, so an activation needs only its formula there; and nn.glu."""

    @impl(nn.GluOp)
    def run_glu(self, interpreter: Interpreter, op: nn.GluOp, args: tuple[Any, ...]):
        return as_f32(glu(args[0], op.dim.value.data))


for _op in nn.activation.ACTIVATION_OPS:
    setattr(ActivationFunctions, f"run_{_op.name.removeprefix('nn.')}", impl(_op)(_run_activation))
