"""fuse-attention: attention written out op by op → one `nn.attention` (the fused kernel,
which never stores the scores).

    s = matmul(q, kᵀ) [* c or / c] [+ mask]    p = softmax(s, last dim)    matmul(p, v)

This is what ONNX exporters write for scaled_dot_product_attention and
nn.MultiheadAttention, and what TorchScript records for the slow path of
nn.MultiheadAttention and for attention written by hand. The scale is any product of
one-element constants on the scores, on q or on kᵀ (the ONNX exporter puts sqrt(scale)
on both); kᵀ is any tensor, k its last two dimensions swapped (a transpose of a
transpose composes into one, or none). A scale after the mask would scale the mask:
not matched. Every intermediate value must have no other use: where the probabilities
are a result too (nn.MultiheadAttention's need_weights), nothing is fused.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from xdsl.builder import Builder
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint

from mnistc import weights as weight_files
from mnistc.dialects import nn
from mnistc.importers import matmul_ops, shape_ops
from mnistc.locations import located
from mnistc.transforms.fold_layer_norm import scalar_constant


def _only_use(value: SSAValue) -> bool:
    return value.has_one_use()


def _plain(op) -> bool:
    """An element-wise op with no activation fused into it."""
    return getattr(op, "activation", None) is None


@dataclass
class _Scaled:
    """A value with the one-element constant factors that were peeled off it."""

    value: SSAValue
    scale: float = 1.0


@dataclass
class FuseDecomposedAttention(RewritePattern):
    weights: Callable[[], weight_files.WeightFile]
    """The weight file, read on first use: a scale held by a splat needs none."""

    def _factor(self, op, operand: SSAValue) -> float | None:
        """The factor by which `op` (a mul or div by a one-element constant, not
        broadcasting `operand`) multiplies `operand`, else None."""
        if not isinstance(op, nn.MulOp | nn.DivOp) or not _plain(op) or op.output.type != operand.type:
            return None
        if isinstance(op, nn.DivOp):
            c = scalar_constant(op.rhs, self.weights) if op.lhs == operand else None
            return None if not c else 1.0 / c
        other = op.rhs if op.lhs == operand else op.lhs
        return scalar_constant(other, self.weights)

    def _peel_scales(self, value: SSAValue) -> _Scaled:
        """`value` as x * c: the scalings by constants that produce it, used only there."""
        scaled = _Scaled(value)
        while (op := scaled.value.owner) is not None and isinstance(op, nn.MulOp | nn.DivOp):
            for operand in (op.lhs, op.rhs) if isinstance(op, nn.MulOp) else (op.lhs,):
                if _only_use(operand) and (factor := self._factor(op, operand)) is not None:
                    scaled = _Scaled(operand, scaled.scale * factor)
                    break
            else:
                break
        return scaled

    def _scores(self, value: SSAValue) -> tuple[nn.MatmulOp, float, SSAValue | None] | None:
        """The product q kᵀ, the scale and the additive mask that make the scores."""
        add, candidates = value.owner, [(value, None)]
        if isinstance(add, nn.AddOp) and _plain(add):
            candidates = [(add.lhs, add.rhs), (add.rhs, add.lhs)]
        for scores, mask in candidates:
            if scores.type == value.type and _only_use(scores):
                product = self._peel_scales(scores)
                if isinstance(product.value.owner, nn.MatmulOp):
                    return product.value.owner, product.scale, mask
        return None

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.MatmulOp, rewriter: PatternRewriter, /):
        softmax = op.lhs.owner
        if not isinstance(softmax, nn.SoftmaxOp) or not _only_use(op.lhs):
            return
        scores = softmax.input
        if softmax.dim.value.data != len(nn.shape_of(scores)) - 1 or not _only_use(scores):
            return
        if (found := self._scores(scores)) is None:
            return
        product, scale, mask = found
        query, key_t = self._peel_scales(product.lhs), self._peel_scales(product.rhs)
        q, k_t, v = (nn.shape_of(x) for x in (query.value, key_t.value, op.rhs))
        if not q[:-2] == k_t[:-2] == v[:-2] or nn.shape_of(product.output) != (*q[:-1], k_t[-1]):
            return
        b = Builder(InsertPoint.before(op))
        rank = len(k_t)
        key = _swap_last_two(b, key_t.value, rank)
        total = scale * query.scale * key_t.scale
        fused = matmul_ops.attention(b, query.value, key, op.rhs, mask, total)
        located(fused.owner, op, softmax, product)
        rewriter.replace_op(op, [], [fused])


def _swap_last_two(b: Builder, x: SSAValue, rank: int) -> SSAValue:
    """x with its last two dimensions exchanged: composed with the transpose that made x,
    if one did (then often no transpose at all)."""
    swap = [*range(rank - 2), rank - 1, rank - 2]
    if isinstance(op := x.owner, nn.TransposeOp) and _only_use(x):
        permutation = list(op.permutation.get_values())
        return shape_ops.transpose(b, op.input, [permutation[i] for i in swap])
    return shape_ops.transpose(b, x, swap)


@dataclass(frozen=True)
class FuseAttentionPass(ModulePass):
    name = "fuse-attention"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        weights = functools.cache(lambda: weight_files.of(ctx, op))
        PatternRewriteWalker(
            GreedyRewritePatternApplier([FuseDecomposedAttention(weights)])
        ).rewrite_module(op)
