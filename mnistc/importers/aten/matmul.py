"""aten matrix products and attention → `nn.linear` (a constant right operand),
`nn.matmul` (two run-time tensors), `nn.attention`; the fused inference ops of
nn.MultiheadAttention and nn.TransformerEncoderLayer (what tracing records) as their
compositions (mnistc.importers.matmul_ops)."""

from __future__ import annotations

import math

import torch

from mnistc.dialects import nn
from mnistc.importers import matmul_ops, shape_ops
from mnistc.importers.aten.graph import ConversionContext, Node, NodeError
from mnistc.importers.aten.shape import _on_constants


def convert_matmul(ctx: ConversionContext, node: Node) -> tuple:
    """torch.matmul: a `linear` on the rows of lhs when rhs is a constant matrix (a
    weight), else the product of the two tensors."""
    x, rhs = ctx.tensor(node, 0), node.args[1]
    if isinstance(rhs, torch.Tensor) and rhs.dim() == 2:
        weight = ctx.weight(node.arg_names[1], rhs.t())
        return (matmul_ops.linear_rows(ctx.builder, x, weight),)
    return (matmul_ops.matmul(ctx.builder, *_product_operands(ctx, x, ctx.tensor(node, 1), "matmul")),)


def _product_operands(ctx: ConversionContext, lhs, rhs, what: str) -> tuple:
    """The two run-time operands of a product, refused if it sums over the batch."""
    if (reason := matmul_ops.contraction_refusal(ctx.moved, lhs, rhs, what)) is not None:
        raise NodeError(reason)
    return lhs, rhs


def convert_bmm(ctx: ConversionContext, node: Node) -> tuple:
    return ctx.insert(nn.MatmulOp(*_product_operands(ctx, ctx.tensor(node, 0), ctx.tensor(node, 1), "bmm")))


def convert_baddbmm(ctx: ConversionContext, node: Node) -> tuple:
    """input + batch1 @ batch2 (beta and alpha 1)."""
    if node.args[3] != 1 or node.args[4] != 1:
        raise NodeError("baddbmm with beta or alpha other than 1 is not supported")
    (product,) = ctx.insert(nn.MatmulOp(*_product_operands(ctx, ctx.tensor(node, 1), ctx.tensor(node, 2), "baddbmm")))
    return ctx.insert(nn.AddOp(ctx.tensor(node, 0), product))


def _mask(ctx: ConversionContext, node: Node, index: int, allowed_if: bool) -> object:
    """The additive mask of argument `index`: a boolean constant becomes 0 where a query
    may attend (where the mask is `allowed_if`) and -inf elsewhere; None if absent."""
    mask = node.args[index]
    if mask is None:
        return None
    if isinstance(mask, torch.Tensor) and mask.dtype == torch.bool:
        allowed = (mask if allowed_if else ~mask).numpy()
        return ctx.weight(node.arg_names[index], torch.from_numpy(matmul_ops.boolean_mask(allowed)))
    return ctx.tensor(node, index)


def convert_scaled_dot_product_attention(ctx: ConversionContext, node: Node) -> tuple:
    """scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal, scale,
    enable_gqa): inference only (dropout_p 0)."""
    args = node.args + [None] * (8 - len(node.args))
    if args[4] not in (0, 0.0, None):
        raise NodeError("scaled_dot_product_attention with dropout_p other than 0")
    if args[7]:
        raise NodeError("scaled_dot_product_attention with enable_gqa")
    if args[3] is not None and args[5]:
        raise NodeError("scaled_dot_product_attention with both attn_mask and is_causal")
    q, k, v = (ctx.tensor(node, i) for i in range(3))
    mask = _mask(ctx, node, 3, allowed_if=True)
    return (matmul_ops.attention(ctx.builder, q, k, v, mask, args[6], bool(args[5])),)


def convert_masked_fill(ctx: ConversionContext, node: Node) -> tuple:
    """masked_fill(scores, mask, -inf) by a constant boolean mask: the additive mask it
    means (as a boolean attn_mask is imported; a score of +inf where the mask hides it
    then gives NaN where PyTorch gives -inf)."""
    mask, value = node.args[1], node.args[2]
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise NodeError("masked_fill with a mask computed at run time")
    if value != -math.inf:
        raise NodeError(f"masked_fill of a run-time tensor with {value} (only -inf, an attention mask)")
    additive = torch.from_numpy(matmul_ops.boolean_mask((~mask).numpy()))
    return ctx.insert(nn.AddOp(ctx.tensor(node, 0), ctx.weight(node.arg_names[1], additive)))


