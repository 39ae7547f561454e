"""Lowering of the `elementwise` family to the rank-4 `binary` kernel, each operand read
through its own broadcast strides."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xdsl.ir import Operation

from mnistc.dialects import nn
from mnistc.dialects.shapes import shape_of
from mnistc.kernels.abi import BINARY_CODES
from mnistc.lowering.nn_to_cpu.activation import activation_params
from mnistc.lowering.nn_to_cpu.common import KernelCall, LoweringError

BINARY_OPS = {
    nn.AddOp: "add", nn.MulOp: "mul", nn.PReluOp: "prelu",
    nn.SubOp: "sub", nn.DivOp: "div", nn.MaxOp: "max", nn.MinOp: "min", nn.PowfOp: "powf",
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


def _steps_as_one(outer: tuple[int, int, int], inner: tuple[int, int, int]) -> bool:
    """Both operands step over the dimensions `outer` then `inner` (size, lhs stride, rhs
    stride) as over one: each outer stride is the inner stride times the inner size."""
    return outer[1] == inner[1] * inner[0] and outer[2] == inner[2] * inner[0]


def _as_rank4(shape: Sequence[int], lhs: Sequence[int], rhs: Sequence[int]):
    """The same loop nest in rank 4 (the kernel's), with as few dimensions as it takes:
    size-1 dimensions dropped, and each dimension merged into the one before it wherever
    both operands step over the pair as over one dimension (dense, or broadcast along
    both). A channel scale x[C,H,W] * s[C,1,1] becomes [C, H*W] * [C, 1]: long rows that
    the kernel runs as vectors."""
    merged: list[tuple[int, int, int]] = []  # (size, lhs stride, rhs stride)
    for dim in ((d, l, r) for d, l, r in zip(shape, lhs, rhs) if d != 1):
        if merged and _steps_as_one(merged[-1], dim):
            merged[-1] = (merged[-1][0] * dim[0], dim[1], dim[2])
        else:
            merged.append(dim)
    if len(merged) > 4:
        raise LoweringError("convert-nn-to-cpu: broadcast of rank > 4 is not supported")
    merged = [(1, 0, 0)] * (4 - len(merged)) + merged
    return [d[0] for d in merged], [d[1] for d in merged], [d[2] for d in merged]


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
        **activation_params(op.fused_activation()),
    }
    return [KernelCall("binary", [op.lhs, op.rhs], params)]


LOWERINGS: dict[type[Operation], Callable[..., list[KernelCall]]] = {
    op: _lower_binary for op in BINARY_OPS
}
