"""TorchScript → `nn` dialect.

The module is frozen (parameters become constants, submodules are inlined), then its
graph is evaluated abstractly in one walk: tensors become `nn` SSA values with static
shapes, and everything else (ints, lists, `aten::size`, integer math) is computed in
Python, so shape arithmetic is folded at import time. Constant tensors go to the
weight file and are referenced by `nn.weight`.

Adding an aten op: write a `_convert_<name>` function and add it to `CONVERTERS`.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from xdsl.builder import Builder
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, OpResult, Region, SSAValue
from xdsl.rewriter import InsertPoint
from xdsl.utils.exceptions import VerifyException

from mnistc.dialects import nn
from mnistc.importers.common import (
    ENTRY,
    MALFORMED_MODEL_ERRORS,
    ImportedModel,
    ImportError_,
    check_storage,
    quiet_torch_logging,
)
from mnistc.weights import WeightFile, weight_op


@dataclass
class _Context:
    builder: Builder
    weights: WeightFile
    values: dict[torch._C.Value, Any]
    sample_shape: Sequence[int]
    problems: _Problems = field(default_factory=lambda: _Problems())
    origins: dict[SSAValue, tuple[str, str]] = field(default_factory=dict)

    def weight(self, key: str, tensor: torch.Tensor) -> SSAValue:
        """An `nn.weight` holding the tensor, appended to the weight file."""
        check_tensor(key, tensor)
        array = tensor.detach().to(torch.float32).contiguous().numpy()
        return self.builder.insert(weight_op(self.weights, key, array)).result

    def get(self, value: torch._C.Value) -> Any:
        return self.values[value]

    def tensor(self, value: torch._C.Value) -> SSAValue:
        """The IR value of a tensor input, turning constant tensors into weights."""
        v = self.values[value]
        if isinstance(v, torch.Tensor):
            v = self.weight(_weight_name(value), v)
            self.values[value] = v
        if not isinstance(v, SSAValue):
            raise _NodeError(f"expected a tensor, got {type(v).__name__} {v!r}")
        return v


class _NodeError(Exception):
    """A node's inputs are outside what the converter handles (message only)."""


class _RunTimeTensor(_NodeError):
    """A scalar op (add, mul, ...) applied to a tensor computed at run time."""


def check_tensor(name: str, tensor: torch.Tensor) -> None:
    """Refuse a constant that cannot be a float weight: an integer, boolean or complex
    element type (a model computing in float32 has none), or a view outside its storage."""
    if not tensor.is_floating_point():
        raise ImportError_(
            f"tensor '{name}' has element type {str(tensor.dtype).removeprefix('torch.')}, "
            "where a floating-point weight is expected"
        )
    check_storage(
        name, tensor.shape, tensor.stride(), tensor.storage_offset(), tensor.element_size(),
        tensor.untyped_storage().nbytes(),
    )


def _weight_name(value: torch._C.Value) -> str:
    name = value.debugName()
    return name.removeprefix("self.") if not name.isdigit() else f"const{name}"


# Converters: one per aten op; each returns the node's output values (a tuple).


def _shape(value: SSAValue) -> tuple[int, ...]:
    return nn.shape_of(value)


def _ints(values: Sequence[int] | int, n: int = 2) -> tuple[int, ...]:
    if isinstance(values, int):
        return (values,) * n
    values = tuple(values)
    return values * n if len(values) == 1 else values


def _convert_conv2d(ctx: _Context, args: list[Any], node) -> tuple:
    x, weight = ctx.tensor(node.inputsAt(0)), ctx.tensor(node.inputsAt(1))
    bias = None if args[2] is None else ctx.tensor(node.inputsAt(2))
    stride, padding, dilation, groups = args[3], args[4], args[5], args[6]
    if isinstance(padding, str):
        padding = _same_padding(padding, _shape(weight), _ints(dilation))
    op = nn.Conv2DOp(
        x, weight, bias, _ints(stride), _ints(padding), _ints(dilation), groups
    )
    return (ctx.builder.insert(op).output,)


