"""aten softmax and log_softmax → `nn.softmax`, `nn.log_softmax`."""

from __future__ import annotations

from collections.abc import Callable

import torch

from mnistc.dialects import nn
from mnistc.importers.aten.graph import ConversionContext, Node, NodeError


def _softmax(op_type: type[nn.SoftmaxBase]) -> Callable:
    def convert(ctx: ConversionContext, node: Node) -> tuple:
        args = node.args
        if len(args) > 2 and args[2] not in (None, torch.float32, 6):
            raise NodeError("softmax with a dtype other than float32")
        return ctx.insert(op_type(ctx.tensor(node, 0), args[1]))

    return convert


CONVERTERS = {
    "aten::log_softmax": _softmax(nn.LogSoftmaxOp),
    "aten::softmax": _softmax(nn.SoftmaxOp),
}
