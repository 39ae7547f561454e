"""remove-dropout: dropout is the identity at inference; forward its input."""

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


class ForwardDropoutInput(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.DropoutOp, rewriter: PatternRewriter, /):
        rewriter.replace(op, [], [op.input])


@dataclass(frozen=True)
class RemoveDropoutPass(ModulePass):
    name = "remove-dropout"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(
            GreedyRewritePatternApplier([ForwardDropoutInput()], dce_enabled=False)
        ).rewrite_module(op)
