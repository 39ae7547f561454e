"""ONNX Conv → `nn.conv2d` (asymmetric padding as an explicit `nn.pad2d`), ConvTranspose →
`nn.conv_transpose2d`; their 1-D forms on [N, C, 1, L]."""

from __future__ import annotations

from mnistc.dialects import nn
from mnistc.importers.common import ImportError_
from mnistc.importers.onnx.graph import Graph, Unsupported, decode, padded, pair, same_pads
from mnistc.importers.onnx.shape import via_2d


def convert_conv(g: Graph, node, attrs) -> tuple:
    x, w = g.tensor(node.input[0]), g.tensor(node.input[1])
    if len(nn.shape_of(x)) != 4:
        raise Unsupported("only 1-D and 2-D convolution is supported")
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


# decoders: ConvTranspose


def transpose_pads(attrs, input_hw, kernel, stride, dilation, output_padding) -> list[int]:
    """[top, left, bottom, right]: the `pads` attribute, or derived from `output_shape` or
    `auto_pad` as the ONNX specification says (the odd pixel at the end for SAME_UPPER)."""
    auto_pad = decode(attrs.get("auto_pad", "NOTSET"))
    if "output_shape" not in attrs and auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        return [0, 0, 0, 0] if auto_pad == "VALID" else list(attrs.get("pads") or (0, 0, 0, 0))
    full = [s * (i - 1) + o + (k - 1) * d + 1
            for i, k, s, d, o in zip(input_hw, kernel, stride, dilation, output_padding)]  # fmt: skip
    if "output_shape" in attrs:
        out = list(attrs["output_shape"])[-2:]
    else:
        out = [i * s for i, s in zip(input_hw, stride)]
    total = [f - o for f, o in zip(full, out)]
    if min(total) < 0:
        raise Unsupported(f"ConvTranspose output_shape {out} beyond the full output {full}")
    if auto_pad == "SAME_UPPER":
        begin = [t // 2 for t in total]
    else:
        begin = [t - t // 2 for t in total]
    return [*begin, *(t - b for t, b in zip(total, begin))]


def convert_conv_transpose(g: Graph, node, attrs) -> tuple:
    x, w = g.tensor(node.input[0]), g.tensor(node.input[1])
    if len(nn.shape_of(x)) != 4:
        raise Unsupported("only 1-D and 2-D transposed convolution is supported")
    bias = g.tensor(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    kernel = nn.shape_of(w)[2:]
    if "kernel_shape" in attrs and tuple(attrs["kernel_shape"]) != tuple(kernel):
        raise ImportError_(f"kernel_shape {list(attrs['kernel_shape'])} is not the weight's {list(kernel)}")
    stride, dilation = pair(attrs.get("strides"), 1), pair(attrs.get("dilations"), 1)
    output_padding = pair(attrs.get("output_padding"), 0)
    top, left, bottom, right = transpose_pads(
        attrs, nn.shape_of(x)[2:], kernel, stride, dilation, output_padding
    )
    # nn.conv_transpose2d crops `padding` at the start and extends by `output_padding` at
    # the end: ONNX's (begin, end) pads and output padding are begin and op + begin - end.
    extra = (output_padding[0] + top - bottom, output_padding[1] + left - right)
    return g.insert(
        nn.ConvTranspose2DOp(x, w, bias, stride, (top, left), extra, dilation, attrs.get("group", 1))
    )


CONVERTERS = {"Conv": via_2d(convert_conv), "ConvTranspose": via_2d(convert_conv_transpose)}
