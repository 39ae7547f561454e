"""pack-weights: choose the fast kernels by shape and pre-pack their weights.

At the `cpu` level, after `convert-nn-to-cpu`: a `cpu.call @conv2d` whose weight is a
`cpu.weight` becomes a call of the first fast path in FAST_CONV_PATHS that applies to its
shape, reading a weight packed at compile time (appended to the weight file) in the
layout of `mnistc/transforms/packing.py`. Other convolutions keep the general kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
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
from mnistc.kernels import abi
from mnistc.transforms.packing import (
    pack_conv_weight,
    pack_im2col_weight,
    pack_winograd_raw_weight,
    pack_winograd_weight,
)
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
    pack: Callable[[np.ndarray, Params], np.ndarray]


def _winograd_applies(p: Params) -> bool:
    geometry = ("KH", "KW", "stride_h", "stride_w", "dilation_h", "dilation_w", "groups")
    return (
        tuple(p[name] for name in geometry) == (3, 3, 1, 1, 1, 1, 1)
        and min(p["C"], p["K"]) >= WINOGRAD_MIN_CHANNELS
        and min(p["OH"], p["OW"]) >= 4
    )


# Winograd on maps of few tiles (poolwino) -------------------------------------------

WINOGRAD_RAW_MAX_TILES = 4
"""At most this many 4x4 output tiles (maps up to 8x8): each element of the transformed
weight U serves only these few tiles, so reading U costs more than its GEMMs."""

WINOGRAD_RAW_MIN_U_BYTES = 8 << 20
"""From this size on (a quarter of the 32 MB L3), U does not stay in L3 beside the rest of
a network's weights: it streams from DRAM on every inference."""


def _winograd_tiles(p: Params) -> int:
    return -(-p["OH"] // 4) * -(-p["OW"] // 4)


def _winograd_raw_applies(p: Params) -> bool:
    """The cost rule for conv2d_winograd_raw: U = G g G^T is 36/9 = 4 times the bytes of
    the 3x3 weight. With few tiles per image and a U that streams from DRAM, reading U
    (about 10 ns per channel pair at 14 GB/s) costs more than reading the raw weight (a
    quarter of the bytes) and transforming it at run time (about 2-3.5 ns per pair).
    Measured at 1 thread, 512 channels at 7x7 (4 tiles), weights cold: 2.0-2.9 ms
    against 3.1-7.8 ms with the precomputed U. From L3 the precomputed U wins (256
    channels at 8x8: 217 against 458 us), and so it does on 14x14 (16 tiles), where the
    GEMMs dominate."""
    u_bytes = 36 * p["C"] * p["K"] * 4
    return (
        _winograd_applies(p)
        and _winograd_tiles(p) <= WINOGRAD_RAW_MAX_TILES
        and u_bytes >= WINOGRAD_RAW_MIN_U_BYTES
    )


WINOGRAD_RAW = ConvFastPath(
    "conv2d_winograd_raw",
    _winograd_raw_applies,
    lambda weight, p: pack_winograd_raw_weight(weight),
)

# -------------------------------------------------------------------------------------

WINOGRAD = ConvFastPath(
    "conv2d_winograd",
    _winograd_applies,
    lambda weight, p: pack_winograd_weight(weight),
)
WINOGRAD_PATHS = (WINOGRAD_RAW, WINOGRAD)
"""The Winograd kernels, which `pack-weights{winograd=false}` leaves out."""
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
FAST_CONV_PATHS = (WINOGRAD_RAW, WINOGRAD, DIRECT_STRIDE_ONE, IM2COL)
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
        params = op.param_values() | FUSED_PARAMS
        path = next((path for path in self.paths if path.applies(params)), None)
        if path is None:
            return
        shape = tuple(weight.result.type.get_shape())
        packed = path.pack(self.weights.read(weight.offset.value.data, shape), params)
        packed_op = located(cpu.WeightOp(
            f"{weight.key.data}|{path.kernel}",
            self.weights.append(packed),
            MemRefType(f32, [packed.size]),
        ), weight)
        packed_op.result.name_hint = (weight.result.name_hint or "w") + "_packed"
        rewriter.insert(packed_op, InsertPoint.before(weight))
        inputs = [op.inputs[0], packed_op.result, *op.inputs[2:]]
        fast = abi.kernel(path.kernel)
        new_params = {name: params[name] for name in (*fast.params, *fast.fparams)}
        rewriter.replace(op, located(cpu.CallOp(path.kernel, inputs, list(op.outputs), new_params), op))


@dataclass(frozen=True)
class PackWeightsPass(ModulePass):
    """Options: `winograd=false` keeps 3x3 convolutions on the direct kernel."""

    name = "pack-weights"

    winograd: bool = True

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        paths = tuple(p for p in FAST_CONV_PATHS if self.winograd or p not in WINOGRAD_PATHS)
        weights = weight_files.of(ctx, op)
        PatternRewriteWalker(
            GreedyRewritePatternApplier([PackConvWeights(weights, paths)], dce_enabled=True)
        ).rewrite_module(op)
