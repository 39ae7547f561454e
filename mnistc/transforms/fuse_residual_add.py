"""fuse-residual-add: `add(conv2d(x), r)` becomes `conv2d(x) residual r`.

The convolution adds `r` in its epilogue, before its activation, so a following
`fuse-activation` turns `relu(conv(x) + r)` (a ResNet block's end) into one kernel call.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from mnistc.dialects import nn
from mnistc.transforms.fuse_activation import sole_producer
from mnistc.locations import located


class FuseAddIntoConv(RewritePattern):
    """add(conv2d without activation or residual, r of the same shape) → conv2d residual r
    (the add's own activation, if it has one, becomes the conv's)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.AddOp, rewriter: PatternRewriter, /):
        for conv_side, other in ((op.lhs, op.rhs), (op.rhs, op.lhs)):
            conv = sole_producer(conv_side, (nn.Conv2DOp,))
            if (
                conv is not None
                and conv.activation is None
                and conv.residual is None
                and other.type == op.output.type
            ):
                fused = conv.with_changes(residual=other, activation=op.fused_activation())
                rewriter.replace(op, located(fused, conv, op))
                rewriter.erase(conv)
                return


@dataclass(frozen=True)
class FuseResidualAddPass(ModulePass):
    name = "fuse-residual-add"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(
            GreedyRewritePatternApplier([FuseAddIntoConv()], dce_enabled=False)
        ).rewrite_module(op)
