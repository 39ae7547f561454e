"""Lowering of the `matmul` family: batch dimensions merged to the kernels' three (matmul)
or one (attention), with the strides by which each operand follows them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xdsl.ir import Operation

from mnistc.dialects import nn
from mnistc.dialects.shapes import element_count, shape_of
from mnistc.lowering.nn_to_cpu.common import KernelCall, LoweringError, optional

BATCH_RANK = 3
"""The batch dimensions of the matmul kernel (d0, d1, d2)."""


def batch_strides(shape: Sequence[int], batch: Sequence[int], matrix: int) -> list[int]:
    """The stride in floats of each dimension of `batch` for an operand whose batch
    dimensions are `shape` (right-aligned, broadcasting) and whose matrices hold `matrix`
    floats: 0 where the operand broadcasts."""
    padded = (1,) * (len(batch) - len(shape)) + tuple(shape)
    strides, step = [], matrix
    for size, full in reversed(list(zip(padded, batch))):
        strides.append(step if size == full and size != 1 else 0)
        step *= size
    return strides[::-1]


def merge_batch(batch: Sequence[int], *strides: list[int]) -> tuple[list[int], list[list[int]]]:
    """Drop the dimensions of size 1 and merge neighbours that every operand steps through
    as one, so that a [1, H] batch is one dimension."""
    dims, merged = [], [[] for _ in strides]
    for i, size in enumerate(batch):
        if size == 1:
            continue
        if dims and all(s[i] * size == m[-1] for s, m in zip(strides, merged)):
            dims[-1] *= size
            for s, m in zip(strides, merged):
                m[-1] = s[i]
            continue
        dims.append(size)
        for s, m in zip(strides, merged):
            m.append(s[i])
    return dims, merged


def _lower_matmul(op: nn.MatmulOp) -> list[KernelCall]:
    lhs, rhs, out = shape_of(op.lhs), shape_of(op.rhs), shape_of(op.output)
    (m, k), n, batch = lhs[-2:], rhs[-1], out[:-2]
    dims, (left, right) = merge_batch(
        batch, batch_strides(lhs[:-2], batch, m * k), batch_strides(rhs[:-2], batch, k * n)
    )
    if len(dims) > BATCH_RANK:
        raise LoweringError(
            f"matmul with batch dimensions {list(batch)}: at most {BATCH_RANK} after merging"
        )
    pad = BATCH_RANK - len(dims)
    dims, left, right = [1] * pad + dims, [0] * pad + left, [0] * pad + right
    params = {"M": m, "K": k, "N": n}
    for i in range(BATCH_RANK):
        params |= {f"d{i}": dims[i], f"l{i}": left[i], f"r{i}": right[i]}
    return [KernelCall("matmul", [op.lhs, op.rhs], params)]


def _mask_strides(op: nn.AttentionOp, batch: Sequence[int], length: int, keys: int) -> dict[str, int]:
    """Where row i of batch index b of the mask starts: b * batch stride + i * row stride."""
    if op.mask is None:
        return {"mask_batch_stride": 0, "mask_row_stride": 0}
    mask = (1,) * (len(batch) + 2 - len(shape_of(op.mask))) + shape_of(op.mask)
    if mask[-1] != keys:
        raise LoweringError(f"attention mask {list(shape_of(op.mask))}: one value per key expected")
    rows = mask[-2]
    count = element_count(mask[:-2])
    if count not in (1, element_count(batch)):
        raise LoweringError(
            f"attention mask {list(shape_of(op.mask))}: its batch dimensions must be those "
            f"of the scores {list(batch)} or broadcast whole"
        )
    return {
        "mask_batch_stride": 0 if count == 1 else rows * keys,
        "mask_row_stride": keys if rows == length else 0,
    }


def _lower_attention(op: nn.AttentionOp) -> list[KernelCall]:
    (*batch, length, e), keys, ev = shape_of(op.query), shape_of(op.key)[-2], shape_of(op.value)[-1]
    params = {
        "batch": element_count(batch), "L": length, "S": keys, "E": e, "EV": ev,
        "causal": op.causal.value.data, "scale": op.scale.value.data,
        **_mask_strides(op, batch, length, keys),
    }  # fmt: skip
    inputs = [op.query, op.key, op.value, optional(op.mask, (1,))]
    return [KernelCall("attention", inputs, params)]


LOWERINGS: dict[type[Operation], Callable[..., list[KernelCall]]] = {
    nn.MatmulOp: _lower_matmul,
    nn.AttentionOp: _lower_attention,
}
