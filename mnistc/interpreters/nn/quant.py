"""Reference semantics of the `quant` family: the integer arithmetic that the int8
kernels match bit for bit (see `dialects/nn/quant.py`).

The accumulation reuses the float32 families' reference convolution and product: they
compute in float64, where every sum of int8 x int8 products is exact (far below 2^53),
so the integer result is recovered exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl

from mnistc.dialects import nn
from mnistc.interpreters.nn.conv import conv2d
from mnistc.interpreters.nn.linear import linear


def quantize(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """clamp(rint(x / scale) + zero_point, -128, 127) in float32; NaN -> zero_point."""
    q = np.rint(np.asarray(x, dtype=np.float32) / np.float32(scale))
    q = np.where(np.isnan(q), np.float32(0), q)
    return np.clip(q + np.float32(zero_point), nn.INT8_MIN, nn.INT8_MAX).astype(np.int8)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """float32(q - zero_point) * scale."""
    centred = np.asarray(q, dtype=np.int32) - np.int32(zero_point)
    return centred.astype(np.float32) * np.float32(scale)


def wrap_int32(exact: np.ndarray) -> np.ndarray:
    """An exact integer-valued result (float64 or int64) as the int32 accumulator holds it
    (wrapping around, as the kernels' accumulators do; real layers stay far inside)."""
    return np.rint(exact).astype(np.int64).astype(np.int32)


def requantize(
    acc: np.ndarray, multipliers: np.ndarray, zero_point: int, bounds: tuple[int, int], axis: int
) -> np.ndarray:
    """clamp(rint(float32(acc) * multiplier[c]) + zero_point, lo, hi), in float32, with
    the channel c along `axis`."""
    shape = [1] * acc.ndim
    shape[axis] = -1
    scaled = acc.astype(np.float32) * multipliers.astype(np.float32).reshape(shape)
    low, high = bounds
    return np.clip(np.rint(scaled) + np.float32(zero_point), low, high).astype(np.int8)


def qconv2d_accumulator(
    x, weight, bias, input_zero_point, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1
) -> np.ndarray:
    """int32 sum((x - input_zero_point) * w) + bias; the padding is a real zero."""
    centred = np.asarray(x, dtype=np.float64) - input_zero_point
    acc = conv2d(centred, weight, None, stride, padding, dilation, groups)
    if bias is not None:
        acc = acc + np.asarray(bias, dtype=np.float64)[None, :, None, None]
    return wrap_int32(acc)


def qlinear_accumulator(x, weight, bias, input_zero_point) -> np.ndarray:
    """int32 sum((x - input_zero_point) * w) + bias."""
    acc = linear(np.asarray(x, dtype=np.float64) - input_zero_point, weight)
    if bias is not None:
        acc = acc + np.asarray(bias, dtype=np.float64)
    return wrap_int32(acc)


def _layer_output(op: nn.QuantizedLayerOp, acc: np.ndarray, weight_scale: np.ndarray):
    return requantize(
        acc, op.multipliers(weight_scale), op.output_zero_point.value.data, op.bounds(), axis=1
    )


class QuantFunctions(InterpreterFunctions):
    """nn.quantize, nn.dequantize, nn.qconv2d, nn.qlinear."""

    @impl(nn.QuantizeOp)
    def run_quantize(self, interpreter: Interpreter, op: nn.QuantizeOp, args: tuple[Any, ...]):
        return (quantize(args[0], op.scale.value.data, op.zero_point.value.data),)

    @impl(nn.DequantizeOp)
    def run_dequantize(self, interpreter: Interpreter, op: nn.DequantizeOp, args: tuple[Any, ...]):
        return (dequantize(args[0], op.scale.value.data, op.zero_point.value.data),)

    @impl(nn.QConv2DOp)
    def run_qconv2d(self, interpreter: Interpreter, op: nn.QConv2DOp, args: tuple[Any, ...]):
        x, weight, weight_scale, *bias = args
        acc = qconv2d_accumulator(
            x, weight, bias[0] if bias else None, op.input_zero_point.value.data,
            op.stride.get_values(), op.padding.get_values(), op.dilation.get_values(),
            op.groups.value.data,
        )  # fmt: skip
        return (_layer_output(op, acc, weight_scale),)

    @impl(nn.QLinearOp)
    def run_qlinear(self, interpreter: Interpreter, op: nn.QLinearOp, args: tuple[Any, ...]):
        x, weight, weight_scale, *bias = args
        acc = qlinear_accumulator(x, weight, bias[0] if bias else None, op.input_zero_point.value.data)
        return (_layer_output(op, acc, weight_scale),)
