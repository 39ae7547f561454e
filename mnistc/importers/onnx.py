"""ONNX → `nn` dialect (the `onnx` package is an optional dependency).

Like the TorchScript importer, one walk over the graph: tensors computed from the input
become `nn` SSA values with static shapes (batch 1), and every node whose inputs are all
constants (initializers, `Constant`, `Shape`, `ConstantOfShape`, `Gather`, ...) is
evaluated at import time by ONNX's reference evaluator. Constants that reach an `nn` op
become weights.

Adding an ONNX op: write a `_convert_<name>` function and add it to `CONVERTERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
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
)
from mnistc.weights import WeightFile, weight_op


class _Unsupported(Exception):
    """The node is outside what its converter handles; the message says how."""


@dataclass
class _Graph:
    builder: Builder
    weights: WeightFile
    opset: int
    batch: int
    """The batch size the model was exported with, if fixed (reshape targets carry it)."""
    values: dict[str, Any] = field(default_factory=dict)
    """ONNX value name → SSAValue (computed from the input) or np.ndarray (constant)."""
    weight_values: dict[str, SSAValue] = field(default_factory=dict)

    def tensor(self, name: str) -> SSAValue:
        value = self.values[name]
        if isinstance(value, SSAValue):
            return value
        if name not in self.weight_values:
            op = weight_op(self.weights, name, _float_array(name, value))
            self.weight_values[name] = self.builder.insert(op).result
        return self.weight_values[name]

    def constant(self, name: str, what: str) -> np.ndarray:
        value = self.values.get(name)
        if not isinstance(value, np.ndarray):
            raise _Unsupported(f"{what} must be a constant")
        return value

    def float_constant(self, name: str, what: str) -> np.ndarray:
        """A constant that becomes a weight: floating point, as ONNX's type rules require."""
        return _float_array(name, self.constant(name, what))

    def insert(self, op) -> tuple[SSAValue]:
        return (self.builder.insert(op).results[0],)


def _float_array(name: str, value: Any) -> np.ndarray:
    """A constant as float32, refusing integer and boolean tensors where a float tensor
    is required (ONNX Runtime refuses such a model; converting would hide the damage)."""
    array = np.asarray(value)
    if not np.issubdtype(array.dtype, np.floating):
        raise ImportError_(
            f"tensor '{name}' has element type {array.dtype}, where a floating-point tensor "
            "is required"
        )
    return array.astype(np.float32)


