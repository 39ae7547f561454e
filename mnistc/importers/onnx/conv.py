"""ONNX Conv → `nn.conv2d` (asymmetric padding as an explicit `nn.pad2d`)."""

from __future__ import annotations

from mnistc.dialects import nn
from mnistc.importers.common import ImportError_
from mnistc.importers.onnx.graph import Graph, Unsupported, decode, padded, pair, same_pads


def convert_conv(g: Graph, node, attrs) -> tuple:
    x, w = g.tensor(node.input[0]), g.tensor(node.input[1])
    if len(nn.shape_of(x)) != 4:
        raise Unsupported("only 2-D convolution is supported")
    bias = g.tensor(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    kernel = nn.shape_of(w)[2:]
    if "kernel_shape" in attrs and tuple(attrs["kernel_shape"]) != tuple(kernel):
        raise ImportError_(f"kernel_shape {list(attrs['kernel_shape'])} is not the weight's {list(kernel)}")
    dilation = pair(attrs.get("dilations"), 1)
    pads = same_pads(decode(attrs.get("auto_pad", "")), kernel, dilation)
    if pads is None:
        x, pads = padded(g, x, attrs.get("pads"), 0.0)
    return g.insert(
        nn.Conv2DOp(x, w, bias, pair(attrs.get("strides"), 1), pads, dilation, attrs.get("group", 1))
    )


CONVERTERS = {"Conv": convert_conv}
