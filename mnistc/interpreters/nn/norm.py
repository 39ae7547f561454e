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


def normalised(x: np.ndarray, axes: tuple[int, ...], eps: float) -> np.ndarray:
    """(x - mean) / sqrt(var + eps) over `axes`, the biased variance, in float64."""
    x = x.astype(np.float64)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def affine(y: np.ndarray, weight, bias, shape) -> np.ndarray:
    """y * weight + bias, each optional, seen as `shape` to broadcast."""
    if weight is not None:
        y = y * weight.astype(np.float64).reshape(shape)
    if bias is not None:
        y = y + bias.astype(np.float64).reshape(shape)
    return y


def _affine_args(op: nn.AffineNormOp, args: tuple[Any, ...]):
    rest = list(args[1:])
    weight = rest.pop(0) if op.weight is not None else None
    bias = rest.pop(0) if op.bias is not None else None
    return args[0], weight, bias


def layer_norm(x, axis: int, eps: float, weight=None, bias=None) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        y = normalised(x, tuple(range(axis, x.ndim)), eps)
    return affine(y, weight, bias, x.shape[axis:])


def group_norm(x, groups: int, eps: float, weight=None, bias=None) -> np.ndarray:
    grouped = x.reshape(x.shape[0], groups, -1)
    with np.errstate(invalid="ignore"):
        y = normalised(grouped, (2,), eps).reshape(x.shape)
    return affine(y, weight, bias, (-1,) + (1,) * (x.ndim - 2))


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

    @impl(nn.LayerNormOp)
    def run_layer_norm(self, interpreter: Interpreter, op: nn.LayerNormOp, args: tuple[Any, ...]):
        x, weight, bias = _affine_args(op, args)
        return as_f32(layer_norm(x, op.axis.value.data, op.eps.value.data, weight, bias))

    @impl(nn.GroupNormOp)
    def run_group_norm(self, interpreter: Interpreter, op: nn.GroupNormOp, args: tuple[Any, ...]):
        x, weight, bias = _affine_args(op, args)
        return as_f32(group_norm(x, op.groups.value.data, op.eps.value.data, weight, bias))
