"""aten normalisation → `nn.batch_norm`."""

from __future__ import annotations

import torch

from mnistc.dialects import nn
from mnistc.importers.aten.graph import ConversionContext, Node, NodeError


def convert_batch_norm(ctx: ConversionContext, node: Node) -> tuple:
    args = node.args
    x = ctx.tensor(node, 0)
    if args[5]:
        raise NodeError("batch_norm in training mode; call model.eval() before saving")
    channels = nn.shape_of(x)[1]
    gamma = ctx.tensor(node, 1) if args[1] is not None else ctx.weight("ones", torch.ones(channels))
    beta = ctx.tensor(node, 2) if args[2] is not None else ctx.weight("zeros", torch.zeros(channels))
    mean, var = ctx.tensor(node, 3), ctx.tensor(node, 4)
    return ctx.insert(nn.BatchNormOp(x, mean, var, gamma, beta, float(args[7])))


CONVERTERS = {"aten::batch_norm": convert_batch_norm}
