"""ONNX quantized models → the QDQ form that `fold-qdq` turns into int8 layers.

- QDQ models (`onnxruntime.quantization.quantize_static`'s default): QuantizeLinear and
  DequantizeLinear of a run-time tensor become `nn.quantize` and `nn.dequantize`; a
  DequantizeLinear of a constant is its float32 values, and where that constant is used
  as a weight (as it is, or transposed for a MatMul), a symmetric int8 weight becomes
  fold-qdq's `dequantized_weight` form (`Graph.quantized_weights`), bitwise the same
  values.
- QOperator models: QLinearConv, QLinearMatMul and ONNX Runtime's com.microsoft.QGemm are
  expanded to dequantize → Conv / linear → quantize; ConvInteger and MatMulInteger to
  the float32 convolution or linear of the integers (exact while the int32 sums stay
  below 2^24), which the Cast, Mul and Add after them turn into the model's output.

uint8 tensors are mapped to int8 exactly: q - 128 with the zero point shifted by 128.
A uint8 weight is an int8 weight when its zero point is 128; any other asymmetric
weight is imported as its float32 values, and its layer stays in float32. Refused, with
the op named: per-channel quantization of a run-time tensor, element types other than
int8 and uint8 (int16, int4, float8), blocked quantization, DynamicQuantizeLinear
(`quantize_dynamic`: scales computed at run time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.ir import SSAValue

from mnistc.dialects import nn
from mnistc.importers.onnx import conv
from mnistc.importers.onnx.graph import Graph, Unsupported
from mnistc.transforms.fold_qdq import dequantized_weight

UINT8_SHIFT = 128
"""uint8 q with zero point z is the int8 q - 128 with zero point z - 128."""

ONNX_UINT8, ONNX_INT8 = 2, 3
"""TensorProto element types of QuantizeLinear's `output_dtype`."""


def _optional(g: Graph, node, index: int, what: str) -> np.ndarray | None:
    if index >= len(node.input) or not node.input[index]:
        return None
    return g.constant(node.input[index], what)


def _int8_zero_points(zero_point: np.ndarray, what: str) -> np.ndarray:
    """Zero points on the int8 scale: int8 as they are, uint8 shifted by 128."""
    if zero_point.dtype == np.int8:
        return zero_point.astype(np.int64)
    if zero_point.dtype == np.uint8:
        return zero_point.astype(np.int64) - UINT8_SHIFT
    raise Unsupported(f"{what} of element type {zero_point.dtype} (int8 and uint8 are supported)")


def tensor_quantization(g: Graph, node, scale_index: int, zero_point_index: int, default_dtype=None):
    """(scale, int8 zero point) of a run-time tensor, which must be quantized per tensor."""
    scale = g.constant(node.input[scale_index], "the scale")
    zero_point = _optional(g, node, zero_point_index, "the zero point")
    if zero_point is None:
        if default_dtype is None:
            raise Unsupported("a run-time tensor without a zero point: its element type is unknown")
        zero_point = np.zeros((), default_dtype)
    if scale.size != 1 or zero_point.size != 1:
        raise Unsupported("per-channel quantization of a run-time tensor (activations are per tensor)")
    shifted = _int8_zero_points(zero_point, "quantization")
    return float(np.float32(scale.reshape(()))), int(shifted.reshape(()))


def _refuse_blocked(attrs) -> None:
    if attrs.get("block_size", 0):
        raise Unsupported("blocked quantization (block_size)")


def convert_quantize_linear(g: Graph, node, attrs) -> tuple:
    """QuantizeLinear of a run-time tensor: uint8 unless its zero point or `output_dtype`
    says otherwise."""
    _refuse_blocked(attrs)
    dtypes = {ONNX_UINT8: np.uint8, ONNX_INT8: np.int8}
    output_dtype = attrs.get("output_dtype", ONNX_UINT8)
    if output_dtype not in dtypes:
        raise Unsupported(f"output element type {output_dtype} (int8 and uint8 are supported)")
    scale, zero_point = tensor_quantization(g, node, 1, 2, dtypes[output_dtype])
    return g.insert(nn.QuantizeOp(g.tensor(node.input[0]), scale, zero_point))


def convert_dequantize_linear(g: Graph, node, attrs) -> tuple:
    """DequantizeLinear: of a run-time int8 tensor, `nn.dequantize`; of a constant, its
    float32 values (a weight, or an int32 bias)."""
    _refuse_blocked(attrs)
    value = g.values[node.input[0]]
    if isinstance(value, SSAValue):
        return g.insert(nn.DequantizeOp(value, *tensor_quantization(g, node, 1, 2)))
    scale = g.constant(node.input[1], "the scale")
    zero_point = _optional(g, node, 2, "the zero point")
    values = np.asarray(value)
    axis = attrs.get("axis", 1)
    return (dequantized_constant(g, node.output[0], values, scale, zero_point, axis, node.input[0]),)


