"""ONNX ReduceMean, ReduceSum, ReduceMax, ReduceMin → the `nn` reduce ops (a ReduceMean
over H, W of NCHW stays a global average pool, `pool.py`)."""

from __future__ import annotations

from collections.abc import Callable

from mnistc.dialects import nn
from mnistc.importers.onnx.graph import Graph, Unsupported


def reduction_axes(g: Graph, node, attrs) -> list[int] | None:
    """The axes of a reduction, from the `axes` attribute or (newer opsets) the second
    input; None when there are none."""
    axes = attrs.get("axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = g.constant(node.input[1], f"{node.op_type}'s axes").reshape(-1).tolist()
    return [int(a) for a in axes] if axes is not None and len(axes) else None


def _reduction(op_type: type[nn.ReduceOp]) -> Callable:
    def convert(g: Graph, node, attrs) -> tuple:
        x = g.tensor(node.input[0])
        rank = len(nn.shape_of(x))
        axes = reduction_axes(g, node, attrs)
        if axes is None and attrs.get("noop_with_empty_axes", 0):
            return (x,)
        dims = sorted({a % rank for a in axes or range(rank)})
        if 0 in dims and g.moved.followed:
            raise Unsupported(
                f"a reduction over the batch dimension (axes {axes or 'all'}): mnistc runs "
                "the model one sample at a time"
            )
        return g.insert(op_type(x, dims, bool(attrs.get("keepdims", 1))))

    return convert


convert_reduce_mean = _reduction(nn.ReduceMeanOp)

CONVERTERS = {
    "ReduceMax": _reduction(nn.ReduceMaxOp),
    "ReduceMin": _reduction(nn.ReduceMinOp),
    "ReduceSum": _reduction(nn.ReduceSumOp),
}
"""ReduceMean is pool.py's (a global average pool over H, W, else `convert_reduce_mean`)."""
