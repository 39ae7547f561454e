"""Lowering of the `norm` family: both kernels see the input as [C, inner]."""

from __future__ import annotations

from collections.abc import Callable

from xdsl.ir import Operation

from mnistc.dialects import nn
from mnistc.dialects.shapes import element_count, shape_of
from mnistc.lowering.nn_to_cpu.common import KernelCall


def _lower_batch_norm(op: nn.BatchNormOp) -> list[KernelCall]:
    dims = shape_of(op.input)
    inputs = [op.input, op.mean, op.var, op.gamma, op.beta]
    params = {"C": dims[1], "inner": element_count(dims[2:]), "eps": op.eps.value.data}
    return [KernelCall("batch_norm", inputs, params)]


def _lower_lrn(op: nn.LRNOp) -> list[KernelCall]:
    dims = shape_of(op.input)
    params = {
        "C": dims[1], "inner": element_count(dims[2:]), "size": op.size.value.data,
        "alpha": op.alpha.value.data, "beta": op.beta.value.data, "bias": op.bias.value.data,
    }  # fmt: skip
    return [KernelCall("lrn", [op.input], params)]


LOWERINGS: dict[type[Operation], Callable[..., list[KernelCall]]] = {
    nn.BatchNormOp: _lower_batch_norm,
    nn.LRNOp: _lower_lrn,
}
