"""aten matrix products with a constant weight → `nn.linear`."""

from __future__ import annotations

from typing import Any

import torch

from mnistc.dialects import nn
from mnistc.importers.aten.graph import ConversionContext, Node, NodeError


def _constant_matrix(value: Any, what: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or value.dim() != 2:
        raise NodeError(f"{what} must be a constant matrix")
    return value


def convert_linear(ctx: ConversionContext, node: Node) -> tuple:
    x, weight = ctx.tensor(node, 0), ctx.tensor(node, 1)
    if len(nn.shape_of(x)) != 2:
        raise NodeError(f"linear on a rank-{len(nn.shape_of(x))} input is not supported")
    bias = None if node.args[2] is None else ctx.tensor(node, 2)
    return ctx.insert(nn.LinearOp(x, weight, bias))


def convert_matmul(ctx: ConversionContext, node: Node) -> tuple:
    x = ctx.tensor(node, 0)
    weight = _constant_matrix(node.args[1], "the right operand of matmul")
    if len(nn.shape_of(x)) != 2:
        raise NodeError("matmul is supported on [N, K] inputs only")
    return ctx.insert(nn.LinearOp(x, ctx.weight(node.arg_names[1], weight.t())))


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
    "aten::matmul": convert_matmul,
}
