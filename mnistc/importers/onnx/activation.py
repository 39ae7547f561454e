"""ONNX activations → the `nn` activation ops."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from xdsl.ir import SSAValue

from mnistc.dialects import nn
from mnistc.importers.onnx.graph import Graph, Unsupported, decode


def unary(build: Callable[[SSAValue, dict], Any]) -> Callable:
    return lambda g, node, attrs: g.insert(build(g.tensor(node.input[0]), attrs))


def convert_clip(g: Graph, node, attrs) -> tuple:
    low, high = attrs.get("min", -np.inf), attrs.get("max", np.inf)
    if len(node.input) > 1 and node.input[1]:
        low = float(g.constant(node.input[1], "Clip's min"))
    if len(node.input) > 2 and node.input[2]:
        high = float(g.constant(node.input[2], "Clip's max"))
    return g.insert(nn.HardtanhOp(g.tensor(node.input[0]), float(low), float(high)))



SELU_ALPHA, SELU_GAMMA = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
"""SELU's constants, ONNX's defaults (to float32 precision) and PyTorch's only values."""


def convert_selu(g: Graph, node, attrs) -> tuple:
    alpha, gamma = attrs.get("alpha", SELU_ALPHA), attrs.get("gamma", SELU_GAMMA)
    if not (np.isclose(alpha, SELU_ALPHA, rtol=1e-6) and np.isclose(gamma, SELU_GAMMA, rtol=1e-6)):
        raise Unsupported(f"Selu with alpha {alpha}, gamma {gamma} (only the standard constants)")
    return g.insert(nn.SeluOp(g.tensor(node.input[0])))


CONVERTERS = {
    "Clip": convert_clip,
    "Elu": unary(lambda x, a: nn.EluOp(x, a.get("alpha", 1.0))),
    "HardSigmoid": unary(
        lambda x, a: nn.HardsigmoidOp(x, a.get("alpha", 0.2), a.get("beta", 0.5))
    ),
    "HardSwish": unary(lambda x, a: nn.HardswishOp(x)),
    "LeakyRelu": unary(lambda x, a: nn.LeakyReluOp(x, a.get("alpha", 0.01))),
    "Relu": unary(lambda x, a: nn.ReluOp(x)),
    "Sigmoid": unary(lambda x, a: nn.SigmoidOp(x)),
    "Tanh": unary(lambda x, a: nn.TanhOp(x)),
    "Abs": unary(lambda x, a: nn.AbsOp(x)),
    "Celu": unary(lambda x, a: nn.CeluOp(x, a.get("alpha", 1.0))),
    "Exp": unary(lambda x, a: nn.ExpOp(x)),
    "Log": unary(lambda x, a: nn.LogOp(x)),
    "Mish": unary(lambda x, a: nn.MishOp(x)),
    "Neg": unary(lambda x, a: nn.NegOp(x)),
    "Reciprocal": unary(lambda x, a: nn.ReciprocalOp(x)),
    "Selu": convert_selu,
    "Softplus": unary(lambda x, a: nn.SoftplusOp(x)),
    "Softsign": unary(lambda x, a: nn.SoftsignOp(x)),
    "Sqrt": unary(lambda x, a: nn.SqrtOp(x)),
    # transformers' MLPs (opset 20), exact or the tanh form
    "Gelu": unary(lambda x, a: nn.GeluOp(x, decode(a.get("approximate", "none")))),
}
