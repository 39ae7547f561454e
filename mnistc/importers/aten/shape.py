"""aten ops that move elements: view, reshape, flatten, squeeze, unsqueeze, cat, pad,
dropout, contiguous → `nn.reshape`, `nn.concat`, `nn.pad2d`, `nn.dropout`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch
from xdsl.ir import SSAValue

from mnistc.dialects import nn
from mnistc.dialects.shapes import squeeze_h, unsqueeze_h
from mnistc.importers.aten.graph import ConversionContext, Node, NodeError


def ints(values: Sequence[int] | int, n: int = 2) -> tuple[int, ...]:
    """An int or a one-element list repeated to `n` (aten's `int[2]` arguments)."""
    if isinstance(values, int):
        return (values,) * n
    values = tuple(values)
    return values * n if len(values) == 1 else values


def reshape(ctx: ConversionContext, x: SSAValue, shape: Sequence[int]) -> tuple:
    """`x` itself when it has the shape already, else an `nn.reshape`."""
    if tuple(shape) == nn.shape_of(x):
        return (x,)
    return ctx.insert(nn.ReshapeOp(x, shape))


def _product(values: Sequence[int]) -> int:
    result = 1
    for v in values:
        result *= v
    return result


def resolve_shape(shape: Sequence[int], count: int) -> tuple[int, ...]:
    """Replace a single -1 by what makes the element count match, as torch.view does."""
    shape = [int(d) for d in shape]
    known = _product([d for d in shape if d != -1])
    if shape.count(-1) > 1 or any(d < -1 for d in shape):
        raise NodeError(f"invalid shape {shape}")
    if -1 in shape:
        if known == 0 or count % known:
            raise NodeError(f"shape {shape} is invalid for {count} elements")
        shape[shape.index(-1)] = count // known
    if _product(shape) != count:
        raise NodeError(f"shape {shape} is invalid for {count} elements")
    return tuple(shape)


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, list | tuple) else [value]


def convert_view(ctx: ConversionContext, node: Node) -> tuple:
    x = ctx.tensor(node, 0)
    return reshape(ctx, x, resolve_shape(node.args[1], _product(nn.shape_of(x))))


def convert_flatten(ctx: ConversionContext, node: Node) -> tuple:
    x = ctx.tensor(node, 0)
    shape = nn.shape_of(x)
    start, end = node.args[1] % len(shape), node.args[2] % len(shape)
    return reshape(ctx, x, (*shape[:start], _product(shape[start : end + 1]), *shape[end + 1 :]))


def convert_squeeze(ctx: ConversionContext, node: Node) -> tuple:
    x = ctx.tensor(node, 0)
    shape = nn.shape_of(x)
    dims = range(len(shape)) if len(node.args) == 1 else [d % len(shape) for d in _as_list(node.args[1])]
    return reshape(ctx, x, [d for i, d in enumerate(shape) if not (i in dims and d == 1)])


def convert_unsqueeze(ctx: ConversionContext, node: Node) -> tuple:
    x = ctx.tensor(node, 0)
    shape = list(nn.shape_of(x))
    dim = node.args[1] % (len(shape) + 1)
    return reshape(ctx, x, shape[:dim] + [1] + shape[dim:])


def convert_cat(ctx: ConversionContext, node: Node) -> tuple:
    tensors = [
        v if isinstance(v, SSAValue) else ctx.weight("const", torch.as_tensor(v).float())
        for v in node.args[0]
    ]
    return ctx.insert(nn.ConcatOp(tensors, node.args[1]))


def _constant_pad(ctx: ConversionContext, node: Node, pad: list, value: Any) -> tuple:
    """F.pad's (left, right, top, bottom) on the last two dimensions, constant mode."""
    x = ctx.tensor(node, 0)
    pad = list(pad)
    if len(pad) not in (2, 4) or len(nn.shape_of(x)) != 4 or min(pad) < 0:
        raise NodeError(f"padding {pad} (only non-negative padding of H and W)")
    left, right, top, bottom = (pad + [0, 0])[:4]
    fill = float(value) if value is not None else 0.0
    return ctx.insert(nn.Pad2DOp(x, (top, left, bottom, right), fill))


def convert_constant_pad(ctx: ConversionContext, node: Node) -> tuple:
    return _constant_pad(ctx, node, node.args[1], node.args[2] if len(node.args) > 2 else None)


