"""ONNX Gemm → `nn.linear`; with a run-time B (a model imported whole), `nn.matmul`
then `nn.add` of C."""

from __future__ import annotations

import numpy as np

from xdsl.ir import SSAValue

from mnistc.dialects import nn
from mnistc.importers import matmul_ops, shape_ops
from mnistc.importers.onnx.graph import Graph, Unsupported, is_splat, scaled, splat


def convert_gemm(g: Graph, node, attrs) -> tuple:
    if attrs.get("transA", 0):
        raise Unsupported("Gemm with transA")
    if isinstance(g.values.get(node.input[1]), SSAValue):
        return _gemm_of_run_time_b(g, node, attrs)
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


def _gemm_of_run_time_b(g: Graph, node, attrs) -> tuple:
    """A @ B (+ C) of a run-time B: its rows are the samples' dimension 0 unless the
    model is imported whole; alpha and a run-time C's beta must be 1."""
    if (reason := g.moved.refusal_at_dim0("Gemm's run-time B, whose rows it reads")) is not None:
        raise Unsupported(reason)
    if attrs.get("alpha", 1.0) != 1.0:
        raise Unsupported("Gemm of a run-time B with alpha other than 1")
    b = g.tensor(node.input[1])
    if attrs.get("transB", 0):
        b = shape_ops.transpose(g.builder, b, (1, 0))
    y = matmul_ops.matmul(g.builder, g.tensor(node.input[0]), b)
    if len(node.input) < 3 or not node.input[2]:
        return (y,)
    c = g.values.get(node.input[2])
    if isinstance(c, SSAValue) and attrs.get("beta", 1.0) != 1.0:
        raise Unsupported("Gemm of a run-time C with beta other than 1")
    if not isinstance(c, SSAValue):
        c = g.weight(node.input[2], scaled(g.float_constant(node.input[2], "Gemm's C"), attrs.get("beta", 1.0)))
    return g.insert(nn.AddOp(y, c))


CONVERTERS = {"Gemm": convert_gemm}
"""MatMul is the `matmul` family's (a constant right operand still makes a linear)."""
