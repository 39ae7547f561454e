"""The `quant` family: int8 tensors with affine quantization.

A real value x is represented by an int8 q with a per-tensor `scale` (float32) and
`zero_point` (int8 range): x = (q - zero_point) * scale. Weights are symmetric (zero
point 0) with one scale per output channel, carried as a float32 `[OC]` operand from the
weight file; biases are int32 in units of input_scale * weight_scale[c].

- `quantize` (f32 -> i8) and `dequantize` (i8 -> f32) are the boundaries between the
  float32 and int8 parts of a network;
- `qconv2d` and `qlinear` are conv2d and linear on int8 with an int32 accumulator and a
  requantization to the output's scale and zero point.

Max pooling and the views (reshape, transpose, slice, expand) take int8 too: they only
move or compare elements, which quantization preserves. Everything else runs on float32
behind explicit `dequantize`/`quantize`.

Requantization (the reference semantics of `mnistc/interpreters/nn/quant.py`; kernels
match it bit for bit): acc = sum((x - input_zero_point) * w) + bias in int32;
multiplier[c] = float32(input_scale * weight_scale[c]) / output_scale, in float32,
computed once (`requantization_multipliers`); y = clamp(rint(float32(acc) *
multiplier[c]) + output_zero_point, lo, hi), float32 arithmetic, rounding half to even,
where [lo, hi] is [-128, 127] narrowed by the fused activation (`QuantizedLayerOp.bounds`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from xdsl.dialects.builtin import (
    I64,
    DenseArrayBase,
    Float32Type,
    FloatAttr,
    IntegerAttr,
    f32,
    i8,
    i64,
)
from xdsl.ir import SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from mnistc.dialects.nn.activation import Activation, FusedActivationOp, activation_properties
from mnistc.dialects.nn.base import (
    OneSample,
    FloatTensor,
    Int8Tensor,
    Int32Tensor,
    pair,
    tensor,
    verify_result_shape,
)
from mnistc.dialects.nn.conv import conv2d_output_shape, verify_conv2d_operands
from mnistc.dialects.nn.linear import verify_linear_operands
from mnistc.dialects.shapes import shape_of

INT8_MIN, INT8_MAX = -128, 127
"""The range of a quantized value (and of a zero point)."""

QUANTIZED_ACTIVATIONS = ("relu", "hardtanh")
"""Activations a quantized layer fuses: both are a clamp of the int8 result (relu6 is
hardtanh(0, 6)). Any other activation runs in float32 after a dequantize."""


def scale_attr(scale: float) -> FloatAttr:
    """A scale as the float32 it is computed with (the property prints it exactly)."""
    return FloatAttr(float(np.float32(scale)), f32)


def zero_point_attr(zero_point: int) -> IntegerAttr:
    return IntegerAttr(int(zero_point), i64)


def verify_quantization(what: str, scale: FloatAttr, zero_point: IntegerAttr) -> None:
    """A scale must be a positive finite float32 and a zero point an int8 value."""
    value = scale.value.data
    if not (math.isfinite(value) and value > 0):
        raise VerifyException(f"{what} scale must be positive and finite, got {value}")
    if not INT8_MIN <= zero_point.value.data <= INT8_MAX:
        raise VerifyException(
            f"{what} zero point {zero_point.value.data} outside [{INT8_MIN}, {INT8_MAX}]"
        )


def quantize_scalar(x: float, scale: float, zero_point: int) -> int:
    """One value as `nn.quantize` computes it (float32 division, half to even, clamp)."""
    q = np.rint(np.float32(x) / np.float32(scale)) + zero_point
    return int(np.clip(q, INT8_MIN, INT8_MAX))


def requantization_multipliers(
    input_scale: float, weight_scale: np.ndarray, output_scale: float
) -> np.ndarray:
    """multiplier[c] = float32(input_scale * weight_scale[c]) / output_scale, each step in
    float32: the one definition that the interpreter and the kernels' packing share."""
    product = np.float32(input_scale) * np.asarray(weight_scale, dtype=np.float32)
    return (product / np.float32(output_scale)).astype(np.float32)


