"""Canonicalization patterns of `nn` ops, run by xDSL's `canonicalize` pass."""

from __future__ import annotations

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
