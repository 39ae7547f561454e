"""TorchScript → `nn` dialect.

The module is frozen (parameters become constants, submodules are inlined), then its
graph is evaluated abstractly in one walk: tensors become `nn` SSA values with static
shapes, and everything else (ints, lists, `aten::size`, integer math) is computed in
Python, so shape arithmetic is folded at import time. Constant tensors go to the
weight file and are referenced by `nn.weight`.

Adding an aten op: write a `_convert_<name>` function and add it to `CONVERTERS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from xdsl.builder import Builder
from xdsl.rewriter import InsertPoint
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, OpResult, Region, SSAValue
from xdsl.utils.exceptions import VerifyException

from mnistc.dialects import nn
from mnistc.weights import WeightFile
from mnistc.errors import MnistcError

ENTRY = "forward"


class ImportError_(MnistcError):
    """The model cannot be imported; the message says why and where."""


@dataclass
class ImportedModel:
    """An `nn` module and the weight file it references."""

    module: ModuleOp
    weights: WeightFile


@dataclass
class _Context:
    builder: Builder
    weights: WeightFile
    values: dict[torch._C.Value, Any]

    def weight(self, key: str, tensor: torch.Tensor) -> SSAValue:
        """An `nn.weight` holding the tensor, appended to the weight file."""
        array = tensor.detach().to(torch.float32).contiguous().numpy()
        op = self.builder.insert(nn.WeightOp(key, self.weights.append(array), array.shape))
        op.result.name_hint = key.replace(".", "_")
        return op.result

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


def _convert_relu(ctx: _Context, args: list[Any], node) -> tuple:
    return (ctx.builder.insert(nn.ReluOp(ctx.tensor(node.inputsAt(0)))).output,)


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


def _python(fn: Callable[..., Any]) -> Callable:
    def convert(ctx: _Context, args: list[Any], node) -> tuple:
        if any(isinstance(a, SSAValue) for a in args):
            raise _RunTimeTensor()
        return (fn(*args),)

    return convert


def _rounded_div(a, b, mode: str):
    return a // b if mode == "floor" else int(a / b)


def _convert_size(ctx: _Context, args: list[Any], node) -> tuple:
    shape = _shape(ctx.tensor(node.inputsAt(0)))
    return (list(shape) if len(args) == 1 else shape[args[1]],)


def _convert_list(ctx: _Context, args: list[Any], node) -> tuple:
    if any(isinstance(a, SSAValue) for a in args):
        raise _NodeError("lists of run-time tensors are not supported")
    return (list(args),)


def _convert_unpack(ctx: _Context, args: list[Any], node) -> tuple:
    return tuple(args[0])


CONVERTERS: dict[str, Callable[[_Context, list[Any], Any], tuple]] = {
    "aten::_convolution": _convert_convolution,
    "aten::alpha_dropout": _convert_dropout,
    "aten::contiguous": _identity,
    "aten::conv2d": _convert_conv2d,
    "aten::dropout": _convert_dropout,
    "aten::feature_alpha_dropout": _convert_dropout,
    "aten::feature_dropout": _convert_dropout,
    "aten::flatten": _convert_flatten,
    "aten::linear": _convert_linear,
    "aten::log_softmax": _softmax_converter(nn.LogSoftmaxOp),
    "aten::max_pool2d": _convert_max_pool2d,
    "aten::relu": _convert_relu,
    "aten::reshape": _convert_view,
    "aten::softmax": _softmax_converter(nn.SoftmaxOp),
    "aten::view": _convert_view,
}
"""aten ops that produce `nn` ops; in-place variants (`relu_`) map to the same converter."""

SCALAR_OPS: dict[str, Callable[[_Context, list[Any], Any], tuple]] = {
    "aten::Int": _python(int),
    "aten::ScalarImplicit": _python(lambda x: x),
    "aten::__getitem__": _python(lambda xs, i: xs[i]),
    "aten::add": _python(lambda a, b, *alpha: a + b),
    "aten::dim": _python(len),
    "aten::div": _python(lambda a, b, *mode: a / b if not mode or mode[0] is None else _rounded_div(a, b, mode[0])),
    "aten::floor_divide": _python(lambda a, b: a // b),
    "aten::floordiv": _python(lambda a, b: a // b),
    "aten::remainder": _python(lambda a, b: a % b),
    "aten::len": _python(len),
    "aten::mul": _python(lambda a, b: a * b),
    "aten::neg": _python(lambda a: -a),
    "aten::size": _convert_size,
    "aten::sub": _python(lambda a, b, *alpha: a - b),
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
    """The model's module path and the first source line outside torch itself."""
    lines = re.findall(r'File "([^"]+)", line (\d+)|([^\s(]+\.py)\((\d+)\)', node.sourceRange())
    frames = [(a or c, b or d) for a, b, c, d in lines]
    user = [f for f in frames if not f[0].startswith(_torch_dir())]
    where = user[0] if user else (frames[0] if frames else None)
    parts = []
    if path := module_path(node):
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
        raise ImportError_(f"{path}: no such file")
    extra = {SHAPE_FILE: ""}
    try:
        model = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except Exception as e:  # torch raises RuntimeError, ValueError, zipfile errors...
        first = str(e).strip().splitlines()[0].split(". ")[0] if str(e).strip() else type(e).__name__
        raise ImportError_(
            f"{path}: not a readable TorchScript file (saved with torch.jit.save?): {first}"
        ) from None
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


def freeze(model: torch.jit.ScriptModule) -> torch._C.Graph:
    """Inline submodules and turn parameters into constants, keeping dropout visible."""
    if getattr(model, "training", False):
        raise ImportError_(
            "the model is in training mode: call model.eval() before torch.jit.save"
        )
    frozen = torch._C._freeze_module(model._c)
    graph = frozen._get_method("forward").graph
    torch._C._jit_pass_remove_mutation(graph)
    return graph


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
    ctx = _Context(Builder(InsertPoint.at_end(block)), WeightFile(), {inputs[0]: block.args[0]})
    problems = _Problems()
    for node in graph.nodes():
        if node.kind() == "prim::Constant":
            ctx.values[node.output()] = _constant(node)
            continue
        args = [ctx.values.get(v) for v in node.inputs()]
        converter = _converter(node.kind())
        if converter is None or any(a is UNSUPPORTED for a in args):
            if converter is None:
                problems.add(node)
            elif node.kind() in SCALAR_OPS and _returns_tensor(node):
                problems.add(node, "on tensors")
            for value in node.outputs():
                ctx.values[value] = UNSUPPORTED
            continue
        try:
            results = converter(ctx, args, node)
            _verify_new_ops(results)
        except _RunTimeTensor:
            problems.add(node, "on tensors")
            results = (UNSUPPORTED,) * node.outputsSize()
        except VerifyException as e:
            raise ImportError_(
                f"{node.kind()} at {node_location(node)}: {e} "
                f"(the input sample shape is {','.join(map(str, sample_shape))}; "
                "is that right? see --input-shape)"
            ) from None
        except (_NodeError, ValueError, IndexError, TypeError) as e:
            raise ImportError_(f"{node.kind()} at {node_location(node)}: {e}") from None
        for value, result in zip(node.outputs(), results, strict=True):
            ctx.values[value] = result
    problems.raise_if_any()
    output = _return_value(ctx, graph)
    ctx.builder.insert(func.ReturnOp(output))
    function = func.FuncOp(
        ENTRY,
        ((block.args[0].type,), (output.type,)),
        Region(block),
    )
    return ImportedModel(ModuleOp([function]), ctx.weights)


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
    return import_graph(freeze(model), sample_shape_of(recorded, sample_shape))

