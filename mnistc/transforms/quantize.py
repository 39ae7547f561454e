"""quantize: post-training int8 quantization of conv2d and linear layers.

    mnistc-opt model.mlir -p 'quantize{calibration="digits.npy" method="percentile"}'

Each conv2d and linear whose weight (and bias) are constants becomes `nn.qconv2d` /
`nn.qlinear` between an `nn.quantize` of its input and an `nn.dequantize` of its result:
- weights: int8, symmetric, one scale per output channel (max |w| / 127);
- activations: int8, asymmetric, one scale and zero point per tensor, from calibration
  (`mnistc.calibration`: the samples in `calibration`, the `method`);
- bias: int32 in units of input_scale * weight_scale[c]. When that unit is so small that
  the bias does not fit (with room for the accumulation), the channel's weight scale is
  raised until it does (`fit_bias`; ONNX Runtime's fix in its PR #25278, where clipping
  the bias lost over half the accuracy of such models).
Then int8 flows through max pooling and reshapes (`SinkDequantize`), and a dequantize
followed by a quantize with the same parameters cancels (`CancelRoundTrip`): a value
between two quantized layers stays int8. A tensor seen through views and max pools
shares the quantization of the tensor they read (`view_root`), so those round trips match.

What stays float32 (`stays_float`, the one cost rule): everything but conv2d and linear
(softmax, normalisations, element-wise ops, which run behind explicit dequantize/quantize);
a conv2d with a fused residual or a layer with an activation that is not a clamp
(QUANTIZED_ACTIVATIONS); the layers named in `fp32-layers` (by the module path of their
weight, e.g. `conv2`); with `keep-winograd=true`, the 3x3 convolutions that pack-weights
runs with Winograd, where float32 Winograd can beat an int8 direct convolution; with
`vnni=false`, every convolution.

`vnni` says whether the target has AVX-512 VNNI (the driver asks g++ for the target's
macros: `BuildConfig.has_vnni` in mnistc/toolchain.py). Only there do int8 convolutions
gain. The bundled MNIST CNN on the Zen 4 host (`--bench 2000`, one sample, one thread,
medians of 3 rounds on a busy 2-core machine): with VNNI (`vpdpbusd`, 64 multiply-adds an
instruction) all-int8 runs in 94 us against 148 us in float32; built for AVX2
(`--target-cpu x86-64-v3`: vpmaddwd on bytes widened to int16, against float32 Winograd
and the FMA GEMM) all-int8 takes 375 us against 147 us in float32, and 111 us with the
convolutions kept float32 (this rule); built for scalar x86-64, all-int8 takes 9 to 15 ms
against 693 us in float32, and 704 us with this rule. The int8 GEMV of a linear layer
reads a quarter of the bytes of its float32 weight, gains with AVX2 and about breaks even
on scalar code, so linear layers are quantized on every target.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import GreedyRewritePatternApplier, PatternRewriteWalker
from xdsl.rewriter import InsertPoint, Rewriter

from mnistc.calibration import (
    DEFAULT_METHOD,
    DEFAULT_PERCENTILE,
    DEFAULT_SAMPLES,
    CalibrationError,
    calibrated_range,
    check_method,
    collect_statistics,
    declared_preprocessing,
    load_samples,
    quantization_parameters,
)
from mnistc import weights as weight_files
from mnistc.dialects import nn
from mnistc.locations import located
from mnistc.transforms.fold_qdq import (  # the QDQ patterns and bias rule both passes use
    CancelRoundTrip,
    SinkDequantize,
    bias_limit,
    bias_units,
)

WEIGHT_MAX = 127
"""Weights use [-127, 127]: symmetric, so that negating a channel is exact."""
EXACT_OPS = (nn.MaxPool2DOp, nn.ReshapeOp, nn.TransposeOp, nn.SliceOp, nn.ExpandOp, nn.DropoutOp)
"""Ops that are exact on int8 (they move or compare elements): a tensor seen through
them shares the quantization of the tensor they read."""


# Weights and biases -----------------------------------------------------------------


def weight_scales(weight: np.ndarray) -> np.ndarray:
    """max |w| / 127 per output channel (float32); 1 for an all-zero channel."""
    peak = np.abs(weight.reshape(len(weight), -1)).max(axis=1).astype(np.float64)
    return np.where(peak > 0, peak / WEIGHT_MAX, 1.0).astype(np.float32)


def quantize_weight(weight: np.ndarray, scales: np.ndarray) -> np.ndarray:
    per_channel = scales.astype(np.float64).reshape((-1,) + (1,) * (weight.ndim - 1))
    return np.clip(np.rint(weight / per_channel), -WEIGHT_MAX, WEIGHT_MAX).astype(np.int8)


def fit_bias(
    bias: np.ndarray, scales: np.ndarray, input_scale: float, reduction: int
) -> tuple[np.ndarray, np.ndarray]:
    """The int32 bias and the weight scales, raised where the bias would not fit.

    The accumulator adds at most `reduction` products of |x - zp| <= 255 and |w| <= 127
    to the bias, so the bias gets what int32 leaves (`bias_limit`). A channel whose unit
    is too small for that gets the smallest weight scale that makes it fit."""
    limit = bias_limit(reduction, WEIGHT_MAX)
    bias = bias.astype(np.float64)
    scales = scales.copy()
    needed = np.abs(bias) / limit
    too_small = bias_units(input_scale, scales).astype(np.float64) < needed
    if too_small.any():
        raised = needed[too_small] / np.float64(np.float32(input_scale)) * (1 + 2**-16)
        scales[too_small] = np.maximum(scales[too_small], raised.astype(np.float32))
    quantized = np.rint(bias / bias_units(input_scale, scales).astype(np.float64))
    assert np.abs(quantized).max(initial=0) <= limit, "fit_bias left a bias out of range"
    return quantized.astype(np.int32), scales


# The cost rule -----------------------------------------------------------------------


QUANTIZED_SUFFIX = ".int8"
"""What the key of a weight quantized by this pass ends with."""


def layer_name(op: nn.Conv2DOp | nn.LinearOp | nn.QuantizedLayerOp) -> str:
    """The layer's module path, from its weight's key (`conv2.weight`, `conv2.weight+bn`,
    `conv2.weight.int8`)."""
    key = op.weight.owner.key.data.removesuffix(QUANTIZED_SUFFIX)
    return key.removesuffix("+bn").removesuffix(".weight")


def conv_geometry(op: nn.Conv2DOp) -> dict[str, int]:
    """The conv2d's parameters as the cpu kernels name them (pack-weights' rules)."""
    _, c, _, _ = nn.shape_of(op.input)
    k, _, kh, kw = nn.shape_of(op.weight)
    _, _, oh, ow = nn.shape_of(op.output)
    (sh, sw), (dh, dw) = op.stride.get_values(), op.dilation.get_values()
    return dict(
        C=c, K=k, KH=kh, KW=kw, OH=oh, OW=ow, stride_h=sh, stride_w=sw,
        dilation_h=dh, dilation_w=dw, groups=op.groups.value.data,
    )  # fmt: skip


def stays_float(
    op: Operation, fp32_layers: tuple[str, ...], keep_winograd: bool, vnni: bool = True
) -> bool:
    """Whether a conv2d or linear stays float32 (see the module's docstring)."""
    if not isinstance(op, nn.Conv2DOp | nn.LinearOp):
        return True
    constants = (op.weight, op.bias) if op.bias is not None else (op.weight,)
    if not all(isinstance(v.owner, nn.WeightOp) for v in constants):
        return True
    activation = op.fused_activation()
    if activation is not None and activation.kind not in nn.QUANTIZED_ACTIVATIONS:
        return True
    if isinstance(op, nn.Conv2DOp):
        if op.residual is not None or not vnni:
            return True
        if keep_winograd:
            from mnistc.transforms.pack_weights import runs_as_winograd

            if runs_as_winograd(conv_geometry(op)):
                return True
    return layer_name(op) in fp32_layers


def view_root(value: SSAValue) -> SSAValue:
    """The tensor that `value` reads through views and max pools (which int8 passes
    through unchanged, so both share one quantization)."""
    while isinstance(value.owner, EXACT_OPS):
        value = value.owner.operands[0]
    return value


# The rewrite -------------------------------------------------------------------------


Quantization = tuple[float, int]
"""A tensor's scale and zero point."""


@dataclass
class LayerQuantizer:
    """Replaces the layers, one at a time, given their input's and output's quantization."""

    weights: weight_files.WeightFile
    quantized_inputs: dict[tuple[SSAValue, Quantization], SSAValue] = field(default_factory=dict)

    def constant(self, value: SSAValue) -> np.ndarray:
        op = value.owner
        assert isinstance(op, nn.WeightOp)
        return self.weights.read(op.offset.value.data, nn.shape_of(value)).astype(np.float64)

    def new_weight(self, key: str, data: np.ndarray, before: Operation) -> SSAValue:
        op = weight_files.weight_op(self.weights, key, data)
        Rewriter.insert_op(located(op, before), InsertPoint.before(before))
        return op.result

    def quantized_input(self, op: Operation, value: SSAValue, quantization: Quantization) -> SSAValue:
        """One `nn.quantize` per tensor and quantization, before its first quantized user."""
        key = (value, quantization)
        if key not in self.quantized_inputs:
            quantize = located(nn.QuantizeOp(value, *quantization), op)
            Rewriter.insert_op(quantize, InsertPoint.before(op))
            self.quantized_inputs[key] = quantize.output
        return self.quantized_inputs[key]

    def replace(
        self, op: nn.Conv2DOp | nn.LinearOp, input_quantization: Quantization,
        output_quantization: Quantization,
    ) -> None:  # fmt: skip
        weight = self.constant(op.weight)
        scales = weight_scales(weight)
        bias = None
        if op.bias is not None:
            reduction = int(np.prod(nn.shape_of(op.weight)[1:]))
            bias, scales = fit_bias(self.constant(op.bias), scales, input_quantization[0], reduction)
        key = op.weight.owner.key.data
        name = layer_name(op)
        quantized_weight = self.new_weight(f"{key}{QUANTIZED_SUFFIX}", quantize_weight(weight, scales), op)
        scale_value = self.new_weight(f"{name}.weight_scale", scales, op)
        bias_value = None if bias is None else self.new_weight(f"{name}.bias.int32", bias, op)
        common = dict(
            input=self.quantized_input(op, op.input, input_quantization),
            weight=quantized_weight, weight_scale=scale_value, bias=bias_value, input_quantization=input_quantization,
            output_quantization=output_quantization, activation=op.fused_activation(),
        )  # fmt: skip
        if isinstance(op, nn.Conv2DOp):
            layer = nn.QConv2DOp(
                **common, stride=op.stride.get_values(), padding=op.padding.get_values(),
                dilation=op.dilation.get_values(), groups=op.groups.value.data,
            )  # fmt: skip
        else:
            layer = nn.QLinearOp(**common)
        dequantize = nn.DequantizeOp(layer.output, *output_quantization)
        new_ops = [located(layer, op), located(dequantize, op)]
        Rewriter.replace_op(op, new_ops, [dequantize.output])


def entry_function(module: ModuleOp) -> func.FuncOp:
    return next(op for op in module.ops if isinstance(op, func.FuncOp))


def check_one_input(module: ModuleOp) -> None:
    """Calibration feeds one input: a model of several is refused (not supported yet)."""
    if len(entry_function(module).body.block.args) != 1:
        raise CalibrationError("--quantize int8: models of several inputs are not supported yet")


@dataclass(frozen=True)
class QuantizePass(ModulePass):
    """Options: `calibration` (the samples: required), `method` (minmax, percentile, mse),
    `percentile`, `samples` (at most this many are run), `fp32-layers` (layer names kept
    in float32), `keep-winograd` and `vnni` (whether the target has AVX-512 VNNI: without
    it convolutions stay float32; see the module's docstring)."""

    name = "quantize"

    calibration: str = ""
    method: str = DEFAULT_METHOD
    percentile: float = DEFAULT_PERCENTILE
    samples: int = DEFAULT_SAMPLES
    fp32_layers: tuple[str, ...] = ()
    keep_winograd: bool = False
    vnni: bool = True

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        check_method(self.method, self.percentile)
        if not self.calibration:
            raise CalibrationError(
                "quantize needs calibration samples: quantize{calibration=\"FILE\"}"
            )
        if self.samples < 1:
            raise CalibrationError(f"quantize samples must be >= 1, got {self.samples}")
        weights = weight_files.of(ctx, op)
        check_one_input(op)
        function = entry_function(op)
        sample_shape = nn.shape_of(function.body.block.args[0])[1:]
        samples = load_samples(
            self.calibration, sample_shape, declared_preprocessing(op), self.samples
        )
        self.quantize(op, weights, samples)

    def check_layer_names(self, module: ModuleOp) -> None:
        """`fp32-layers` must name layers of the model (a typo would silently quantize)."""
        names = {
            layer_name(op) for op in module.walk()
            if isinstance(op, nn.Conv2DOp | nn.LinearOp) and isinstance(op.weight.owner, nn.WeightOp)
        }  # fmt: skip
        if unknown := [name for name in self.fp32_layers if name not in names]:
            raise CalibrationError(
                f"fp32 layers {', '.join(unknown)}: no such conv2d or linear layer "
                f"(the model has: {', '.join(sorted(names))})"
            )

    def quantize(self, module: ModuleOp, weights: weight_files.WeightFile, samples: np.ndarray) -> None:
        """The rewrite, on samples already loaded (the driver's entry)."""
        check_one_input(module)
        self.check_layer_names(module)
        layers = [
            op for op in entry_function(module).walk()
            if not stays_float(op, self.fp32_layers, self.keep_winograd, self.vnni)
        ]  # fmt: skip
        if not layers:
            return
        tensors = [view_root(op.input) for op in layers] + [op.output for op in layers]
        statistics = collect_statistics(module, weights, samples, tensors)
        parameters = {
            value: quantization_parameters(
                *calibrated_range(statistics[value], self.method, self.percentile)
            )
            for value in statistics
        }
        plan = [(op, parameters[view_root(op.input)], parameters[op.output]) for op in layers]
        quantizer = LayerQuantizer(weights)
        for layer, input_quantization, output_quantization in plan:
            quantizer.replace(layer, input_quantization, output_quantization)
        PatternRewriteWalker(
            GreedyRewritePatternApplier([SinkDequantize(), CancelRoundTrip()])
        ).rewrite_module(module)
