"""aten convolutions → `nn.conv2d`, `nn.conv_transpose2d` (1-D ones on [N, C, 1, L])."""

from __future__ import annotations

from dataclasses import replace

from mnistc.dialects import nn
from mnistc.importers.aten.graph import ConversionContext, Node, NodeError
from mnistc.importers.aten.shape import along_w, ints, via_2d


def convert_conv2d(ctx: ConversionContext, node: Node) -> tuple:
    """`aten::conv2d` (and `_convolution_mode`): input, weight, bias, stride, padding,
    dilation, groups."""
    args = node.args
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


def convert_conv_transpose2d(ctx: ConversionContext, node: Node) -> tuple:
    """`aten::conv_transpose2d`: input, weight, bias, stride, padding, output_padding,
    groups, dilation."""
    args = node.args
    x, weight = ctx.tensor(node, 0), ctx.tensor(node, 1)
    bias = None if args[2] is None else ctx.tensor(node, 2)
    return ctx.insert(
        nn.ConvTranspose2DOp(
            x, weight, bias, ints(args[3]), ints(args[4]), ints(args[5]), ints(args[7]), args[6]
        )
    )


def _conv1d_arguments(args: list) -> list:
    padding = args[4] if isinstance(args[4], str) else along_w(args[4], 0)
    return [*args[:3], along_w(args[3], 1), padding, along_w(args[5], 1), args[6]]


def _conv_transpose1d_arguments(args: list) -> list:
    return [
        *args[:3], along_w(args[3], 1), along_w(args[4], 0), along_w(args[5], 0), args[6],
        along_w(args[7], 1),
    ]  # fmt: skip


convert_conv1d = via_2d(convert_conv2d, _conv1d_arguments)
convert_conv_transpose1d = via_2d(convert_conv_transpose2d, _conv_transpose1d_arguments)


def convert_convolution(ctx: ConversionContext, node: Node) -> tuple:
    """`aten::_convolution` (traced models): 1-D and 2-D, transposed or not; 3-D is refused."""
    args = node.args
    rank = len(nn.shape_of(ctx.tensor(node, 0)))
    if rank not in (3, 4):
        raise NodeError(f"only 1-D and 2-D convolution is supported (input of rank {rank})")
    if args[6]:
        return (convert_conv_transpose1d if rank == 3 else convert_conv_transpose2d)(
            ctx, replace(node, args=[*args[:5], args[7], args[8], args[5]])
        )
    return convert_convolution_mode(ctx, replace(node, args=[*args[:6], args[8]]))


def convert_convolution_mode(ctx: ConversionContext, node: Node) -> tuple:
    """`aten::_convolution_mode` (string padding) and the forward `_convolution`: 1-D or
    2-D by the input's rank."""
    if len(nn.shape_of(ctx.tensor(node, 0))) == 3:
        return convert_conv1d(ctx, node)
    return convert_conv2d(ctx, node)


CONVERTERS = {
    "aten::_convolution": convert_convolution,
    # decoders
    "aten::conv1d": convert_conv1d,
    "aten::conv_transpose1d": convert_conv_transpose1d,
    "aten::conv_transpose2d": convert_conv_transpose2d,
    "aten::_convolution_mode": convert_convolution_mode,
    "aten::conv2d": convert_conv2d,
}
