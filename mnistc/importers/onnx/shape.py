"""ONNX ops that move elements: Concat, Flatten, Reshape, Pad, Dropout, Identity,
Transpose, Slice, Split, Squeeze, Unsqueeze, Gather (constant indices), Expand, Tile,
DepthToSpace, SpaceToDepth (composed by `mnistc.importers.shape_ops`).

Shape inputs (Slice's starts, Split's sizes, Expand's shape, ...) must be constants. On a
run-time tensor, an op that splits or grows the batch (dimension 0) is refused; Transpose
may move it (LSTM and GRU take time-major sequences), Reshape merge it with a sample's
elements (multi-head attention's [L, N*H, D]), and the ops that follow a moved batch
then take it along (see `shape_ops.MovedBatch`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.ir import SSAValue

from mnistc.dialects import nn
from mnistc.importers import shape_ops
from mnistc.dialects.shapes import squeeze_h, unsqueeze_h
from mnistc.importers.onnx.graph import Graph, Unsupported, decode


def reshape(g: Graph, x: SSAValue, shape: Sequence[int]) -> tuple:
    return (x,) if tuple(shape) == nn.shape_of(x) else g.insert(nn.ReshapeOp(x, shape))


def sample_axis(g: Graph, x: SSAValue, axis: int, what: str) -> int:
    """`axis` counted from 0 in x; refused if it is the batch."""
    rank = len(nn.shape_of(x))
    if not -rank <= int(axis) < rank:
        raise Unsupported(f"axis {axis} out of range for rank {rank}")
    if int(axis) % rank == 0 and (reason := g.moved.refusal_at_dim0(what)) is not None:
        raise Unsupported(reason)
    return int(axis) % rank


def _ints(g: Graph, node, index: int, attrs, name: str, what: str) -> list[int] | None:
    """A list of integers given as attribute `name` (older opsets) or as constant input
    `index` (newer ones); None when neither is given."""
    if name in attrs:
        return [int(v) for v in attrs[name]]
    if len(node.input) > index and node.input[index]:
        return [int(v) for v in np.asarray(g.constant(node.input[index], what)).reshape(-1)]
    return None


# LSTM and GRU take and give tensors whose batch is dimension 1 or 2 (see
# shape_ops.MovedBatch): Transpose, Slice, Gather, Squeeze, Unsqueeze, Reshape and Concat
# follow it; other converters refuse such tensors.


def _refuse_along(g: Graph, x: SSAValue, axis: int, what: str) -> None:
    if (reason := g.moved.refusal_along(x, axis, what)) is not None:
        raise Unsupported(reason)


def convert_concat(g: Graph, node, attrs) -> tuple:
    tensors = [g.tensor(n) for n in node.input]
    batch = g.moved.dim(tensors[0])
    if any(g.moved.dim(t) != batch for t in tensors):
        raise Unsupported("Concat of tensors whose batches are different dimensions")
    rank = len(nn.shape_of(tensors[0]))
    if not -rank <= int(attrs["axis"]) < rank:
        raise Unsupported(f"axis {attrs['axis']} out of range for rank {rank}")
    axis = int(attrs["axis"]) % rank
    _refuse_along(g, tensors[0], axis, "Concat")
    return (g.moved.at(shape_ops.concat(g.builder, tensors, axis), batch, "Concat"),)


def convert_transpose(g: Graph, node, attrs) -> tuple:
    """Any permutation: in one sample the batch is a dimension of size 1."""
    x = g.tensor(node.input[0])
    rank = len(nn.shape_of(x))
    permutation = [int(p) for p in attrs.get("perm", range(rank)[::-1])]
    if sorted(permutation) != list(range(rank)):
        raise Unsupported(f"perm {permutation} for rank {rank}")
    return (g.moved.permuted(g.builder, x, permutation, "Transpose"),)


def convert_slice(g: Graph, node, attrs) -> tuple:
    x = g.tensor(node.input[0])
    shape, batch = nn.shape_of(x), g.moved.dim(x)
    starts = _ints(g, node, 1, attrs, "starts", "Slice's starts")
    ends = _ints(g, node, 2, attrs, "ends", "Slice's ends")
    axes = _ints(g, node, 3, attrs, "axes", "Slice's axes") or list(range(len(starts)))
    steps = _ints(g, node, 4, {}, "", "Slice's steps") or [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps) or 0 in steps:
        raise Unsupported(f"starts {starts}, ends {ends}, axes {axes}, steps {steps}")
    for start, end, axis, step in zip(starts, ends, axes, steps):
        if not -len(shape) <= axis < len(shape):
            raise Unsupported(f"axis {axis} out of range for rank {len(shape)}")
        axis %= len(shape)
        if axis == batch:
            if not shape_ops.whole_batch(start, end if end != g.batch or g.batch == 1 else None, step):
                _refuse_along(g, x, axis, "Slice")
            continue
        indices = shape_ops.python_slice(shape[axis], start, end, step)
        if not indices:
            raise Unsupported(f"an empty slice of axis {axis}")
        x = shape_ops.slice_dim(g.builder, x, axis, indices)
    return (g.moved.at(x, batch, "Slice"),)


def convert_split(g: Graph, node, attrs) -> tuple:
    x = g.tensor(node.input[0])
    axis = _axis(x, attrs.get("axis", 0))
    _refuse_along(g, x, axis, "Split")
    size = nn.shape_of(x)[axis]
    sizes = _ints(g, node, 1, attrs, "split", "Split's sizes")
    if sizes is None and "num_outputs" in attrs:
        sizes = shape_ops.chunk_sizes(size, -(-size // int(attrs["num_outputs"])))
    elif sizes is None:
        if size % len(node.output):
            raise Unsupported(f"{size} elements in {len(node.output)} equal parts")
        sizes = [size // len(node.output)] * len(node.output)
    if sum(sizes) != size or min(sizes) < 1 or len(sizes) != len(node.output):
        raise Unsupported(f"split of {size} elements into {sizes}")
    parts = shape_ops.split(g.builder, x, axis, sizes)
    return tuple(g.moved.at(part, g.moved.dim(x), "Split") for part in parts)


def convert_squeeze(g: Graph, node, attrs) -> tuple:
    """Without axes, every dimension of size 1 but the batch."""
    x = g.tensor(node.input[0])
    shape, batch = nn.shape_of(x), g.moved.dim(x)
    axes = _ints(g, node, 1, attrs, "axes", "Squeeze's axes")
    if axes is None:
        axes = [i for i, d in enumerate(shape) if d == 1 and i != batch]
    axes = [_axis(x, a) for a in axes]
    for a in axes:
        _refuse_along(g, x, a, "Squeeze")
    if any(shape[a] != 1 for a in axes):
        raise Unsupported(f"Squeeze of axes {axes} of shape {list(shape)}")
    (result,) = reshape(g, x, [d for i, d in enumerate(shape) if i not in axes])
    return (g.moved.at(result, batch - sum(a < batch for a in axes), "Squeeze"),)


def _axis(x: SSAValue, axis: int, rank: int | None = None) -> int:
    """`axis` counted from 0 in a tensor of `rank` (x's by default)."""
    rank = len(nn.shape_of(x)) if rank is None else rank
    if not -rank <= int(axis) < rank:
        raise Unsupported(f"axis {axis} out of range for rank {rank}")
    return int(axis) % rank


def convert_unsqueeze(g: Graph, node, attrs) -> tuple:
    """New dimensions of size 1 anywhere, before the batch too (which then moves)."""
    x = g.tensor(node.input[0])
    shape, batch = list(nn.shape_of(x)), g.moved.dim(x)
    axes = _ints(g, node, 1, attrs, "axes", "Unsqueeze's axes") or []
    rank = len(shape) + len(axes)
    for axis in sorted(_axis(x, a, rank) for a in axes):
        shape.insert(axis, 1)
        batch += axis <= batch
    (result,) = reshape(g, x, shape)
    return (g.moved.at(result, batch, "Unsqueeze"),)


def convert_gather(g: Graph, node, attrs) -> tuple:
    """Gather with constant indices: the indexed elements of the axis, in the indices'
    shape (a scalar index removes the axis)."""
    x = g.tensor(node.input[0])
    indices = np.asarray(g.constant(node.input[1], "Gather's indices"))
    if not np.issubdtype(indices.dtype, np.integer):
        raise Unsupported(f"indices of element type {indices.dtype}")
    axis, batch = _axis(x, attrs.get("axis", 0)), g.moved.dim(x)
    _refuse_along(g, x, axis, "Gather")
    shape = nn.shape_of(x)
    flat = [int(i) for i in indices.reshape(-1)]
    if not flat or any(not -shape[axis] <= i < shape[axis] for i in flat):
        raise Unsupported(f"indices {flat} for an axis of {shape[axis]} elements")
    gathered = shape_ops.gather(g.builder, x, axis, [i % shape[axis] for i in flat])
    (result,) = reshape(g, gathered, (*shape[:axis], *indices.shape, *shape[axis + 1 :]))
    return (g.moved.at(result, batch + (indices.ndim - 1 if axis < batch else 0), "Gather"),)


def _sample_shape(g: Graph, shape: list[int]) -> list[int]:
    """A target shape whose first dimension may be the exporter's fixed batch, which the
    per-sample IR runs as 1."""
    if shape and shape[0] == g.batch and g.batch != 1:
        shape = [1, *shape[1:]]
    return shape


def convert_expand(g: Graph, node, attrs) -> tuple:
    x = g.tensor(node.input[0])
    shape = nn.shape_of(x)
    target = _sample_shape(g, [int(d) for d in np.asarray(g.constant(node.input[1], "Expand's shape")).reshape(-1)])
    try:
        result = tuple(np.broadcast_shapes(shape, tuple(target)))
    except ValueError:
        raise Unsupported(f"Expand of shape {list(shape)} to {target}") from None
    if len(result) != len(shape) or result[0] != shape[0]:
        if (reason := g.moved.refusal_at_dim0("Expand")) is not None:
            raise Unsupported(reason)
    return (shape_ops.expand(g.builder, x, result),)


def convert_tile(g: Graph, node, attrs) -> tuple:
    x = g.tensor(node.input[0])
    repeats = [int(r) for r in np.asarray(g.constant(node.input[1], "Tile's repeats")).reshape(-1)]
    if len(repeats) != len(nn.shape_of(x)) or min(repeats) < 1:
        raise Unsupported(f"repeats {repeats} for shape {list(nn.shape_of(x))}")
    if repeats[0] != 1 and (reason := g.moved.refusal_at_dim0("Tile")) is not None:
        raise Unsupported(reason)
    return (shape_ops.repeat(g.builder, x, repeats),)


def _block_size(x: SSAValue, attrs, divides_channels: bool) -> int:
    shape, r = nn.shape_of(x), int(attrs.get("blocksize", 0))
    if len(shape) != 4 or r < 1:
        raise Unsupported(f"blocksize {r} for shape {list(shape)}")
    c, h, w = shape[1:]
    if (c % (r * r) if divides_channels else (h % r or w % r)):
        raise Unsupported(f"blocksize {r} does not divide shape {list(shape)}")
    return r


def convert_depth_to_space(g: Graph, node, attrs) -> tuple:
    x = g.tensor(node.input[0])
    r = _block_size(x, attrs, divides_channels=True)
    crd = decode(attrs.get("mode", "DCR")) == "CRD"
    return (shape_ops.depth_to_space(g.builder, x, r, channels_first=crd),)


def convert_space_to_depth(g: Graph, node, attrs) -> tuple:
    x = g.tensor(node.input[0])
    r = _block_size(x, attrs, divides_channels=False)
    return (shape_ops.space_to_depth(g.builder, x, r, channels_first=False),)


def convert_flatten(g: Graph, node, attrs) -> tuple:
    x = g.tensor(node.input[0])
    shape = nn.shape_of(x)
    axis = attrs.get("axis", 1) % (len(shape) + 1)
    return reshape(g, x, (int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))))


def convert_reshape(g: Graph, node, attrs) -> tuple:
    """A tensor whose batch is not dimension 0, or whose shape the model computes with
    the batch size elsewhere than first, has its batch placed by
    `shape_ops.batch_after_reshape`."""
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
    hint = g.batch_dim_of_shape(node.input[1]) if len(node.input) > 1 else None
    result = g.moved.reshaped_or_refusal(g.builder, x, target, "Reshape", hint)
    if isinstance(result, str):
        raise Unsupported(result)
    return (result,)


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
    "DepthToSpace": convert_depth_to_space,
    "Dropout": identity,
    "Expand": convert_expand,
    "Flatten": convert_flatten,
    "Gather": convert_gather,
    "Identity": identity,
    "Pad": convert_pad,
    "Reshape": convert_reshape,
    "Slice": convert_slice,
    "SpaceToDepth": convert_space_to_depth,
    "Split": convert_split,
    "Squeeze": convert_squeeze,
    "Tile": convert_tile,
    "Transpose": convert_transpose,
    "Unsqueeze": convert_unsqueeze,
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
