"""fold-qdq: form the int8 layers of a model that arrived quantized.

Every front end imports a quantized model in QDQ form: float32 arithmetic between
explicit `nn.quantize` and `nn.dequantize` ops (PT2E's quantize_per_tensor /
dequantize_per_tensor / dequantize_per_channel, ONNX's QuantizeLinear /
DequantizeLinear, ONNX Runtime's QOperator ops expanded into them), and every int8
weight in the `dequantized_weight` form below. That graph is the model's float32
semantics exactly, so whatever this pass does not fold still runs, correctly, in float32.

The pass rewrites
- quantize(act(conv2d(dequantize(x), dequantized weight, float bias))) into
  qconv2d(x, int8 weight, scales, int32 bias), and the same for linear, with act none,
  relu or hardtanh (the int8 clamp of the quantized layer);
- quantize(max_pool2d(y)) into max_pool2d(quantize(y)), and the same for reshapes;
  dequantize the other way (`SinkDequantize`): quantize and dequantize are monotone and
  elementwise, so they commute with ops that only compare or move elements (a NaN
  aside: float32 max pooling keeps it, quantize makes it the zero point);
- quantize(dequantize(a)) with the same scale and zero point into a, exactly
  (`CancelRoundTrip`).

The `quantize` pass shares the last two patterns and the int32 bias rule (`bias_limit`).

Why a pass and not the importers: the three front ends share it (one place builds the
quantized layers, their int32 bias and its overflow check), it runs from `mnistc-opt` on
any QDQ graph, and what it cannot fold stays a correct float32 graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.builder import Builder
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType, i8
from xdsl.ir import Operation, SSAValue
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
from mnistc.dialects.nn.activation import Activation
from mnistc.locations import located
from mnistc.transforms.fold_batch_norm import constant, new_weight

INT32_MAX = 2**31 - 1
IMPORTED_WEIGHT_MAX = 128
"""An imported int8 weight may hold -128 (PyTorch's symmetric range is [-128, 127])."""

INT8_OPS = (nn.MaxPool2DOp, nn.ReshapeOp, nn.DropoutOp)
"""Ops that only compare or move elements, so that quantize and dequantize commute with
them, and that the int8 lowering runs (max_pool2d_i8, views); the strided copies
(transpose, slice, expand) stay float32 behind the dequantize."""


def dequantized_weight(
    builder: Builder, weights: weight_files.WeightFile, key: str, values: np.ndarray, scales
) -> SSAValue:
    """A symmetric int8 weight as the importers give it to this pass: `values` in the
    weight file, dequantized by `nn.dequantize` with its one scale, or with scale 1 then
    multiplied by a float32 [OC, 1, ...] weight of per-output-channel `scales`. Both are
    bitwise the float32 (q - 0) * scale[c] of PyTorch and ONNX Runtime."""
    quantized = builder.insert(weight_files.weight_op(weights, key, values.astype(np.int8))).result
    scales = np.asarray(scales, dtype=np.float32)
    if scales.size == 1:
        return builder.insert(nn.DequantizeOp(quantized, float(scales.reshape(())), 0)).output
    integers = builder.insert(nn.DequantizeOp(quantized, 1.0, 0)).output
    shape = (values.shape[0],) + (1,) * (values.ndim - 1)
    scale = builder.insert(weight_files.weight_op(weights, f"{key}.scale", scales.reshape(shape))).result
    return builder.insert(nn.MulOp(integers, scale)).output


def weight_quantization(
    value: SSAValue, weights: weight_files.WeightFile
) -> tuple[SSAValue, np.ndarray] | None:
    """(int8 weight, float32 scale per output channel) of a value in the
    `dequantized_weight` form, else None."""
    scales = None
    mul = value.owner
    if isinstance(mul, nn.MulOp):
        if mul.activation is not None or (scales := constant(mul.rhs, weights)) is None:
            return None
        value = mul.lhs
    dequantize = value.owner
    if (
        not isinstance(dequantize, nn.DequantizeOp)
        or dequantize.zero_point.value.data != 0
        or not isinstance(dequantize.input.owner, nn.WeightOp)
    ):
        return None
    channels = nn.shape_of(dequantize.input)[0]
    scale = np.float32(dequantize.scale.value.data)
    if scales is None:
        return dequantize.input, np.full(channels, scale, dtype=np.float32)
    rank = len(nn.shape_of(dequantize.input))
    if scale != 1 or scales.shape != (channels,) + (1,) * (rank - 1):
        return None
    return dequantize.input, scales.reshape(channels).astype(np.float32)


def quantization(op: nn.QuantizeOp | nn.DequantizeOp) -> tuple[float, int]:
    return op.scale.value.data, op.zero_point.value.data


def bias_units(input_scale: float, scales: np.ndarray) -> np.ndarray:
    """input_scale * weight_scale[c] in float32, as the requantization multiplier's
    numerator (`nn.requantization_multipliers`): the unit of an int32 bias."""
    return np.float32(input_scale) * scales.astype(np.float32)


def bias_limit(reduction: int, weight_max: int) -> int:
    """The largest |int32 bias| that leaves room for the accumulation: at most
    `reduction` products of |x - zp| <= 255 and |w| <= weight_max (and at least half of
    int32)."""
    return max(INT32_MAX - reduction * 255 * weight_max, INT32_MAX // 2)


def int32_bias(bias: np.ndarray, input_scale: float, weight: SSAValue, scales: np.ndarray):
    """A float bias in units of input_scale * weight_scale[c] (rounded half to even, as
    PyTorch and ONNX Runtime quantize biases), or None where it does not fit int32 with
    room for the accumulation: a tiny input_scale * weight_scale would overflow it (ONNX
    Runtime's PR #25278), and such a layer stays in float32."""
    units = bias_units(input_scale, scales).astype(np.float64)
    if not np.all(units > 0):
        return None
    scaled = np.rint(bias.astype(np.float64) / units)
    reduction = int(np.prod(nn.shape_of(weight)[1:]))
    if not np.all(np.abs(scaled) <= bias_limit(reduction, IMPORTED_WEIGHT_MAX)):
        return None
    return scaled.astype(np.int32)


def clamp_activation(op: Operation) -> Activation | None:
    """The activation an activation op applies, if a quantized layer can fuse it."""
    if isinstance(op, nn.ReluOp | nn.HardtanhOp):
        activation = op.activation()
        if activation.kind in nn.QUANTIZED_ACTIVATIONS:
            return activation
    return None


@dataclass
class FoldQuantizedLayer(RewritePattern):
    """quantize(act(conv2d | linear(dequantize(x), dequantized weight, bias))) → qconv2d |
    qlinear, when the float results feed nothing else."""

    weights: weight_files.WeightFile

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.QuantizeOp, rewriter: PatternRewriter, /):
        value, activation, fused = op.input, None, []
        if value.has_one_use() and (activation := clamp_activation(value.owner)) is not None:
            fused.append(value.owner)
            value = value.owner.input
        layer = value.owner
        if not isinstance(layer, nn.Conv2DOp | nn.LinearOp) or not value.has_one_use():
            return
        if isinstance(layer, nn.Conv2DOp) and layer.residual is not None:
            return
        if layer.activation is not None:
            if activation is not None or layer.activation.data not in nn.QUANTIZED_ACTIVATIONS:
                return
            activation = layer.fused_activation()
        dequantize = layer.input.owner
        weight = weight_quantization(layer.weight, self.weights)
        if not isinstance(dequantize, nn.DequantizeOp) or weight is None:
            return
        quantized_weight, scales = weight
        input_quantization = quantization(dequantize)
        bias = None
        if layer.bias is not None:
            data = constant(layer.bias, self.weights)
            data = None if data is None else int32_bias(data, input_quantization[0], quantized_weight, scales)
            if data is None:
                return
            bias = new_weight(rewriter, op, self.weights, f"{layer.bias.owner.key.data}|int32", data)
        key = quantized_weight.owner.key.data
        scale = new_weight(rewriter, op, self.weights, f"{key}.scales", scales)
        operands = (dequantize.input, quantized_weight, scale, bias, input_quantization, quantization(op))
        if isinstance(layer, nn.Conv2DOp):
            new = nn.QConv2DOp(
                *operands, layer.stride.get_values(), layer.padding.get_values(),
                layer.dilation.get_values(), layer.groups.value.data, activation,
            )  # fmt: skip
        else:
            new = nn.QLinearOp(*operands, activation)
        rewriter.replace(op, located(new, layer, *fused, op))
        for old in (*fused, layer):
            rewriter.erase(old)


class SinkQuantize(RewritePattern):
    """quantize(op(y)) → op(quantize(y)) for an op that only compares or moves elements,
    when op's float result feeds nothing else."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.QuantizeOp, rewriter: PatternRewriter, /):
        exact = op.input.owner
        if not isinstance(exact, INT8_OPS) or not op.input.has_one_use():
            return
        quantized = nn.QuantizeOp(exact.operands[0], *quantization(op))
        rewriter.insert(located(quantized, op), InsertPoint.before(exact))
        moved = type(exact).create(
            operands=[quantized.output, *exact.operands[1:]],
            result_types=[nn.tensor(nn.shape_of(exact.results[0]), i8)],
            properties=dict(exact.properties),
            attributes=dict(exact.attributes),
        )
        moved.location = exact.location
        rewriter.replace(op, moved)
        rewriter.erase(exact)


class SinkDequantize(RewritePattern):
    """view(dequantize(q)) -> dequantize(view(q)): max pooling and the views commute with
    a dequantize (its scale is positive), and run on a quarter of the bytes."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        if not isinstance(op, INT8_OPS) or not isinstance(op.operands[0].owner, nn.DequantizeOp):
            return
        dequantize = op.operands[0].owner
        int8_view = type(op).create(
            operands=[dequantize.input],
            result_types=[TensorType(i8, nn.shape_of(op.results[0]))],
            properties=dict(op.properties),
            attributes=dict(op.attributes),
        )
        restored = nn.DequantizeOp(
            int8_view.results[0], dequantize.scale.value.data, dequantize.zero_point.value.data
        )
        rewriter.replace(op, [located(int8_view, op), located(restored, op)], [restored.output])


class CancelRoundTrip(RewritePattern):
    """quantize(dequantize(q)) with the same scale and zero point is q: exact, since
    (q - zp) * s / s rounds back to q - zp for every int8 q."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.QuantizeOp, rewriter: PatternRewriter, /):
        source = op.input.owner
        if (
            isinstance(source, nn.DequantizeOp)
            and source.scale == op.scale
            and source.zero_point == op.zero_point
        ):
            rewriter.replace(op, [], [source.input])


@dataclass(frozen=True)
class FoldQdqPass(ModulePass):
    name = "fold-qdq"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        weights = weight_files.of(ctx, op)
        PatternRewriteWalker(
            GreedyRewritePatternApplier(
                [CancelRoundTrip(), SinkQuantize(), SinkDequantize(), FoldQuantizedLayer(weights)]
            )
        ).rewrite_module(op)