def _projections(ctx: ConversionContext, node: Node, weight: int, bias: int) -> tuple[list, list]:
    """The q, k and v thirds of a packed in-projection weight [3E, E] and bias [3E]."""
    w, b = node.args[weight], node.args[bias]
    if not isinstance(w, torch.Tensor) or (b is not None and not isinstance(b, torch.Tensor)):
        raise NodeError("multi-head attention with projection weights computed at run time")
    names = (node.arg_names[weight], node.arg_names[bias])
    weights = [ctx.weight(f"{names[0]}.{p}", part) for p, part in zip("qkv", w.chunk(3))]
    biases = [
        None if b is None else ctx.weight(f"{names[1]}.{p}", part) for p, part in zip("qkv", b.chunk(3))
    ]
    return weights, biases


def convert_native_multi_head_attention(ctx: ConversionContext, node: Node) -> tuple:
    """aten::_native_multi_head_attention(query, key, value, embed_dim, num_head,
    qkv_weight, qkv_bias, proj_weight, proj_bias, mask, need_weights,
    average_attn_weights, mask_type): nn.MultiheadAttention (batch_first) in inference."""
    args = node.args + [None] * (13 - len(node.args))
    query, key, value = (ctx.tensor(node, i) for i in range(3))
    heads = int(args[4])
    weights, biases = _projections(ctx, node, 5, 6)
    out_weight = ctx.tensor(node, 7)
    out_bias = None if args[8] is None else ctx.tensor(node, 8)
    mask = _fused_mask(ctx, node, 9, 12)
    y = matmul_ops.multi_head_attention(
        ctx.builder, query, key, value, heads, weights, biases, out_weight, out_bias, mask
    )
    if not args[10]:
        return (y, y)  # need_weights=False: the second result is an empty tensor
    attention = matmul_ops.attention_weights(
        ctx.builder, query, key, heads, weights[:2], biases[:2], mask, average=bool(args[11])
    )
    return (y, attention)


KEY_PADDING_MASK = 1
"""The fused ops' mask_type of a key padding mask [N, S] (0: an attn_mask [L, S]; 2: one
merged [N, H, L, S])."""


def _fused_mask(ctx: ConversionContext, node: Node, index: int, type_index: int) -> object:
    """The mask of the fused inference ops (True hides a key), as an additive mask that
    broadcasts to the scores [N, H, L, S]; None if absent."""
    mask = _mask(ctx, node, index, allowed_if=False)
    if mask is None:
        return None
    shape = nn.shape_of(mask)
    if len(node.args) > type_index and node.args[type_index] == KEY_PADDING_MASK:
        return shape_ops.reshape(ctx.builder, mask, (shape[0], 1, 1, shape[-1]))
    return mask


def convert_transformer_encoder_layer(ctx: ConversionContext, node: Node) -> tuple:
    """aten::_transformer_encoder_layer_fwd(src, embed_dim, num_heads, qkv_weight,
    qkv_bias, proj_weight, proj_bias, use_gelu, norm_first, eps, norm_weight_1,
    norm_bias_1, norm_weight_2, norm_bias_2, ffn_weight_1, ffn_bias_1, ffn_weight_2,
    ffn_bias_2, mask, mask_type): nn.TransformerEncoderLayer (batch_first) in inference."""
    args = node.args
    weights, biases = _projections(ctx, node, 3, 4)
    attention = dict(
        in_weights=weights, in_biases=biases, out_weight=ctx.tensor(node, 5),
        out_bias=ctx.tensor(node, 6), mask=_fused_mask(ctx, node, 18, 19) if len(args) > 18 else None,
    )  # fmt: skip
    norms = [(ctx.tensor(node, i), ctx.tensor(node, i + 1)) for i in (10, 12)]
    feed_forward = [(ctx.tensor(node, i), ctx.tensor(node, i + 1)) for i in (14, 16)]
    return (matmul_ops.encoder_layer(
        ctx.builder, ctx.tensor(node, 0), int(args[2]), attention, norms, float(args[9]),
        bool(args[8]), feed_forward, bool(args[7]),
    ),)  # fmt: skip


CONVERTERS = {
    "aten::masked_fill": _on_constants(convert_masked_fill, lambda t, mask, value: t.masked_fill(mask, value)),
    "aten::baddbmm": convert_baddbmm,
    "aten::bmm": convert_bmm,
    "aten::matmul": convert_matmul,
    "aten::scaled_dot_product_attention": convert_scaled_dot_product_attention,
    "aten::_native_multi_head_attention": convert_native_multi_head_attention,
    "aten::_transformer_encoder_layer_fwd": convert_transformer_encoder_layer,
}
