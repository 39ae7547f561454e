"""Lowering of the `linear` family."""

from __future__ import annotations

from collections.abc import Callable

from xdsl.ir import Operation

from mnistc.dialects import nn
from mnistc.dialects.shapes import shape_of
from mnistc.lowering.nn_to_cpu.activation import activation_params
from mnistc.lowering.nn_to_cpu.common import KernelCall, optional


def _lower_linear(op: nn.LinearOp) -> list[KernelCall]:
    m, n_in = shape_of(op.input)
    n_out = shape_of(op.weight)[0]
    inputs = [op.input, op.weight, optional(op.bias, (n_out,))]
    params = {"M": m, "IN": n_in, "OUT": n_out, **activation_params(op.fused_activation())}
    return [KernelCall("linear", inputs, params)]


LOWERINGS: dict[type[Operation], Callable[..., list[KernelCall]]] = {
    nn.LinearOp: _lower_linear,
}
