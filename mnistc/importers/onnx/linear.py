"""ONNX Gemm → `nn.linear`."""

from __future__ import annotations

import numpy as np

from mnistc.dialects import nn
from mnistc.importers.onnx.graph import Graph, Unsupported, is_splat, scaled, splat


def convert_gemm(g: Graph, node, attrs) -> tuple:
    if attrs.get("transA", 0):
        raise Unsupported("Gemm with transA")
    x = g.tensor(node.input[0])
    b = scaled(g.float_constant(node.input[1], "Gemm's B"), attrs.get("alpha", 1.0))
    weight = b if attrs.get("transB", 0) else b.T
    w = g.weight(node.input[1], weight)
    bias = None
    if len(node.input) > 2 and node.input[2]:
        c = scaled(g.float_constant(node.input[2], "Gemm's C"), attrs.get("beta", 1.0))
        c = splat(c.flat[0], (weight.shape[0],)) if c.size == 1 or is_splat(c) else c
        bias = g.weight(node.input[2], np.broadcast_to(c, (weight.shape[0],)))
    return g.insert(nn.LinearOp(x, w, bias))


CONVERTERS = {"Gemm": convert_gemm}
"""MatMul is the `matmul` family's (a constant right operand still makes a linear)."""
