"""Reference semantics of the `nn` dialect in NumPy, through xDSL's interpreter.

Every op has a plain NumPy function (used by the constant-folding passes too) and an
`@impl` that runs it; `run_function` executes an `nn`-level module without g++. The
functions compute in float64 and round to float32 once, so they are a sharper
reference than the float32 kernels they check.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl, register_impls
from xdsl.ir import SSAValue

from mnistc import weights as weight_files
from mnistc.dialects import nn

# Plain NumPy reference functions.


def _window_starts(size_out: int, stride: int) -> np.ndarray:
    return np.arange(size_out) * stride


def _patches(x: np.ndarray, kernel, stride, dilation, out_hw):
    """Yield (i, j, view [n, c, OH, OW]) for each kernel offset of a padded input."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    for i in range(kh):
        for j in range(kw):
            yield i, j, x[:, :, i * dh : i * dh + sh * (oh - 1) + 1 : sh, j * dw : j * dw + sw * (ow - 1) + 1 : sw]


def _pad(x: np.ndarray, padding, extra=(0, 0), value: float = 0.0) -> np.ndarray:
    (ph, pw), (eh, ew) = padding, extra
    return np.pad(x, ((0, 0), (0, 0), (ph, ph + eh), (pw, pw + ew)), constant_values=value)