@irdl_op_definition
class QuantizeOp(IRDLOperation):
    """float32 -> int8: q = clamp(rint(x / scale) + zero_point, -128, 127), the division
    in float32 and the rounding half to even. NaN becomes the zero point (as ONNX
    Runtime), +-inf saturate."""

    name = "nn.quantize"

    input = operand_def(FloatTensor)
    output = result_def(Int8Tensor)
    scale = prop_def(FloatAttr[Float32Type])
    zero_point = prop_def(IntegerAttr[I64])

    traits = traits_def(Pure())
    assembly_format = (
        "$input `scale` $scale `zero_point` $zero_point attr-dict "
        "`:` type($input) `->` type($output)"
    )

    def __init__(self, input: SSAValue, scale: float, zero_point: int):
        super().__init__(
            operands=[input],
            result_types=[tensor(shape_of(input), i8)],
            properties={"scale": scale_attr(scale), "zero_point": zero_point_attr(zero_point)},
        )

    def verify_(self) -> None:
        verify_quantization("quantize", self.scale, self.zero_point)
        verify_result_shape(self, shape_of(self.input))


@irdl_op_definition
class DequantizeOp(IRDLOperation):
    """int8 -> float32: x = float32(q - zero_point) * scale."""

    name = "nn.dequantize"

    input = operand_def(Int8Tensor)
    output = result_def(FloatTensor)
    scale = prop_def(FloatAttr[Float32Type])
    zero_point = prop_def(IntegerAttr[I64])

    traits = traits_def(Pure())
    assembly_format = (
        "$input `scale` $scale `zero_point` $zero_point attr-dict "
        "`:` type($input) `->` type($output)"
    )

    def __init__(self, input: SSAValue, scale: float, zero_point: int):
        super().__init__(
            operands=[input],
            result_types=[tensor(shape_of(input))],
            properties={"scale": scale_attr(scale), "zero_point": zero_point_attr(zero_point)},
        )

    def verify_(self) -> None:
        verify_quantization("dequantize", self.scale, self.zero_point)
        verify_result_shape(self, shape_of(self.input))


class QuantizedLayerOp(FusedActivationOp):
    """Base of qconv2d and qlinear: the input's and output's quantization and the fused
    clamp. Subclasses define `input`, `weight`, `weight_scale`, `bias`, `output`."""

    input_scale = prop_def(FloatAttr[Float32Type])
    input_zero_point = prop_def(IntegerAttr[I64])
    output_scale = prop_def(FloatAttr[Float32Type])
    output_zero_point = prop_def(IntegerAttr[I64])

    def bounds(self) -> tuple[int, int]:
        """[lo, hi] of the int8 result: the fused activation's clamp, quantized to the
        output's scale as `nn.quantize` would (relu: [output_zero_point, 127])."""
        zero_point = self.output_zero_point.value.data
        activation = self.fused_activation()
        if activation is None:
            return INT8_MIN, INT8_MAX
        if activation.kind == "relu":
            return zero_point, INT8_MAX
        scale = self.output_scale.value.data
        low, high = (quantize_scalar(p, scale, zero_point) for p in activation.params)
        return low, high

    def multipliers(self, weight_scale: np.ndarray) -> np.ndarray:
        """The per-channel requantization multipliers, given the weight scales."""
        return requantization_multipliers(
            self.input_scale.value.data, weight_scale, self.output_scale.value.data
        )

    def verify_quantized_layer(self) -> None:
        verify_quantization("input", self.input_scale, self.input_zero_point)
        verify_quantization("output", self.output_scale, self.output_zero_point)
        self.verify_activation()
        activation = self.fused_activation()
        if activation is not None and activation.kind not in QUANTIZED_ACTIVATIONS:
            raise VerifyException(
                f"a quantized layer fuses only {' or '.join(QUANTIZED_ACTIVATIONS)}, "
                f"got '{activation.kind}'"
            )
        channels = shape_of(self.weight)[0]
        if shape_of(self.weight_scale) != (channels,):
            raise VerifyException(
                f"weight_scale shape {list(shape_of(self.weight_scale))} must be [{channels}]"
            )


def layer_properties(
    input_quantization: tuple[float, int],
    output_quantization: tuple[float, int],
    activation: Activation | None,
) -> dict:
    (input_scale, input_zero_point), (output_scale, output_zero_point) = (
        input_quantization,
        output_quantization,
    )
    return {
        "input_scale": scale_attr(input_scale),
        "input_zero_point": zero_point_attr(input_zero_point),
        "output_scale": scale_attr(output_scale),
        "output_zero_point": zero_point_attr(output_zero_point),
        **activation_properties(activation),
    }


