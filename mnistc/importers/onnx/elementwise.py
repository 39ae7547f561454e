"""ONNX Add, Sub, Mul, Div, Sum, Max, Min, PRelu and Pow → `nn.add`, `nn.sub`, `nn.mul`,
`nn.div`, `nn.max`, `nn.min`, `nn.prelu`, `nn.pow` or `nn.powf`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from xdsl.ir import SSAValue

from mnistc.dialects import nn
from mnistc.importers.onnx.graph import Graph, Unsupported


def _aligned(g: Graph, node, index: int, like: SSAValue, attrs) -> SSAValue:
    """An operand of Add/Mul; opset < 7 broadcasting (`broadcast`, `axis`) made explicit."""
    name = node.input[index]
    value = g.values[name]
    if index == 1 and attrs.get("broadcast") and not isinstance(value, SSAValue):
        rank = len(nn.shape_of(like))
        axis = attrs.get("axis", rank - value.ndim) % rank
        value = value.reshape((1,) * axis + value.shape + (1,) * (rank - axis - value.ndim))
        return g.weight(name, value)
    return g.tensor(name)


def per_sample(g: Graph, op: nn.BinaryOp) -> nn.BinaryOp:
    """The op, unless a constant broadcasts its result beyond the one sample (a constant
    whose first dimension is the batch size the model was exported with, say): the
    model runs sample by sample, so such a graph cannot be compiled (but imported whole).
    A first dimension other than 1 that a run-time operand has too is the sample's
    ([N*H, L, S] scores hold H heads per sample; a moved batch's place is checked before
    conversion)."""
    shape = nn.shape_of(op.output)
    run_time = [nn.shape_of(v) for v in op.operands if not isinstance(v.owner, nn.WeightOp | nn.SplatOp)]
    across = not any(s[:1] == shape[:1] and len(s) == len(shape) for s in run_time)
    if shape and shape[0] != 1 and g.moved.followed and across:
        raise Unsupported(f"a constant broadcasts the result to {list(shape)}, across samples")
    return op


def _binary(op_type: type[nn.BinaryOp]) -> Callable:
    def convert(g: Graph, node, attrs) -> tuple:
        lhs = g.tensor(node.input[0])
        return g.insert(per_sample(g, op_type(lhs, _aligned(g, node, 1, lhs, attrs))))

    return convert


def convert_prelu(g: Graph, node, attrs) -> tuple:
    x = g.tensor(node.input[0])
    slope = g.float_constant(node.input[1], "PRelu's slope")
    rank = len(nn.shape_of(x))
    if slope.ndim == 1 and rank > 2 and slope.size == nn.shape_of(x)[1]:
        slope = slope.reshape((-1,) + (1,) * (rank - 2))  # opset < 7: one slope per channel
    return g.insert(nn.PReluOp(x, g.weight(node.input[1], slope)))


SQRT_EXPONENTS = (0.5, -0.5)
"""The exponents that `nn.pow` runs by sqrt, as PyTorch does, whose special values are not
powf's, ONNX Runtime's (sqrt(-inf) is NaN, powf(-inf, 0.5) is inf)."""


def convert_pow(g: Graph, node, attrs) -> tuple:
    """Pow by a constant of one value that does not broadcast the base → `nn.pow` (its
    fast paths: x * x for the squares of a decomposed LayerNorm), but for SQRT_EXPONENTS;
    any other exponent, of any shape, computed at run time or not, and a constant base →
    `nn.powf`, broadcasting. The exponent's constant may be an integer tensor (Pow's T2)."""
    x, name = g.tensor(node.input[0]), node.input[1]
    exponent = g.values[name]
    if isinstance(exponent, SSAValue):
        return g.insert(per_sample(g, nn.PowfOp(x, exponent)))
    exponent = np.asarray(exponent, dtype=np.float32)
    same_shape = nn.broadcast_shape(nn.shape_of(x), exponent.shape) == nn.shape_of(x)
    if same_shape and _one_value(exponent) and exponent.flat[0] not in SQRT_EXPONENTS:
        return g.insert(nn.PowOp(x, float(exponent.flat[0])))
    return g.insert(per_sample(g, nn.PowfOp(x, g.weight(name, exponent))))


def _one_value(array: np.ndarray) -> bool:
    """All of the array's elements are one number (a scalar, a splat)."""
    return array.size > 0 and bool(np.all(array == array.flat[0]))


def _variadic(op_type: type[nn.BinaryOp]) -> Callable:
    """Sum, Max, Min of any number of inputs: a chain of binary ops."""

    def convert(g: Graph, node, attrs) -> tuple:
        total = g.tensor(node.input[0])
        for name in node.input[1:]:
            (total,) = g.insert(per_sample(g, op_type(total, g.tensor(name))))
        return (total,)

    return convert


CONVERTERS = {
    "Add": _binary(nn.AddOp),
    "Mul": _binary(nn.MulOp),
    "PRelu": convert_prelu,
    "Sum": _variadic(nn.AddOp),
    "Div": _binary(nn.DivOp),
    "Max": _variadic(nn.MaxOp),
    "Min": _variadic(nn.MinOp),
    "Sub": _binary(nn.SubOp),
    "Pow": convert_pow,
}
