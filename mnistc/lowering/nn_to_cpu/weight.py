"""Lowering of the `weight` family: a weight becomes a buffer inside the embedded blob."""

from __future__ import annotations

from xdsl.dialects.builtin import MemRefType, TensorType

from mnistc.dialects import cpu, nn


def buffer_type(tensor: TensorType) -> MemRefType:
    return MemRefType(tensor.element_type, tensor.get_shape())


def lower_weight(op: nn.WeightOp) -> cpu.WeightOp:
    """The `cpu.weight` of the same bytes, named as the tensor was."""
    weight = cpu.WeightOp(op.key.data, op.offset.value.data, buffer_type(op.result.type))
    weight.result.name_hint = op.result.name_hint
    return weight
