"""pack-weights: choose the fast kernels by shape and pre-pack their weights.

At the `cpu` level, after `convert-nn-to-cpu`: a `cpu.call @conv2d` whose weight is a
`cpu.weight` becomes a call of the first fast path in FAST_CONV_PATHS that applies to its
shape, reading a weight packed at compile time (appended to the weight file) in the
layout of `mnistc/transforms/packing.py`, or the weight as it is (a convolution with one
output pixel runs on the `linear` GEMV). Other convolutions keep the general kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import MemRefType, ModuleOp, f32
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
from mnistc.dialects import cpu
from mnistc.kernels import abi
from mnistc.transforms.packing import pack_conv_weight, pack_im2col_weight, pack_winograd_weight
from mnistc.locations import located

FUSED_PARAMS = {"pool": 0}
"""Params of fast paths that later passes set when they fuse more into the kernel
(`fuse-conv-max-pool`); none is fused at first."""

Params = dict[str, int | float]

WINOGRAD_MIN_CHANNELS = 8
"""Below this many input or output channels, padding them to whole vectors costs more
than Winograd saves."""


@dataclass(frozen=True)
class ConvFastPath:
    """A convolution kernel of kernels/abi.py for some shapes, with its weight layout; it
    takes the params of its own signature out of the general conv2d's."""

    kernel: str
    applies: Callable[[Params], bool]
    pack: Callable[[np.ndarray, Params], np.ndarray] | None
    """The packed weight; None: the kernel reads the weight as it is."""
    extra_params: Callable[[Params], Params] = lambda p: {}
    """Params of the kernel's signature that the general conv2d has not, from its params."""


def _winograd_applies(p: Params) -> bool:
    geometry = ("KH", "KW", "stride_h", "stride_w", "dilation_h", "dilation_w", "groups")
    return (
        tuple(p[name] for name in geometry) == (3, 3, 1, 1, 1, 1, 1)
        and min(p["C"], p["K"]) >= WINOGRAD_MIN_CHANNELS
        and min(p["OH"], p["OW"]) >= 4
    )


WINOGRAD = ConvFastPath(
    "conv2d_winograd",
    _winograd_applies,
    lambda weight, p: pack_winograd_weight(weight),
)
DIRECT_STRIDE_ONE = ConvFastPath(
    "conv2d_packed",
    lambda p: (p["stride_h"], p["stride_w"]) == (1, 1),
    lambda weight, p: pack_conv_weight(weight, int(p["groups"])),
)
IM2COL = ConvFastPath(
    "conv2d_im2col",
    lambda p: p["groups"] == 1 and (p["stride_h"], p["stride_w"]) != (1, 1),
    lambda weight, p: pack_im2col_weight(weight),
)

# --- One output pixel: the GEMV (issue 11; the squeeze-excite blocks' 1x1 convolutions) ---
def _gemv_applies(p: Params) -> bool:
    """One output pixel whose window is the whole unpadded input, one group and no
    residual: a matrix-vector product with the weight [K, C*KH*KW] as it is stored. The
    packed kernel would fill 1 of its CONV_NR columns; the GEMV streams the weight once
    with every vector lane busy."""
    return (
        (p["OH"], p["OW"]) == (1, 1)
        and (p["KH"], p["KW"]) == (p["H"], p["W"])
        and (p["pad_h"], p["pad_w"]) == (0, 0)
        and p["groups"] == 1
        and not p["has_residual"]
    )


GEMV_ONE_PIXEL = ConvFastPath(
    "linear",
    _gemv_applies,
    None,
    lambda p: {"M": 1, "IN": p["C"] * p["KH"] * p["KW"], "OUT": p["K"]},
)
# --- end of the GEMV block ---

FAST_CONV_PATHS = (GEMV_ONE_PIXEL, WINOGRAD, DIRECT_STRIDE_ONE, IM2COL)
"""Tried in order; the first that applies wins."""


@dataclass
class PackConvWeights(RewritePattern):
    weights: weight_files.WeightFile
    paths: tuple[ConvFastPath, ...]

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: cpu.CallOp, rewriter: PatternRewriter, /):
        if op.callee.string_value() != "conv2d":
            return
        weight = op.inputs[1].owner
        if not isinstance(weight, cpu.WeightOp):
            return
        has_residual = not isinstance(op.inputs[3].owner, cpu.NullOp)
        params = op.param_values() | FUSED_PARAMS | {"has_residual": has_residual}
        path = next((path for path in self.paths if path.applies(params)), None)
        if path is None:
            return
        fast = abi.kernel(path.kernel)
        by_name = dict(zip(op.kernel.inputs, op.inputs))
        by_name[fast.inputs[1]] = self.packed_weight(weight, path, params, rewriter)
        inputs = [by_name[name] for name in fast.inputs]
        params |= path.extra_params(params)
        new_params = {name: params[name] for name in (*fast.params, *fast.fparams)}
        rewriter.replace(op, located(cpu.CallOp(path.kernel, inputs, list(op.outputs), new_params), op))

    def packed_weight(
        self, weight: cpu.WeightOp, path: ConvFastPath, params: Params, rewriter: PatternRewriter
    ) -> SSAValue:
        """The weight in `path`'s layout, appended to the weight file (or as it is)."""
        if path.pack is None:
            return weight.result
        shape = tuple(weight.result.type.get_shape())
        packed = path.pack(self.weights.read(weight.offset.value.data, shape), params)
        packed_op = located(cpu.WeightOp(
            f"{weight.key.data}|{path.kernel}",
            self.weights.append(packed),
            MemRefType(f32, [packed.size]),
        ), weight)
        packed_op.result.name_hint = (weight.result.name_hint or "w") + "_packed"
        rewriter.insert(packed_op, InsertPoint.before(weight))
        return packed_op.result


@dataclass(frozen=True)
class PackWeightsPass(ModulePass):
    """Options: `winograd=false` keeps 3x3 convolutions on the direct kernel."""

    name = "pack-weights"

    winograd: bool = True

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        paths = tuple(p for p in FAST_CONV_PATHS if self.winograd or p is not WINOGRAD)
        weights = weight_files.of(ctx, op)
        PatternRewriteWalker(
            GreedyRewritePatternApplier([PackConvWeights(weights, paths)], dce_enabled=True)
        ).rewrite_module(op)
