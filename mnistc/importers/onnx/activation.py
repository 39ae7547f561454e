"""ONNX activations → the `nn` activation ops."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from xdsl.ir import SSAValue

from mnistc.dialects import nn
from mnistc.importers.onnx.graph import Graph


def unary(build: Callable[[SSAValue, dict], Any]) -> Callable:
    return lambda g, node, attrs: g.insert(build(g.tensor(node.input[0]), attrs))


def convert_clip(g: Graph, node, attrs) -> tuple:
    low, high = attrs.get("min", -np.inf), attrs.get("max", np.inf)
    if len(node.input) > 1 and node.input[1]:
        low = float(g.constant(node.input[1], "Clip's min"))
    if len(node.input) > 2 and node.input[2]:
        high = float(g.constant(node.input[2], "Clip's max"))
    return g.insert(nn.HardtanhOp(g.tensor(node.input[0]), float(low), float(high)))


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
}
