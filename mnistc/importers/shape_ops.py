"""The front ends' shape ops as `nn` op sequences, shared by the aten and ONNX converters.

Every shape op of PyTorch and ONNX is a composition of five `nn` ops: reshape (a view),
transpose, slice, expand and concat. chunk, split and unbind are slices; select a slice
and a reshape; repeat and Tile an expand between two reshapes; pixel and channel
shuffles, DepthToSpace and SpaceToDepth a transpose between two reshapes; Gather with a
constant index list the slices of its runs, concatenated.

The IR runs one sample at a time (`nn` tensors have batch 1, the lowering loops over the
batch), so an op that splits or grows the batch of a run-time tensor cannot be compiled:
the converters refuse it with `BATCH_REFUSAL`. Moving it is fine in one sample, where
it is a dimension of size 1 (`MovedBatch` records where it went), and so is a reshape
that merges it with a sample's elements and keeps its place in memory
(`batch_after_reshape`: multi-head attention's [L, N*H, D]). A model with a fixed
input shape whose batch cannot be followed is imported whole instead
(`common.import_following_the_batch`): no dimension is a batch (`MovedBatch(followed=False)`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from xdsl.builder import Builder
from xdsl.ir import SSAValue

from mnistc.dialects import nn

BATCH_REFUSAL = "{} along dimension 0, the batch, which the compiled model runs one sample at a time"
"""The refusal of an op that would mix samples; formatted with what the op does."""

BATCH_SIZE_REFUSAL = "computes with the batch size, which is compiled only as the first size of a shape"
"""The refusal of a size computed from the batch where the op cannot take it (a reshape
may take it elsewhere, where the batch keeps its place in memory)."""


TO_THE_END = 2**62
"""A slice end at least this large reads to the end whatever the size (torch and ONNX
write INT64_MAX): on the batch, the only slice bound that means the whole batch."""


def whole_batch(start: int | None, end: int | None, step: int | None) -> bool:
    """Whether a slice of dimension 0 takes every sample, at any batch size."""
    return start in (None, 0) and step in (None, 1) and (end is None or end >= TO_THE_END)


# a batch moved off dimension 0 -----------------------------------------------


NO_BATCH = -1
"""`MovedBatch.dim` in a model imported whole: no dimension holds a batch. Below every
dimension index, so the converters' comparisons with it never match and their index
arithmetic (`batch - (dim < batch)`) leaves it as it is."""


@dataclass
class MovedBatch:
    """Run-time tensors whose batch is not dimension 0, by value: a recurrent layer's
    states [L*D, N, H], a time-major sequence [T, N, F] (ONNX's LSTM and GRU, PyTorch's
    `batch_first=False`). In one sample the batch is a dimension of size 1, so shape ops
    may move it anywhere, and the front ends' converters that follow it (transpose,
    select, slice, squeeze, unsqueeze, concat, the recurrent layers) record where it
    went; every other converter refuses such a tensor, with the op that moved the batch,
    and so does the model's output (the executable writes results sample by sample)."""

    places: dict[SSAValue, tuple[int, str]] = field(default_factory=dict)
    followed: bool = True
    """False in a model imported whole (its input shape fixed, its batch not
    followable): no tensor holds a batch, every dimension is the model's own."""
    merged: dict[SSAValue, int] = field(default_factory=dict)
    """Tensors whose batch is merged with sample elements into one dimension (ONNX's
    multi-head attention reshapes [L, N, E] to [L, N*H, D], then [N*H, L, D] and back
    to [L*N, E]), by value: that dimension's elements of one sample that come before
    the batch in memory (`merged_outer`; 1, never recorded: the batch is the dimension's
    outer part). A batch at dimension 0 with an outer part of 1 is an ordinary batch,
    whatever the size of that dimension in one sample ([N*H, L, D] is H heads per
    sample)."""

    def dim(self, value: SSAValue) -> int:
        """Where the batch of a run-time tensor is: dimension 0 unless moved; `NO_BATCH`
        in a model imported whole."""
        if not self.followed:
            return NO_BATCH
        return self.places.get(value, (0, ""))[0]

    def merged_outer(self, value: SSAValue) -> int:
        """The elements of one sample before the batch in its dimension (see `merged`)."""
        return self.merged.get(value, 1)

    def at(self, value: SSAValue, dim: int, what: str, outer: int = 1) -> SSAValue:
        """`value`, recorded as holding the batch at `dim` (moved there by `what`), after
        `outer` elements of one sample in that dimension."""
        if self.followed and (dim or outer != 1):
            self.places[value] = (dim, what)
        else:
            self.places.pop(value, None)
        if self.followed and outer != 1:
            self.merged[value] = outer
        else:
            self.merged.pop(value, None)
        return value

    def refusal_at_dim0(self, what: str) -> str | None:
        """Why `what` along dimension 0 of a tensor whose batch was not moved is refused:
        always, unless the model is imported whole."""
        return BATCH_REFUSAL.format(what) if self.followed else None

    def same_place(self, value: SSAValue, like: SSAValue, what: str) -> SSAValue:
        """`value`, its batch where `like` has it (a row-wise or element-wise op's result)."""
        return self.at(value, self.dim(like), what, self.merged_outer(like))

    def element_wise_keeps_place(self, tensors: Sequence[SSAValue], constants: Sequence[Sequence[int]]) -> bool:
        """Whether an element-wise op keeps a moved batch where it is: its run-time
        operands (`tensors`) of one shape with the batch at one place, its constants
        (their shapes) of size 1 along it, none of a higher rank."""
        first = tensors[0]
        shape, place = nn.shape_of(first), (self.dim(first), self.merged_outer(first))
        if any((nn.shape_of(t), self.dim(t), self.merged_outer(t)) != (shape, *place) for t in tensors):
            return False
        offsets = [(len(shape) - len(c), c) for c in constants]
        return all(offset >= 0 and (place[0] < offset or c[place[0] - offset] == 1) for offset, c in offsets)

    def rows_keep_place(self, x: SSAValue) -> bool:
        """Whether an op on each row (the last dimension) of x keeps its batch in place:
        the batch is not in the rows."""
        return self.dim(x) < len(nn.shape_of(x)) - 1

    def reshaped(self, b: Builder, x: SSAValue, shape: Sequence[int], what: str, hint: int | None = None) -> SSAValue | None:
        """x reshaped, the batch where `batch_after_reshape` puts it; None when it cannot
        be placed (the reshape would split the batch)."""
        place = batch_after_reshape(nn.shape_of(x), self.dim(x), self.merged_outer(x), shape, hint)
        return None if place is None else self.at(reshape(b, x, shape), place[0], what, place[1])

    def reshaped_or_refusal(
        self, b: Builder, x: SSAValue, shape: Sequence[int], what: str, hint: int | None = None
    ) -> SSAValue | str:
        """x reshaped to `shape` with its batch followed, or why it cannot be: a plain
        reshape while the batch stays first; else (a moved batch, or `hint`: the dimension
        of a size the model computes from the batch) placed by `batch_after_reshape`."""
        if not self.followed or (x not in self.places and hint in (None, 0)):
            return reshape(b, x, shape)
        if (result := self.reshaped(b, x, shape, what, hint)) is not None:
            return result
        if hint is not None:
            return BATCH_SIZE_REFUSAL
        return f"{what} of {list(nn.shape_of(x))} to {list(shape)} splits dimension {self.dim(x)}, the batch"

    def refusal(self, value: Any) -> str | None:
        """Why `value` cannot go where only dimension 0 may be the batch, if it cannot."""
        if isinstance(value, SSAValue) and value in self.places:
            return BATCH_REFUSAL.format(self.places[value][1])
        return None

    def refusal_along(self, value: SSAValue, dim: int, what: str) -> str | None:
        """Why `what` along `dim` of `value` is refused, if `dim` is its batch."""
        batch = self.dim(value)
        if dim != batch:
            return None
        return BATCH_REFUSAL.format(what).replace("dimension 0", f"dimension {batch}")

    def permuted(self, b: Builder, x: SSAValue, permutation: Sequence[int], what: str) -> SSAValue:
        """x permuted, the batch wherever the permutation puts it."""
        if not self.followed:
            return transpose(b, x, permutation)
        dim = list(permutation).index(self.dim(x))
        return self.at(transpose(b, x, permutation), dim, what, self.merged_outer(x))


