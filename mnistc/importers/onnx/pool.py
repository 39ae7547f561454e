"""ONNX pooling (and ReduceMean over H, W) → `nn.max_pool2d`, `avg_pool2d`, `adaptive_avg_pool2d`."""

from __future__ import annotations

import numpy as np

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
    strides = pair(attrs.get("strides"), 1)
    ceil_mode = bool(attrs.get("ceil_mode", 0))
    count_include_pad = bool(attrs.get("count_include_pad", 0))
    pads = same_pads(decode(attrs.get("auto_pad", "")), kernel, (1, 1))
    if pads is None:
        if not count_include_pad and _asymmetric(attrs.get("pads")):
            return _average_of_inputs_only(g, node, x, kernel, strides, ceil_mode, attrs["pads"])
        if count_include_pad:
            x, pads = padded(g, x, attrs.get("pads"), 0.0)
        else:
            pads = symmetric_pads(attrs.get("pads"))
    return g.insert(nn.AvgPool2DOp(x, kernel, strides, pads, ceil_mode, count_include_pad))


def _asymmetric(pads) -> bool:
    return bool(pads) and tuple(pads[:2]) != tuple(pads[2:])


def _average_of_inputs_only(g: Graph, node, x, kernel, strides, ceil_mode, pads) -> tuple:
    """An average over the window's input pixels only (count_include_pad 0) with pads
    that differ at the two ends, as Caffe-converted networks have (Inception v1's last
    pool, [0, 0, 1, 1]): the window sums of the zero-padded input (`nn.avg_pool2d` with
    divisor 1), times a constant map of 1 / the number of input pixels in each window."""
    (x_padded,) = g.insert(nn.Pad2DOp(x, tuple(pads), 0.0))
    (sums,) = g.insert(nn.AvgPool2DOp(x_padded, kernel, strides, (0, 0), ceil_mode, True, divisor=1))
    input_hw, output_hw = nn.shape_of(x)[2:], nn.shape_of(sums)[2:]
    counts = [
        _inputs_per_window(size, out, k, s, begin)
        for size, out, k, s, begin in zip(input_hw, output_hw, kernel, strides, pads[:2])
    ]
    if any((c <= 0).any() for c in counts):
        raise Unsupported(f"a window entirely in the padding {list(pads)}")
    scale = 1.0 / np.outer(counts[0], counts[1]).astype(np.float32)
    weight = g.weight(f"{node.output[0]}|window_sizes", scale.reshape(1, 1, *scale.shape))
    return g.insert(nn.MulOp(sums, weight))


def _inputs_per_window(size: int, outputs: int, kernel: int, stride: int, begin: int) -> np.ndarray:
    """How many of the `size` input positions each of the `outputs` windows covers."""
    starts = np.arange(outputs) * stride - begin
    return np.minimum(starts + kernel, size) - np.maximum(starts, 0)


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
