"""aten convolutions → `nn.conv2d`."""

from __future__ import annotations

from mnistc.dialects import nn
from mnistc.importers.aten.graph import ConversionContext, Node, NodeError
from mnistc.importers.aten.shape import ints


def convert_conv2d(ctx: ConversionContext, node: Node, args: list | None = None) -> tuple:
    """`aten::conv2d` (and `_convolution_mode`): input, weight, bias, stride, padding,
    dilation, groups; `args` overrides the node's (for `_convolution`)."""
    args = node.args if args is None else args
    x, weight = ctx.tensor(node, 0), ctx.tensor(node, 1)
    bias = None if args[2] is None else ctx.tensor(node, 2)
    stride, padding, dilation, groups = args[3], args[4], args[5], args[6]
    if isinstance(padding, str):
        padding = same_padding(padding, nn.shape_of(weight), ints(dilation))
    return ctx.insert(nn.Conv2DOp(x, weight, bias, ints(stride), ints(padding), ints(dilation), groups))


def same_padding(mode: str, weight_shape, dilation) -> tuple[int, int]:
    if mode == "valid":
        return (0, 0)
    total = [d * (k - 1) for d, k in zip(dilation, weight_shape[2:])]
    if any(t % 2 for t in total):
        raise NodeError("padding='same' with an even kernel extent is not supported")
    return (total[0] // 2, total[1] // 2)


def convert_convolution(ctx: ConversionContext, node: Node) -> tuple:
    """`aten::_convolution` (traced models): transposed and 1-D/3-D forms are refused."""
    args = node.args
    if args[6]:
        raise NodeError("transposed convolution is not supported")
    if len(nn.shape_of(ctx.tensor(node, 0))) != 4:
        raise NodeError("only 2-D convolution is supported")
    return convert_conv2d(ctx, node, [*args[:6], args[8]])


CONVERTERS = {
    "aten::_convolution": convert_convolution,
    "aten::_convolution_mode": convert_conv2d,
    "aten::conv2d": convert_conv2d,
}
