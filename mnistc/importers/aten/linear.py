"""aten matrix products with a constant weight → `nn.linear`."""

from __future__ import annotations

from typing import Any

import torch

from mnistc.dialects import nn
from mnistc.importers import matmul_ops
from mnistc.importers.aten.graph import ConversionContext, Node, NodeError


def _constant_matrix(value: Any, what: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or value.dim() != 2:
        raise NodeError(f"{what} must be a constant matrix")
    return value


def convert_linear(ctx: ConversionContext, node: Node) -> tuple:
    """On [N, IN], or on the rows of [..., IN] (a transformer's tokens)."""
    x, weight = ctx.tensor(node, 0), ctx.tensor(node, 1)
    bias = None if node.args[2] is None else ctx.tensor(node, 2)
    if len(nn.shape_of(x)) < 2:
        raise NodeError(f"linear on a rank-{len(nn.shape_of(x))} input is not supported")
    return (matmul_ops.linear_rows(ctx.builder, x, weight, bias),)


def convert_addmm(ctx: ConversionContext, node: Node) -> tuple:
    args = node.args
    if args[3] != 1 or args[4] != 1:
        raise NodeError("addmm with beta or alpha other than 1 is not supported")
    x = ctx.tensor(node, 1)
    weight = _constant_matrix(args[2], "the second matrix of addmm")
    w = ctx.weight(node.arg_names[2], weight.t())
    return ctx.insert(nn.LinearOp(x, w, ctx.tensor(node, 0)))


CONVERTERS = {
    "aten::addmm": convert_addmm,
    "aten::linear": convert_linear,
}
"""aten::matmul is the `matmul` family's (a constant right operand still makes a linear)."""
