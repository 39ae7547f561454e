"""Lowering of the `elementwise` family to the rank-4 `binary` kernel, each operand read
through its own broadcast strides."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xdsl.ir import Operation

from mnistc.dialects import nn
from mnistc.dialects.shapes import shape_of
from mnistc.kernels.abi import BINARY_CODES
from mnistc.lowering.nn_to_cpu.common import KernelCall, LoweringError

BINARY_OPS = {
    nn.AddOp: "add", nn.MulOp: "mul", nn.PReluOp: "prelu",
    # issue 12
    nn.SubOp: "sub", nn.DivOp: "div", nn.MaxOp: "max", nn.MinOp: "min",
}  # fmt: skip
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
    """The output shape and both operands' strides, with size-1 dims dropped and
    neighbouring dims merged wherever both operands walk them as one (dense across them,
    or broadcast along both), padded to the kernel's rank 4. Any rank reaches the kernel
    this way unless more than four runs of dims remain (then the op is refused)."""
    merged: list[list[int]] = []
    for dim, l, r in zip(shape, lhs, rhs):
        if dim == 1:
            continue
        if merged and merged[-1][1] == l * dim and merged[-1][2] == r * dim:
            merged[-1] = [merged[-1][0] * dim, l, r]
        else:
            merged.append([dim, l, r])
    if len(merged) > 4:
        raise LoweringError(
            f"convert-nn-to-cpu: broadcasting {list(shape)} needs {len(merged)} dims, "
            "the kernel has 4"
        )
    merged = [[1, 0, 0]] * (4 - len(merged)) + merged
    return [m[0] for m in merged], [m[1] for m in merged], [m[2] for m in merged]


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
