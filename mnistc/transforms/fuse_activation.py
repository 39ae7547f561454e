"""fuse-activation: fold an activation into the conv2d / linear that produces its input.

`relu(conv2d(x))` becomes `conv2d(x) activation "relu"`, and likewise for every
activation op (hardtanh, leaky_relu, elu, sigmoid, tanh, hardswish, gelu): the kernel
applies it in its epilogue, saving one pass over the tensor and one buffer.
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
from mnistc.locations import located


def sole_producer(value, types: tuple[type, ...]):
    """The op of `types` that produces `value`, if `value` has no other use."""
    producer = value.owner
    if isinstance(producer, types) and value.has_one_use():
        return producer
    return None


class FuseActivationIntoProducer(RewritePattern):
    """act(conv2d|linear without activation, used only here) → conv2d|linear activation."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.ActivationOp, rewriter: PatternRewriter, /):
        producer = sole_producer(op.input, (nn.Conv2DOp, nn.LinearOp, nn.ConvTranspose2DOp))
        if producer is None or producer.activation is not None:
            return
        rewriter.replace(op, located(producer.with_changes(activation=op.activation()), producer, op))
        rewriter.erase(producer)


@dataclass(frozen=True)
class FuseActivationPass(ModulePass):
    name = "fuse-activation"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(
            GreedyRewritePatternApplier([FuseActivationIntoProducer()], dce_enabled=False)
        ).rewrite_module(op)