def batch_after_reshape(
    source: Sequence[int], dim: int, outer: int, target: Sequence[int], hint: int | None = None
) -> tuple[int, int] | None:
    """Where the batch of a sample of shape `source` (at `dim`, after `outer` elements of
    that dimension: `MovedBatch.merged`) is after a reshape to `target`, as (dimension,
    outer elements), or None if no dimension can hold it. The batch keeps its place in
    memory: after the same number of a sample's elements. When it falls between two
    dimensions (or beside ones of size 1), `hint` (the dimension the model's shape
    computes from the batch size, when it does) decides; without one, the same
    dimension if those before it are unchanged, else a dimension of size 1, else the start of a dimension that is not the last (the
    features), else the end of the one before."""
    before = math.prod(source[:dim]) * outer
    candidates, elements = [], 1
    for j, size in enumerate(target):
        if before % elements == 0 and size % (before // elements) == 0:
            candidates.append((j, before // elements))
        elements *= size
        if elements > before:
            break
    if hint is not None:
        return next((c for c in candidates if c[0] == hint), None)
    last = len(target) - 1
    unchanged = outer == 1 and tuple(target[: dim + 1]) == tuple(source[: dim + 1])
    preferences = (
        lambda j, o: unchanged and (j, o) == (dim, outer),
        lambda j, o: target[j] == 1 and o == 1,
        lambda j, o: o == 1 and j != last,
        lambda j, o: j != last,
        lambda j, o: True,
    )
    for preferred in preferences:
        if chosen := next((c for c in candidates if preferred(*c)), None):
            return chosen
    return None


# a model imported whole ----------------------------------------------------------


def whole_input(b: Builder, argument: SSAValue, shape: Sequence[int]) -> SSAValue:
    """The model's input in a model imported whole: the IR's one sample [1, *shape] viewed
    as the model's own tensor, which the converters see with no batch to follow."""
    return reshape(b, argument, shape)


def whole_output(b: Builder, output: SSAValue) -> SSAValue:
    """The model's output in a model imported whole, its exact shape as the IR's one
    sample [1, *shape]."""
    return reshape(b, output, (1, *nn.shape_of(output)))


def _insert(b: Builder, op) -> SSAValue:
    return b.insert(op).results[0]


def reshape(b: Builder, x: SSAValue, shape: Sequence[int]) -> SSAValue:
    """`x` itself when it has the shape already (a view either way)."""
    shape = tuple(int(d) for d in shape)
    return x if shape == nn.shape_of(x) else _insert(b, nn.ReshapeOp(x, shape))


def transpose(b: Builder, x: SSAValue, permutation: Sequence[int]) -> SSAValue:
    permutation = [int(p) for p in permutation]
    if permutation == sorted(permutation):
        return x
    return _insert(b, nn.TransposeOp(x, permutation))


def swap(b: Builder, x: SSAValue, dim0: int, dim1: int) -> SSAValue:
    """torch.transpose: dimensions dim0 and dim1 exchanged."""
    permutation = list(range(len(nn.shape_of(x))))
    permutation[dim0], permutation[dim1] = permutation[dim1], permutation[dim0]
    return transpose(b, x, permutation)


def python_slice(size: int, start: int | None, end: int | None, step: int = 1) -> range:
    """The indices Python's `[start:end:step]` takes of `size` elements: the rule of
    torch slicing and of ONNX Slice (negative indices count from the end, out-of-range
    bounds are clamped, a negative step walks backwards)."""
    return range(size)[slice(start, end, step)]


def slice_dim(b: Builder, x: SSAValue, dim: int, indices: range) -> SSAValue:
    """The elements `indices` (a non-empty range) of dimension `dim`."""
    shape = nn.shape_of(x)
    offsets, sizes, strides = [0] * len(shape), list(shape), [1] * len(shape)
    offsets[dim], sizes[dim], strides[dim] = indices.start, len(indices), indices.step
    if len(indices) == 1:
        strides[dim] = 1
    if tuple(sizes) == shape and strides[dim] == 1:
        return x
    return _insert(b, nn.SliceOp(x, offsets, sizes, strides))


def select(b: Builder, x: SSAValue, dim: int, index: int) -> SSAValue:
    """Element `index` of dimension `dim`, that dimension removed (torch.select)."""
    shape = nn.shape_of(x)
    taken = slice_dim(b, x, dim, range(index % shape[dim], index % shape[dim] + 1))
    return reshape(b, taken, shape[:dim] + shape[dim + 1 :])


def split(b: Builder, x: SSAValue, dim: int, sizes: Sequence[int]) -> list[SSAValue]:
    """Consecutive parts of dimension `dim` of the given sizes (which sum to it)."""
    parts, start = [], 0
    for size in sizes:
        parts.append(slice_dim(b, x, dim, range(start, start + size)))
        start += size
    return parts


def chunk_sizes(size: int, chunk: int) -> list[int]:
    """Parts of `chunk` elements, the last one shorter (torch.split with an int)."""
    return [min(chunk, size - start) for start in range(0, size, chunk)]


def expand(b: Builder, x: SSAValue, shape: Sequence[int]) -> SSAValue:
    """`x` broadcast to `shape`, of the same or a higher rank (new leading dimensions)."""
    source = nn.shape_of(x)
    x = reshape(b, x, (1,) * (len(shape) - len(source)) + source)
    return x if nn.shape_of(x) == tuple(shape) else _insert(b, nn.ExpandOp(x, shape))


def repeat(b: Builder, x: SSAValue, repeats: Sequence[int]) -> SSAValue:
    """`x` tiled `repeats[d]` times along each dimension d (torch.repeat, ONNX Tile): each
    repeated dimension gets a new one of size 1 before it, expanded, then merged."""
    shape = (1,) * (len(repeats) - len(nn.shape_of(x))) + nn.shape_of(x)
    split_shape, expanded, result = [], [], []
    for size, times in zip(shape, repeats):
        if times != 1:
            split_shape.append(1)
            expanded.append(times)
        split_shape.append(size)
        expanded.append(size)
        result.append(size * times)
    return reshape(b, expand(b, reshape(b, x, split_shape), expanded), result)


def concat(b: Builder, xs: Sequence[SSAValue], dim: int) -> SSAValue:
    return xs[0] if len(xs) == 1 else _insert(b, nn.ConcatOp(list(xs), dim))


def stack(b: Builder, xs: Sequence[SSAValue], dim: int) -> SSAValue:
    """The tensors (of one shape) joined along a new dimension `dim`."""
    shape = nn.shape_of(xs[0])
    return concat(b, [reshape(b, x, shape[:dim] + (1,) + shape[dim:]) for x in xs], dim)


def _extends(run: list[int], index: int) -> bool:
    if len(run) == 1:
        return index != run[0]
    return index - run[-1] == run[-1] - run[-2]


def gather(b: Builder, x: SSAValue, dim: int, indices: Sequence[int]) -> SSAValue:
    """The elements `indices` (non-negative) of dimension `dim`, in order (torch
    index_select, ONNX Gather): one slice per run of equally spaced indices."""
    runs: list[list[int]] = []
    for index in indices:
        if runs and _extends(runs[-1], index):
            runs[-1].append(index)
        else:
            runs.append([index])
    parts = []
    for run in runs:
        step = run[1] - run[0] if len(run) > 1 else 1
        parts.append(slice_dim(b, x, dim, range(run[0], run[-1] + (1 if step > 0 else -1), step)))
    return concat(b, parts, dim)


def depth_to_space(b: Builder, x: SSAValue, r: int, channels_first: bool = True) -> SSAValue:
    """[..., C r r, H, W] → [..., C, H r, W r]. `channels_first` reads the channels as
    (C, r, r), torch.pixel_shuffle's and ONNX CRD's order; else as (r, r, C), ONNX DCR's."""
    *lead, c, h, w = nn.shape_of(x)
    k = len(lead)
    if channels_first:
        x = reshape(b, x, (*lead, c // (r * r), r, r, h, w))
        order = (k, k + 3, k + 1, k + 4, k + 2)
    else:
        x = reshape(b, x, (*lead, r, r, c // (r * r), h, w))
        order = (k + 2, k + 3, k, k + 4, k + 1)
    x = transpose(b, x, (*range(k), *order))
    return reshape(b, x, (*lead, c // (r * r), h * r, w * r))


def space_to_depth(b: Builder, x: SSAValue, r: int, channels_first: bool = True) -> SSAValue:
    """[..., C, H r, W r] → [..., C r r, H, W], the inverse of `depth_to_space`
    (torch.pixel_unshuffle with `channels_first`; ONNX SpaceToDepth without)."""
    *lead, c, h, w = nn.shape_of(x)
    k = len(lead)
    x = reshape(b, x, (*lead, c, h // r, r, w // r, r))
    order = (k, k + 2, k + 4, k + 1, k + 3) if channels_first else (k + 2, k + 4, k, k + 1, k + 3)
    x = transpose(b, x, (*range(k), *order))
    return reshape(b, x, (*lead, c * r * r, h // r, w // r))


def channel_shuffle(b: Builder, x: SSAValue, groups: int) -> SSAValue:
    """[N, C, ...] with the channels read as (groups, C / groups), transposed."""
    n, c, *rest = nn.shape_of(x)
    x = reshape(b, x, (n, groups, c // groups, *rest))
    return reshape(b, swap(b, x, 1, 2), (n, c, *rest))


# LSTM and GRU


def final_hidden_state(b: Builder, sequence: SSAValue, directions: int, hidden: int) -> SSAValue:
    """A recurrent layer's h_n [D, 1, H] (its batch at dimension 1) from its sequence of
    hidden states [1, T, D*H]: the forward direction's last step, the backward
    direction's first."""
    steps = nn.shape_of(sequence)[1]
    parts = []
    for d in range(directions):
        step = steps - 1 if d == 0 else 0
        part = slice_dim(b, sequence, 1, range(step, step + 1))
        parts.append(slice_dim(b, part, 2, range(d * hidden, (d + 1) * hidden)))
    joined = concat(b, parts, 1) if directions == 2 else parts[0]
    return reshape(b, joined, (directions, 1, hidden))


def sequence_and_cell_state(b: Builder, result: SSAValue, directions: int, hidden: int) -> tuple[SSAValue, SSAValue]:
    """An `nn.lstm` result [1, T + 1, D*H] as its sequence [1, T, D*H] and c_n [D, 1, H]
    (batch at dimension 1): both contiguous runs of it, so views."""
    rows = nn.shape_of(result)[1]
    sequence = slice_dim(b, result, 1, range(rows - 1))
    cell = slice_dim(b, result, 1, range(rows - 1, rows))
    return sequence, reshape(b, cell, (directions, 1, hidden))
