"""Lowering of the `reduce` family to the rank-4 `reduce` kernel: size-1 dims dropped and
neighbouring dims that are all kept or all reduced merged, so any rank and any set of
dims fits unless more than four alternating runs remain."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xdsl.ir import Operation

from mnistc.dialects import nn
from mnistc.dialects.shapes import shape_of
from mnistc.kernels.abi import REDUCE_CODES
from mnistc.lowering.nn_to_cpu.common import KernelCall, LoweringError

REDUCE_OPS = {
    nn.ReduceMeanOp: "mean", nn.ReduceSumOp: "sum", nn.ReduceMaxOp: "max",
    nn.ReduceMinOp: "min",
}  # fmt: skip
"""The `op` of the `reduce` kernel that computes each reduction."""


def runs(shape: Sequence[int], dims: Sequence[int]) -> list[tuple[int, bool]]:
    """(size, reduced) of each run of neighbouring dims that are all kept or all reduced,
    size-1 dims left out (they change no index), padded with kept 1s to rank 4."""
    merged: list[list] = []
    for i, size in enumerate(shape):
        if size == 1:
            continue
        reduced = i in dims
        if merged and merged[-1][1] == reduced:
            merged[-1][0] *= size
        else:
            merged.append([size, reduced])
    if len(merged) > 4:
        raise LoweringError(
            f"convert-nn-to-cpu: reducing dims {list(dims)} of {list(shape)} needs "
            f"{len(merged)} dims, the kernel has 4"
        )
    return [(1, False)] * (4 - len(merged)) + [(size, reduced) for size, reduced in merged]


def _lower_reduce(op: nn.ReduceOp) -> list[KernelCall]:
    dims = runs(shape_of(op.input), op.reduced_dims())
    params = {
        "op": REDUCE_CODES[REDUCE_OPS[type(op)]],
        **{f"d{i}": size for i, (size, _) in enumerate(dims)},
        **{f"r{i}": int(reduced) for i, (_, reduced) in enumerate(dims)},
    }
    return [KernelCall("reduce", [op.input], params)]


LOWERINGS: dict[type[Operation], Callable[..., list[KernelCall]]] = {
    op: _lower_reduce for op in REDUCE_OPS
}
