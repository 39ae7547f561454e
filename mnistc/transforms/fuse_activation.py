"""fuse-activation: fold an activation into the op that produces its input.

`relu(conv2d(x))` becomes `conv2d(x) activation "relu"`, and likewise for every
activation op (`nn.ActivationOp`: hardtanh, leaky_relu, elu, sigmoid, tanh, SiLU,
hardswish, hardsigmoid, gelu) and every producer with an epilogue (conv2d, linear, and the
element-wise add, mul and prelu): the kernel applies it as it writes its result, saving
one pass over the tensor and one buffer.
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


FUSING_PRODUCERS = (nn.Conv2DOp, nn.LinearOp, nn.BinaryOp, nn.ConvTranspose2DOp)
"""The ops with an activation epilogue (`nn.FusedActivationOp`) and a `with_changes`."""


def sole_producer(value, types: tuple[type, ...]):
    """The op of `types` that produces `value`, if `value` has no other use."""
    producer = value.owner
    if isinstance(producer, types) and value.has_one_use():
        return producer
    return None


class FuseActivationIntoProducer(RewritePattern):
    """act(producer without activation, used only here) → producer activation."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.ActivationOp, rewriter: PatternRewriter, /):
        producer = sole_producer(op.input, FUSING_PRODUCERS)
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
