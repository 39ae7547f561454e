"""transposed-linear-to-conv: a linear layer over a transposed token matrix becomes a 1x1
convolution on the matrix as it is, so that no transpose is copied.

MLP-Mixer's token mixing, `linear(x.transpose(1, 2))` with x [1, T, D] and a weight W
[H, T], computes (W . X + b per row)ᵀ with X the [T, D] matrix: a 1x1 convolution of T
channels over D pixels, the GEMM core's native form (W packed at compile time as A, X
read as B, the bias per row, the activation in the epilogue). The rewrite leaves a
transpose on the result, [H, D] back to [D, H]; `canonicalize` after it cancels that
transpose against the next one, so a token MLP (transpose, linear, GELU, linear,
transpose) keeps no transpose at all. The weight is the same bytes read as [H, T, 1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, f32
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from mnistc.dialects import nn
from mnistc.dialects.shapes import shape_of
from mnistc.locations import located

SWAP_LAST_TWO = (0, 2, 1)


def untransposed_tokens(value: SSAValue) -> SSAValue | None:
    """x [1, T, D] when `value` is reshape(transpose(x, [0, 2, 1])) as [D, T]: the
    [D, T] rows a linear layer reads, taken from the sample's [T, D] matrix."""
    reshape = value.owner
    if not isinstance(reshape, nn.ReshapeOp):
        return None
    transpose = reshape.input.owner
    if not isinstance(transpose, nn.TransposeOp) or tuple(transpose.permutation.get_values()) != SWAP_LAST_TWO:
        return None
    tokens = transpose.input
    shape = shape_of(tokens)
    if len(shape) != 3 or shape[0] != 1 or shape_of(value) != (shape[2], shape[1]):
        return None
    return tokens


class TransposedLinearAsConv(RewritePattern):
    """linear(reshape(transpose(x [1, T, D])) [D, T], W [H, T], b, act) →
    reshape(transpose(reshape(conv2d(x as [1, T, 1, D], W as [H, T, 1, 1], b, act)
    [1, H, 1, D] as [1, H, D])) as [D, H]), for a float weight stored in the weight file."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.LinearOp, rewriter: PatternRewriter, /):
        tokens = untransposed_tokens(op.input)
        weight = op.weight.owner
        if tokens is None or not isinstance(weight, nn.WeightOp) or weight.result.type.element_type != f32:
            return
        _, t, d = shape_of(tokens)
        h = shape_of(op.weight)[0]
        image = nn.ReshapeOp(tokens, (1, t, 1, d))
        kernel = located(nn.WeightOp(weight.key.data, weight.offset.value.data, (h, t, 1, 1)), weight)
        conv = located(nn.Conv2DOp(image.output, kernel.result, op.bias, activation=op.fused_activation()), op)
        rows = nn.ReshapeOp(conv.output, (1, h, d))
        transposed = nn.TransposeOp(rows.output, SWAP_LAST_TWO)
        result = nn.ReshapeOp(transposed.output, (d, h))
        new_ops = [image, kernel, conv, rows, transposed, result]
        for new_op in new_ops:
            located(new_op, op)
        rewriter.replace(op, new_ops, [result.output])


@dataclass(frozen=True)
class TransposedLinearToConvPass(ModulePass):
    name = "transposed-linear-to-conv"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(
            GreedyRewritePatternApplier([TransposedLinearAsConv()], dce_enabled=False)
        ).rewrite_module(op)
