"""fold-batch-norm: fold an inference batch norm into the conv2d / linear before it.

bn(conv(x, w, b)) = conv(x, w * s, (b - mean) * s + beta) with s = gamma / sqrt(var + eps),
per output channel. The folded weights are computed now and appended to the weight file;
the old ones stay in the file until `dce` and the C++ target stop referencing them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint

from mnistc import weights as weight_files
from mnistc.dialects import nn
from mnistc.transforms.fuse_activation import sole_producer
from mnistc.locations import located


def constant(value: SSAValue | None, weights: weight_files.WeightFile) -> np.ndarray | None:
    """The data of a value produced by `nn.weight`, else None."""
    if value is None or not isinstance(op := value.owner, nn.WeightOp):
        return None
    dtype = weight_files.dtype_of_type(nn.element_type_of(value))
    return weights.read(op.offset.value.data, nn.shape_of(value), dtype)


def new_weight(
    rewriter: PatternRewriter, before, weights: weight_files.WeightFile, key: str, data: np.ndarray
) -> SSAValue:
    op = weight_files.weight_op(weights, key, data)
    rewriter.insert(located(op, before), InsertPoint.before(before))
    return op.result


@dataclass
class FoldBatchNormIntoProducer(RewritePattern):
    weights: weight_files.WeightFile

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.BatchNormOp, rewriter: PatternRewriter, /):
        producer = sole_producer(op.input, (nn.Conv2DOp, nn.LinearOp))
        if producer is None or producer.activation is not None:
            return
        if isinstance(producer, nn.Conv2DOp) and producer.residual is not None:
            return
        params = [constant(v, self.weights) for v in (op.mean, op.var, op.gamma, op.beta)]
        weight = constant(producer.weight, self.weights)
        bias = constant(producer.bias, self.weights) if producer.bias is not None else 0.0
        if weight is None or bias is None or any(p is None for p in params):
            return
        mean, var, gamma, beta = (p.astype(np.float64) for p in params)
        scale = gamma / np.sqrt(var + op.eps.value.data)
        folded_weight = weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
        folded_bias = (bias - mean) * scale + beta
        key = producer.weight.owner.key.data.removesuffix(".weight")
        new_w = new_weight(rewriter, op, self.weights, f"{key}.weight+bn", folded_weight)
        new_b = new_weight(rewriter, op, self.weights, f"{key}.bias+bn", folded_bias)
        rewriter.replace(op, located(producer.with_changes(weight=new_w, bias=new_b), producer, op))
        rewriter.erase(producer)


@dataclass(frozen=True)
class FoldBatchNormPass(ModulePass):
    name = "fold-batch-norm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        weights = weight_files.of(ctx, op)
        PatternRewriteWalker(
            GreedyRewritePatternApplier([FoldBatchNormIntoProducer(weights)], dce_enabled=False)
        ).rewrite_module(op)
