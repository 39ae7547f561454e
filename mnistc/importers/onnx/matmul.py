"""ONNX MatMul → `nn.linear` on the rows of the left operand when the right one is a
constant matrix (a weight), else `nn.matmul` of the two run-time tensors
(mnistc.importers.matmul_ops). The attention that exporters decompose (MatMul, Softmax,
Transpose, Reshape) imports op by op."""

from __future__ import annotations

import numpy as np

from mnistc.importers import matmul_ops
from mnistc.importers.onnx.graph import Graph, Unsupported


def convert_matmul(g: Graph, node, attrs) -> tuple:
    x, rhs = g.tensor(node.input[0]), g.values.get(node.input[1])
    if isinstance(rhs, np.ndarray) and rhs.ndim == 2:
        b = g.float_constant(node.input[1], "MatMul's right operand")
        return (matmul_ops.linear_rows(g.builder, x, g.weight(node.input[1], b.T)),)
    y = g.tensor(node.input[1])
    if (reason := matmul_ops.contraction_refusal(g.moved, x, y, "MatMul")) is not None:
        raise Unsupported(reason)
    return (matmul_ops.matmul(g.builder, x, y),)


CONVERTERS = {"MatMul": convert_matmul}