def dequantized_constant(
    g: Graph, name: str, values, scale, zero_point, axis: int = 0, key: str = ""
) -> np.ndarray:
    """(values - zero_point) * scale in float32 as ONNX Runtime computes it, per tensor or
    along `axis`, stored under `name`. A symmetric int8 weight (or uint8 with zero point
    128) is registered there too, so that `Graph.weight` builds it as int8 (its weight
    file key: `key`, else `name`)."""
    if values.dtype not in (np.int8, np.uint8, np.int32):
        raise Unsupported(f"a constant of element type {values.dtype}")
    if zero_point is None:
        zero_point = np.zeros(np.shape(scale), values.dtype)
    if zero_point.dtype != values.dtype or np.size(zero_point) != np.size(scale) or np.ndim(scale) > 1:
        raise Unsupported("a scale and zero point of different sizes or element types")
    axis = axis % max(values.ndim, 1)
    along = (1,) * values.ndim if np.size(scale) == 1 else tuple(
        values.shape[axis] if d == axis else 1 for d in range(values.ndim)
    )  # fmt: skip
    if int(np.prod(along)) != np.size(scale):
        raise Unsupported(f"{np.size(scale)} scales for {values.shape[axis]} channels")
    scale, zero_point = np.reshape(scale, along).astype(np.float32), np.reshape(zero_point, along)
    integers = values.astype(np.int64) - zero_point.astype(np.int64)
    dequantized = (integers.astype(np.float32) * scale).astype(np.float32)
    g.values[name] = dequantized
    symmetric_int8 = (values.dtype == np.int8 and not zero_point.any()) or (
        values.dtype == np.uint8 and np.all(zero_point == UINT8_SHIFT)
    )
    if symmetric_int8 and values.ndim >= 2:
        scales_axis = None if np.size(scale) == 1 else axis
        g.quantized_weights[name] = QuantizedConstant(
            key or name, integers.astype(np.int8), scale.reshape(-1), scales_axis, dequantized
        )
    return dequantized


@dataclass
class QuantizedConstant:
    """A symmetric int8 constant and its float32 values: a converter that uses those values
    as an [OC, ...] weight, as they are or transposed (MatMul's [K, M] per column), gets
    fold-qdq's int8 weight form instead (`Graph.weight`)."""

    key: str
    integers: np.ndarray
    scales: np.ndarray
    axis: int | None
    """The axis of the scales; None: one scale."""
    dequantized: np.ndarray

    def as_weight(self, g: Graph, value) -> SSAValue | None:
        """The int8 form of `value`, if it is these values, as they are or transposed, with
        one scale or one per row of `value`."""
        forms = [(self.integers, 0, self.dequantized)]
        if self.integers.ndim == 2:
            forms.append((self.integers.T, 1, self.dequantized.T))
        for integers, axis, values in forms:
            same = np.shape(value) == values.shape and np.array_equal(value, values)
            if same and self.axis in (None, axis):
                return dequantized_weight(g.builder, g.weights, self.key, integers, self.scales)
        return None


# QOperator


def _expanded_node(node, op_type: str, inputs: list[str]):
    """A float node standing for a QOperator node, with its attributes, on `inputs`."""
    import onnx

    expanded = onnx.NodeProto()
    expanded.CopyFrom(node)
    expanded.op_type, expanded.domain = op_type, ""
    del expanded.input[:]
    expanded.input.extend(inputs)
    return expanded


def _bias(g: Graph, node, index: int, input_scale: float, weight: str) -> str:
    """The name of an int32 bias's float32 values (units: input_scale * weight_scale), or ''."""
    bias = _optional(g, node, index, "the bias")
    if bias is None:
        return ""
    scales = g.constant(weight + ":scale", "the weight scale")
    name = f"{node.input[index]}:dequantized"
    dequantized_constant(g, name, bias.astype(np.int32), np.float32(input_scale) * scales.reshape(-1), None)
    return name


def _dequantized_input(g: Graph, node, index: int) -> str:
    """`nn.dequantize` of a QOperator node's run-time input, stored under a new name."""
    name = f"{node.input[index]}:dequantized"
    value = g.values[node.input[index]]
    if not isinstance(value, SSAValue):
        raise Unsupported("a constant quantized input")
    (g.values[name],) = g.insert(nn.DequantizeOp(value, *tensor_quantization(g, node, index + 1, index + 2)))
    return name


def _weight(g: Graph, node, index: int, transpose: bool = False) -> str:
    """The dequantized weight of a QOperator node (inputs index, +1 scale, +2 zero
    point), as [OC, ...] (a MatMul's [K, M] transposed), stored under a new name with
    its scales under name:scale."""
    values = g.constant(node.input[index], "the weight")
    scale = np.asarray(g.constant(node.input[index + 1], "the weight scale"), np.float32)
    zero_point = _optional(g, node, index + 2, "the weight zero point")
    if transpose:
        if values.ndim != 2:
            raise Unsupported("a weight that is not a matrix")
        values = values.T
    name = f"{node.input[index]}:dequantized"
    dequantized_constant(g, name, values, scale, zero_point, 0, node.input[index])
    g.values[name + ":scale"] = np.broadcast_to(scale.reshape(-1), (values.shape[0],)).astype(np.float32)
    return name