def conv2d(x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    x, weight = x.astype(np.float64), weight.astype(np.float64)
    n, c, h, w = x.shape
    k, cg, kh, kw = weight.shape
    oh = nn.window_output_size(h, kh, stride[0], padding[0], dilation[0])
    ow = nn.window_output_size(w, kw, stride[1], padding[1], dilation[1])
    padded = _pad(x, padding)
    kg = k // groups
    out = np.zeros((n, k, oh, ow))
    for g in range(groups):
        xs = padded[:, g * cg : (g + 1) * cg]
        ws = weight[g * kg : (g + 1) * kg]
        for i, j, patch in _patches(xs, (kh, kw), stride, dilation, (oh, ow)):
            out[:, g * kg : (g + 1) * kg] += np.einsum("nchw,kc->nkhw", patch, ws[:, :, i, j])
    if bias is not None:
        out += bias.astype(np.float64)[None, :, None, None]
    return out


def linear(x, weight, bias=None):
    out = x.astype(np.float64) @ weight.astype(np.float64).T
    return out if bias is None else out + bias


def _ceil_extra(size, kernel, stride, pad, dilation, out):
    return max(0, (out - 1) * stride + dilation * (kernel - 1) + 1 - (size + 2 * pad))


def max_pool2d(x, kernel, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False):
    n, c, h, w = x.shape
    oh, ow = nn.pool2d_output_shape(x.shape, kernel, stride, padding, dilation, ceil_mode)[2:]
    extra = (
        _ceil_extra(h, kernel[0], stride[0], padding[0], dilation[0], oh),
        _ceil_extra(w, kernel[1], stride[1], padding[1], dilation[1], ow),
    )
    padded = _pad(x.astype(np.float64), padding, extra, -np.inf)
    out = np.full((n, c, oh, ow), -np.inf)
    for _, _, patch in _patches(padded, kernel, stride, dilation, (oh, ow)):
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
    padded = _pad(x.astype(np.float64), padding, extra)
    total = np.zeros((n, c, oh, ow))
    for _, _, patch in _patches(padded, kernel, stride, (1, 1), (oh, ow)):
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


_erf = np.frompyfunc(math.erf, 1, 1)


def activation(x, kind: str, params: Sequence[float] = ()):
    x = x.astype(np.float64)
    if kind == "relu":
        return np.maximum(x, 0)
    if kind == "hardtanh":
        return np.clip(x, params[0], params[1])
    if kind == "leaky_relu":
        return np.where(x >= 0, x, params[0] * x)
    if kind == "elu":
        return np.where(x > 0, x, params[0] * np.expm1(np.minimum(x, 0)))
    if kind == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if kind == "tanh":
        return np.tanh(x)
    if kind == "hardswish":
        return x * np.clip(x + 3, 0, 6) / 6
    if kind == "gelu":
        return 0.5 * x * (1 + _erf(x / math.sqrt(2)).astype(np.float64))
    if kind == "gelu_tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    raise ValueError(f"unknown activation {kind}")


def batch_norm(x, mean, var, gamma, beta, eps):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    return (x - mean.reshape(shape)) * scale.reshape(shape) + beta.reshape(shape)


def softmax(x, dim, log=False):
    x = x.astype(np.float64)
    shifted = x - x.max(axis=dim, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
    return shifted - log_sum if log else np.exp(shifted - log_sum)


# The interpreter: one @impl per op.


def _f32(value: np.ndarray) -> tuple[np.ndarray]:
    return (np.asarray(value, dtype=np.float32),)


def _fused(op: nn.FusedActivationOp, value: np.ndarray) -> np.ndarray:
    fused = op.fused_activation()
    return value if fused is None else activation(value, fused.kind, fused.params)


@register_impls
class NNFunctions(InterpreterFunctions):
    """Runs `nn` ops on NumPy arrays; weights come from the given weight file."""

    def __init__(self, weights: weight_files.WeightFile):
        super().__init__()
        self.weights = weights

    @impl(nn.WeightOp)
    def run_weight(self, interpreter: Interpreter, op: nn.WeightOp, args: tuple[Any, ...]):
        return (self.weights.read(op.offset.value.data, nn.shape_of(op.result)),)

    @impl(nn.SplatOp)
    def run_splat(self, interpreter: Interpreter, op: nn.SplatOp, args: tuple[Any, ...]):
        return (np.full(nn.shape_of(op.result), op.value.value.data, dtype=np.float32),)

    @impl(nn.Conv2DOp)
    def run_conv2d(self, interpreter: Interpreter, op: nn.Conv2DOp, args: tuple[Any, ...]):
        x, weight, *rest = args
        bias = rest.pop(0) if op.bias is not None else None
        out = conv2d(
            x, weight, bias, op.stride.get_values(), op.padding.get_values(),
            op.dilation.get_values(), op.groups.value.data,
        )  # fmt: skip
        if op.residual is not None:
            out = out + rest[0]
        return _f32(_fused(op, out))

    @impl(nn.LinearOp)
    def run_linear(self, interpreter: Interpreter, op: nn.LinearOp, args: tuple[Any, ...]):
        return _f32(_fused(op, linear(*args)))

    @impl(nn.MaxPool2DOp)
    def run_max_pool2d(self, interpreter: Interpreter, op: nn.MaxPool2DOp, args: tuple[Any, ...]):
        return _f32(
            max_pool2d(
                args[0], op.kernel.get_values(), op.stride.get_values(), op.padding.get_values(),
                op.dilation.get_values(), bool(op.ceil_mode.value.data),
            )  # fmt: skip
        )

    @impl(nn.AvgPool2DOp)
    def run_avg_pool2d(self, interpreter: Interpreter, op: nn.AvgPool2DOp, args: tuple[Any, ...]):
        return _f32(
            avg_pool2d(
                args[0], op.kernel.get_values(), op.stride.get_values(), op.padding.get_values(),
                bool(op.ceil_mode.value.data), bool(op.count_include_pad.value.data),
                op.divisor.value.data,
            )  # fmt: skip
        )

    @impl(nn.AdaptiveAvgPool2DOp)
    def run_adaptive_avg_pool2d(self, interpreter, op: nn.AdaptiveAvgPool2DOp, args):
        return _f32(adaptive_avg_pool2d(args[0], nn.shape_of(op.output)[2:]))

    def _activation(self, op: nn.ActivationOp, args: tuple[Any, ...]):
        spec = op.activation()
        return _f32(activation(args[0], spec.kind, spec.params))

    @impl(nn.ReluOp)
    def run_relu(self, interpreter: Interpreter, op: nn.ReluOp, args: tuple[Any, ...]):
        return self._activation(op, args)

    @impl(nn.SigmoidOp)
    def run_sigmoid(self, interpreter: Interpreter, op: nn.SigmoidOp, args: tuple[Any, ...]):
        return self._activation(op, args)

    @impl(nn.TanhOp)
    def run_tanh(self, interpreter: Interpreter, op: nn.TanhOp, args: tuple[Any, ...]):
        return self._activation(op, args)

    @impl(nn.HardswishOp)
    def run_hardswish(self, interpreter: Interpreter, op: nn.HardswishOp, args: tuple[Any, ...]):
        return self._activation(op, args)

    @impl(nn.HardtanhOp)
    def run_hardtanh(self, interpreter: Interpreter, op: nn.HardtanhOp, args: tuple[Any, ...]):
        return self._activation(op, args)

    @impl(nn.LeakyReluOp)
    def run_leaky_relu(self, interpreter: Interpreter, op: nn.LeakyReluOp, args: tuple[Any, ...]):
        return self._activation(op, args)

    @impl(nn.EluOp)
    def run_elu(self, interpreter: Interpreter, op: nn.EluOp, args: tuple[Any, ...]):
        return self._activation(op, args)

    @impl(nn.GeluOp)
    def run_gelu(self, interpreter: Interpreter, op: nn.GeluOp, args: tuple[Any, ...]):
        return self._activation(op, args)

    @impl(nn.BatchNormOp)
    def run_batch_norm(self, interpreter: Interpreter, op: nn.BatchNormOp, args: tuple[Any, ...]):
        return _f32(batch_norm(*args, op.eps.value.data))

    @impl(nn.AddOp)
    def run_add(self, interpreter: Interpreter, op: nn.AddOp, args: tuple[Any, ...]):
        return _f32(args[0].astype(np.float64) + args[1])

    @impl(nn.MulOp)
    def run_mul(self, interpreter: Interpreter, op: nn.MulOp, args: tuple[Any, ...]):
        return _f32(args[0].astype(np.float64) * args[1])

    @impl(nn.PReluOp)
    def run_prelu(self, interpreter: Interpreter, op: nn.PReluOp, args: tuple[Any, ...]):
        x = args[0].astype(np.float64)
        return _f32(np.where(x >= 0, x, x * args[1]))

    @impl(nn.Pad2DOp)
    def run_pad2d(self, interpreter: Interpreter, op: nn.Pad2DOp, args: tuple[Any, ...]):
        top, left, bottom, right = op.pads.get_values()
        widths = [(0, 0)] * (args[0].ndim - 2) + [(top, bottom), (left, right)]
        return _f32(np.pad(args[0], widths, constant_values=op.value.value.data))

    @impl(nn.LRNOp)
    def run_lrn(self, interpreter: Interpreter, op: nn.LRNOp, args: tuple[Any, ...]):
        x = args[0].astype(np.float64)
        size = op.size.value.data
        before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
        squares = np.pad(x * x, ((0, 0), (before, after), (0, 0), (0, 0)))
        window = sum(squares[:, i : i + x.shape[1]] for i in range(size))
        scale = op.bias.value.data + op.alpha.value.data / size * window
        return _f32(x / scale ** op.beta.value.data)

    @impl(nn.ConcatOp)
    def run_concat(self, interpreter: Interpreter, op: nn.ConcatOp, args: tuple[Any, ...]):
        return _f32(np.concatenate(args, axis=op.dim.value.data))

    @impl(nn.ReshapeOp)
    def run_reshape(self, interpreter: Interpreter, op: nn.ReshapeOp, args: tuple[Any, ...]):
        return (args[0].reshape(nn.shape_of(op.output)),)

    @impl(nn.DropoutOp)
    def run_dropout(self, interpreter: Interpreter, op: nn.DropoutOp, args: tuple[Any, ...]):
        return (args[0],)

    @impl(nn.SoftmaxOp)
    def run_softmax(self, interpreter: Interpreter, op: nn.SoftmaxOp, args: tuple[Any, ...]):
        return _f32(softmax(args[0], op.dim.value.data))

    @impl(nn.LogSoftmaxOp)
    def run_log_softmax(self, interpreter: Interpreter, op: nn.LogSoftmaxOp, args: tuple[Any, ...]):
        return _f32(softmax(args[0], op.dim.value.data, log=True))


def run_function(
    module: ModuleOp, sample: np.ndarray, weights: weight_files.WeightFile | None = None,
    entry: str = "forward",
) -> np.ndarray:  # fmt: skip
    """Run an `nn`-level function on one sample ([1, C, H, W]); return its result."""
    from xdsl.interpreters.func import FuncFunctions  # the package imports every dialect's

    interpreter = Interpreter(module)
    interpreter.register_implementations(FuncFunctions())
    interpreter.register_implementations(NNFunctions(weights or weight_files.load(module)))
    (result,) = interpreter.call_op(entry, (np.asarray(sample, dtype=np.float32),))
    return result


def evaluate(
    module: ModuleOp, sample: np.ndarray, weights: weight_files.WeightFile, entry: str = "forward"
) -> dict[SSAValue, np.ndarray]:
    """Every value of the entry function on one sample: for finding where results diverge."""
    interpreter = Interpreter(module)
    interpreter.register_implementations(NNFunctions(weights))
    function = next(
        op for op in module.ops if isinstance(op, func.FuncOp) and op.sym_name.data == entry
    )
    values: dict[SSAValue, np.ndarray] = {function.body.block.args[0]: sample.astype(np.float32)}
    for op in function.body.block.ops:
        if isinstance(op, func.ReturnOp):
            break
        results = interpreter.run_op(op, tuple(values[v] for v in op.operands))
        values.update(zip(op.results, results))
    return values


def run_batch(
    module: ModuleOp, inputs: np.ndarray, weights: weight_files.WeightFile | None = None
) -> np.ndarray:
    """Run the per-sample function over a batch, as the compiled executable does."""
    weights = weights or weight_files.load(module)
    return np.concatenate([run_function(module, sample[None], weights) for sample in inputs])
