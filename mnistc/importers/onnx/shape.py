"""ONNX ops that move elements: Concat, Flatten, Reshape, Pad, Dropout, Identity."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.ir import SSAValue

from mnistc.dialects import nn
from mnistc.dialects.shapes import squeeze_h, unsqueeze_h
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


ONNX_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}
"""ONNX Pad's modes as nn.pad2d names them."""


def convert_pad(g: Graph, node, attrs) -> tuple:
    x = g.tensor(node.input[0])
    mode = decode(attrs.get("mode", "constant"))
    if mode not in ONNX_PAD_MODES:
        raise Unsupported(f"Pad mode '{mode}'")
    if "pads" in attrs:
        pads, value = list(attrs["pads"]), float(attrs.get("value", 0.0))
    else:
        pads = g.constant(node.input[1], "Pad's pads").tolist()
        value = float(g.constant(node.input[2], "Pad's value")) if len(node.input) > 2 and node.input[2] else 0.0
    rank = len(nn.shape_of(x))
    if len(node.input) > 3 and node.input[3]:
        raise Unsupported("Pad's axes input")
    begin, end = pads[:rank], pads[rank:]
    if rank == 3 and mode != "constant":
        return edge_pad_1d(g, x, (begin[2], end[2]), ONNX_PAD_MODES[mode])
    if rank != 4 or any(begin[:2]) or any(end[:2]) or min(pads) < 0:
        raise Unsupported(f"Pad {pads} (only non-negative padding of H and W)")
    return g.insert(nn.Pad2DOp(x, (begin[2], begin[3], end[2], end[3]), value, ONNX_PAD_MODES[mode]))


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


# decoders: the 1-D forms of Conv, ConvTranspose, pooling and Pad, as 2-D ops on [N, C, 1, L]


def edge_pad_1d(g: Graph, x: SSAValue, pads: Sequence[int], mode: str) -> tuple:
    if min(pads) < 0:
        raise Unsupported(f"negative padding {list(pads)}")
    (x,) = reshape(g, x, unsqueeze_h(nn.shape_of(x)))
    (padded,) = g.insert(nn.Pad2DOp(x, (0, pads[0], 0, pads[1]), 0.0, mode))
    return reshape(g, padded, squeeze_h(nn.shape_of(padded)))


_LIFTED_ATTRIBUTES = {
    "kernel_shape": lambda v: [1, *v],
    "strides": lambda v: [1, *v],
    "dilations": lambda v: [1, *v],
    "pads": lambda v: [0, v[0], 0, v[1]],
    "output_padding": lambda v: [0, *v],
    "output_shape": lambda v: [1, *v],
}
"""A 1-D op's window attributes as its 2-D form's (H: one pixel, unpadded)."""


def via_2d(convert):
    """The converter of an op in 1-D and 2-D forms: a rank-3 input (and weight) is viewed
    as [N, C, 1, L] for the 2-D converter, its result viewed back."""

    def convert_any(g: Graph, node, attrs) -> tuple:
        if len(nn.shape_of(g.tensor(node.input[0]))) != 3:
            return convert(g, node, attrs)
        import onnx

        lifted = onnx.NodeProto()
        lifted.CopyFrom(node)
        for i, name in enumerate(node.input):
            value = g.values.get(name) if name else None
            if isinstance(value, np.ndarray) and value.ndim == 3:
                lifted.input[i] = f"{name}:2d"
                g.values.setdefault(lifted.input[i], np.expand_dims(value, 2))
            elif isinstance(value, SSAValue) and len(nn.shape_of(value)) == 3:
                lifted.input[i] = f"{name}:2d"
                (g.values[lifted.input[i]],) = reshape(g, value, unsqueeze_h(nn.shape_of(value)))
        lifted_attrs = {
            k: _LIFTED_ATTRIBUTES[k](list(v)) if k in _LIFTED_ATTRIBUTES else v
            for k, v in attrs.items()
        }
        (out,) = convert(g, lifted, lifted_attrs)
        return reshape(g, out, squeeze_h(nn.shape_of(out)))

    return convert_any