@irdl_op_definition
class QConv2DOp(QuantizedLayerOp):
    """conv2d on int8: NCHW input and KCHW weight (symmetric, one scale per output
    channel), optional int32 bias, result requantized to int8 (see the module's
    docstring). Padding reads as the input's zero point, i.e. a real zero."""

    name = "nn.qconv2d"

    input = operand_def(Int8Tensor)
    weight = operand_def(Int8Tensor)
    weight_scale = operand_def(FloatTensor)
    bias = opt_operand_def(Int32Tensor)
    output = result_def(Int8Tensor)

    stride = prop_def(DenseArrayBase.constr(i64))
    padding = prop_def(DenseArrayBase.constr(i64))
    dilation = prop_def(DenseArrayBase.constr(i64))
    groups = prop_def(IntegerAttr[I64])

    traits = traits_def(Pure(), OneSample())
    assembly_format = (
        "$input `,` $weight `scales` $weight_scale (`bias` $bias^)? "
        "`input_scale` $input_scale `input_zero_point` $input_zero_point "
        "`output_scale` $output_scale `output_zero_point` $output_zero_point "
        "`stride` $stride `padding` $padding `dilation` $dilation `groups` $groups "
        "(`activation` $activation^)? (`params` $activation_params^)? attr-dict "
        "`:` type($input) `,` type($weight) `,` type($weight_scale) (`,` type($bias)^)? "
        "`->` type($output)"
    )

    def __init__(
        self,
        input: SSAValue,
        weight: SSAValue,
        weight_scale: SSAValue,
        bias: SSAValue | None,
        input_quantization: tuple[float, int],
        output_quantization: tuple[float, int],
        stride: Sequence[int] = (1, 1),
        padding: Sequence[int] = (0, 0),
        dilation: Sequence[int] = (1, 1),
        groups: int = 1,
        activation: Activation | None = None,
    ):
        shape = conv2d_output_shape(shape_of(input), shape_of(weight), stride, padding, dilation)
        super().__init__(
            operands=[input, weight, weight_scale, bias],
            result_types=[tensor(shape, i8)],
            properties={
                "stride": pair(stride),
                "padding": pair(padding),
                "dilation": pair(dilation),
                "groups": IntegerAttr(groups, i64),
                **layer_properties(input_quantization, output_quantization, activation),
            },
        )

    def verify_(self) -> None:
        self.verify_quantized_layer()
        verify_result_shape(self, verify_conv2d_operands(self))


@irdl_op_definition
class QLinearOp(QuantizedLayerOp):
    """linear on int8: [N, IN] input, [OUT, IN] weight (symmetric, one scale per output
    feature), optional int32 bias, result requantized to int8 (see the module's
    docstring)."""

    name = "nn.qlinear"

    input = operand_def(Int8Tensor)
    weight = operand_def(Int8Tensor)
    weight_scale = operand_def(FloatTensor)
    bias = opt_operand_def(Int32Tensor)
    output = result_def(Int8Tensor)

    traits = traits_def(Pure())
    assembly_format = (
        "$input `,` $weight `scales` $weight_scale (`bias` $bias^)? "
        "`input_scale` $input_scale `input_zero_point` $input_zero_point "
        "`output_scale` $output_scale `output_zero_point` $output_zero_point "
        "(`activation` $activation^)? (`params` $activation_params^)? attr-dict "
        "`:` type($input) `,` type($weight) `,` type($weight_scale) (`,` type($bias)^)? "
        "`->` type($output)"
    )

    def __init__(
        self,
        input: SSAValue,
        weight: SSAValue,
        weight_scale: SSAValue,
        bias: SSAValue | None,
        input_quantization: tuple[float, int],
        output_quantization: tuple[float, int],
        activation: Activation | None = None,
    ):
        shape = (shape_of(input)[0], shape_of(weight)[0])
        super().__init__(
            operands=[input, weight, weight_scale, bias],
            result_types=[tensor(shape, i8)],
            properties=layer_properties(input_quantization, output_quantization, activation),
        )

    def verify_(self) -> None:
        self.verify_quantized_layer()
        verify_result_shape(self, verify_linear_operands(self))


OPS = (QuantizeOp, DequantizeOp, QConv2DOp, QLinearOp)
"""The family's ops, as the `NN` dialect lists them."""

__all__ = [
    "INT8_MAX",
    "INT8_MIN",
    "DequantizeOp",
    "QConv2DOp",
    "QLinearOp",
    "QUANTIZED_ACTIVATIONS",
    "QuantizeOp",
    "QuantizedLayerOp",
    "quantize_scalar",
    "requantization_multipliers",
]
