"""Lowering of the `norm` family: batch norm, LRN and group norm see the input as
[C, inner], layer norm as [outer, inner]."""

from __future__ import annotations

from collections.abc import Callable

from xdsl.ir import Operation

from mnistc.dialects import nn
from mnistc.dialects.shapes import element_count, shape_of
from mnistc.lowering.nn_to_cpu.common import KernelCall, optional


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


def _affine_inputs(op: nn.AffineNormOp) -> list:
    """input, weight, bias: an absent weight or bias a null buffer."""
    shape = op.affine_shape()
    return [op.input, optional(op.weight, shape), optional(op.bias, shape)]


def _lower_layer_norm(op: nn.LayerNormOp) -> list[KernelCall]:
    dims, axis = shape_of(op.input), op.axis.value.data
    params = {
        "outer": element_count(dims[:axis]), "inner": element_count(dims[axis:]),
        "eps": op.eps.value.data,
    }  # fmt: skip
    return [KernelCall("layer_norm", _affine_inputs(op), params)]


def _lower_group_norm(op: nn.GroupNormOp) -> list[KernelCall]:
    dims = shape_of(op.input)
    params = {
        "C": dims[1], "groups": op.groups.value.data, "inner": element_count(dims[2:]),
        "eps": op.eps.value.data,
    }  # fmt: skip
    return [KernelCall("group_norm", _affine_inputs(op), params)]


LOWERINGS: dict[type[Operation], Callable[..., list[KernelCall]]] = {
    nn.BatchNormOp: _lower_batch_norm,
    nn.LRNOp: _lower_lrn,
    nn.LayerNormOp: _lower_layer_norm,
    nn.GroupNormOp: _lower_group_norm,
}
