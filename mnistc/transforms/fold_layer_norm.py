"""fold-layer-norm: the decomposed layer norm of older ONNX exports (before opset 17's
LayerNormalization) → one `nn.layer_norm`.

    mean = reduce_mean(x, trailing dims, keepdim)    d = x - mean
    var = reduce_mean(pow(d, 2) or d * d, same dims, keepdim)
    d / sqrt(var + eps)                              → layer_norm(x, eps)

A pass rather than a canonicalization pattern because eps is a weight, read from the
weight file in the pass's context. The scale and shift that follow stay element-wise ops
(and the intermediate ops go with `dce` when nothing else uses them).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

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

from mnistc import weights as weight_files
from mnistc.dialects import nn
from mnistc.locations import located
from mnistc.transforms.fold_batch_norm import constant


def _mean_input(value: SSAValue) -> SSAValue | None:
    """What `value` is a mean of (a reduce_mean, or the global average pool that the
    importers make of a mean over H and W), else None."""
    op = value.owner
    return op.input if isinstance(op, nn.ReduceMeanOp | nn.AdaptiveAvgPool2DOp) else None


def _trailing_mean_axis(value: SSAValue, of: SSAValue) -> int | None:
    """The first normalised dim if `value` is a keepdim mean of `of` over its trailing
    dims (not the batch), else None."""
    op = value.owner
    if isinstance(op, nn.AdaptiveAvgPool2DOp) and op.input == of:
        return 2 if nn.shape_of(value)[2:] == (1, 1) else None
    if not isinstance(op, nn.ReduceMeanOp) or op.input != of or not op.keepdim.value.data:
        return None
    dims, rank = op.reduced_dims(), len(nn.shape_of(of))
    if dims != tuple(range(dims[0], rank)) or dims[0] < 1:
        return None
    return dims[0]


def _is_square_of(value: SSAValue, d: SSAValue) -> bool:
    op = value.owner
    if isinstance(op, nn.PowOp):
        return op.input == d and op.exponent.value.data == 2.0
    return isinstance(op, nn.MulOp) and op.lhs == d and op.rhs == d


def scalar_constant(value: SSAValue, weights: Callable[[], weight_files.WeightFile]) -> float | None:
    """The value of a one-element constant (a weight, read from `weights()`, or a splat,
    of any shape), else None."""
    if isinstance(op := value.owner, nn.SplatOp):
        return op.value.value.data
    if not isinstance(value.owner, nn.WeightOp):
        return None
    data = constant(value, weights())
    return float(data.reshape(-1)[0]) if data is not None and data.size == 1 else None


@dataclass
class FoldDecomposedLayerNorm(RewritePattern):
    weights: Callable[[], weight_files.WeightFile]
    """The weight file, read on first use: an eps held by a splat needs none."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.DivOp, rewriter: PatternRewriter, /):
        d, root = op.lhs, op.rhs.owner
        if not isinstance(d.owner, nn.SubOp) or not isinstance(root, nn.SqrtOp):
            return
        x = d.owner.lhs
        axis = _trailing_mean_axis(d.owner.rhs, x)
        shifted = root.input.owner
        if axis is None or not isinstance(shifted, nn.AddOp) or op.output.type != x.type:
            return
        if any(o.activation is not None for o in (op, d.owner, shifted)):
            return
        for var, eps in ((shifted.lhs, shifted.rhs), (shifted.rhs, shifted.lhs)):
            squares = _mean_input(var)
            if (
                squares is not None
                and _trailing_mean_axis(var, squares) == axis
                and _is_square_of(squares, d)
                and (epsilon := scalar_constant(eps, self.weights)) is not None
                and epsilon >= 0
            ):
                rewriter.replace(op, located(nn.LayerNormOp(x, axis, epsilon), op))
                return


@dataclass(frozen=True)
class FoldLayerNormPass(ModulePass):
    name = "fold-layer-norm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        weights = functools.cache(lambda: weight_files.of(ctx, op))
        PatternRewriteWalker(
            GreedyRewritePatternApplier([FoldDecomposedLayerNorm(weights)], dce_enabled=False)
        ).rewrite_module(op)
