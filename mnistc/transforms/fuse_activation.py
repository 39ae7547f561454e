"""fuse-activation: fold an activation into the conv2d / linear that produces its input.

`relu(conv2d(x))` becomes `conv2d(x) activation "relu"`: the kernel applies it in its
epilogue, saving one pass over the tensor and one buffer.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from mnistc.dialects import nn

ACTIVATION_OPS: dict[type, str] = {nn.ReluOp: "relu"}
"""Activation op → the name the fused producers' `activation` property uses."""


class FuseActivationIntoProducer(RewritePattern):
    """relu(conv2d|linear without activation, used only here) → conv2d|linear activation."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.ReluOp, rewriter: PatternRewriter, /):
        producer = op.input.owner
        if not isinstance(producer, nn.Conv2DOp | nn.LinearOp):
            return
        if producer.activation is not None or not producer.output.has_one_use():
            return
        fused = producer.clone()
        fused.activation = StringAttr(ACTIVATION_OPS[type(op)])
        rewriter.replace(op, fused)
        rewriter.erase(producer)


@dataclass(frozen=True)
class FuseActivationPass(ModulePass):
    name = "fuse-activation"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(
            GreedyRewritePatternApplier([FuseActivationIntoProducer()], dce_enabled=False)
        ).rewrite_module(op)
