"""ONNX ops that move elements: Concat, Flatten, Reshape, Pad, Dropout, Identity."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.ir import SSAValue

from mnistc.dialects import nn
from mnistc.importers.onnx.graph import Graph, Unsupported, decode


def reshape(g: Graph, x: SSAValue, shape: Sequence[int]) -> tuple:
    return (x,) if tuple(shape) == nn.shape_of(x) else g.insert(nn.ReshapeOp(x, shape))


def convert_concat(g: Graph, node, attrs) -> tuple:
    return g.insert(nn.ConcatOp([g.tensor(n) for n in node.input], attrs["axis"]))


def convert_flatten(g: Graph, node, attrs) -> tuple:
    x = g.tensor(node.input[0])
    shape = nn.shape_of(x)
    axis = attrs.get("axis", 1) % (len(shape) + 1)
    return reshape(g, x, (int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))))


def convert_reshape(g: Graph, node, attrs) -> tuple:
    x = g.tensor(node.input[0])
    shape = attrs["shape"] if "shape" in attrs else g.constant(node.input[1], "Reshape's shape")
    source = nn.shape_of(x)
    target = [source[i] if d == 0 else int(d) for i, d in enumerate(shape)]
    if target and target[0] == g.batch and g.batch != 1:
        target[0] = 1  # the exporter's fixed batch, which the per-sample IR runs as 1
    if target.count(-1) == 1:
        known = int(np.prod([d for d in target if d != -1]))
        target[target.index(-1)] = int(np.prod(source)) // known
    if int(np.prod(target)) != int(np.prod(source)):
        raise Unsupported(f"Reshape of {list(source)} to {list(shape)}")
    return reshape(g, x, target)


def convert_pad(g: Graph, node, attrs) -> tuple:
    x = g.tensor(node.input[0])
    mode = decode(attrs.get("mode", "constant"))
    if mode != "constant":
        raise Unsupported(f"Pad mode '{mode}'")
    if "pads" in attrs:
        pads, value = list(attrs["pads"]), float(attrs.get("value", 0.0))
    else:
        pads = g.constant(node.input[1], "Pad's pads").tolist()
        value = float(g.constant(node.input[2], "Pad's value")) if len(node.input) > 2 and node.input[2] else 0.0
    rank = len(nn.shape_of(x))
    begin, end = pads[:rank], pads[rank:]
    if rank != 4 or any(begin[:2]) or any(end[:2]) or min(pads) < 0:
        raise Unsupported(f"Pad {pads} (only non-negative padding of H and W)")
    return g.insert(nn.Pad2DOp(x, (begin[2], begin[3], end[2], end[3]), value))


def identity(g: Graph, node, attrs) -> tuple:
    return (g.values[node.input[0]],)


CONVERTERS = {
    "Concat": convert_concat,
    "Dropout": identity,
    "Flatten": convert_flatten,
    "Identity": identity,
    "Pad": convert_pad,
    "Reshape": convert_reshape,
}
