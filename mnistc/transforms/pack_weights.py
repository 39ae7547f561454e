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
from mnistc.transforms.packing import (
    pack_conv_weight,
    pack_gemm_b,
    pack_gemm_weight,
    pack_recurrent_hidden_weight,
    pack_recurrent_input_weight,
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

# The GEMM core (conv2d_gemm).
GEMM_MIN_CHANNELS_PER_GROUP = 64
"""A stride-1 convolution with a kernel larger than 1x1 goes to the GEMM only with at
least this many output channels per group (see _gemm_applies)."""


def _gemm_applies(p: Params) -> bool:
    """The cost rule of the GEMM core (conv2d_gemm), measured on one core against the
    kernels it replaces (mnistc's ResNet, GoogLeNet and RegNet layers, 7x7 to 112x112
    maps):

    - not depthwise convolutions (groups = C): the GEMM would have one input channel
      per group; nor a 1x1 kernel on a single output pixel, a matrix-vector product;
    - strided convolutions: always (1.7-2x the im2col matrix through the packed kernel
      with one group; 5-10x the general kernel with a few groups);
    - 1x1 kernels: always (1.4-2.4x the packed kernel, which uses 7 of its 24 columns
      on a 7x7 map and does not block the reduction for the caches);
    - other stride-1 convolutions: with at least GEMM_MIN_CHANNELS_PER_GROUP output
      channels per group. The GEMM gathers each input element into its B panels once
      and reuses it for every output channel; the packed kernel reads the input in place.
      With 64 output channels or more they are even on large maps (5x5: 85 GFLOP/s
      both) and the GEMM wins on small ones (3x3 on 7x7: 2x; on 2x2: 2.3x); with fewer
      the packed kernel wins (RegNet's 16-channel groups: 1.5x).
    """
    kernel, stride = (p["KH"], p["KW"]), (p["stride_h"], p["stride_w"])
    if p["groups"] == p["C"] or (kernel == (1, 1) and (p["OH"], p["OW"]) == (1, 1)):
        return False
    wide = p["K"] // p["groups"] >= GEMM_MIN_CHANNELS_PER_GROUP
    return stride != (1, 1) or kernel == (1, 1) or wide


GEMM = ConvFastPath(
    "conv2d_gemm",
    _gemm_applies,
    lambda weight, p: pack_gemm_weight(weight, int(p["groups"])),
)
# End of the GEMM core's block.

WINOGRAD_PATHS = (WINOGRAD_RAW, WINOGRAD)
"""The Winograd kernels, which `pack-weights{winograd=false}` leaves out."""
DIRECT_STRIDE_ONE = ConvFastPath(
    "conv2d_packed",
    lambda p: (p["stride_h"], p["stride_w"]) == (1, 1),
    lambda weight, p: pack_conv_weight(weight, int(p["groups"])),
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

# Depthwise (kernels/conv/depthwise.cpp): one channel per group leaves the register tiles
# of conv2d_packed 1 of MNISTC_CONV_MR channel rows busy, and the general kernel has no
# register blocking; the depthwise kernel tiles each channel's own output plane instead.
DEPTHWISE_WINDOWS = (3, 5)
DEPTHWISE_STRIDES = (1, 2)


def _depthwise_applies(p: Params) -> bool:
    return (
        p["groups"] == p["C"] == p["K"]
        and p["KH"] == p["KW"] in DEPTHWISE_WINDOWS
        and p["stride_h"] == p["stride_w"] in DEPTHWISE_STRIDES
        and (p["dilation_h"], p["dilation_w"]) == (1, 1)
    )


DEPTHWISE = ConvFastPath("conv2d_depthwise", _depthwise_applies, None)

FAST_CONV_PATHS = (GEMV_ONE_PIXEL, WINOGRAD_RAW, WINOGRAD, DEPTHWISE, GEMM, DIRECT_STRIDE_ONE)
"""Tried in order; the first that applies wins. Other convolutions (depthwise ones with
other windows, strides or dilations, or a channel multiplier) keep the general kernel."""


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
        """The weight in `path`'s layout: a new `cpu.weight` appended to the weight file, or
        the model's own if the path reads it as it is."""
        if path.pack is None:
            return weight.result
        return append_packed(
            self.weights, weight, lambda w: path.pack(w, params), path.kernel, rewriter
        )


def append_packed(
    weights: weight_files.WeightFile,
    weight: cpu.WeightOp,
    pack: Callable[[np.ndarray], np.ndarray],
    kernel: str,
    rewriter: PatternRewriter,
) -> SSAValue:
    """A new `cpu.weight` before `weight`: its array packed for `kernel`, appended to the
    weight file."""
    shape = tuple(weight.result.type.get_shape())
    packed = pack(weights.read(weight.offset.value.data, shape))
    packed_op = located(cpu.WeightOp(
        f"{weight.key.data}|{kernel}",
        weights.append(packed),
        MemRefType(f32, [packed.size]),
    ), weight)
    packed_op.result.name_hint = (weight.result.name_hint or "w") + "_packed"
    rewriter.insert(packed_op, InsertPoint.before(weight))
    return packed_op.result


# LSTM and GRU take their weights packed (else they pack them at each call).
@dataclass
class PackRecurrentWeights(RewritePattern):
    weights: weight_files.WeightFile

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: cpu.CallOp, rewriter: PatternRewriter, /):
        if op.callee.string_value() not in ("lstm", "gru"):
            return
        params = op.param_values()
        by_name = dict(zip(op.kernel.inputs, op.inputs))
        weight_ih, weight_hh = by_name["weight_ih"].owner, by_name["weight_hh"].owner
        if params["packed"] or not isinstance(weight_ih, cpu.WeightOp) or not isinstance(
            weight_hh, cpu.WeightOp
        ):
            return
        directions, kernel = int(params["directions"]), op.callee.string_value()
        by_name["weight_ih"] = append_packed(
            self.weights, weight_ih,
            lambda w: pack_recurrent_input_weight(w, directions), kernel, rewriter,
        )  # fmt: skip
        by_name["weight_hh"] = append_packed(
            self.weights, weight_hh,
            lambda w: pack_recurrent_hidden_weight(w, directions), kernel, rewriter,
        )  # fmt: skip
        inputs = [by_name[name] for name in op.kernel.inputs]
        new_op = cpu.CallOp(kernel, inputs, list(op.outputs), params | {"packed": 1})
        rewriter.replace(op, located(new_op, op))


# --- Linear layers on token matrices run on the GEMM core ---
LINEAR_GEMM_MIN_ROWS = 4
"""From this many input rows (a transformer's tokens) a linear layer runs on the GEMM
core (linear_gemm); below, the GEMV (one row) or linear's own register-blocked rows."""


@dataclass
class PackLinearWeights(RewritePattern):
    """`cpu.call @linear` on at least LINEAR_GEMM_MIN_ROWS rows with a `cpu.weight` →
    `cpu.call @linear_gemm` on W^T pre-packed as the GEMM's B."""

    weights: weight_files.WeightFile

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: cpu.CallOp, rewriter: PatternRewriter, /):
        if op.callee.string_value() != "linear":
            return
        weight = op.inputs[1].owner
        params = op.param_values()
        if not isinstance(weight, cpu.WeightOp) or params["M"] < LINEAR_GEMM_MIN_ROWS:
            return
        shape = tuple(weight.result.type.get_shape())
        packed = pack_gemm_b(self.weights.read(weight.offset.value.data, shape).reshape(shape[0], -1))
        packed_op = located(cpu.WeightOp(
            f"{weight.key.data}|linear_gemm",
            self.weights.append(packed),
            MemRefType(f32, [packed.size]),
        ), weight)
        packed_op.result.name_hint = (weight.result.name_hint or "w") + "_packed"
        rewriter.insert(packed_op, InsertPoint.before(weight))
        inputs = [op.inputs[0], packed_op.result, op.inputs[2]]
        rewriter.replace(op, located(cpu.CallOp("linear_gemm", inputs, list(op.outputs), params), op))


# --- end of the linear_gemm block ---


@dataclass(frozen=True)
class PackWeightsPass(ModulePass):
    """Options: `winograd=false` keeps 3x3 convolutions on the direct kernel."""

    name = "pack-weights"

    winograd: bool = True

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        paths = tuple(p for p in FAST_CONV_PATHS if self.winograd or p not in WINOGRAD_PATHS)
        weights = weight_files.of(ctx, op)
        PatternRewriteWalker(
            GreedyRewritePatternApplier(
                [PackConvWeights(weights, paths), PackLinearWeights(weights), PackRecurrentWeights(weights)],
                dce_enabled=True,
            )
        ).rewrite_module(op)


# the quantize pass's cost rule
def runs_as_winograd(params: Params) -> bool:
    """Whether this pass gives a conv2d of these params (kernel names: C, K, KH, KW, OH,
    OW, stride_h/w, dilation_h/w, groups) a Winograd kernel, which `quantize{keep-winograd}`
    leaves in float32."""
    return _winograd_applies(params)

