"""aten pooling (and `mean` over H, W) → `nn.max_pool2d`, `avg_pool2d`, `adaptive_avg_pool2d`."""

from __future__ import annotations

from mnistc.dialects import nn
from mnistc.importers.aten import reduce
from mnistc.importers.aten.graph import ConversionContext, Node
from mnistc.importers.aten.shape import along_w, ints, reshape, via_2d


def convert_max_pool2d(ctx: ConversionContext, node: Node) -> tuple:
    args = node.args
    kernel = ints(args[1])
    stride = ints(args[2]) if args[2] else kernel
    x = ctx.tensor(node, 0)
    return ctx.insert(nn.MaxPool2DOp(x, kernel, stride, ints(args[3]), ints(args[4]), bool(args[5])))


def convert_avg_pool2d(ctx: ConversionContext, node: Node) -> tuple:
    args = node.args
    kernel = ints(args[1])
    stride = ints(args[2]) if args[2] else kernel
    divisor = args[6] if len(args) > 6 and args[6] is not None else 0
    x = ctx.tensor(node, 0)
    return ctx.insert(
        nn.AvgPool2DOp(x, kernel, stride, ints(args[3]), bool(args[4]), bool(args[5]), divisor)
    )


def convert_adaptive_avg_pool2d(ctx: ConversionContext, node: Node) -> tuple:
    x = ctx.tensor(node, 0)
    size = tuple(s if s is not None else d for s, d in zip(ints(node.args[1]), nn.shape_of(x)[2:]))
    return ctx.insert(nn.AdaptiveAvgPool2DOp(x, size))


def convert_mean(ctx: ConversionContext, node: Node) -> tuple:
    """`mean` over H and W of NCHW: a global average pool (reshaped unless keepdim); over
    other dims, a reduction."""
    args = node.args
    x = ctx.tensor(node, 0)
    rank = len(nn.shape_of(x))
    dims = args[1] if len(args) > 2 else None
    dims = [dims] if isinstance(dims, int) else dims or []
    dims = sorted(d % rank for d in dims)
    if rank != 4 or dims != [2, 3] or len(args) > 3 and args[3] not in (None, 6):
        return reduce.convert_mean(ctx, node)
    (pooled,) = ctx.insert(nn.AdaptiveAvgPool2DOp(x, (1, 1)))
    return (pooled,) if args[2] else reshape(ctx, pooled, nn.shape_of(pooled)[:2])


# decoders: the 1-D pools as 2-D ones on [N, C, 1, L]
convert_max_pool1d = via_2d(
    convert_max_pool2d,
    lambda a: [a[0], along_w(a[1], 1), along_w(a[2] or a[1], 1), along_w(a[3], 0),
               along_w(a[4], 1), a[5]],  # fmt: skip
)
convert_avg_pool1d = via_2d(
    convert_avg_pool2d,
    lambda a: [a[0], along_w(a[1], 1), along_w(a[2] or a[1], 1), along_w(a[3], 0), a[4], a[5]],
)
convert_adaptive_avg_pool1d = via_2d(convert_adaptive_avg_pool2d, lambda a: [a[0], along_w(a[1], 1)])


CONVERTERS = {
    # decoders
    "aten::adaptive_avg_pool1d": convert_adaptive_avg_pool1d,
    "aten::avg_pool1d": convert_avg_pool1d,
    "aten::max_pool1d": convert_max_pool1d,
    "aten::adaptive_avg_pool2d": convert_adaptive_avg_pool2d,
    "aten::avg_pool2d": convert_avg_pool2d,
    "aten::max_pool2d": convert_max_pool2d,
    "aten::mean": convert_mean,
}
