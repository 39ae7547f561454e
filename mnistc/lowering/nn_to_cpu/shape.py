"""Lowering of the `shape` family: reshape and dropout alias their input's buffer
(`VIEW_OPS`), pad2d and concat copy into a fresh one, and transpose, slice and expand
are each one `copy_strided`: the input read through per-dimension strides and an
offset, unless what they read is one contiguous run of the input, which they alias
(`view_offset`)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

from xdsl.ir import Operation

from mnistc.dialects import nn
from mnistc.dialects.shapes import element_count, shape_of
from mnistc.kernels.abi import STRIDED_RANK
from mnistc.lowering.nn_to_cpu.common import KernelCall

VIEW_OPS = (nn.ReshapeOp, nn.DropoutOp)
"""Ops that reuse their input's buffer."""


def _lower_pad2d(op: nn.Pad2DOp) -> list[KernelCall]:
    *lead, h, w = shape_of(op.input)
    top, left, bottom, right = op.pads.get_values()
    if op.pad_mode != "constant":
        params = {
            "C": element_count(lead), "H": h, "W": w, "top": top, "left": left,
            "bottom": bottom, "right": right, "reflect": int(op.pad_mode == "reflect"),
        }  # fmt: skip
        return [KernelCall("pad2d_edge", [op.input], params)]
    params = {
        "C": element_count(lead), "H": h, "W": w, "top": top, "left": left, "bottom": bottom,
        "right": right, "value": op.value.value.data,
    }  # fmt: skip
    return [KernelCall("pad2d", [op.input], params)]


def _lower_concat(op: nn.ConcatOp) -> list[KernelCall]:
    dim, out = op.dim.value.data, shape_of(op.output)
    outer, trailing = element_count(out[:dim]), element_count(out[dim + 1 :])
    calls, offset = [], 0
    for value in op.inputs:
        inner = shape_of(value)[dim] * trailing
        params = {"outer": outer, "inner": inner, "out_stride": out[dim] * trailing, "offset": offset}
        calls.append(KernelCall("copy_block", [value], params))
        offset += inner
    return calls


def row_major_strides(shape: Sequence[int]) -> list[int]:
    """The element strides of a contiguous tensor of `shape`."""
    strides, stride = [], 1
    for size in reversed(shape):
        strides.append(stride)
        stride *= size
    return strides[::-1]


def merged_dims(sizes: Sequence[int], strides: Sequence[int]) -> tuple[list[int], list[int]]:
    """The fewest dimensions that walk the same elements in the same order: size-1
    dimensions dropped, neighbours merged where the outer one steps over the inner one
    (the output is contiguous, so only the input's strides decide)."""
    merged: list[list[int]] = []
    for size, stride in zip(sizes, strides):
        if size == 1:
            continue
        if merged and merged[-1][1] == stride * size:
            merged[-1] = [merged[-1][0] * size, stride]
        else:
            merged.append([size, stride])
    return [m[0] for m in merged], [m[1] for m in merged]


def strided_copy(value, sizes: Sequence[int], strides: Sequence[int], offset: int) -> list[KernelCall]:
    """`copy_strided` calls reading `value` as `sizes` through `strides` from `offset`:
    one, or one per index of the dimensions beyond the kernel's rank."""
    sizes, strides = merged_dims(sizes, strides)
    outer = max(0, len(sizes) - STRIDED_RANK)
    inner_sizes, inner_strides = sizes[outer:], strides[outer:]
    pad = STRIDED_RANK - len(inner_sizes)
    params = {
        **{f"d{i}": d for i, d in enumerate([1] * pad + inner_sizes)},
        **{f"s{i}": s for i, s in enumerate([0] * pad + inner_strides)},
    }
    block = element_count(inner_sizes)
    calls = []
    for position, index in enumerate(itertools.product(*map(range, sizes[:outer]))):
        start = offset + sum(i * s for i, s in zip(index, strides))
        calls.append(KernelCall("copy_strided", [value], {**params, "offset": start, "out_offset": position * block}))
    return calls


def _read_transpose(op: nn.TransposeOp) -> tuple[list[int], int]:
    strides = row_major_strides(shape_of(op.input))
    return [strides[p] for p in op.permutation.get_values()], 0


def _read_slice(op: nn.SliceOp) -> tuple[list[int], int]:
    strides = row_major_strides(shape_of(op.input))
    offsets, steps = op.offsets.get_values(), op.strides.get_values()
    return [s * t for s, t in zip(strides, steps)], sum(o * s for o, s in zip(offsets, strides))


def _read_expand(op: nn.ExpandOp) -> tuple[list[int], int]:
    shape, out = shape_of(op.input), shape_of(op.output)
    return [0 if n != m else s for n, m, s in zip(shape, out, row_major_strides(shape))], 0


STRIDED_READS: dict[type[Operation], Callable[..., tuple[list[int], int]]] = {
    nn.TransposeOp: _read_transpose,
    nn.SliceOp: _read_slice,
    nn.ExpandOp: _read_expand,
}
"""Ops whose result is their input read through strides (per result dimension) from an
offset, in elements."""


def view_offset(op: Operation) -> int | None:
    """Where the op's result starts in its input's buffer if it is a contiguous run of it
    (a reshape, dropout, or a strided read that walks consecutive elements), else None."""
    if isinstance(op, VIEW_OPS):
        return 0
    if type(op) not in STRIDED_READS:
        return None
    strides, offset = STRIDED_READS[type(op)](op)
    sizes, strides = merged_dims(shape_of(op.results[0]), strides)
    return offset if strides in ([], [1]) else None


def _lower_strided_read(op: Operation) -> list[KernelCall]:
    strides, offset = STRIDED_READS[type(op)](op)
    return strided_copy(op.operands[0], shape_of(op.results[0]), strides, offset)


LOWERINGS: dict[type[Operation], Callable[..., list[KernelCall]]] = {
    nn.ConcatOp: _lower_concat,
    nn.Pad2DOp: _lower_pad2d,
    **{op: _lower_strided_read for op in STRIDED_READS},
}
