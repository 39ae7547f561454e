"""ONNX BatchNormalization and LRN → `nn.batch_norm`, `nn.lrn`."""

from __future__ import annotations

from mnistc.dialects import nn
from mnistc.importers.onnx.activation import unary
from mnistc.importers.onnx.graph import Graph


def convert_batch_norm(g: Graph, node, attrs) -> tuple:
    x, scale, bias, mean, var = (g.tensor(name) for name in node.input[:5])
    return g.insert(nn.BatchNormOp(x, mean, var, scale, bias, float(attrs.get("epsilon", 1e-5))))


CONVERTERS = {
    "BatchNormalization": convert_batch_norm,
    "LRN": unary(
        lambda x, a: nn.LRNOp(x, a["size"], a.get("alpha", 1e-4), a.get("beta", 0.75), a.get("bias", 1.0))
    ),
}
