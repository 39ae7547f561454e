"""ONNX Softmax and LogSoftmax (both opset conventions) → `nn.softmax`, `nn.log_softmax`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mnistc.dialects import nn
from mnistc.importers.onnx.graph import Graph
from mnistc.importers.onnx.shape import reshape


def _softmax(op_type: type[nn.SoftmaxBase]) -> Callable:
    def convert(g: Graph, node, attrs) -> tuple:
        x = g.tensor(node.input[0])
        shape = nn.shape_of(x)
        axis = attrs.get("axis", 1 if g.opset < 13 else -1) % len(shape)
        if g.opset >= 13 or axis == len(shape) - 1:
            return g.insert(op_type(x, axis))
        # Before opset 13: softmax over everything from `axis` on, as one dimension.
        (flat,) = reshape(g, x, (int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))))
        (result,) = g.insert(op_type(flat, 1))
        return reshape(g, result, shape)

    return convert


CONVERTERS = {
    "LogSoftmax": _softmax(nn.LogSoftmaxOp),
    "Softmax": _softmax(nn.SoftmaxOp),
}
