"""aten ops that move elements → `nn.reshape`, `nn.transpose`, `nn.slice`, `nn.expand`,
`nn.concat`, `nn.pad2d`, `nn.dropout` (composed by `mnistc.importers.shape_ops`), and
the creation of constant tensors (zeros, ones, full, arange).

On constant tensors only, each op is evaluated by torch at import (a transposed weight
stays a weight). On a run-time tensor, an op that splits or grows the batch (dimension
0) is refused; transpose, permute and unsqueeze may move it (a recurrent layer's
time-major sequence), and the ops that follow a moved batch then take it along (see
`shape_ops.MovedBatch`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch
from xdsl.ir import SSAValue

from mnistc.dialects import nn
from mnistc.importers import shape_ops
from mnistc.dialects.shapes import squeeze_h, unsqueeze_h
from mnistc.importers.aten.graph import ConversionContext, Node, NodeError
from mnistc.importers.aten.python import degree_of, holds_tensor


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
    """A size computed from the batch (`python.RESHAPES`) says where the batch goes."""
    x = ctx.tensor(node, 0)
    size = list(node.args[1])
    hint = next((i for i, d in enumerate(size) if degree_of(d) == 1), None)
    return reshape_following_batch(ctx, x, resolve_shape(size, _product(nn.shape_of(x))), hint)


def reshape_following_batch(ctx: ConversionContext, x: SSAValue, shape: Sequence[int], hint: int | None = None) -> tuple:
    """x reshaped, its batch followed (`MovedBatch.reshaped_or_refusal`)."""
    result = ctx.moved.reshaped_or_refusal(ctx.builder, x, shape, "reshape", hint)
    if isinstance(result, str):
        raise NodeError(result)
    return (result,)


def convert_flatten(ctx: ConversionContext, node: Node) -> tuple:
    x = ctx.tensor(node, 0)
    shape = nn.shape_of(x)
    start, end = node.args[1] % len(shape), node.args[2] % len(shape)
    return reshape(ctx, x, (*shape[:start], _product(shape[start : end + 1]), *shape[end + 1 :]))


def sample_dim(ctx: ConversionContext, x: SSAValue, dim: int, what: str, rank: int | None = None) -> int:
    """`dim` counted from 0 in a tensor of `rank` (x's by default); refused if it is the
    batch."""
    dim = int(dim) % (len(nn.shape_of(x)) if rank is None else rank)
    if dim == 0 and (reason := ctx.moved.refusal_at_dim0(what)) is not None:
        raise NodeError(reason)
    return dim


# recurrent layers' states [L*D, N, H] and time-major sequences [T, N, F] hold
# the batch at dimension 1. In one sample it is a dimension of size 1, so select, slice,
# transpose, permute, squeeze and unsqueeze may move it anywhere: their results remember
# where (`shape_ops.MovedBatch`), and only they and the recurrent layers take
# such tensors (other converters refuse them, as does the model's output).


def _permuted(ctx: ConversionContext, x: SSAValue, permutation: Sequence[int], what: str) -> tuple:
    return (ctx.moved.permuted(ctx.builder, x, permutation, what),)


def _refuse_along(ctx: ConversionContext, x: SSAValue, dim: int, what: str) -> None:
    """Refuse `what` along `dim` of `x` if `dim` is where its batch is."""
    if (reason := ctx.moved.refusal_along(x, dim, what)) is not None:
        raise NodeError(reason)


def convert_squeeze(ctx: ConversionContext, node: Node) -> tuple:
    """Squeezing keeps the batch's dimension: it has size 1 only in the per-sample IR."""
    x = ctx.tensor(node, 0)
    shape, batch = nn.shape_of(x), ctx.moved.dim(x)
    dims = range(len(shape)) if len(node.args) == 1 else [d % len(shape) for d in _as_list(node.args[1])]
    removed = [i for i, d in enumerate(shape) if i in dims and d == 1 and i != batch]
    (result,) = reshape(ctx, x, [d for i, d in enumerate(shape) if i not in removed])
    return (ctx.moved.at(result, batch - sum(i < batch for i in removed), "squeeze"),)


def convert_unsqueeze(ctx: ConversionContext, node: Node) -> tuple:
    """A new dimension of size 1 anywhere, before the batch too (which then moves)."""
    x = ctx.tensor(node, 0)
    shape, batch = list(nn.shape_of(x)), ctx.moved.dim(x)
    dim = int(node.args[1]) % (len(shape) + 1)
    (result,) = reshape(ctx, x, shape[:dim] + [1] + shape[dim:])
    return (ctx.moved.at(result, batch + (dim <= batch), "unsqueeze"),)


def _tensors(ctx: ConversionContext, values: Sequence[Any]) -> list[SSAValue]:
    """The IR values of a list of tensors, constants becoming weights."""
    return [
        v if isinstance(v, SSAValue) else ctx.weight("const", torch.as_tensor(v).float())
        for v in values
    ]


def convert_cat(ctx: ConversionContext, node: Node) -> tuple:
    """Along any dimension but the batch's (which recurrent states hold at 1)."""
    tensors = _tensors(ctx, node.args[0])
    batch = ctx.moved.dim(tensors[0])
    if any(ctx.moved.dim(t) != batch for t in tensors):
        raise NodeError("concatenation of tensors whose batches are different dimensions")
    dim = int(node.args[1]) % len(nn.shape_of(tensors[0]))
    _refuse_along(ctx, tensors[0], dim, "concatenation")
    return (ctx.moved.at(shape_ops.concat(ctx.builder, tensors, dim), batch, "concatenation"),)


def convert_stack(ctx: ConversionContext, node: Node) -> tuple:
    tensors = _tensors(ctx, node.args[0])
    for t in tensors:
        if (reason := ctx.moved.refusal(t)) is not None:
            raise NodeError(reason)
    dim = sample_dim(ctx, tensors[0], node.args[1], "stacking", len(nn.shape_of(tensors[0])) + 1)
    return (shape_ops.stack(ctx.builder, tensors, dim),)


def convert_transpose(ctx: ConversionContext, node: Node) -> tuple:
    x = ctx.tensor(node, 0)
    rank = len(nn.shape_of(x))
    permutation = list(range(rank))
    a, b = (int(d) % rank for d in node.args[1:3])
    permutation[a], permutation[b] = permutation[b], permutation[a]
    return _permuted(ctx, x, permutation, "transposition")


def convert_t(ctx: ConversionContext, node: Node) -> tuple:
    x = ctx.tensor(node, 0)
    if len(nn.shape_of(x)) < 2:
        return (x,)
    return _permuted(ctx, x, [1, 0], "transposition")


def convert_permute(ctx: ConversionContext, node: Node) -> tuple:
    x = ctx.tensor(node, 0)
    rank = len(nn.shape_of(x))
    return _permuted(ctx, x, [int(d) % rank for d in node.args[1]], "permutation")


def convert_movedim(ctx: ConversionContext, node: Node) -> tuple:
    """torch.movedim: the `source` dimensions at the `destination` positions, the others
    in their order."""
    x = ctx.tensor(node, 0)
    rank = len(nn.shape_of(x))
    source = [int(d) % rank for d in _as_list(node.args[1])]
    destination = [int(d) % rank for d in _as_list(node.args[2])]
    order = [d for d in range(rank) if d not in source]
    for position, dim in sorted(zip(destination, source)):
        order.insert(position, dim)
    if order[0] != 0 and (reason := ctx.moved.refusal_at_dim0("movedim")) is not None:
        raise NodeError(reason)
    return (shape_ops.transpose(ctx.builder, x, order),)


def convert_flip(ctx: ConversionContext, node: Node) -> tuple:
    """torch.flip: a slice walking each flipped dimension backwards."""
    x = ctx.tensor(node, 0)
    shape = nn.shape_of(x)
    for dim in {sample_dim(ctx, x, d, "flip") for d in _as_list(node.args[1])}:
        if shape[dim] > 1:
            x = _slice(ctx, x, dim, range(shape[dim] - 1, -1, -1))[0]
    return (x,)


def convert_pixel_shuffle(ctx: ConversionContext, node: Node) -> tuple:
    x, r = ctx.tensor(node, 0), int(node.args[1])
    if len(nn.shape_of(x)) < 4:
        raise NodeError("pixel_shuffle of a tensor of rank below 4")
    return (shape_ops.depth_to_space(ctx.builder, x, r),)


def convert_pixel_unshuffle(ctx: ConversionContext, node: Node) -> tuple:
    x, r = ctx.tensor(node, 0), int(node.args[1])
    if len(nn.shape_of(x)) < 4:
        raise NodeError("pixel_unshuffle of a tensor of rank below 4")
    return (shape_ops.space_to_depth(ctx.builder, x, r),)


def convert_channel_shuffle(ctx: ConversionContext, node: Node) -> tuple:
    x, groups = ctx.tensor(node, 0), int(node.args[1])
    shape = nn.shape_of(x)
    if len(shape) < 2 or groups < 1 or shape[1] % groups:
        raise NodeError(f"channel_shuffle of shape {list(shape)} into {groups} groups")
    return (shape_ops.channel_shuffle(ctx.builder, x, groups),)


def _slice(ctx: ConversionContext, x: SSAValue, dim: int, indices: range) -> tuple:
    """Dimension `dim` (not the batch) of `x` cut to `indices`."""
    size, batch = nn.shape_of(x)[dim], ctx.moved.dim(x)
    _refuse_along(ctx, x, dim, "slicing")
    if not indices:
        raise NodeError(f"an empty slice of dimension {dim} ({size} elements)")
    return (ctx.moved.at(shape_ops.slice_dim(ctx.builder, x, dim, indices), batch, "slicing"),)


def convert_slice(ctx: ConversionContext, node: Node) -> tuple:
    x = ctx.tensor(node, 0)
    shape = nn.shape_of(x)
    dim = int(node.args[1]) % len(shape)
    start, end, step = node.args[2], node.args[3], node.args[4] if len(node.args) > 4 else 1
    if dim == ctx.moved.dim(x) and shape_ops.whole_batch(start, end, step):
        return (x,)  # x[:, ...]: the whole batch, whatever its size at run time
    return _slice(ctx, x, dim, shape_ops.python_slice(shape[dim], start, end, step or 1))


def convert_narrow(ctx: ConversionContext, node: Node) -> tuple:
    x = ctx.tensor(node, 0)
    shape = nn.shape_of(x)
    dim = int(node.args[1]) % len(shape)
    start = int(node.args[2]) % shape[dim] if node.args[2] < 0 else int(node.args[2])
    indices = range(start, start + int(node.args[3]))
    if indices.stop > shape[dim]:
        raise NodeError(f"narrow of {indices.stop - start} elements from {start} of {shape[dim]}")
    return _slice(ctx, x, dim, indices)


def convert_select(ctx: ConversionContext, node: Node) -> tuple:
    x = ctx.tensor(node, 0)
    shape, batch = nn.shape_of(x), ctx.moved.dim(x)
    dim = int(node.args[1]) % len(shape)
    _refuse_along(ctx, x, dim, "select")
    size, index = shape[dim], int(node.args[2])
    if not -size <= index < size:
        raise NodeError(f"index {index} out of range for dimension {dim} of size {size}")
    result = shape_ops.select(ctx.builder, x, dim, index)
    return (ctx.moved.at(result, batch - (dim < batch), "select"),)


def convert_index_select(ctx: ConversionContext, node: Node) -> tuple:
    x, index = ctx.tensor(node, 0), node.args[2]
    if not isinstance(index, torch.Tensor):
        raise NodeError("index_select with a run-time index")
    dim = sample_dim(ctx, x, node.args[1], "index_select")
    size, indices = nn.shape_of(x)[dim], [int(i) for i in index.reshape(-1).tolist()]
    if not indices or any(not -size <= i < size for i in indices):
        raise NodeError(f"indices {indices} out of range for dimension {dim} of size {size}")
    return (shape_ops.gather(ctx.builder, x, dim, [i % size for i in indices]),)


def _split(ctx: ConversionContext, x: SSAValue, dim: Any, sizes_of) -> tuple:
    """The parts of dimension `dim` whose sizes `sizes_of(size)` gives, as one list."""
    dim = sample_dim(ctx, x, dim, "split")
    sizes = [int(s) for s in sizes_of(nn.shape_of(x)[dim])]
    if sum(sizes) != nn.shape_of(x)[dim] or min(sizes) < 1:
        raise NodeError(f"split of dimension {dim} ({nn.shape_of(x)[dim]} elements) into {sizes}")
    return (shape_ops.split(ctx.builder, x, dim, sizes),)


def convert_split(ctx: ConversionContext, node: Node) -> tuple:
    """split with a part size (the last part shorter) or with the list of sizes."""
    sizes = node.args[1]
    if isinstance(sizes, list | tuple):
        return _split(ctx, ctx.tensor(node, 0), node.args[2], lambda _: sizes)
    if int(sizes) < 1:
        raise NodeError(f"split into parts of {sizes} elements")
    return _split(ctx, ctx.tensor(node, 0), node.args[2], lambda n: shape_ops.chunk_sizes(n, int(sizes)))


def convert_chunk(ctx: ConversionContext, node: Node) -> tuple:
    """torch.chunk: parts of ceil(size / chunks) elements, so maybe fewer than `chunks`."""
    chunks = int(node.args[1])
    if chunks < 1:
        raise NodeError(f"chunk into {chunks} parts")
    return _split(ctx, ctx.tensor(node, 0), node.args[2], lambda n: shape_ops.chunk_sizes(n, -(-n // chunks)))


def convert_unbind(ctx: ConversionContext, node: Node) -> tuple:
    """Each element of `dim`, the batch followed (timm's q, k, v unbound from a
    permuted [3, N, H, T, D])."""
    x = ctx.tensor(node, 0)
    shape, batch = nn.shape_of(x), ctx.moved.dim(x)
    dim = int(node.args[1]) % len(shape)
    _refuse_along(ctx, x, dim, "unbind")
    parts = [shape_ops.select(ctx.builder, x, dim, i) for i in range(shape[dim])]
    return ([ctx.moved.at(p, batch - (dim < batch), "unbind") for p in parts],)


def _expand(ctx: ConversionContext, x: SSAValue, sizes: Sequence[int]) -> tuple:
    shape = nn.shape_of(x)
    lead = len(sizes) - len(shape)
    if lead < 0:
        raise NodeError(f"expand of shape {list(shape)} to fewer dimensions {list(sizes)}")
    if lead and (reason := ctx.moved.refusal_at_dim0("expansion with new leading dimensions")):
        raise NodeError(reason)
    target = [int(s) for s in sizes[:lead]] + [
        n if int(s) == -1 else int(s) for n, s in zip(shape, sizes[lead:])
    ]
    if shape and target[lead] != shape[0] and (reason := ctx.moved.refusal_at_dim0("expansion")):
        raise NodeError(reason)
    shape = (1,) * lead + shape
    if any(n not in (1, t) for n, t in zip(shape, target)):
        raise NodeError(f"cannot expand shape {list(shape)} to {list(sizes)}")
    return (shape_ops.expand(ctx.builder, x, target),)


def convert_expand(ctx: ConversionContext, node: Node) -> tuple:
    return _expand(ctx, ctx.tensor(node, 0), _as_list(node.args[1]))


def convert_expand_as(ctx: ConversionContext, node: Node) -> tuple:
    return _expand(ctx, ctx.tensor(node, 0), nn.shape_of(ctx.tensor(node, 1)))


def convert_repeat(ctx: ConversionContext, node: Node) -> tuple:
    x, repeats = ctx.tensor(node, 0), [int(r) for r in node.args[1]]
    if len(repeats) < len(nn.shape_of(x)) or min(repeats) < 1:
        raise NodeError(f"repeat of shape {list(nn.shape_of(x))} by {repeats}")
    if len(repeats) > len(nn.shape_of(x)) or repeats[0] != 1:
        if (reason := ctx.moved.refusal_at_dim0("repetition")) is not None:
            raise NodeError(reason)
    return (shape_ops.repeat(ctx.builder, x, repeats),)


def convert_unflatten(ctx: ConversionContext, node: Node) -> tuple:
    x = ctx.tensor(node, 0)
    shape = nn.shape_of(x)
    dim = int(node.args[1]) % len(shape)
    if (reason := ctx.moved.refusal_along(x, dim, "unflatten")) is not None:
        raise NodeError(reason)
    sizes = resolve_shape(node.args[2], shape[dim])
    return reshape_following_batch(ctx, x, (*shape[:dim], *sizes, *shape[dim + 1 :]))


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


def _created(make, leading: int, *, like: bool = False):
    """A tensor-creation op: the aten op `make(*args[:leading], dtype=...)` (a dtype may
    be TorchScript's ScalarType code), a constant at import.
    `like`: its first argument is a tensor whose shape (not value) it takes."""

    def convert(ctx: ConversionContext, node: Node) -> tuple:
        args = list(node.args)
        if like:
            args[0] = torch.empty(nn.shape_of(args[0])) if isinstance(args[0], SSAValue) else args[0]
        if holds_tensor(args):
            raise NodeError("a tensor of a shape computed at run time")
        dtype = args[leading] if len(args) > leading else None
        return (make(*args[:leading], **({"dtype": dtype} if dtype is not None else {})),)

    return convert


def convert_arange(ctx: ConversionContext, node: Node) -> tuple:
    """arange(end), arange(start, end) or arange(start, end, step), then dtype, layout,
    device, pin_memory: the overload shows in the argument count."""
    bounds = node.args[: len(node.args) - 4]
    dtype = node.args[len(bounds)]
    return (torch.ops.aten.arange(*bounds, **({"dtype": dtype} if dtype is not None else {})),)


def _on_constants(convert, fold):
    """`convert` on run-time tensors; on constants only, `fold` evaluates the op with torch
    at import (a transposed or sliced weight stays a weight)."""

    def converter(ctx: ConversionContext, node: Node) -> tuple:
        if not holds_tensor(node.args) and isinstance(node.args[0], torch.Tensor | list | tuple):
            return (fold(*node.args),)
        return convert(ctx, node)

    return converter


_FOLDED = {
    "aten::flatten": (convert_flatten, lambda t, start=0, end=-1: t.flatten(start, end)),
    "aten::reshape": (convert_view, lambda t, size: t.reshape(size)),
    "aten::squeeze": (convert_squeeze, lambda t, dims=None: t.squeeze() if dims is None else t.squeeze(dims)),
    "aten::unsqueeze": (convert_unsqueeze, lambda t, dim: t.unsqueeze(dim)),
    "aten::view": (convert_view, lambda t, size: t.reshape(size)),
    "aten::cat": (convert_cat, lambda ts, dim: torch.cat([torch.as_tensor(t) for t in ts], dim)),
    "aten::channel_shuffle": (convert_channel_shuffle, lambda t, g: torch.channel_shuffle(t, g)),
    "aten::chunk": (convert_chunk, lambda t, n, dim: list(t.chunk(n, dim))),
    "aten::expand": (convert_expand, lambda t, size, *_: t.expand(size)),
    "aten::expand_as": (convert_expand_as, lambda t, other: t.expand_as(other)),
    "aten::flip": (convert_flip, lambda t, dims: t.flip(dims)),
    "aten::index_select": (convert_index_select, lambda t, dim, index: t.index_select(dim, index)),
    "aten::movedim": (convert_movedim, lambda t, source, destination: t.movedim(source, destination)),
    "aten::narrow": (convert_narrow, lambda t, dim, start, length: t.narrow(dim, start, length)),
    "aten::permute": (convert_permute, lambda t, dims: t.permute(dims)),
    "aten::pixel_shuffle": (convert_pixel_shuffle, lambda t, r: torch.pixel_shuffle(t, r)),
    "aten::pixel_unshuffle": (convert_pixel_unshuffle, lambda t, r: torch.pixel_unshuffle(t, r)),
    "aten::repeat": (convert_repeat, lambda t, repeats: t.repeat(repeats)),
    "aten::select": (convert_select, lambda t, dim, index: t.select(dim, index)),
    "aten::slice": (
        convert_slice,
        lambda t, dim, start, end, step=1: t[(slice(None),) * (dim % t.dim()) + (slice(start, end, step),)],
    ),
    "aten::split": (convert_split, lambda t, sizes, dim: list(t.split(sizes, dim))),
    "aten::stack": (convert_stack, lambda ts, dim: torch.stack([torch.as_tensor(t) for t in ts], dim)),
    "aten::t": (convert_t, lambda t: t.t()),
    "aten::transpose": (convert_transpose, lambda t, a, b: t.transpose(a, b)),
    "aten::unbind": (convert_unbind, lambda t, dim: list(t.unbind(dim))),
    "aten::unflatten": (convert_unflatten, lambda t, dim, sizes: t.unflatten(dim, sizes)),
}
"""Converters of ops that torch evaluates instead when all their tensors are constants."""

_ALIASES = {
    "aten::concat": "aten::cat",
    "aten::concatenate": "aten::cat",
    "aten::moveaxis": "aten::movedim",
    "aten::native_channel_shuffle": "aten::channel_shuffle",
    "aten::split_with_sizes": "aten::split",
    "aten::swapaxes": "aten::transpose",
    "aten::swapdims": "aten::transpose",
    "aten::unsafe_chunk": "aten::chunk",
    "aten::unsafe_split": "aten::split",
}
"""Other names of the same ops, with the same schema."""

CONVERTERS = {
    **{name: _on_constants(convert, fold) for name, (convert, fold) in _FOLDED.items()},
    **{alias: _on_constants(*_FOLDED[name]) for alias, name in _ALIASES.items()},
    "aten::alpha_dropout": convert_dropout,
    "aten::arange": convert_arange,
    "aten::constant_pad_nd": convert_constant_pad,
    "aten::contiguous": identity,
    "aten::dropout": convert_dropout,
    "aten::feature_alpha_dropout": convert_dropout,
    "aten::feature_dropout": convert_dropout,
    "aten::full": _created(torch.ops.aten.full, 2),
    "aten::full_like": _created(torch.ops.aten.full_like, 2, like=True),
    "aten::new_full": _created(torch.ops.aten.new_full, 3, like=True),
    "aten::new_ones": _created(torch.ops.aten.new_ones, 2, like=True),
    "aten::new_zeros": _created(torch.ops.aten.new_zeros, 2, like=True),
    "aten::ones": _created(torch.ops.aten.ones, 1),
    "aten::ones_like": _created(torch.ops.aten.ones_like, 1, like=True),
    "aten::pad": convert_pad,
    "aten::zeros": _created(torch.ops.aten.zeros, 1),
    "aten::zeros_like": _created(torch.ops.aten.zeros_like, 1, like=True),
    # decoders
    "aten::reflection_pad1d": edge_pad("reflect"),
    "aten::reflection_pad2d": edge_pad("reflect"),
    "aten::replication_pad1d": edge_pad("replicate"),
    "aten::replication_pad2d": edge_pad("replicate"),
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