def convert_pad(ctx: ConversionContext, node: Node) -> tuple:
    if node.args[2] in ("reflect", "replicate"):
        return _edge_pad(ctx, node, node.args[1], node.args[2])
    if node.args[2] != "constant":
        raise NodeError(f"padding mode '{node.args[2]}'")
    return _constant_pad(ctx, node, node.args[1], node.args[3])


def _edge_pad(ctx: ConversionContext, node: Node, pad: list, mode: str) -> tuple:
    """F.pad's reflect / replicate modes: (left, right) of [N, C, L] or (left, right, top,
    bottom) of [N, C, H, W]."""
    x = ctx.tensor(node, 0)
    shape, pad = nn.shape_of(x), list(pad)
    if (len(shape), len(pad)) not in ((3, 2), (4, 4)) or min(pad) < 0:
        raise NodeError(f"{mode} padding {pad} of a tensor of shape {list(shape)}")
    if len(shape) == 3:
        (x,) = reshape(ctx, x, unsqueeze_h(shape))
    left, right, top, bottom = (pad + [0, 0])[:4]
    (padded,) = ctx.insert(nn.Pad2DOp(x, (top, left, bottom, right), mode=mode))
    return reshape(ctx, padded, squeeze_h(nn.shape_of(padded))) if len(shape) == 3 else (padded,)


def edge_pad(mode: str):
    """The converter of `aten::reflection_pad*d` or `replication_pad*d`."""
    return lambda ctx, node: _edge_pad(ctx, node, node.args[1], mode)


def convert_dropout(ctx: ConversionContext, node: Node) -> tuple:
    if node.args[2]:
        raise NodeError("dropout in training mode; call model.eval() before saving")
    return ctx.insert(nn.DropoutOp(ctx.tensor(node, 0), float(node.args[1])))


def identity(ctx: ConversionContext, node: Node) -> tuple:
    return (node.args[0],)


CONVERTERS = {
    "aten::alpha_dropout": convert_dropout,
    "aten::cat": convert_cat,
    "aten::constant_pad_nd": convert_constant_pad,
    "aten::contiguous": identity,
    "aten::dropout": convert_dropout,
    "aten::feature_alpha_dropout": convert_dropout,
    "aten::feature_dropout": convert_dropout,
    "aten::flatten": convert_flatten,
    "aten::pad": convert_pad,
    # decoders
    "aten::reflection_pad1d": edge_pad("reflect"),
    "aten::reflection_pad2d": edge_pad("reflect"),
    "aten::replication_pad1d": edge_pad("replicate"),
    "aten::replication_pad2d": edge_pad("replicate"),
    "aten::reshape": convert_view,
    "aten::squeeze": convert_squeeze,
    "aten::unsqueeze": convert_unsqueeze,
    "aten::view": convert_view,
}


# decoders: the 1-D layers, imported as their 2-D counterparts on [N, C, 1, L]


def as_2d(ctx: ConversionContext, node: Node, args: list) -> Node:
    """The node of a 1-D layer with `args` (the 2-D op's arguments), in which every rank-3
    tensor (input, weight) is viewed with H = 1: a constant reshaped at import, a run-time
    tensor through `nn.reshape`."""
    lifted = []
    for value in args:
        if isinstance(value, torch.Tensor) and value.dim() == 3:
            value = value.unsqueeze(2)
        elif isinstance(value, SSAValue) and len(nn.shape_of(value)) == 3:
            (value,) = reshape(ctx, value, unsqueeze_h(nn.shape_of(value)))
        lifted.append(value)
    return replace(node, args=lifted)


def via_2d(convert, arguments):
    """A converter of a 1-D layer: `arguments(args)` maps the node's arguments to the 2-D
    converter's (windows become (1, k), paddings (0, p)); the 2-D result is viewed back
    as [N, C, L]."""

    def convert_1d(ctx: ConversionContext, node: Node) -> tuple:
        (out,) = convert(ctx, as_2d(ctx, node, arguments(list(node.args))))
        return reshape(ctx, out, squeeze_h(nn.shape_of(out)))

    return convert_1d


def along_w(values, fill: int) -> tuple[int, int]:
    """A 1-D window parameter (int or [int]) as the 2-D one, H taking `fill`."""
    return (fill, ints(values, 1)[0])
