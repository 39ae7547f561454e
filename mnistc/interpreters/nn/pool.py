"""Reference semantics of the `pool` family, with PyTorch's window rules."""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl

from mnistc.dialects import nn
from mnistc.interpreters.nn.common import as_f32, pad, patches


def _window_starts(size_out: int, stride: int) -> np.ndarray:
    return np.arange(size_out) * stride


def _ceil_extra(size, kernel, stride, pad, dilation, out):
    return max(0, (out - 1) * stride + dilation * (kernel - 1) + 1 - (size + 2 * pad))


def max_pool2d(x, kernel, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False):
    n, c, h, w = x.shape
    oh, ow = nn.pool2d_output_shape(x.shape, kernel, stride, padding, dilation, ceil_mode)[2:]
    extra = (
        _ceil_extra(h, kernel[0], stride[0], padding[0], dilation[0], oh),
        _ceil_extra(w, kernel[1], stride[1], padding[1], dilation[1], ow),
    )
    padded = pad(x.astype(np.float64), padding, extra, -np.inf)
    out = np.full((n, c, oh, ow), -np.inf)
    for _, _, patch in patches(padded, kernel, stride, dilation, (oh, ow)):
        out = np.maximum(out, patch)
    return out


def _avg_divisors(size, kernel, stride, pad, out, count_include_pad) -> np.ndarray:
    """PyTorch's per-output window sizes along one dimension."""
    start = _window_starts(out, stride) - pad
    end = np.minimum(start + kernel, size + pad)
    full = end - start
    clipped = np.minimum(end, size) - np.maximum(start, 0)
    return full if count_include_pad else clipped


def avg_pool2d(x, kernel, stride, padding=(0, 0), ceil_mode=False, count_include_pad=True, divisor=0):
    n, c, h, w = x.shape
    oh, ow = nn.pool2d_output_shape(x.shape, kernel, stride, padding, (1, 1), ceil_mode)[2:]
    extra = (
        _ceil_extra(h, kernel[0], stride[0], padding[0], 1, oh),
        _ceil_extra(w, kernel[1], stride[1], padding[1], 1, ow),
    )
    padded = pad(x.astype(np.float64), padding, extra)
    total = np.zeros((n, c, oh, ow))
    for _, _, patch in patches(padded, kernel, stride, (1, 1), (oh, ow)):
        total += patch
    if divisor:
        return total / divisor
    rows = _avg_divisors(h, kernel[0], stride[0], padding[0], oh, count_include_pad)
    cols = _avg_divisors(w, kernel[1], stride[1], padding[1], ow, count_include_pad)
    return total / (rows[:, None] * cols[None, :])


def adaptive_avg_pool2d(x, output_size):
    n, c, h, w = x.shape
    oh, ow = output_size
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        h0, h1 = (i * h) // oh, -(-((i + 1) * h) // oh)
        for j in range(ow):
            w0, w1 = (j * w) // ow, -(-((j + 1) * w) // ow)
            out[:, :, i, j] = x[:, :, h0:h1, w0:w1].astype(np.float64).mean(axis=(2, 3))
    return out


class PoolFunctions(InterpreterFunctions):
    """Max, average and adaptive average pooling."""

    @impl(nn.MaxPool2DOp)
    def run_max_pool2d(self, interpreter: Interpreter, op: nn.MaxPool2DOp, args: tuple[Any, ...]):
        """float32 or int8: every window holds an input element, so the maximum is one."""
        out = max_pool2d(
            args[0], op.kernel.get_values(), op.stride.get_values(), op.padding.get_values(),
            op.dilation.get_values(), bool(op.ceil_mode.value.data),
        )  # fmt: skip
        return (out.astype(args[0].dtype),)

    @impl(nn.AvgPool2DOp)
    def run_avg_pool2d(self, interpreter: Interpreter, op: nn.AvgPool2DOp, args: tuple[Any, ...]):
        return as_f32(
            avg_pool2d(
                args[0], op.kernel.get_values(), op.stride.get_values(), op.padding.get_values(),
                bool(op.ceil_mode.value.data), bool(op.count_include_pad.value.data),
                op.divisor.value.data,
            )  # fmt: skip
        )

    @impl(nn.AdaptiveAvgPool2DOp)
    def run_adaptive_avg_pool2d(self, interpreter, op: nn.AdaptiveAvgPool2DOp, args):
        return as_f32(adaptive_avg_pool2d(args[0], nn.shape_of(op.output)[2:]))
