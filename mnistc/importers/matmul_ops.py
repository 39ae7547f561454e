"""The front ends' matrix products and attention as `nn` op sequences, shared by the aten
and ONNX converters (as `shape_ops` is for shape ops).

A product by a constant matrix is a `linear` layer on the rows of the other operand
(any leading dimensions, flattened to rows: a transformer's tokens); a product of two
run-time tensors an `nn.matmul`. torch.matmul and ONNX MatMul share NumPy's rules for
1-D operands, which become matrices here and lose that dimension again after.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from xdsl.builder import Builder
from xdsl.ir import SSAValue

from mnistc.dialects import nn
from mnistc.importers.shape_ops import MovedBatch, expand, reshape


def _insert(b: Builder, op) -> SSAValue:
    return b.insert(op).results[0]


def linear_rows(
    b: Builder, x: SSAValue, weight: SSAValue, bias: SSAValue | None = None
) -> SSAValue:
    """x [..., IN] W^T + bias with W [OUT, IN]: one `nn.linear` on the rows of x."""
    shape = nn.shape_of(x)
    out_features = nn.shape_of(weight)[0]
    rows = reshape(b, x, (math.prod(shape[:-1]), shape[-1]))
    y = _insert(b, nn.LinearOp(rows, weight, bias))
    return reshape(b, y, (*shape[:-1], out_features))


def contraction_refusal(moved: MovedBatch, lhs: SSAValue, rhs: SSAValue, what: str) -> str | None:
    """Why lhs @ rhs is refused, if the dimension it sums over (lhs's last, rhs's second
    last, a vector's only one) holds the batch: the product would add up samples."""
    for value, from_end in ((lhs, 1), (rhs, 2)):
        rank = len(nn.shape_of(value))
        if (reason := moved.refusal_along(value, max(rank - from_end, 0), what)) is not None:
            return reason
    return None


def matmul(b: Builder, lhs: SSAValue, rhs: SSAValue) -> SSAValue:
    """lhs @ rhs of two run-time tensors with torch.matmul's rules (1-D operands too)."""
    lhs_shape, rhs_shape = nn.shape_of(lhs), nn.shape_of(rhs)
    if len(lhs_shape) == 1:
        lhs = reshape(b, lhs, (1, *lhs_shape))
    if len(rhs_shape) == 1:
        rhs = reshape(b, rhs, (*rhs_shape, 1))
    y = _insert(b, nn.MatmulOp(lhs, rhs))
    shape = nn.shape_of(y)
    if len(rhs_shape) == 1:
        shape = shape[:-1]
    if len(lhs_shape) == 1:
        shape = (*shape[:-2], shape[-1]) if len(rhs_shape) > 1 else shape[:-1]
    return reshape(b, y, shape)


def boolean_mask(allowed: np.ndarray) -> np.ndarray:
    """A boolean attention mask (True: may attend) as the additive float mask it means."""
    return np.where(allowed, 0.0, -np.inf).astype(np.float32)


def attention(
    b: Builder, query: SSAValue, key: SSAValue, value: SSAValue, mask: SSAValue | None,
    scale: float | None = None, causal: bool = False,
) -> SSAValue:  # fmt: skip
    """scaled_dot_product_attention: scale defaults to 1 / sqrt(E); the additive mask as
    the kernel reads it (`kernel_mask`)."""
    q, k = nn.shape_of(query), nn.shape_of(key)
    if scale is None:
        scale = 1.0 / math.sqrt(q[-1])
    if mask is not None:
        mask = kernel_mask(b, mask, (*q[:-1], k[-2]))
    return _insert(b, nn.AttentionOp(query, key, value, mask, scale, causal))


def kernel_mask(b: Builder, mask: SSAValue, scores: Sequence[int]) -> SSAValue:
    """An additive mask that broadcasts to the `scores` [..., L, S], as the attention
    kernel reads it: one value per key (rows of S), and batch dimensions that are either
    the scores' or broadcast whole; expanded where it is neither."""
    shape = (1,) * (len(scores) - len(nn.shape_of(mask))) + nn.shape_of(mask)
    batch = math.prod(shape[:-2])
    if batch not in (1, math.prod(scores[:-2])):
        return expand(b, mask, scores)
    if shape[-1] != scores[-1]:
        return expand(b, mask, (*shape[:-1], scores[-1]))
    return mask


def heads(b: Builder, x: SSAValue, count: int) -> SSAValue:
    """[N, T, E] → [N, count, T, E / count]: the tokens of each head together."""
    n, t, e = nn.shape_of(x)
    return _insert(b, nn.TransposeOp(reshape(b, x, (n, t, count, e // count)), (0, 2, 1, 3)))


def merge_heads(b: Builder, x: SSAValue) -> SSAValue:
    """[N, H, T, D] → [N, T, H * D], the inverse of `heads`."""
    n, h, t, d = nn.shape_of(x)
    return reshape(b, _insert(b, nn.TransposeOp(x, (0, 2, 1, 3))), (n, t, h * d))


def multi_head_attention(
    b: Builder, query: SSAValue, key: SSAValue, value: SSAValue, num_heads: int,
    in_weights: Sequence[SSAValue], in_biases: Sequence[SSAValue | None],
    out_weight: SSAValue, out_bias: SSAValue | None, mask: SSAValue | None = None,
) -> SSAValue:  # fmt: skip
    """nn.MultiheadAttention on batch-first [N, T, E] tokens: the q, k and v projections,
    attention per head, the output projection."""
    projected = [
        heads(b, linear_rows(b, x, w, bias), num_heads)
        for x, w, bias in zip((query, key, value), in_weights, in_biases)
    ]
    attended = attention(b, *projected, mask)
    return linear_rows(b, merge_heads(b, attended), out_weight, out_bias)


def attention_weights(
    b: Builder, query: SSAValue, key: SSAValue, num_heads: int, in_weights: Sequence[SSAValue],
    in_biases: Sequence[SSAValue | None], mask: SSAValue | None = None, average: bool = True,
) -> SSAValue:  # fmt: skip
    """nn.MultiheadAttention's need_weights result: softmax(q k^T / sqrt(d) + mask) per
    head [N, H, L, S], averaged over the heads with `average`."""
    q, k = (
        heads(b, linear_rows(b, x, w, bias), num_heads)
        for x, w, bias in zip((query, key), in_weights, in_biases)
    )
    d = nn.shape_of(q)[-1]
    scores = matmul(b, q, _insert(b, nn.TransposeOp(k, (0, 1, 3, 2))))
    scale = _insert(b, nn.SplatOp(1.0 / math.sqrt(d), (1,)))
    scores = _insert(b, nn.MulOp(scores, scale))
    if mask is not None:
        scores = _insert(b, nn.AddOp(scores, mask))
    weights = _insert(b, nn.SoftmaxOp(scores, 3))
    return _insert(b, nn.ReduceMeanOp(weights, (1,), False)) if average else weights


def encoder_layer(
    b: Builder, x: SSAValue, num_heads: int, attention_weights: dict[str, object],
    norms: Sequence[tuple[SSAValue, SSAValue]], eps: float, norm_first: bool,
    feed_forward: Sequence[tuple[SSAValue, SSAValue]], gelu: bool,
) -> SSAValue:  # fmt: skip
    """nn.TransformerEncoderLayer on batch-first tokens: self-attention then a two-layer
    feed-forward (relu or exact GELU), each with a residual and a layer norm, before
    (`norm_first`) or after it. `attention_weights` holds multi_head_attention's
    in_weights, in_biases, out_weight, out_bias and mask."""

    def norm(y: SSAValue, i: int) -> SSAValue:
        return _insert(b, nn.LayerNormOp(y, -1, eps, *norms[i]))

    def attend(y: SSAValue) -> SSAValue:
        return multi_head_attention(b, y, y, y, num_heads, **attention_weights)

    def feed(y: SSAValue) -> SSAValue:
        (w1, b1), (w2, b2) = feed_forward
        hidden = linear_rows(b, y, w1, b1)
        hidden = _insert(b, nn.GeluOp(hidden, "none") if gelu else nn.ReluOp(hidden))
        return linear_rows(b, hidden, w2, b2)

    if norm_first:
        x = _insert(b, nn.AddOp(x, attend(norm(x, 0))))
        return _insert(b, nn.AddOp(x, feed(norm(x, 1))))
    x = norm(_insert(b, nn.AddOp(x, attend(x))), 0)
    return norm(_insert(b, nn.AddOp(x, feed(x))), 1)
