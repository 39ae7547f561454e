"""Lowering of the `activation` family, and the activation arguments that conv2d and
linear pass to their kernels."""

from __future__ import annotations

from collections.abc import Callable

from xdsl.ir import Operation

from mnistc.dialects import nn
from mnistc.dialects.shapes import element_count, shape_of
from mnistc.kernels.abi import ACTIVATION_CODES
from mnistc.lowering.nn_to_cpu.common import KernelCall


def activation_params(activation: nn.Activation | None) -> dict[str, int | float]:
    """The `activation` code and its `alpha`, `beta` that the kernels take."""
    if activation is None:
        return {"activation": ACTIVATION_CODES["none"], "alpha": 0.0, "beta": 0.0}
    alpha, beta = [*activation.params, 0.0, 0.0][:2]
    return {"activation": ACTIVATION_CODES[activation.kind], "alpha": alpha, "beta": beta}


def _lower_activation(op: nn.ActivationOp) -> list[KernelCall]:
    params = {"count": element_count(shape_of(op.input)), **activation_params(op.activation())}
    return [KernelCall("activation", [op.input], params)]


def _lower_glu(op: nn.GluOp) -> list[KernelCall]:
    dims, dim = shape_of(op.input), op.dim.value.data
    params = {"outer": element_count(dims[:dim]), "half": element_count(dims[dim:]) // 2}
    return [KernelCall("glu", [op.input], params)]


LOWERINGS: dict[type[Operation], Callable[..., list[KernelCall]]] = {
    **{op: _lower_activation for op in nn.activation.ACTIVATION_OPS},
    nn.GluOp: _lower_glu,
}
"""Every activation is one call of the `activation` kernel, its kind a code."""
