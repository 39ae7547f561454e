"""ONNX pooling (and ReduceMean over H, W) → `nn.max_pool2d`, `avg_pool2d`, `adaptive_avg_pool2d`."""

from __future__ import annotations

from mnistc.dialects import nn
from mnistc.importers.onnx import reduce
from mnistc.importers.onnx.graph import Graph, Unsupported, decode, padded, pair, same_pads, symmetric_pads
from mnistc.importers.onnx.shape import reshape, via_2d


def convert_max_pool(g: Graph, node, attrs) -> tuple:
    if len(node.output) > 1 and node.output[1]:
        raise Unsupported("MaxPool's indices output")
    x = g.tensor(node.input[0])
    kernel = tuple(attrs["kernel_shape"])
    dilation = pair(attrs.get("dilations"), 1)
    pads = same_pads(decode(attrs.get("auto_pad", "")), kernel, dilation)
    if pads is None:
        x, pads = padded(g, x, attrs.get("pads"), float("-inf"))
    return g.insert(
        nn.MaxPool2DOp(x, kernel, pair(attrs.get("strides"), 1), pads, dilation, bool(attrs.get("ceil_mode", 0)))
    )


def convert_average_pool(g: Graph, node, attrs) -> tuple:
    x = g.tensor(node.input[0])
    kernel = tuple(attrs["kernel_shape"])
    pads = same_pads(decode(attrs.get("auto_pad", "")), kernel, (1, 1))
    if pads is None:
        if attrs.get("count_include_pad", 0):
            x, pads = padded(g, x, attrs.get("pads"), 0.0)
        else:
            pads = symmetric_pads(attrs.get("pads"))
    return g.insert(
        nn.AvgPool2DOp(
            x, kernel, pair(attrs.get("strides"), 1), pads, bool(attrs.get("ceil_mode", 0)),
            bool(attrs.get("count_include_pad", 0)),
        )
    )  # fmt: skip


def convert_global_average_pool(g: Graph, node, attrs) -> tuple:
    return g.insert(nn.AdaptiveAvgPool2DOp(g.tensor(node.input[0]), (1, 1)))


def convert_reduce_mean(g: Graph, node, attrs) -> tuple:
    """Over H and W of NCHW: a global average pool (reshaped unless keepdims); over other
    axes, a reduction."""
    x = g.tensor(node.input[0])
    rank = len(nn.shape_of(x))
    axes = reduce.reduction_axes(g, node, attrs)
    if rank != 4 or sorted(a % rank for a in (axes or [])) != [2, 3]:
        return reduce.convert_reduce_mean(g, node, attrs)
    (pooled,) = g.insert(nn.AdaptiveAvgPool2DOp(x, (1, 1)))
    return (pooled,) if attrs.get("keepdims", 1) else reshape(g, pooled, nn.shape_of(pooled)[:2])


CONVERTERS = {
    "AveragePool": via_2d(convert_average_pool),
    "GlobalAveragePool": via_2d(convert_global_average_pool),
    "MaxPool": via_2d(convert_max_pool),
    "ReduceMean": convert_reduce_mean,
}