def _attributes(node) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _decode(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _pair(values: Sequence[int] | None, default: int) -> tuple[int, int]:
    return tuple(values) if values else (default, default)


def _symmetric_pads(pads: Sequence[int] | None) -> tuple[int, int]:
    if not pads:
        return (0, 0)
    top, left, bottom, right = pads
    if (top, left) != (bottom, right):
        raise _Unsupported(f"asymmetric padding {list(pads)}")
    return (top, left)


def _padded(g: _Graph, x: SSAValue, pads: Sequence[int] | None, value: float):
    """(input, symmetric padding for the op): asymmetric ONNX pads become an explicit
    `nn.pad2d` with `value` (0 for convolutions, -inf for max pooling) and no op padding."""
    if not pads:
        return x, (0, 0)
    top, left, bottom, right = pads
    if (top, left) == (bottom, right):
        return x, (top, left)
    (padded,) = g.insert(nn.Pad2DOp(x, (top, left, bottom, right), value))
    return padded, (0, 0)


def _same_pads(auto_pad: str, kernel, dilation) -> tuple[int, int] | None:
    if auto_pad in ("", "NOTSET"):
        return None
    if auto_pad == "VALID":
        return (0, 0)
    total = [d * (k - 1) for d, k in zip(dilation, kernel)]
    if any(t % 2 for t in total):
        raise _Unsupported(f"auto_pad {auto_pad} with an even kernel extent")
    return (total[0] // 2, total[1] // 2)


def _convert_conv(g: _Graph, node, attrs) -> tuple:
    x, w = g.tensor(node.input[0]), g.tensor(node.input[1])
    if len(nn.shape_of(x)) != 4:
        raise _Unsupported("only 2-D convolution is supported")
    bias = g.tensor(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    kernel = nn.shape_of(w)[2:]
    if "kernel_shape" in attrs and tuple(attrs["kernel_shape"]) != tuple(kernel):
        raise ImportError_(f"kernel_shape {list(attrs['kernel_shape'])} is not the weight's {list(kernel)}")
    dilation = _pair(attrs.get("dilations"), 1)
    pads = _same_pads(_decode(attrs.get("auto_pad", "")), kernel, dilation)
    if pads is None:
        x, pads = _padded(g, x, attrs.get("pads"), 0.0)
    return g.insert(
        nn.Conv2DOp(x, w, bias, _pair(attrs.get("strides"), 1), pads, dilation, attrs.get("group", 1))
    )


def _convert_gemm(g: _Graph, node, attrs) -> tuple:
    if attrs.get("transA", 0):
        raise _Unsupported("Gemm with transA")
    x = g.tensor(node.input[0])
    b = g.float_constant(node.input[1], "Gemm's B") * attrs.get("alpha", 1.0)
    weight = b if attrs.get("transB", 0) else b.T
    w = g.builder.insert(weight_op(g.weights, node.input[1], weight)).result
    bias = None
    if len(node.input) > 2 and node.input[2]:
        c = g.float_constant(node.input[2], "Gemm's C") * attrs.get("beta", 1.0)
        c = np.broadcast_to(c, (weight.shape[0],))
        bias = g.builder.insert(weight_op(g.weights, node.input[2], c)).result
    return g.insert(nn.LinearOp(x, w, bias))


def _convert_matmul(g: _Graph, node, attrs) -> tuple:
    x = g.tensor(node.input[0])
    b = g.float_constant(node.input[1], "MatMul's right operand")
    if b.ndim != 2 or len(nn.shape_of(x)) != 2:
        raise _Unsupported("MatMul of a [N, K] input by a constant [K, M] matrix only")
    w = g.builder.insert(weight_op(g.weights, node.input[1], b.T)).result
    return g.insert(nn.LinearOp(x, w))


def _unary(build: Callable[[SSAValue, dict], Any]) -> Callable:
    return lambda g, node, attrs: g.insert(build(g.tensor(node.input[0]), attrs))


def _convert_clip(g: _Graph, node, attrs) -> tuple:
    low, high = attrs.get("min", -np.inf), attrs.get("max", np.inf)
    if len(node.input) > 1 and node.input[1]:
        low = float(g.constant(node.input[1], "Clip's min"))
    if len(node.input) > 2 and node.input[2]:
        high = float(g.constant(node.input[2], "Clip's max"))
    return g.insert(nn.HardtanhOp(g.tensor(node.input[0]), float(low), float(high)))


def _convert_max_pool(g: _Graph, node, attrs) -> tuple:
    if len(node.output) > 1 and node.output[1]:
        raise _Unsupported("MaxPool's indices output")
    x = g.tensor(node.input[0])
    kernel = tuple(attrs["kernel_shape"])
    dilation = _pair(attrs.get("dilations"), 1)
    pads = _same_pads(_decode(attrs.get("auto_pad", "")), kernel, dilation)
    if pads is None:
        x, pads = _padded(g, x, attrs.get("pads"), float("-inf"))
    return g.insert(
        nn.MaxPool2DOp(x, kernel, _pair(attrs.get("strides"), 1), pads, dilation, bool(attrs.get("ceil_mode", 0)))
    )


def _convert_average_pool(g: _Graph, node, attrs) -> tuple:
    x = g.tensor(node.input[0])
    kernel = tuple(attrs["kernel_shape"])
    pads = _same_pads(_decode(attrs.get("auto_pad", "")), kernel, (1, 1))
    if pads is None:
        if attrs.get("count_include_pad", 0):
            x, pads = _padded(g, x, attrs.get("pads"), 0.0)
        else:
            pads = _symmetric_pads(attrs.get("pads"))
    return g.insert(
        nn.AvgPool2DOp(
            x, kernel, _pair(attrs.get("strides"), 1), pads, bool(attrs.get("ceil_mode", 0)),
            bool(attrs.get("count_include_pad", 0)),
        )
    )  # fmt: skip


def _convert_batch_norm(g: _Graph, node, attrs) -> tuple:
    x, scale, bias, mean, var = (g.tensor(name) for name in node.input[:5])
    return g.insert(nn.BatchNormOp(x, mean, var, scale, bias, float(attrs.get("epsilon", 1e-5))))


def _aligned(g: _Graph, node, index: int, like: SSAValue, attrs) -> SSAValue:
    """An operand of Add/Mul; opset < 7 broadcasting (`broadcast`, `axis`) made explicit."""
    name = node.input[index]
    value = g.values[name]
    if index == 1 and attrs.get("broadcast") and not isinstance(value, SSAValue):
        rank = len(nn.shape_of(like))
        axis = attrs.get("axis", rank - value.ndim) % rank
        value = value.reshape((1,) * axis + value.shape + (1,) * (rank - axis - value.ndim))
        return g.builder.insert(weight_op(g.weights, name, _float_array(name, value))).result
    return g.tensor(name)


def _binary(op_type: type[nn.BinaryOp]) -> Callable:
    def convert(g: _Graph, node, attrs) -> tuple:
        lhs = g.tensor(node.input[0])
        return g.insert(op_type(lhs, _aligned(g, node, 1, lhs, attrs)))

    return convert


def _convert_prelu(g: _Graph, node, attrs) -> tuple:
    x = g.tensor(node.input[0])
    slope = g.float_constant(node.input[1], "PRelu's slope")
    rank = len(nn.shape_of(x))
    if slope.ndim == 1 and rank > 2 and slope.size == nn.shape_of(x)[1]:
        slope = slope.reshape((-1,) + (1,) * (rank - 2))  # opset < 7: one slope per channel
    w = g.builder.insert(weight_op(g.weights, node.input[1], slope)).result
    return g.insert(nn.PReluOp(x, w))


def _convert_pad(g: _Graph, node, attrs) -> tuple:
    x = g.tensor(node.input[0])
    mode = _decode(attrs.get("mode", "constant"))
    if mode != "constant":
        raise _Unsupported(f"Pad mode '{mode}'")
    if "pads" in attrs:
        pads, value = list(attrs["pads"]), float(attrs.get("value", 0.0))
    else:
        pads = g.constant(node.input[1], "Pad's pads").tolist()
        value = float(g.constant(node.input[2], "Pad's value")) if len(node.input) > 2 and node.input[2] else 0.0
    rank = len(nn.shape_of(x))
    begin, end = pads[:rank], pads[rank:]
    if rank != 4 or any(begin[:2]) or any(end[:2]) or min(pads) < 0:
        raise _Unsupported(f"Pad {pads} (only non-negative padding of H and W)")
    return g.insert(nn.Pad2DOp(x, (begin[2], begin[3], end[2], end[3]), value))


def _convert_sum(g: _Graph, node, attrs) -> tuple:
    total = g.tensor(node.input[0])
    for name in node.input[1:]:
        (total,) = g.insert(nn.AddOp(total, g.tensor(name)))
    return (total,)


def _convert_concat(g: _Graph, node, attrs) -> tuple:
    return g.insert(nn.ConcatOp([g.tensor(n) for n in node.input], attrs["axis"]))


def _reshape(g: _Graph, x: SSAValue, shape: Sequence[int]) -> tuple:
    return (x,) if tuple(shape) == nn.shape_of(x) else g.insert(nn.ReshapeOp(x, shape))


def _convert_flatten(g: _Graph, node, attrs) -> tuple:
    x = g.tensor(node.input[0])
    shape = nn.shape_of(x)
    axis = attrs.get("axis", 1) % (len(shape) + 1)
    return _reshape(g, x, (int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))))


def _convert_reshape(g: _Graph, node, attrs) -> tuple:
    x = g.tensor(node.input[0])
    shape = attrs["shape"] if "shape" in attrs else g.constant(node.input[1], "Reshape's shape")
    source = nn.shape_of(x)
    target = [source[i] if d == 0 else int(d) for i, d in enumerate(shape)]
    if target and target[0] == g.batch and g.batch != 1:
        target[0] = 1  # the exporter's fixed batch, which the per-sample IR runs as 1
    if target.count(-1) == 1:
        known = int(np.prod([d for d in target if d != -1]))
        target[target.index(-1)] = int(np.prod(source)) // known
    if int(np.prod(target)) != int(np.prod(source)):
        raise _Unsupported(f"Reshape of {list(source)} to {list(shape)}")
    return _reshape(g, x, target)


def _softmax(op_type: type[nn.SoftmaxBase]) -> Callable:
    def convert(g: _Graph, node, attrs) -> tuple:
        x = g.tensor(node.input[0])
        shape = nn.shape_of(x)
        axis = attrs.get("axis", 1 if g.opset < 13 else -1) % len(shape)
        if g.opset >= 13 or axis == len(shape) - 1:
            return g.insert(op_type(x, axis))
        # Before opset 13: softmax over everything from `axis` on, as one dimension.
        (flat,) = _reshape(g, x, (int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))))
        (result,) = g.insert(op_type(flat, 1))
        return _reshape(g, result, shape)

    return convert