def _same_padding(mode: str, weight_shape, dilation) -> tuple[int, int]:
    if mode == "valid":
        return (0, 0)
    total = [d * (k - 1) for d, k in zip(dilation, weight_shape[2:])]
    if any(t % 2 for t in total):
        raise _NodeError("padding='same' with an even kernel extent is not supported")
    return (total[0] // 2, total[1] // 2)


def _convert_convolution(ctx: _Context, args: list[Any], node) -> tuple:
    if args[6]:
        raise _NodeError("transposed convolution is not supported")
    if len(_shape(ctx.tensor(node.inputsAt(0)))) != 4:
        raise _NodeError("only 2-D convolution is supported")
    return _convert_conv2d(ctx, [*args[:6], args[8]], node)


def _insert(ctx: _Context, op) -> tuple:
    return (ctx.builder.insert(op).results[0],)


def _activation_converter(build: Callable[[SSAValue, list[Any]], Any]) -> Callable:
    def convert(ctx: _Context, args: list[Any], node) -> tuple:
        return _insert(ctx, build(ctx.tensor(node.inputsAt(0)), args))

    return convert


def _elu(x: SSAValue, args: list[Any]):
    if len(args) > 2 and (args[2] != 1 or args[3] != 1):
        raise _NodeError("elu with scale or input_scale other than 1 is not supported")
    return nn.EluOp(x, float(args[1]))


ACTIVATION_CONVERTERS = {
    "aten::elu": _activation_converter(_elu),
    "aten::gelu": _activation_converter(
        lambda x, a: nn.GeluOp(x, a[1] if len(a) > 1 and a[1] else "none")
    ),
    "aten::hardswish": _activation_converter(lambda x, a: nn.HardswishOp(x)),
    "aten::hardtanh": _activation_converter(lambda x, a: nn.HardtanhOp(x, float(a[1]), float(a[2]))),
    "aten::leaky_relu": _activation_converter(lambda x, a: nn.LeakyReluOp(x, float(a[1]))),
    "aten::relu": _activation_converter(lambda x, a: nn.ReluOp(x)),
    "aten::relu6": _activation_converter(lambda x, a: nn.HardtanhOp(x, 0.0, 6.0)),
    "aten::sigmoid": _activation_converter(lambda x, a: nn.SigmoidOp(x)),
    "aten::silu": _activation_converter(lambda x, a: nn.SiluOp(x)),
    "aten::tanh": _activation_converter(lambda x, a: nn.TanhOp(x)),
}


def _convert_batch_norm(ctx: _Context, args: list[Any], node) -> tuple:
    x = ctx.tensor(node.inputsAt(0))
    if args[5]:
        raise _NodeError("batch_norm in training mode; call model.eval() before saving")
    channels = _shape(x)[1]
    gamma = ctx.tensor(node.inputsAt(1)) if args[1] is not None else ctx.weight("ones", torch.ones(channels))
    beta = ctx.tensor(node.inputsAt(2)) if args[2] is not None else ctx.weight("zeros", torch.zeros(channels))
    mean, var = ctx.tensor(node.inputsAt(3)), ctx.tensor(node.inputsAt(4))
    return _insert(ctx, nn.BatchNormOp(x, mean, var, gamma, beta, float(args[7])))


def _convert_avg_pool2d(ctx: _Context, args: list[Any], node) -> tuple:
    x = ctx.tensor(node.inputsAt(0))
    kernel = _ints(args[1])
    stride = _ints(args[2]) if args[2] else kernel
    divisor = args[6] if len(args) > 6 and args[6] is not None else 0
    return _insert(
        ctx, nn.AvgPool2DOp(x, kernel, stride, _ints(args[3]), bool(args[4]), bool(args[5]), divisor)
    )


def _convert_adaptive_avg_pool2d(ctx: _Context, args: list[Any], node) -> tuple:
    x = ctx.tensor(node.inputsAt(0))
    size = _ints(args[1])
    size = tuple(s if s is not None else d for s, d in zip(size, _shape(x)[2:]))
    return _insert(ctx, nn.AdaptiveAvgPool2DOp(x, size))


def _convert_mean(ctx: _Context, args: list[Any], node) -> tuple:
    x = ctx.tensor(node.inputsAt(0))
    rank = len(_shape(x))
    dims = sorted(d % rank for d in (args[1] if isinstance(args[1], list) else [args[1]]))
    if rank != 4 or dims != [2, 3]:
        raise _NodeError(f"mean over dims {args[1]} is not supported (only H, W of NCHW)")
    (pooled,) = _insert(ctx, nn.AdaptiveAvgPool2DOp(x, (1, 1)))
    return (pooled,) if args[2] else _reshape(ctx, pooled, _shape(pooled)[:2])


def _operand(ctx: _Context, node, index: int, value: Any, scale: float = 1.0) -> SSAValue:
    """A tensor operand of add/mul: a run-time tensor, or a constant turned into a weight."""
    if isinstance(value, SSAValue):
        if scale != 1:
            raise _NodeError("add with alpha != 1 on run-time tensors is not supported")
        return value
    tensor = value if isinstance(value, torch.Tensor) else torch.tensor(float(value))
    return ctx.weight(_weight_name(node.inputsAt(index)), tensor.float() * scale)


def _arithmetic_converter(op_type: type[nn.BinaryOp], fold: Callable) -> Callable:
    """add/mul: folded in Python when both sides are constants, else an `nn` op."""

    def convert(ctx: _Context, args: list[Any], node) -> tuple:
        alpha = args[2] if len(args) > 2 and op_type is nn.AddOp else 1
        if not any(isinstance(a, SSAValue) for a in args[:2]):
            return (fold(args[0], args[1] * alpha if alpha != 1 else args[1]),)
        lhs = _operand(ctx, node, 0, args[0])
        rhs = _operand(ctx, node, 1, args[1], alpha)
        return _insert(ctx, op_type(lhs, rhs))

    return convert


def _convert_sub(ctx: _Context, args: list[Any], node) -> tuple:
    """a - alpha * b as add(a, mul(b, -alpha)), or a constant add when b is constant."""
    alpha = args[2] if len(args) > 2 else 1
    if not any(isinstance(a, SSAValue) for a in args[:2]):
        return (args[0] - args[1] * alpha,)
    lhs = _operand(ctx, node, 0, args[0])
    if isinstance(args[1], SSAValue):
        factor = ctx.weight("negated", torch.tensor(-float(alpha)))
        (rhs,) = _insert(ctx, nn.MulOp(args[1], factor))
    else:
        rhs = _operand(ctx, node, 1, args[1], -alpha)
    return _insert(ctx, nn.AddOp(lhs, rhs))


def _convert_prelu(ctx: _Context, args: list[Any], node) -> tuple:
    x = ctx.tensor(node.inputsAt(0))
    slope = args[1]
    if not isinstance(slope, torch.Tensor):
        raise _NodeError("prelu with a slope computed at run time")
    rank = len(_shape(x))
    shaped = slope.reshape((-1,) + (1,) * (rank - 2)) if slope.numel() > 1 and rank > 2 else slope
    return _insert(ctx, nn.PReluOp(x, ctx.weight(_weight_name(node.inputsAt(1)), shaped)))


def _convert_constant_pad(ctx: _Context, args: list[Any], node) -> tuple:
    """F.pad's (left, right, top, bottom) on the last two dimensions, constant mode."""
    x = ctx.tensor(node.inputsAt(0))
    pad = list(args[1])
    if len(pad) not in (2, 4) or len(_shape(x)) != 4 or min(pad) < 0:
        raise _NodeError(f"padding {pad} (only non-negative padding of H and W)")
    left, right, top, bottom = (pad + [0, 0])[:4]
    value = float(args[2]) if len(args) > 2 and args[2] is not None else 0.0
    return _insert(ctx, nn.Pad2DOp(x, (top, left, bottom, right), value))


def _convert_pad(ctx: _Context, args: list[Any], node) -> tuple:
    if args[2] != "constant":
        raise _NodeError(f"padding mode '{args[2]}'")
    return _convert_constant_pad(ctx, [args[0], args[1], args[3]], node)


def _convert_cat(ctx: _Context, args: list[Any], node) -> tuple:
    tensors = [
        v if isinstance(v, SSAValue) else ctx.weight("const", torch.as_tensor(v).float())
        for v in args[0]
    ]
    return _insert(ctx, nn.ConcatOp(tensors, args[1]))


def _constant_weight(value: Any, what: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or value.dim() != 2:
        raise _NodeError(f"{what} must be a constant matrix")
    return value


def _convert_matmul(ctx: _Context, args: list[Any], node) -> tuple:
    x = ctx.tensor(node.inputsAt(0))
    weight = _constant_weight(args[1], "the right operand of matmul")
    if len(_shape(x)) != 2:
        raise _NodeError("matmul is supported on [N, K] inputs only")
    w = ctx.weight(_weight_name(node.inputsAt(1)), weight.t())
    return _insert(ctx, nn.LinearOp(x, w))


def _convert_addmm(ctx: _Context, args: list[Any], node) -> tuple:
    if args[3] != 1 or args[4] != 1:
        raise _NodeError("addmm with beta or alpha other than 1 is not supported")
    x = ctx.tensor(node.inputsAt(1))
    weight = _constant_weight(args[2], "the second matrix of addmm")
    w = ctx.weight(_weight_name(node.inputsAt(2)), weight.t())
    bias = ctx.tensor(node.inputsAt(0))
    return _insert(ctx, nn.LinearOp(x, w, bias))


def _convert_squeeze(ctx: _Context, args: list[Any], node) -> tuple:
    x = ctx.tensor(node.inputsAt(0))
    shape = _shape(x)
    dims = range(len(shape)) if len(args) == 1 else [d % len(shape) for d in _as_list(args[1])]
    return _reshape(ctx, x, [d for i, d in enumerate(shape) if not (i in dims and d == 1)])


def _convert_unsqueeze(ctx: _Context, args: list[Any], node) -> tuple:
    x = ctx.tensor(node.inputsAt(0))
    shape = list(_shape(x))
    dim = args[1] % (len(shape) + 1)
    return _reshape(ctx, x, shape[:dim] + [1] + shape[dim:])


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, list | tuple) else [value]


def _convert_max_pool2d(ctx: _Context, args: list[Any], node) -> tuple:
    x = ctx.tensor(node.inputsAt(0))
    kernel = _ints(args[1])
    stride = _ints(args[2]) if args[2] else kernel
    op = nn.MaxPool2DOp(
        x, kernel, stride, _ints(args[3]), _ints(args[4]), bool(args[5])
    )
    return (ctx.builder.insert(op).output,)


def _reshape(ctx: _Context, x: SSAValue, shape: Sequence[int]) -> tuple:
    if tuple(shape) == _shape(x):
        return (x,)
    return (ctx.builder.insert(nn.ReshapeOp(x, shape)).output,)


def _resolve_shape(shape: Sequence[int], count: int) -> tuple[int, ...]:
    """Replace a single -1 by what makes the element count match, as torch.view does."""
    shape = [int(d) for d in shape]
    known = 1
    for d in shape:
        known *= d if d != -1 else 1
    if shape.count(-1) > 1 or any(d < -1 for d in shape):
        raise _NodeError(f"invalid shape {shape}")
    if -1 in shape:
        if known == 0 or count % known:
            raise _NodeError(f"shape {shape} is invalid for {count} elements")
        shape[shape.index(-1)] = count // known
    if _product(shape) != count:
        raise _NodeError(f"shape {shape} is invalid for {count} elements")
    return tuple(shape)


def _product(values: Sequence[int]) -> int:
    result = 1
    for v in values:
        result *= v
    return result


def _convert_view(ctx: _Context, args: list[Any], node) -> tuple:
    x = ctx.tensor(node.inputsAt(0))
    return _reshape(ctx, x, _resolve_shape(args[1], _product(_shape(x))))


def _convert_flatten(ctx: _Context, args: list[Any], node) -> tuple:
    x = ctx.tensor(node.inputsAt(0))
    shape = _shape(x)
    start, end = args[1] % len(shape), args[2] % len(shape)
    flat = (*shape[:start], _product(shape[start : end + 1]), *shape[end + 1 :])
    return _reshape(ctx, x, flat)


def _convert_linear(ctx: _Context, args: list[Any], node) -> tuple:
    x, weight = ctx.tensor(node.inputsAt(0)), ctx.tensor(node.inputsAt(1))
    if len(_shape(x)) != 2:
        raise _NodeError(f"linear on a rank-{len(_shape(x))} input is not supported")
    bias = None if args[2] is None else ctx.tensor(node.inputsAt(2))
    return (ctx.builder.insert(nn.LinearOp(x, weight, bias)).output,)


def _convert_dropout(ctx: _Context, args: list[Any], node) -> tuple:
    if args[2]:
        raise _NodeError("dropout in training mode; call model.eval() before saving")
    op = nn.DropoutOp(ctx.tensor(node.inputsAt(0)), float(args[1]))
    return (ctx.builder.insert(op).output,)


def _softmax_converter(op_type: type[nn.SoftmaxBase]) -> Callable:
    def convert(ctx: _Context, args: list[Any], node) -> tuple:
        if len(args) > 2 and args[2] not in (None, torch.float32, 6):
            raise _NodeError("softmax with a dtype other than float32")
        return (ctx.builder.insert(op_type(ctx.tensor(node.inputsAt(0)), args[1])).output,)

    return convert


def _identity(ctx: _Context, args: list[Any], node) -> tuple:
    return (ctx.get(node.inputsAt(0)),)


# Scalar and list evaluation: folded at import time.


def _holds_tensor(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return any(_holds_tensor(v) for v in value)
    return isinstance(value, SSAValue)


def _python(fn: Callable[..., Any]) -> Callable:
    def convert(ctx: _Context, args: list[Any], node) -> tuple:
        if _holds_tensor(args):
            raise _RunTimeTensor()
        return (fn(*args),)

    return convert


def _rounded_div(a, b, mode: str):
    return a // b if mode == "floor" else int(a / b)


def _convert_size(ctx: _Context, args: list[Any], node) -> tuple:
    shape = _shape(ctx.tensor(node.inputsAt(0)))
    return (list(shape) if len(args) == 1 else shape[args[1]],)


def _convert_list(ctx: _Context, args: list[Any], node) -> tuple:
    return (list(args),)


def _convert_unpack(ctx: _Context, args: list[Any], node) -> tuple:
    return tuple(args[0])


CONVERTERS: dict[str, Callable[[_Context, list[Any], Any], tuple]] = {
    **ACTIVATION_CONVERTERS,
    "aten::_convolution": _convert_convolution,
    "aten::_convolution_mode": _convert_conv2d,
    "aten::adaptive_avg_pool2d": _convert_adaptive_avg_pool2d,
    "aten::add": _arithmetic_converter(nn.AddOp, lambda a, b: a + b),
    "aten::addmm": _convert_addmm,
    "aten::alpha_dropout": _convert_dropout,
    "aten::avg_pool2d": _convert_avg_pool2d,
    "aten::batch_norm": _convert_batch_norm,
    "aten::cat": _convert_cat,
    "aten::constant_pad_nd": _convert_constant_pad,
    "aten::contiguous": _identity,
    "aten::conv2d": _convert_conv2d,
    "aten::dropout": _convert_dropout,
    "aten::feature_alpha_dropout": _convert_dropout,
    "aten::feature_dropout": _convert_dropout,
    "aten::flatten": _convert_flatten,
    "aten::linear": _convert_linear,
    "aten::log_softmax": _softmax_converter(nn.LogSoftmaxOp),
    "aten::matmul": _convert_matmul,
    "aten::max_pool2d": _convert_max_pool2d,
    "aten::mean": _convert_mean,
    "aten::mul": _arithmetic_converter(nn.MulOp, lambda a, b: a * b),
    "aten::pad": _convert_pad,
    "aten::prelu": _convert_prelu,
    "aten::reshape": _convert_view,
    "aten::softmax": _softmax_converter(nn.SoftmaxOp),
    "aten::squeeze": _convert_squeeze,
    "aten::sub": _convert_sub,
    "aten::unsqueeze": _convert_unsqueeze,
    "aten::view": _convert_view,
}
"""aten ops that produce `nn` ops; in-place variants (`relu_`) map to the same converter."""

def _convert_if(ctx: _Context, args: list[Any], node) -> tuple:
    """Shape checks in library code (`if input.dim() != 4`) fold: walk the taken branch."""
    if _holds_tensor(args[0]):
        raise _RunTimeTensor()
    then_block, else_block = node.blocks()
    taken = then_block if args[0] else else_block
    _walk(ctx, taken.nodes())
    return tuple(ctx.values.get(v) for v in taken.outputs())


def _convert_raise(ctx: _Context, args: list[Any], node) -> tuple:
    message = next((a for a in args if isinstance(a, str)), "an exception")
    raise _NodeError(f"the model raises {message!r} for this input shape")


SCALAR_OPS: dict[str, Callable[[_Context, list[Any], Any], tuple]] = {
    "aten::Int": _python(int),
    "aten::ScalarImplicit": _python(lambda x: x),
    "aten::__getitem__": _python(lambda xs, i: xs[i]),
    "aten::__and__": _python(lambda a, b: a and b),
    "aten::__contains__": _python(lambda container, item: item in container),
    "aten::__is__": _python(lambda a, b: a is b),
    "aten::__isnot__": _python(lambda a, b: a is not b),
    "aten::__not__": _python(lambda a: not a),
    "aten::__or__": _python(lambda a, b: a or b),
    "aten::dim": lambda ctx, args, node: (len(_shape(ctx.tensor(node.inputsAt(0)))),),
    "aten::eq": _python(lambda a, b: a == b),
    "aten::ge": _python(lambda a, b: a >= b),
    "aten::gt": _python(lambda a, b: a > b),
    "aten::le": _python(lambda a, b: a <= b),
    "aten::lt": _python(lambda a, b: a < b),
    "aten::ne": _python(lambda a, b: a != b),
    "aten::format": _python(lambda fmt, *a: str(fmt)),
    "aten::warn": _python(lambda *a: None),
    "prim::If": _convert_if,
    "prim::RaiseException": _convert_raise,
    "prim::Uninitialized": _python(lambda: None),
    "aten::div": _python(lambda a, b, *mode: a / b if not mode or mode[0] is None else _rounded_div(a, b, mode[0])),
    "aten::floor_divide": _python(lambda a, b: a // b),
    "aten::floordiv": _python(lambda a, b: a // b),
    "aten::remainder": _python(lambda a, b: a % b),
    "aten::len": _python(len),
    "aten::neg": _python(lambda a: -a),
    "aten::size": _convert_size,
    "aten::t": _python(lambda t: t.t()),
    "aten::transpose": _python(lambda t, a, b: t.transpose(a, b)),
    "prim::ListConstruct": _convert_list,
    "prim::ListUnpack": _convert_unpack,
    "prim::NumToTensor": _python(lambda x: x),
    "prim::TupleConstruct": _convert_list,
    "prim::TupleUnpack": _convert_unpack,
    "prim::device": _python(lambda *_: "cpu"),
    "prim::dtype": _python(lambda *_: torch.float32),
}
"""Ops evaluated in Python on constants (shape arithmetic)."""


def supported_ops() -> list[str]:
    return sorted(CONVERTERS)


def _converter(kind: str):
    base = kind[:-1] if kind.endswith("_") and not kind.endswith("__") else kind
    if base in CONVERTERS:
        return CONVERTERS[base]
    return SCALAR_OPS.get(kind)


def _torch_dir() -> str:
    return str(Path(torch.__file__).parent)


def module_path(node) -> str:
    """`features.0 (Conv2d)` from TorchScript's `features(Sequential).0(Conv2d)`."""
    parts = re.findall(r"([^.()]+)\(([^()]*)\)", node.getModuleHierarchy())
    named = [(name, kind) for name, kind in parts if name not in ("SELF", "UNKNOWN_INSTANCE")]
    if not named:
        return ""
    return ".".join(name for name, _ in named) + f" ({named[-1][1]})"


def node_location(node) -> str:
    """The model's module path and the first source line outside torch itself.

    Never raises: the debug information is read lazily from the archive's `debug_pkl`
    entries, and a damaged one costs the location, not the compile.
    """
    try:
        source, path = node.sourceRange(), module_path(node)
    except Exception:  # torch's RuntimeError on a damaged debug_pkl, or anything else
        source, path = "", ""
    lines = re.findall(r'File "([^"]+)", line (\d+)|([^\s(]+\.py)\((\d+)\)', source)
    frames = [(a or c, b or d) for a, b, c, d in lines]
    user = [f for f in frames if not f[0].startswith(_torch_dir())]
    where = user[0] if user else (frames[0] if frames else None)
    parts = []
    if path:
        parts.append(f"module {path}")
    if where:
        parts.append(f"{where[0]}:{where[1]}")
    return ", ".join(parts) or "unknown location"


SHAPE_FILE = "mnistc_input_shape"
"""Extra file in a TorchScript archive that records one sample's shape, "C,H,W"."""

DEFAULT_SAMPLE_SHAPE = (1, 28, 28)


def save_with_shape(model: torch.jit.ScriptModule, path: str | Path, shape: Sequence[int]) -> None:
    """`torch.jit.save`, recording the sample shape so `mnistc compile` needs no flag."""
    torch.jit.save(model, str(path), _extra_files={SHAPE_FILE: ",".join(map(str, shape))})


def load_torchscript(path: str | Path) -> torch.jit.ScriptModule:
    """Load a TorchScript file, turning torch's many failure modes into one message.

    The sample shape recorded by `save_with_shape`, if any, is in `model.mnistc_input_shape`.
    """
    path = Path(path)
    if not path.is_file():
        raise ImportError_(f"{path}: {'is a directory' if path.is_dir() else 'no such file'}")
    try:
        check_archive_storages(path)
        unreadable = None
    except _UnreadablePickle as e:  # torch.jit.load may say better what the file is
        unreadable = e
    extra = {SHAPE_FILE: ""}
    try:
        with quiet_torch_logging():
            model = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except Exception as e:  # torch raises RuntimeError, ValueError, zipfile errors...
        first = str(e).strip().splitlines()[0].split(". ")[0] if str(e).strip() else type(e).__name__
        raise ImportError_(
            f"{path}: not a readable TorchScript file (saved with torch.jit.save?): {first}"
        ) from None
    if unreadable is not None:
        raise ImportError_(str(unreadable))
    recorded = extra[SHAPE_FILE]
    recorded = recorded.decode() if isinstance(recorded, bytes) else recorded
    try:
        shape = tuple(int(d) for d in recorded.split(",")) if recorded else None
    except ValueError:
        raise ImportError_(f"{path}: malformed {SHAPE_FILE} '{recorded}'") from None
    return model, shape


def sample_shape_of(recorded: Sequence[int] | None, requested: Sequence[int] | None) -> tuple[int, ...]:
    """The shape asked for, else the one the file records, else MNIST's 1,28,28."""
    return tuple(requested or recorded or DEFAULT_SAMPLE_SHAPE)


def freeze(model: torch.jit.ScriptModule):
    """Inline submodules and turn parameters into constants, keeping dropout visible.

    Returns the frozen (C++) module; its `forward` graph is what the importer reads.
    """
    if getattr(model, "training", False):
        raise ImportError_(
            "the model is in training mode: call model.eval() before torch.jit.save"
        )
    try:
        frozen = torch._C._freeze_module(model._c)
        torch._C._jit_pass_remove_mutation(forward_graph(frozen))
    except RuntimeError as e:  # a model without forward, or one torch cannot freeze
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ImportError_(f"cannot freeze the model: {first}") from None
    return frozen


def forward_graph(frozen) -> torch._C.Graph:
    return frozen._get_method("forward").graph


def intermediate_values(frozen, sample: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every tensor the frozen graph computes at top level, by debug name (for debugging)."""
    graph = forward_graph(frozen).copy()
    values = [
        v for n in graph.nodes() if n.kind() != "prim::Constant" for v in n.outputs()
        if isinstance(v.type(), torch._C.TensorType)
    ]  # fmt: skip
    graph.eraseOutput(0)
    node = graph.insertNode(graph.create("prim::TupleConstruct", values))
    node.output().setType(torch._C.TupleType([v.type() for v in values]))
    graph.registerOutput(node.output())
    function = torch._C._create_function_from_graph("intermediate_values", graph)
    with torch.no_grad():
        results = function(frozen, sample)
    return {v.debugName(): r for v, r in zip(values, results)}


class _Unsupported:
    """The value of a node that could not be converted; its users are skipped."""


UNSUPPORTED = _Unsupported()


@dataclass
class _Problems:
    """Every op the importer refused, by kind, with where it occurs and why."""

    places: dict[str, list[str]] = field(default_factory=dict)

    def add(self, node, reason: str = "") -> None:
        place = node_location(node) + (f" ({reason})" if reason else "")
        entries = self.places.setdefault(node.kind(), [])
        if place not in entries:
            entries.append(place)

    def raise_if_any(self) -> None:
        if not self.places:
            return
        listed = "\n".join(
            f"  {kind} at {'; '.join(places)}" for kind, places in self.places.items()
        )
        raise ImportError_(
            f"unsupported operators:\n{listed}\nsupported: {', '.join(supported_ops())}"
        )


def _constant(node) -> Any:
    value = node.output().toIValue()
    if isinstance(value, torch.Tensor):
        if value.dtype != torch.float32 and value.is_floating_point():
            value = value.float()
    return value


def import_graph(graph: torch._C.Graph, sample_shape: Sequence[int]) -> ImportedModel:
    """Evaluate a frozen graph on a [1, *sample_shape] input into an `nn` function.

    An op that cannot be converted does not stop the walk: the ops that depend on it are
    skipped and the model is refused at the end with every unsupported op listed once.
    """
    inputs = list(graph.inputs())[1:]
    if len(inputs) != 1:
        raise ImportError_(f"models with {len(inputs)} inputs are not supported (need 1)")
    block = Block(arg_types=[nn.tensor((1, *sample_shape))])
    block.args[0].name_hint = "input"
    ctx = _Context(
        Builder(InsertPoint.at_end(block)), WeightFile(), {inputs[0]: block.args[0]}, sample_shape
    )
    _walk(ctx, graph.nodes())
    ctx.problems.raise_if_any()
    output = _return_value(ctx, graph)
    ctx.builder.insert(func.ReturnOp(output))
    function = func.FuncOp(
        ENTRY,
        ((block.args[0].type,), (output.type,)),
        Region(block),
    )
    return ImportedModel(ModuleOp([function]), ctx.weights, ctx.origins)


def _walk(ctx: _Context, nodes) -> None:
    """Convert nodes in order (recursing into the taken branch of a prim::If)."""
    for node in nodes:
        if node.kind() == "prim::Constant":
            ctx.values[node.output()] = _constant(node)
            continue
        args = [ctx.values.get(v) for v in node.inputs()]
        converter = _converter(node.kind())
        if converter is None or any(a is UNSUPPORTED for a in args):
            if converter is None:
                ctx.problems.add(node)
            elif node.kind() in SCALAR_OPS and _returns_tensor(node):
                ctx.problems.add(node, "on tensors")
            for value in node.outputs():
                ctx.values[value] = UNSUPPORTED
            continue
        try:
            results = converter(ctx, args, node)
            _verify_new_ops(results)
        except _RunTimeTensor:
            ctx.problems.add(node, "on tensors")
            results = (UNSUPPORTED,) * node.outputsSize()
        except VerifyException as e:
            raise ImportError_(
                f"{node.kind()} at {node_location(node)}: {e} "
                f"(the input sample shape is {','.join(map(str, ctx.sample_shape))}; "
                "is that right? see --input-shape)"
            ) from None
        except (_NodeError, *MALFORMED_MODEL_ERRORS) as e:
            raise ImportError_(f"{node.kind()} at {node_location(node)}: {e}") from None
        for value, result in zip(node.outputs(), results, strict=True):
            ctx.values[value] = result
            if isinstance(result, OpResult) and result not in ctx.origins:
                ctx.origins[result] = (value.debugName(), node_location(node))


def _returns_tensor(node) -> bool:
    return any(isinstance(v.type(), torch._C.TensorType) for v in node.outputs())


def _verify_new_ops(results: tuple) -> None:
    for value in results:
        if isinstance(value, OpResult):
            value.owner.verify()


def _return_value(ctx: _Context, graph: torch._C.Graph) -> SSAValue:
    (returned,) = list(graph.outputs())
    value = ctx.get(returned)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, SSAValue):
        raise ImportError_("the model must return one tensor computed from its input")
    return value


def import_torchscript(path: str | Path, sample_shape: Sequence[int] | None = None) -> ImportedModel:
    """Import a `torch.jit.save`d model; `sample_shape` is C,H,W of one input sample."""
    model, recorded = load_torchscript(path)
    return import_graph(forward_graph(freeze(model)), sample_shape_of(recorded, sample_shape))



# The storages of a TorchScript archive, checked against the bytes the archive holds.
# torch.jit.load sizes each storage from `data.pkl` and fills it from the `data/<key>`
# entry without comparing the two, so a truncated entry loads as a tensor whose tail is
# whatever memory followed.

TENSOR_PICKLES = {"data.pkl": "data", "constants.pkl": "constants"}
"""Pickles of an archive that hold tensors → the folder of their storages."""


@dataclass(frozen=True)
class _Storage:
    key: str
    type_name: str
    numel: int


@dataclass(frozen=True)
class _TensorRecord:
    storage: _Storage
    offset: int
    shape: tuple
    strides: tuple


class _Object:
    """Any class a pickle names (modules, OrderedDict, ...): its state is kept, not run."""

    args: tuple = ()
    state: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.state = args, None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __setitem__(self, key: Any, value: Any) -> None:  # SETITEMS (OrderedDict)
        self.args = (*self.args, {key: value})

    def append(self, value: Any) -> None:  # APPENDS (list subclasses)
        self.args = (*self.args, value)

    def extend(self, values: Any) -> None:
        self.args = (*self.args, *values)


class _UnreadablePickle(ImportError_):
    """A pickle of the archive that the layout reader cannot parse."""


def _rebuild_tensor(storage, offset, shape, strides, *rest) -> _TensorRecord:
    return _TensorRecord(storage, offset, tuple(shape), tuple(strides))


class _TensorLayoutReader(pickle.Unpickler):
    """Reads a TorchScript pickle without importing or running anything it names."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return lambda tensor, *rest: tensor
        if module == "torch" and name.endswith("Storage"):
            return name
        return type(name, (_Object,), {})

    def persistent_load(self, pid: Any) -> _Storage:
        _, type_name, key, _, numel = pid
        return _Storage(str(key), str(type_name), int(numel))


def _named_tensors(value: Any, name: str, seen: set[int]) -> Iterator[tuple[str, _TensorRecord]]:
    """Every tensor record reachable from `value`, named by its attribute path."""
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, _TensorRecord):
        yield name, value
    elif isinstance(value, _Object):
        yield from _named_tensors(value.state, name, seen)
        for i, arg in enumerate(value.args):
            yield from _named_tensors(arg, f"{name}.{i}" if name else str(i), seen)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _named_tensors(item, f"{name}.{key}" if name else str(key), seen)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _named_tensors(item, f"{name}.{i}" if name else str(i), seen)


def _storage_itemsize(type_name: str) -> int:
    """Bytes per element of a pickled storage type (`FloatStorage`: 4), as torch maps it."""
    dtype = torch.storage._storage_type_to_dtype_map().get(type_name)
    if dtype is None:
        raise ImportError_(f"unknown tensor storage type '{type_name}': the file is corrupt")
    return torch.empty(0, dtype=dtype).element_size()


def check_archive_storages(path: Path) -> None:
    """Refuse a tensor whose view lies outside its storage, or whose storage is larger
    than the archive entry that holds its bytes; the message names the tensor.

    Runs before torch.jit.load, whose own checks of the same faults name no tensor; a
    file that is not a zip archive is left to torch.jit.load to describe.
    """
    try:
        archive = zipfile.ZipFile(path)
    except Exception:  # BadZipFile, OSError, a name that is not UTF-8...
        return
    with archive:
        sizes = {info.filename.split("/", 1)[-1]: info.file_size for info in archive.infolist()}
        for pickle_name, folder in TENSOR_PICKLES.items():
            entry = next((n for n in archive.namelist() if n.split("/", 1)[-1] == pickle_name), None)
            if entry is None:
                continue
            try:
                root = _TensorLayoutReader(archive.open(entry)).load()
                tensors = list(_named_tensors(root, "constants" if folder == "constants" else "", set()))
            except ImportError_:
                raise
            except Exception as e:  # pickle's own errors on a damaged entry
                raise _UnreadablePickle(f"{path}: damaged {pickle_name}: {e}") from None
            for name, record in tensors:
                try:
                    _check_record(name or "tensor", record, f"{folder}/{record.storage.key}", sizes)
                except ImportError_ as e:
                    raise ImportError_(f"{path}: {e}") from None


def _check_record(name: str, record: _TensorRecord, entry: str, sizes: dict[str, int]) -> None:
    storage = record.storage
    itemsize = _storage_itemsize(storage.type_name)
    declared = storage.numel * itemsize
    stored = sizes.get(entry, 0)
    if stored < declared:
        raise ImportError_(
            f"tensor '{name}': its storage {entry} holds {stored} bytes, the file declares "
            f"{declared}: the file is truncated or corrupt"
        )
    check_storage(name, record.shape, record.strides, record.offset, itemsize, declared)
