"""Lowering of the `elementwise` family to the rank-4 `binary` kernel, each operand read
through its own broadcast strides."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xdsl.ir import Operation

from mnistc.dialects import nn
from mnistc.dialects.shapes import shape_of
from mnistc.kernels.abi import BINARY_CODES
from mnistc.lowering.nn_to_cpu.common import KernelCall, LoweringError

BINARY_OPS = {nn.AddOp: "add", nn.MulOp: "mul", nn.PReluOp: "prelu"}
"""The `op` of the `binary` kernel that computes each element-wise `nn` op."""


def _broadcast_strides(shape: Sequence[int], out_shape: Sequence[int]) -> list[int]:
    """Row-major strides of `shape` read as `out_shape` (0 on broadcast dims)."""
    shape = (1,) * (len(out_shape) - len(shape)) + tuple(shape)
    strides, stride = [], 1
    for dim in reversed(shape):
        strides.append(stride if dim != 1 else 0)
        stride *= dim
    return strides[::-1]


def _as_rank4(shape: Sequence[int], lhs: Sequence[int], rhs: Sequence[int]):
    """Drop size-1 dimensions and merge leading ones so the output has rank 4 (the kernel's)."""
    if len(shape) > 4:
        kept = [i for i, d in enumerate(shape) if d != 1]
        shape, lhs, rhs = ([seq[i] for i in kept] for seq in (shape, lhs, rhs))
    while len(shape) > 4:
        # Merging the first two dims is exact when both operands are dense or broadcast
        # along both of them; otherwise the op is refused.
        if not ((lhs[0] == lhs[1] * shape[1] or lhs[0] == lhs[1] == 0)
                and (rhs[0] == rhs[1] * shape[1] or rhs[0] == rhs[1] == 0)):  # fmt: skip
            raise LoweringError("convert-nn-to-cpu: broadcast of rank > 4 is not supported")
        shape, lhs, rhs = [shape[0] * shape[1], *shape[2:]], lhs[1:], rhs[1:]
    pad = 4 - len(shape)
    return [1] * pad + list(shape), [0] * pad + list(lhs), [0] * pad + list(rhs)


def _lower_binary(op: nn.BinaryOp) -> list[KernelCall]:
    out = shape_of(op.output)
    shape, lhs, rhs = _as_rank4(
        out, _broadcast_strides(shape_of(op.lhs), out), _broadcast_strides(shape_of(op.rhs), out)
    )
    params = {
        "op": BINARY_CODES[BINARY_OPS[type(op)]],
        **{f"d{i}": d for i, d in enumerate(shape)},
        **{f"l{i}": s for i, s in enumerate(lhs)},
        **{f"r{i}": s for i, s in enumerate(rhs)},
    }
    return [KernelCall("binary", [op.lhs, op.rhs], params)]


LOWERINGS: dict[type[Operation], Callable[..., list[KernelCall]]] = {
    op: _lower_binary for op in BINARY_OPS
}