def _identity(g: _Graph, node, attrs) -> tuple:
    return (g.values[node.input[0]],)


def _convert_global_average_pool(g: _Graph, node, attrs) -> tuple:
    return g.insert(nn.AdaptiveAvgPool2DOp(g.tensor(node.input[0]), (1, 1)))


def _convert_reduce_mean(g: _Graph, node, attrs) -> tuple:
    x = g.tensor(node.input[0])
    rank = len(nn.shape_of(x))
    axes = attrs.get("axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = g.constant(node.input[1], "ReduceMean's axes").tolist()
    if rank != 4 or sorted(a % rank for a in (axes or [])) != [2, 3]:
        raise _Unsupported(f"ReduceMean over axes {axes} (only H, W of NCHW)")
    (pooled,) = g.insert(nn.AdaptiveAvgPool2DOp(x, (1, 1)))
    return (pooled,) if attrs.get("keepdims", 1) else _reshape(g, pooled, nn.shape_of(pooled)[:2])


CONVERTERS: dict[str, Callable[[_Graph, Any, dict], tuple]] = {
    "Add": _binary(nn.AddOp),
    "AveragePool": _convert_average_pool,
    "BatchNormalization": _convert_batch_norm,
    "Clip": _convert_clip,
    "Concat": _convert_concat,
    "Conv": _convert_conv,
    "Dropout": _identity,
    "Elu": _unary(lambda x, a: nn.EluOp(x, a.get("alpha", 1.0))),
    "Flatten": _convert_flatten,
    "Gemm": _convert_gemm,
    "GlobalAveragePool": _convert_global_average_pool,
    "HardSwish": _unary(lambda x, a: nn.HardswishOp(x)),
    "Identity": _identity,
    "LeakyRelu": _unary(lambda x, a: nn.LeakyReluOp(x, a.get("alpha", 0.01))),
    "LogSoftmax": _softmax(nn.LogSoftmaxOp),
    "LRN": _unary(
        lambda x, a: nn.LRNOp(x, a["size"], a.get("alpha", 1e-4), a.get("beta", 0.75), a.get("bias", 1.0))
    ),
    "MatMul": _convert_matmul,
    "MaxPool": _convert_max_pool,
    "ReduceMean": _convert_reduce_mean,
    "Mul": _binary(nn.MulOp),
    "PRelu": _convert_prelu,
    "Pad": _convert_pad,
    "Relu": _unary(lambda x, a: nn.ReluOp(x)),
    "Reshape": _convert_reshape,
    "Sigmoid": _unary(lambda x, a: nn.SigmoidOp(x)),
    "Softmax": _softmax(nn.SoftmaxOp),
    "Sum": _convert_sum,
    "Tanh": _unary(lambda x, a: nn.TanhOp(x)),
}
"""ONNX ops on run-time tensors. Any op on constants only is folded instead."""


def _fold(node, inputs: list[np.ndarray], opset: int) -> list[np.ndarray]:
    """Evaluate one node on constants with ONNX's reference implementation."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    graph = onnx.helper.make_graph(
        [node], "fold",
        [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None) for n in node.input if n],
        [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None) for n in node.output],
    )  # fmt: skip
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])
    feeds = dict(zip([n for n in node.input if n], inputs))
    return ReferenceEvaluator(model).run(None, feeds)


def _where(node) -> str:
    return f"node '{node.name}'" if node.name else f"the node producing '{node.output[0]}'"


def data_inputs(graph) -> list:
    """The graph inputs that carry data: old exporters also list every initializer."""
    initializers = {t.name for t in graph.initializer}
    return [i for i in graph.input if i.name not in initializers]


def input_dims(value_info) -> list[int | None]:
    """A graph input's dimensions; None where symbolic."""
    return [d.dim_value if d.HasField("dim_value") else None for d in value_info.type.tensor_type.shape.dim]


def load_onnx(path: str | Path):
    """Load and check an ONNX file, with one clear message for every way it can fail.

    onnx.load refuses external data outside the model's directory or shorter than its
    tensor. Element types and attribute values are checked where they are used (the
    importer's constants, the `nn` verifiers): the checker's strict shape inference
    would also refuse models that exporters write and ONNX Runtime runs.
    """
    try:
        import onnx
    except ImportError:
        raise ImportError_("reading ONNX needs the onnx package: pip install onnx") from None
    path = Path(path)
    if not path.is_file():
        raise ImportError_(f"{path}: {'is a directory' if path.is_dir() else 'no such file'}")
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as e:  # protobuf DecodeError, ValidationError, ...
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ImportError_(f"{path}: not a valid ONNX model: {first}") from None
    return model


def _initializer_array(path: str | Path, tensor) -> np.ndarray:
    """An initializer's data, refused (by name) unless its bytes match its dims and type."""
    from onnx import helper, numpy_helper

    try:
        if tensor.HasField("raw_data"):
            dims = list(tensor.dims)
            itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
            needed = int(np.prod(dims, dtype=np.int64)) * itemsize
            if len(tensor.raw_data) != needed:
                raise ImportError_(
                    f"tensor '{tensor.name}': raw_data holds {len(tensor.raw_data)} bytes, "
                    f"not the {needed} of shape {dims}: the file is truncated or corrupt"
                )
        return numpy_helper.to_array(tensor)
    except ImportError_ as e:
        raise ImportError_(f"{path}: {e}") from None
    except Exception as e:  # an unknown data_type, or typed data of the wrong length
        raise ImportError_(f"{path}: tensor '{tensor.name}': {type(e).__name__}: {e}") from None


def import_onnx(path: str | Path, sample_shape: Sequence[int] | None = None) -> ImportedModel:
    """Import an ONNX model; its graph input's first dimension is the batch."""
    from onnx import numpy_helper

    model = load_onnx(path)
    graph = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    initializers = {t.name: _initializer_array(path, t) for t in graph.initializer}
    inputs = data_inputs(graph)
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ImportError_(
            f"{path}: models with {len(inputs)} inputs and {len(graph.output)} outputs are not "
            "supported (need 1 and 1)"
        )
    dims = input_dims(inputs[0])
    shape = tuple(sample_shape) if sample_shape else tuple(dims[1:])
    if not shape or any(d is None or d < 1 for d in shape):
        raise ImportError_(f"{path}: the input's sample shape {dims[1:]} is not static; give --input-shape")
    block = Block(arg_types=[nn.tensor((1, *shape))])
    block.args[0].name_hint = "input"
    g = _Graph(Builder(InsertPoint.at_end(block)), WeightFile(), opset, dims[0] or 1)
    g.values.update({k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in initializers.items()})
    g.values[inputs[0].name] = block.args[0]
    origins = _walk(g, graph.node, shape)
    output = g.values.get(graph.output[0].name)
    if not isinstance(output, SSAValue):
        raise ImportError_(f"{path}: the output is not computed from the input")
    g.builder.insert(func.ReturnOp(output))
    function = func.FuncOp(ENTRY, ((block.args[0].type,), (output.type,)), Region(block))
    return ImportedModel(ModuleOp([function]), g.weights, origins)


def _verify_ops_after(block: Block, last) -> None:
    """Verify the ops a converter inserted (an explicit pad before a conv included)."""
    op = block.first_op if last is None else last.next_op
    while op is not None:
        op.verify()
        op = op.next_op


def _walk(g: _Graph, nodes, shape) -> dict[SSAValue, tuple[str, str]]:
    unsupported: dict[str, list[str]] = {}
    origins: dict[SSAValue, tuple[str, str]] = {}
    for node in nodes:
        inputs = [g.values.get(n) if n else None for n in node.input]
        if any(v is None and n for v, n in zip(inputs, node.input)):
            for name in node.output:  # downstream of an unsupported op
                g.values.pop(name, None)
            continue
        if node.domain not in ("", "ai.onnx"):
            unsupported.setdefault(f"{node.domain}.{node.op_type}", []).append(_where(node))
            continue
        if not any(isinstance(v, SSAValue) for v in inputs):
            try:
                results = _fold(node, [v for v in inputs if v is not None], g.opset)
            except Exception as e:  # the reference evaluator's own errors
                raise ImportError_(f"{node.op_type} at {_where(node)}: cannot fold: {e}") from None
        elif node.op_type not in CONVERTERS:
            unsupported.setdefault(node.op_type, []).append(_where(node))
            continue
        else:
            try:
                last = g.builder.insertion_point.block.last_op
                results = CONVERTERS[node.op_type](g, node, _attributes(node))
                _verify_ops_after(g.builder.insertion_point.block, last)
                for value in results:
                    if isinstance(value, OpResult):
                        origins.setdefault(value, (node.output[0], _where(node)))
            except _Unsupported as e:
                unsupported.setdefault(node.op_type, []).append(f"{_where(node)} ({e})")
                continue
            except VerifyException as e:
                raise ImportError_(
                    f"{node.op_type} at {_where(node)}: {e} (the input sample shape is "
                    f"{','.join(map(str, shape))}; see --input-shape)"
                ) from None
            except ImportError_ as e:
                raise ImportError_(f"{node.op_type} at {_where(node)}: {e}") from None
            except MALFORMED_MODEL_ERRORS as e:
                raise ImportError_(f"{node.op_type} at {_where(node)}: {type(e).__name__}: {e}") from None
        for name, value in zip(node.output, results):
            g.values[name] = value
    if unsupported:
        listed = "\n".join(f"  {op} at {'; '.join(places)}" for op, places in unsupported.items())
        raise ImportError_(
            f"unsupported ONNX operators:\n{listed}\nsupported: {', '.join(sorted(CONVERTERS))}"
        )
    return origins
