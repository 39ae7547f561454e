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
        if op.activation is not None:
            return
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


def _without_unit_dims(shape, order) -> list[int]:
    return [d for d in order if shape[d] != 1]


class TransposeAsReshape(RewritePattern):
    """transpose(x) that keeps the order of x's dimensions larger than 1 → reshape(x), a
    view (the identity permutation included): no element moves."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.TransposeOp, rewriter: PatternRewriter, /):
        shape, permutation = nn.shape_of(op.input), op.permutation.get_values()
        if _without_unit_dims(shape, permutation) == _without_unit_dims(shape, range(len(shape))):
            rewriter.replace(op, located(nn.ReshapeOp(op.input, nn.shape_of(op.output)), op))


class ComposeTransposes(RewritePattern):
    """transpose(transpose(x)) → one transpose: one copy instead of two."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.TransposeOp, rewriter: PatternRewriter, /):
        if isinstance(inner := op.input.owner, nn.TransposeOp):
            first = inner.permutation.get_values()
            composed = [first[p] for p in op.permutation.get_values()]
            rewriter.replace(op, located(nn.TransposeOp(inner.input, composed), op))


class RemoveIdentitySlice(RewritePattern):
    """A slice that takes every element in order → its input."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.SliceOp, rewriter: PatternRewriter, /):
        if op.input.type == op.output.type and all(
            offset == 0 and (stride == 1 or size == 1)
            for offset, stride, size in zip(
                op.offsets.get_values(), op.strides.get_values(), nn.shape_of(op.input)
            )
        ):
            rewriter.replace(op, [], [op.input])


class RemoveIdentityExpand(RewritePattern):
    """expand(x) to x's own shape → x."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.ExpandOp, rewriter: PatternRewriter, /):
        if op.input.type == op.output.type:
            rewriter.replace(op, [], [op.input])
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
