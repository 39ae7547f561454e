"""Lowering of the `weight` family: a weight becomes a buffer inside the embedded blob,
a splat a buffer of static storage that the C++ target fills once."""

from __future__ import annotations

from xdsl.dialects.builtin import MemRefType, TensorType

from mnistc.dialects import cpu, nn
from mnistc.locations import located


def buffer_type(tensor: TensorType) -> MemRefType:
    return MemRefType(tensor.element_type, tensor.get_shape())


def lower_weight(op: nn.WeightOp | nn.SplatOp) -> cpu.WeightOp | cpu.SplatOp:
    """The `cpu.weight` of the same bytes (or the `cpu.splat` of the same value), named
    and located as the tensor was."""
    if isinstance(op, nn.SplatOp):
        lowered = cpu.SplatOp(op.value.value.data, buffer_type(op.result.type))
    else:
        lowered = cpu.WeightOp(op.key.data, op.offset.value.data, buffer_type(op.result.type))
    lowered.result.name_hint = op.result.name_hint
    return located(lowered, op)
