"""aten activations → the `nn` activation ops."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xdsl.ir import SSAValue

from mnistc.dialects import nn
from mnistc.importers.aten.graph import ConversionContext, Node, NodeError


def _activation(build: Callable[[SSAValue, list[Any]], Any]) -> Callable:
    """A converter of `op(x, *parameters)`: `build(x, args)` makes the `nn` op."""

    def convert(ctx: ConversionContext, node: Node) -> tuple:
        return ctx.insert(build(ctx.tensor(node, 0), node.args))

    return convert


def _elu(x: SSAValue, args: list[Any]):
    if len(args) > 2 and (args[2] != 1 or args[3] != 1):
        raise NodeError("elu with scale or input_scale other than 1 is not supported")
    return nn.EluOp(x, float(args[1]))


CONVERTERS = {
    "aten::elu": _activation(_elu),
    "aten::gelu": _activation(lambda x, a: nn.GeluOp(x, a[1] if len(a) > 1 and a[1] else "none")),
    "aten::hardsigmoid": _activation(lambda x, a: nn.HardsigmoidOp(x)),
    "aten::hardswish": _activation(lambda x, a: nn.HardswishOp(x)),
    "aten::hardtanh": _activation(lambda x, a: nn.HardtanhOp(x, float(a[1]), float(a[2]))),
    "aten::leaky_relu": _activation(lambda x, a: nn.LeakyReluOp(x, float(a[1]))),
    "aten::relu": _activation(lambda x, a: nn.ReluOp(x)),
    "aten::relu6": _activation(lambda x, a: nn.HardtanhOp(x, 0.0, 6.0)),
    "aten::sigmoid": _activation(lambda x, a: nn.SigmoidOp(x)),
    "aten::silu": _activation(lambda x, a: nn.SiluOp(x)),
    "aten::tanh": _activation(lambda x, a: nn.TanhOp(x)),
}
