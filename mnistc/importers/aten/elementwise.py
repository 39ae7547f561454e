"""aten add, sub, mul, div, prelu, maximum, minimum and pow → `nn.add`, `nn.sub`, `nn.mul`,
`nn.div`, `nn.prelu`, `nn.max`, `nn.min`, `nn.powf` or `nn.pow` (folded in Python when both
sides are constants)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from xdsl.ir import SSAValue

from mnistc.dialects import nn
from mnistc.importers.aten import python, reduce
from mnistc.importers.aten.graph import ConversionContext, Node, NodeError


def _operand(ctx: ConversionContext, node: Node, index: int, scale: float = 1.0) -> SSAValue:
    """A tensor operand of add/mul: a run-time tensor, or a constant turned into a weight."""
    value = node.args[index]
    if isinstance(value, SSAValue):
        if scale != 1:
            raise NodeError("add with alpha != 1 on run-time tensors is not supported")
        return value
    tensor = value if isinstance(value, torch.Tensor) else torch.tensor(float(value))
    return ctx.weight(node.arg_names[index], tensor.float() * scale)


def _folds(args: list[Any]) -> bool:
    return not any(isinstance(a, SSAValue) for a in args[:2])


def _arithmetic(op_type: type[nn.BinaryOp], fold: Callable) -> Callable:
    """add/mul: folded in Python when both sides are constants, else an `nn` op."""

    def convert(ctx: ConversionContext, node: Node) -> tuple:
        args = node.args
        alpha = args[2] if len(args) > 2 and op_type is nn.AddOp else 1
        if _folds(args):
            lhs, rhs = python.traced_sizes(args[:2])
            return (fold(lhs, rhs * alpha if alpha != 1 else rhs),)
        return ctx.insert(op_type(_operand(ctx, node, 0), _operand(ctx, node, 1, alpha)))

    return convert


def convert_sub(ctx: ConversionContext, node: Node) -> tuple:
    """a - alpha * b: `nn.sub` (of `mul(b, alpha)` when alpha != 1), or an add of the
    negated constant when b is constant (which the conv epilogues can take)."""
    args = node.args
    alpha = args[2] if len(args) > 2 else 1
    if _folds(args):
        return (args[0] - args[1] * alpha,)
    lhs = _operand(ctx, node, 0)
    if not isinstance(args[1], SSAValue):
        return ctx.insert(nn.AddOp(lhs, _operand(ctx, node, 1, -alpha)))
    rhs = args[1]
    if alpha != 1:
        (rhs,) = ctx.insert(nn.MulOp(rhs, ctx.weight("alpha", torch.tensor(float(alpha)))))
    return ctx.insert(nn.SubOp(lhs, rhs))


# div, and the element-wise maximum and minimum. `max`/`min` are also the
# reductions `max.dim`/`min.dim` (values and indices), told apart by their arguments.


def convert_div(ctx: ConversionContext, node: Node) -> tuple:
    """a / b; on Python numbers (shape arithmetic) the Python evaluation of aten::div."""
    args = node.args
    if _folds(args):
        return python.CONVERTERS["aten::div"](ctx, node)
    if len(args) > 2 and args[2] is not None:
        raise NodeError(f"div with rounding_mode '{args[2]}' on run-time tensors")
    return ctx.insert(nn.DivOp(_operand(ctx, node, 0), _operand(ctx, node, 1)))


def _extremum(op_type: type[nn.BinaryOp], fold: Callable, reduction: Callable) -> Callable:
    """maximum/minimum (and max/min of two tensors); max.dim/min.dim go to `reduction`."""

    def convert(ctx: ConversionContext, node: Node) -> tuple:
        args = node.args
        if len(args) < 2:
            raise NodeError(f"{node.kind} of a whole tensor (it would reduce over the batch)")
        if isinstance(args[1], int) and not isinstance(args[1], bool):
            return reduction(ctx, node)
        if _folds(args):
            return (fold(torch.as_tensor(args[0]), torch.as_tensor(args[1])),)
        return ctx.insert(op_type(_operand(ctx, node, 0), _operand(ctx, node, 1)))

    return convert


def convert_pow(ctx: ConversionContext, node: Node) -> tuple:
    """pow.Tensor_Scalar (a number exponent) → `nn.pow`, which runs PyTorch's fast paths
    (x * x, sqrt, 1 / x); pow.Tensor_Tensor and pow.Scalar (a tensor exponent, or a
    number base) → `nn.powf`, C's powf as PyTorch computes them, even for a constant
    tensor exponent (pow(-inf, 0.5) is inf there, NaN by sqrt)."""
    args = node.args
    if _folds(args):
        return (args[0] ** args[1],)
    if not isinstance(args[0], SSAValue) or isinstance(args[1], SSAValue | torch.Tensor):
        return ctx.insert(nn.PowfOp(_operand(ctx, node, 0), _operand(ctx, node, 1)))
    return ctx.insert(nn.PowOp(args[0], float(args[1])))


def convert_prelu(ctx: ConversionContext, node: Node) -> tuple:
    x = ctx.tensor(node, 0)
    slope = node.args[1]
    if not isinstance(slope, torch.Tensor):
        raise NodeError("prelu with a slope computed at run time")
    rank = len(nn.shape_of(x))
    shaped = slope.reshape((-1,) + (1,) * (rank - 2)) if slope.numel() > 1 and rank > 2 else slope
    return ctx.insert(nn.PReluOp(x, ctx.weight(node.arg_names[1], shaped)))


CONVERTERS = {
    "aten::add": _arithmetic(nn.AddOp, lambda a, b: a + b),
    "aten::mul": _arithmetic(nn.MulOp, lambda a, b: a * b),
    "aten::prelu": convert_prelu,
    "aten::sub": convert_sub,
    "aten::div": convert_div,
    "aten::max": _extremum(nn.MaxOp, torch.maximum, reduce.convert_max_dim),
    "aten::maximum": _extremum(nn.MaxOp, torch.maximum, reduce.convert_max_dim),
    "aten::min": _extremum(nn.MinOp, torch.minimum, reduce.convert_min_dim),
    "aten::minimum": _extremum(nn.MinOp, torch.minimum, reduce.convert_min_dim),
    "aten::pow": convert_pow,
}
