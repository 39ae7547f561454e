"""Canonicalization patterns of `nn` ops, run by xDSL's `canonicalize` pass."""

from __future__ import annotations

from xdsl.rewriter import InsertPoint
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern, op_type_rewrite_pattern

from mnistc.dialects import nn
from mnistc.locations import located


class RemoveIdentityReshape(RewritePattern):
    """reshape(x) to x's own shape → x."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.ReshapeOp, rewriter: PatternRewriter, /):
        if op.input.type == op.output.type:
            rewriter.replace(op, [], [op.input])


class FoldSwish(RewritePattern):
    """x * sigmoid(x), in either order → silu(x): how ONNX exports and some models write
    SiLU; one kernel call (or none, fused into a conv) and one buffer instead of two."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.MulOp, rewriter: PatternRewriter, /):
        for x, gate in ((op.lhs, op.rhs), (op.rhs, op.lhs)):
            if isinstance(gate.owner, nn.SigmoidOp) and gate.owner.input is x:
                rewriter.replace(op, nn.SiluOp(x))
                return


class ComposeReshapes(RewritePattern):
    """reshape(reshape(x)) → reshape(x): only the final shape matters."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.ReshapeOp, rewriter: PatternRewriter, /):
        if isinstance(inner := op.input.owner, nn.ReshapeOp):
            rewriter.replace(op, located(nn.ReshapeOp(inner.input, nn.shape_of(op.output)), op))


class SinkReshape(RewritePattern):
    """op(reshape(x)) → reshape(op(x)) for an element-wise op, or a batch norm when the
    reshape keeps the batch and channel dimensions: the 1-D layers are imported as 2-D ops
    between views ([N, C, L] ↔ [N, C, 1, L]), and this brings their batch norm and
    activation next to the convolution, where fold-batch-norm and fuse-activation find them."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.ReshapeOp, rewriter: PatternRewriter, /):
        if not op.output.has_one_use():
            return
        user = next(iter(op.output.uses)).operation
        before, after = nn.shape_of(op.input), nn.shape_of(op.output)
        if isinstance(user, nn.BatchNormOp):
            if user.input is not op.output or len(before) < 2 or before[:2] != after[:2]:
                return
        elif not isinstance(user, nn.ElementwiseUnaryOp):
            return
        moved = type(user).create(
            operands=[op.input, *user.operands[1:]],
            result_types=[op.input.type],
            properties=dict(user.properties),
            attributes=dict(user.attributes),
        )
        rewriter.insert_op(located(moved, user), InsertPoint.before(user))
        rewriter.replace_op(user, located(nn.ReshapeOp(moved.results[0], after), op))
        rewriter.erase_op(op)
