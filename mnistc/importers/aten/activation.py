"""aten activations → the `nn` activation ops."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from xdsl.ir import SSAValue

from mnistc.dialects import nn
from mnistc.importers.aten.graph import ConversionContext, Node, NodeError


def _activation(build: Callable[[SSAValue, list[Any]], Any]) -> Callable:
    """A converter of `op(x, *parameters)`: `build(x, args)` makes the `nn` op."""

    def convert(ctx: ConversionContext, node: Node) -> tuple:
        return ctx.insert(build(ctx.tensor(node, 0), node.args))

    return convert


def _elu(x: SSAValue, args: list[Any]):
    if len(args) > 2 and (args[2] != 1 or args[3] != 1):
        raise NodeError("elu with scale or input_scale other than 1 is not supported")
    return nn.EluOp(x, float(args[1]))


# more activations and the element-wise math functions. A constant argument
# (a torch.Tensor or a Python number) is folded at import with torch, as add and mul do.


def _math(build: Callable[[SSAValue, list[Any]], Any], fold: Callable[..., Any]) -> Callable:
    """A converter of `op(x, *parameters)`: `build(x, args)` on a run-time tensor, else
    `fold(*args)` at import (shape arithmetic such as `-n`, constant tensors)."""

    def convert(ctx: ConversionContext, node: Node) -> tuple:
        if isinstance(node.args[0], SSAValue):
            return ctx.insert(build(node.args[0], node.args))
        if any(isinstance(a, SSAValue) for a in node.args):
            raise NodeError(f"{node.kind} with a run-time tensor as a parameter")
        return (fold(*node.args),)

    return convert


def _on_tensor(function: Callable[..., Any]) -> Callable[..., Any]:
    """A torch function folded on a constant tensor or a Python number (kept a number)."""

    def fold(x, *args):
        result = function(torch.as_tensor(x), *args)
        return result if isinstance(x, torch.Tensor) else result.item()

    return fold


def convert_glu(ctx: ConversionContext, node: Node) -> tuple:
    return ctx.insert(nn.GluOp(ctx.tensor(node, 0), node.args[1]))


CONVERTERS = {
    "aten::elu": _activation(_elu),
    "aten::gelu": _activation(lambda x, a: nn.GeluOp(x, a[1] if len(a) > 1 and a[1] else "none")),
    "aten::hardsigmoid": _activation(lambda x, a: nn.HardsigmoidOp(x)),
    "aten::hardswish": _activation(lambda x, a: nn.HardswishOp(x)),
    "aten::hardtanh": _activation(lambda x, a: nn.HardtanhOp(x, float(a[1]), float(a[2]))),
    "aten::leaky_relu": _activation(lambda x, a: nn.LeakyReluOp(x, float(a[1]))),
    "aten::relu": _activation(lambda x, a: nn.ReluOp(x)),
    "aten::relu6": _activation(lambda x, a: nn.HardtanhOp(x, 0.0, 6.0)),
    "aten::sigmoid": _activation(lambda x, a: nn.SigmoidOp(x)),
    "aten::silu": _activation(lambda x, a: nn.SiluOp(x)),
    "aten::tanh": _activation(lambda x, a: nn.TanhOp(x)),
    "aten::abs": _math(lambda x, a: nn.AbsOp(x), _on_tensor(torch.abs)),
    "aten::celu": _activation(lambda x, a: nn.CeluOp(x, float(a[1]))),
    "aten::exp": _math(lambda x, a: nn.ExpOp(x), _on_tensor(torch.exp)),
    "aten::glu": convert_glu,
    "aten::log": _math(lambda x, a: nn.LogOp(x), _on_tensor(torch.log)),
    "aten::mish": _activation(lambda x, a: nn.MishOp(x)),
    "aten::neg": _math(lambda x, a: nn.NegOp(x), lambda x: -x),
    "aten::reciprocal": _math(lambda x, a: nn.ReciprocalOp(x), _on_tensor(torch.reciprocal)),
    "aten::rsqrt": _math(lambda x, a: nn.RsqrtOp(x), _on_tensor(torch.rsqrt)),
    "aten::selu": _activation(lambda x, a: nn.SeluOp(x)),
    "aten::softplus": _activation(lambda x, a: nn.SoftplusOp(x, float(a[1]), float(a[2]))),
    "aten::sqrt": _math(lambda x, a: nn.SqrtOp(x), _on_tensor(torch.sqrt)),
}