def _requantized(g: Graph, node, result: SSAValue, scale_index: int) -> tuple:
    if scale_index >= len(node.input) or not node.input[scale_index]:
        return (result,)  # a float output (QGemm without y_scale)
    return g.insert(nn.QuantizeOp(result, *tensor_quantization(g, node, scale_index, scale_index + 1)))


def _linear(g: Graph, x: str, weight: str, bias: str) -> SSAValue:
    input = g.tensor(x)
    if len(nn.shape_of(input)) != 2:
        raise Unsupported("a matrix product on a [N, K] input only")
    bias_value = g.weight(bias, g.values[bias]) if bias else None
    (result,) = g.insert(nn.LinearOp(input, g.weight(weight, g.values[weight]), bias_value))
    return result


def convert_qlinear_conv(g: Graph, node, attrs) -> tuple:
    """QLinearConv(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale,
    y_zero_point, B)."""
    x = _dequantized_input(g, node, 0)
    weight = _weight(g, node, 3)
    bias = _bias(g, node, 8, g.constant(node.input[1], "the scale"), weight)
    (result,) = conv.CONVERTERS["Conv"](g, _expanded_node(node, "Conv", [x, weight, bias]), attrs)
    return _requantized(g, node, result, 6)


def convert_qlinear_matmul(g: Graph, node, attrs) -> tuple:
    """QLinearMatMul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale,
    y_zero_point) with a constant b [K, M]."""
    x = _dequantized_input(g, node, 0)
    return _requantized(g, node, _linear(g, x, _weight(g, node, 3, transpose=True), ""), 6)


def convert_qgemm(g: Graph, node, attrs) -> tuple:
    """com.microsoft.QGemm(A, a_scale, a_zero_point, B, b_scale, b_zero_point, C,
    y_scale, y_zero_point): what quantize_static writes for Gemm in QOperator format."""
    if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0:
        raise Unsupported("QGemm with transA or alpha other than 1")
    x = _dequantized_input(g, node, 0)
    weight = _weight(g, node, 3, transpose=not attrs.get("transB", 0))
    bias = _bias(g, node, 6, g.constant(node.input[1], "the scale"), weight)
    return _requantized(g, node, _linear(g, x, weight, bias), 7)


def _integers(g: Graph, node, index: int) -> str:
    """An integer input of ConvInteger / MatMulInteger minus its zero point (input
    index + 2), as float32 integers (scale 1), stored under a new name."""
    name = f"{node.input[index]}:integers"
    value = g.values[node.input[index]]
    if not isinstance(value, SSAValue):
        raise Unsupported("a constant quantized input")
    zero_point = _optional(g, node, index + 2, "the zero point")
    zero_point = np.zeros((), np.uint8) if zero_point is None else zero_point
    if zero_point.size != 1:
        raise Unsupported("per-channel quantization of a run-time tensor (activations are per tensor)")
    shifted = int(_int8_zero_points(zero_point, "input").reshape(()))
    (g.values[name],) = g.insert(nn.DequantizeOp(value, 1.0, shifted))
    return name


def _integer_weight(g: Graph, node, transpose: bool) -> str:
    values = g.constant(node.input[1], "the weight")
    zero_point = _optional(g, node, 3, "the weight zero point")
    if transpose:
        values = values.T
    if zero_point is not None and zero_point.size > 1:
        zero_point = zero_point.reshape(-1)
    scale = np.ones(np.shape(zero_point) if zero_point is not None else (), np.float32)
    name = f"{node.input[1]}:integers"
    dequantized_constant(g, name, values, scale, zero_point, 0)
    return name


def convert_conv_integer(g: Graph, node, attrs) -> tuple:
    """ConvInteger(x, w, x_zero_point, w_zero_point): the int32 sums, as float32."""
    inputs = [_integers(g, node, 0), _integer_weight(g, node, transpose=False)]
    return conv.CONVERTERS["Conv"](g, _expanded_node(node, "Conv", inputs), attrs)


def convert_matmul_integer(g: Graph, node, attrs) -> tuple:
    """MatMulInteger(a, b, a_zero_point, b_zero_point) with a constant b: the int32 sums,
    as float32."""
    return (_linear(g, _integers(g, node, 0), _integer_weight(g, node, transpose=True), ""),)


CONVERTERS = {
    "QuantizeLinear": convert_quantize_linear,
    "DequantizeLinear": convert_dequantize_linear,
    "QLinearConv": convert_qlinear_conv,
    "QLinearMatMul": convert_qlinear_matmul,
    "com.microsoft.QGemm": convert_qgemm,
    "ConvInteger": convert_conv_integer,
    "MatMulInteger": convert_matmul_integer,
}

REFUSALS = {
    "DynamicQuantizeLinear": "scales computed at run time (onnxruntime.quantization."
    "quantize_dynamic); quantize statically (quantize_static)",
}
"""Why a quantization op that has no converter is refused."""

CONSTANT_CONVERTERS = {"DequantizeLinear"}
"""Converted even when every input is a constant: an int8 weight must reach its layer
as int8, not folded to float32."""
