"""pack-weights: choose the fast kernels by shape and pre-pack their weights.

At the `cpu` level, after `convert-nn-to-cpu`: a stride-1 `cpu.call @conv2d` whose
weight is a `cpu.weight` becomes `cpu.call @conv2d_packed` reading a weight packed at
compile time (appended to the weight file) in the layout of `mnistc/lowering/packing.py`.
Other convolutions keep the general kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import MemRefType, ModuleOp, f32
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
from mnistc.dialects import cpu
from mnistc.lowering.packing import pack_conv_weight

CONV_STRIDE = slice(8, 10)
"""Where the strides sit in `conv2d`'s params (see _lower_conv2d)."""
CONV_GROUPS = 14


@dataclass
class PackStrideOneConv(RewritePattern):
    weights: weight_files.WeightFile

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: cpu.CallOp, rewriter: PatternRewriter, /):
        if op.callee.string_value() != "conv2d":
            return
        params = list(op.params.get_values())
        weight = op.inputs[1].owner
        if params[CONV_STRIDE] != [1, 1] or not isinstance(weight, cpu.WeightOp):
            return
        shape = tuple(weight.result.type.get_shape())
        packed = pack_conv_weight(
            self.weights.read(weight.offset.value.data, shape), params[CONV_GROUPS]
        )
        packed_op = cpu.WeightOp(
            weight.key.data + "|packed",
            self.weights.append(packed),
            MemRefType(f32, [packed.size]),
        )
        packed_op.result.name_hint = (weight.result.name_hint or "w") + "_packed"
        rewriter.insert(packed_op, InsertPoint.before(weight))
        inputs = [op.inputs[0], packed_op.result, *op.inputs[2:]]
        new_params = params[: CONV_STRIDE.start] + params[CONV_STRIDE.stop :]
        fparams = op.fparams.get_values() if op.fparams else ()
        rewriter.replace(
            op, cpu.CallOp("conv2d_packed", inputs, list(op.outputs), new_params, fparams)
        )


@dataclass(frozen=True)
class PackWeightsPass(ModulePass):
    name = "pack-weights"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        weights = weight_files.load(op)
        PatternRewriteWalker(
            GreedyRewritePatternApplier([PackStrideOneConv(weights)], dce_enabled=True)
        ).rewrite_module(op)
        weight_files.store(op, weights)
