"""fold-constants: evaluate ops whose operands are all weights, at compile time.

The reference implementation (`mnistc.interpreters.nn`) computes the result, which is
appended to the weight file and replaces the op as a new `nn.weight`: a constant scale
multiplied by a constant, a transposed or reshaped weight, a constant concatenation.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.interpreter import Interpreter
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
)
from xdsl.traits import Pure

from mnistc import weights as weight_files
from mnistc.dialects import nn
from mnistc.interpreters.nn import NNFunctions
from mnistc.transforms.fold_batch_norm import constant, new_weight


@dataclass
class FoldConstantOp(RewritePattern):
    weights: weight_files.WeightFile
    interpreter: Interpreter

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        if (
            op.dialect_name() != "nn"
            or isinstance(op, nn.WeightOp)
            or not op.has_trait(Pure)
            or len(op.results) != 1
            or not op.operands
        ):
            return
        if not all(isinstance(v.owner, nn.WeightOp) for v in op.operands):
            return  # checked before reading any: a layer's weights are not copied for nothing
        inputs = [constant(v, self.weights) for v in op.operands]
        (value,) = self.interpreter.run_op(op, tuple(inputs))
        key = "+".join(v.owner.key.data for v in op.operands) + f"|{op.name.removeprefix('nn.')}"
        rewriter.replace(op, [], [new_weight(rewriter, op, self.weights, key, value)])


@dataclass(frozen=True)
class FoldConstantsPass(ModulePass):
    name = "fold-constants"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        weights = weight_files.of(ctx, op)
        interpreter = Interpreter(op)
        interpreter.register_implementations(NNFunctions(weights))
        PatternRewriteWalker(
            GreedyRewritePatternApplier([FoldConstantOp(weights, interpreter)], dce_enabled=False)
        ).rewrite_module(op)
