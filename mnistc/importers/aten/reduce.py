"""aten reductions (mean, sum, amax, amin, max.dim, min.dim over dims) → the `nn` reduce
ops; a mean over H, W of NCHW stays a global average pool (`pool.py`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from mnistc.dialects import nn
from mnistc.importers.aten.graph import ConversionContext, Node, NodeError


class _Indices:
    """The indices output of max.dim / min.dim, which no `nn` op computes: using it is
    refused where it is used."""

    def __repr__(self) -> str:
        return "the indices of max.dim/min.dim (not supported)"


def reduced_dims(ctx: ConversionContext, kind: str, dims: Any, rank: int) -> list[int]:
    """The dims of a reduction, normalised (none: all of them); refused when they include
    the batch (dim 0), as a reduction over the whole tensor does (the model runs sample
    by sample), unless the model is imported whole."""
    if isinstance(dims, int):
        dims = [dims]
    dims = [d % rank for d in dims or ()]
    if not ctx.moved.followed:
        return dims or list(range(rank))
    if not dims or 0 in dims:
        raise NodeError(
            f"{kind} over the batch dimension (dims {dims or 'all'}): mnistc runs the model "
            "one sample at a time"
        )
    return dims


def _check_dtype(dtype: Any) -> None:
    if dtype not in (None, torch.float32, 6):
        raise NodeError(f"a reduction to dtype {dtype} (only float32)")


def _reduction(op_type: type[nn.ReduceOp]) -> Callable:
    """`op(x, dim, keepdim=False, dtype=None)`; `op(x, dtype)` (the whole tensor) refused."""

    def convert(ctx: ConversionContext, node: Node) -> tuple:
        args = node.args
        x = ctx.tensor(node, 0)
        if len(args) < 3 and ctx.moved.followed:
            raise NodeError(f"{node.kind} of a whole tensor (it would reduce over the batch)")
        if len(args) < 3:  # sum(x, dtype) of a model imported whole: every dim
            args = [args[0], None, False, *args[1:]]
        _check_dtype(args[3] if len(args) > 3 else None)
        dims = reduced_dims(ctx, node.kind, args[1], len(nn.shape_of(x)))
        return ctx.insert(op_type(x, dims, bool(args[2])))

    return convert


def _reduction_with_indices(op_type: type[nn.ReduceOp]) -> Callable:
    """max.dim / min.dim: the values, and indices that refuse to be used."""

    def convert(ctx: ConversionContext, node: Node) -> tuple:
        (values,) = _reduction(op_type)(ctx, node)
        return (values, _Indices())[: node.num_outputs]

    return convert


convert_mean = _reduction(nn.ReduceMeanOp)
convert_max_dim = _reduction_with_indices(nn.ReduceMaxOp)
convert_min_dim = _reduction_with_indices(nn.ReduceMinOp)

CONVERTERS = {
    "aten::amax": _reduction(nn.ReduceMaxOp),
    "aten::amin": _reduction(nn.ReduceMinOp),
    "aten::sum": _reduction(nn.ReduceSumOp),
}
"""`aten::mean` is pool.py's (a global average pool over H, W, else `convert_mean`);
`max.dim` and `min.dim` share `aten::max` / `aten::min` with the element-wise forms
(elementwise.py)."""
