"""ONNX → `nn` dialect (the `onnx` package is an optional dependency).

Like the aten front ends, one walk over the graph: tensors computed from the input
become `nn` SSA values with static shapes (batch 1), and every node whose inputs are all
constants (initializers, `Constant`, `Gather`, ...) is evaluated at import time by
ONNX's reference evaluator; a `ConstantOfShape` stays one value (a splat, `nn.splat`).
`Shape` and `Size` of a run-time tensor are its static per-sample shape, so that the
`Shape` -> `Gather` -> `Concat` -> `Reshape` chains of a dynamic batch fold. Constants
that reach an `nn` op become weights. An op that cannot be converted is recorded and
the walk goes on; the refusal lists them all.

The converters are by op family, named like the `nn` dialect's: `conv`, `linear`,
`pool`, `activation`, `norm`, `elementwise`, `shape`, `softmax`, `reduce`, `matmul`,
`recurrent`, and `quant` for quantized models (QDQ and QOperator); `graph.py` holds what
they share. Adding an ONNX op: a converter in its family's module, listed in that
module's `CONVERTERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from xdsl.builder import Builder
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue
from xdsl.rewriter import InsertPoint
from xdsl.utils.exceptions import VerifyException

from mnistc.dialects import nn
from mnistc.importers import shape_ops
from mnistc.importers.common import (
    ImportedModel,
    ImportError_,
    Problems,
    converter_failure,
    import_following_the_batch,
    locate_and_verify,
)
from mnistc.importers.onnx import (
    activation,
    conv,
    elementwise,
    linear,
    matmul,
    norm,
    pool,
    quant,
    recurrent,
    reduce,
    resample,
    shape,
    softmax,
)
from mnistc.importers.onnx.batch import BatchDegrees
from mnistc.importers.onnx.graph import Graph, Unsupported, attributes, constant_of_shape, where
from mnistc.importers.signature import SampleShapes, entry_function, fixed_inputs, input_block, shapes_for
from mnistc.locations import ModelLocation
from mnistc.weights import WeightFile

def convert_cast(g: Graph, node, attrs) -> tuple:
    """`Cast` (`CastLike`) of a run-time tensor to float32, as exporters write
    `x.float()` and `type_as`: the tensor itself; to another element type refused."""
    import onnx

    if node.op_type == "CastLike":
        like = g.values.get(node.input[1])
        to_float = isinstance(like, SSAValue) or np.asarray(like).dtype == np.float32
    else:
        to_float = attrs.get("to") == onnx.TensorProto.FLOAT
    if not to_float:
        raise Unsupported("a cast of a run-time tensor to another element type than float32")
    return (g.values[node.input[0]],)


CONVERTERS: dict[str, Callable[[Graph, Any, dict], tuple]] = {
    "Cast": convert_cast,
    "CastLike": convert_cast,
    **activation.CONVERTERS,
    **conv.CONVERTERS,
    **elementwise.CONVERTERS,
    **linear.CONVERTERS,
    **norm.CONVERTERS,
    **pool.CONVERTERS,
    **shape.CONVERTERS,
    **softmax.CONVERTERS,
    **reduce.CONVERTERS,
    **resample.CONVERTERS,
    # quantized models
    **quant.CONVERTERS,
    **matmul.CONVERTERS,
    **recurrent.CONVERTERS,
}
"""ONNX ops on run-time tensors, by type (`domain.type` outside the default domain).
Any op on constants only is folded instead, but those of `quant.CONSTANT_CONVERTERS`."""

REFUSALS: dict[str, str] = {**quant.REFUSALS}
"""Why an op without a converter is refused, where more can be said than its name."""


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


def import_onnx(path: str | Path, sample_shape: SampleShapes | None = None) -> ImportedModel:
    """Import an ONNX model; each graph input's first dimension is the batch, or, when the
    graph cannot follow it and every input's shape is fixed, each input is one sample
    whole (`common.import_following_the_batch`)."""
    model = load_onnx(path)
    inputs = data_inputs(model.graph)
    if not inputs:
        raise ImportError_(f"{path}: the graph has no input")
    names = [i.name for i in inputs]
    dims = [input_dims(i) for i in inputs]

    def per_sample() -> ImportedModel:
        try:
            shapes = shapes_for(names, sample_shape, lambda i: _sample_shape_in_file(dims[i]))
        except ImportError_ as e:
            raise ImportError_(f"{path}: {e}") from None
        return _import_graph(path, model, names, shapes, (dims[0][0] if dims[0] else None) or 1)

    return import_following_the_batch(
        per_sample,
        lambda fixed: _import_graph(path, model, names, fixed, None),
        names,
        fixed_inputs(names, dims, sample_shape),
    )


def _sample_shape_in_file(dims: list[int | None]) -> tuple | None:
    """One sample's shape as the graph input declares it: its dimensions after the
    first (the batch); None for a rank-0 input."""
    return tuple(dims[1:]) if dims else None


def _import_graph(
    path: str | Path, model, names: list[str], shapes: list[tuple], batch: int | None
) -> ImportedModel:
    """The graph on `nn` inputs [1, *shape], one per graph input: one sample of a batch
    exported as `batch`, or (`batch` None) each whole input, seen by the converters as
    the model's own tensor, with no batch to follow."""
    graph = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    initializers = {t.name: _initializer_array(path, t) for t in graph.initializer}
    block = input_block(names, shapes)
    g = Graph(Builder(InsertPoint.at_end(block)), WeightFile(), opset, batch or 1)
    g.values.update({k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in initializers.items()})
    g.values.update(zip(names, block.args))
    if batch is None:
        g.moved.followed = False
        for name, argument, shape in zip(names, block.args, shapes):
            g.values[name] = shape_ops.whole_input(g.builder, argument, shape)
    _walk(g, graph.node, shapes[0])
    outputs = [_graph_output(g, path, output.name) for output in graph.output]
    if batch is None:
        outputs = [shape_ops.whole_output(g.builder, output) for output in outputs]
    function = entry_function(block, names, outputs, [o.name for o in graph.output])
    return ImportedModel(ModuleOp([function]), g.weights)


def _graph_output(g: Graph, path: str | Path, name: str) -> SSAValue:
    """The value of a graph output, refused (by name) unless a run-time tensor whose
    batch is dimension 0."""
    output = g.values.get(name)
    if not isinstance(output, SSAValue):
        raise ImportError_(f"{path}: the output '{name}' is not computed from the inputs")
    if (reason := g.moved.refusal(output)) is not None:
        raise ImportError_(f"{path}: the model's output '{name}': {reason}")
    return output


class _Placeholder:
    """The value of a node that was not converted: the import goes on past it, so that
    the refusal lists every unsupported op."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __repr__(self) -> str:
        return self.what


REFUSED = _Placeholder("REFUSED")
"""A run-time tensor computed by a refused op (or from one)."""
UNKNOWN = _Placeholder("UNKNOWN")
"""A constant that would fold from a refused op's result (its `Shape`, and what is
computed from that): the ops on it are not run-time ops, so none is refused."""

SHAPE_OPS = ("Shape", "Size")
"""Ops that read only the static shape of a run-time tensor: folded, never converted."""


def static_shape(node, x: SSAValue, attrs: dict) -> np.ndarray:
    """`Shape` (with opset 15's start and end) or `Size` of a run-time tensor: the static
    shape of one sample, whose batch is 1 as in the per-sample `nn` IR (the executable
    loops over the batch, whatever its size)."""
    dims = nn.shape_of(x)
    if node.op_type == "Size":
        return np.array(int(np.prod(dims)), dtype=np.int64)
    return np.array(dims[attrs.get("start", 0) : attrs.get("end", len(dims))], dtype=np.int64)


def _walk(g: Graph, nodes, shape) -> None:
    """Convert the nodes in order; an op that cannot be converted is recorded and its
    outputs become placeholders, and the model is refused at the end with all of them."""
    problems = Problems()
    batch = BatchDegrees(g.shape_degrees)
    for node in nodes:
        results = _node_results(g, node, shape, problems, batch)
        for name, value in zip(node.output, results):
            g.values[name] = value
    problems.raise_if_any("unsupported ONNX operators", sorted(CONVERTERS))


def _node_results(g: Graph, node, shape, problems: Problems, batch: BatchDegrees) -> list:
    """The values of the node's outputs: folded constants, `nn` values or placeholders."""
    inputs = [g.values.get(n, UNKNOWN) if n else None for n in node.input]
    placeholders = [v for v in inputs if isinstance(v, _Placeholder)]
    run_time = any(v is REFUSED or isinstance(v, SSAValue) for v in inputs)
    refused = [REFUSED] * len(node.output)
    kind = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
    if kind != node.op_type and kind not in CONVERTERS:
        problems.add(kind, where(node))
        return refused
    if placeholders:
        if node.op_type in SHAPE_OPS or not run_time:
            return [UNKNOWN] * len(node.output)
        if kind not in CONVERTERS:
            problems.add(kind, where(node), REFUSALS.get(kind, ""))
        return refused
    if node.op_type in SHAPE_OPS and isinstance(inputs[0], SSAValue):
        attrs = _guarded(node, lambda: attributes(node))
        batch.record_shape(node, attrs, len(nn.shape_of(inputs[0])), g.moved.dim(inputs[0]))
        return [_guarded(node, lambda: static_shape(node, inputs[0], attrs))]
    if node.op_type == "ConstantOfShape" and inputs and isinstance(inputs[0], np.ndarray):
        value = constant_of_shape(node, inputs[0])  # kept a splat, never expanded
        batch.record_constant_of_shape(node, value)
        return [value]
    if not run_time and kind not in quant.CONSTANT_CONVERTERS:
        try:
            results = _fold(node, [v for v in inputs if v is not None], g.opset)
            batch.propagate(node, inputs, results, lambda moved: _fold(node, moved, g.opset))
            return results
        except Exception as e:  # the reference evaluator's own errors
            raise ImportError_(f"{node.op_type} at {where(node)}: cannot fold: {e}") from None
    if kind not in CONVERTERS:
        problems.add(kind, where(node), REFUSALS.get(kind, ""))
        return refused
    block = g.builder.insertion_point.block
    last = block.last_op
    try:
        batch.check_run_time_use(node)
        carrier = _check_moved_batch(g, node, inputs)
        results = CONVERTERS[kind](g, node, attributes(node))
        if carrier is not None:
            g.moved.same_place(results[0], carrier, kind)
        locate_and_verify(block, last, ModelLocation(node.output[0], node.name), results)
    except Unsupported as e:
        problems.add(kind, where(node), str(e))
        return refused
    except VerifyException as e:
        raise ImportError_(
            f"{node.op_type} at {where(node)}: {e} (the input sample shape is "
            f"{','.join(map(str, shape))}; see --input-shape)"
        ) from None
    except ImportError_ as e:
        raise ImportError_(f"{node.op_type} at {where(node)}: {e}") from None
    except Exception as e:  # a malformed model, or a converter's own bug
        raise converter_failure(node.op_type, where(node), e) from None
    return list(results)


# the ops that take a tensor whose batch is not dimension 0 (LSTM's and GRU's
# states and sequences, see shape_ops.MovedBatch): they follow where it goes.
FOLLOWS_MOVED_BATCH = {
    "Transpose", "Slice", "Gather", "Squeeze", "Unsqueeze", "Reshape", "Concat", "Identity", "Split",
    "Dropout", "Cast", "CastLike", *recurrent.CONVERTERS,
}  # fmt: skip


FOLLOWS_MERGED_BATCH = {"Transpose", "Reshape", "Identity", "Dropout"}
"""The followers that also take a batch merged into a dimension (`MovedBatch.merged`)."""

ROW_WISE = {"MatMul", "Gemm", "LayerNormalization"}
"""Ops on each row (the last dimension) of their first input, with constant weights:
wherever the batch is but in the rows, their result has it at the same place (as
sequence-first multi-head attention's projections have it at dimension 1)."""

ELEMENT_WISE = {"Add", "Sub", "Mul", "Div", "Relu", "Erf", "Sqrt", "Tanh", "Sigmoid", "Gelu"}
"""Element-wise ops that keep a moved batch in place: their run-time operands have it at
the same place and shape, their constants do not vary along it."""


def _check_moved_batch(g: Graph, node, inputs: list) -> SSAValue | None:
    """Refuse a node that takes a tensor with a moved batch but does not follow it; the
    input whose batch place a row-wise or element-wise node's result takes, if any."""
    moved = [v for v in inputs if isinstance(v, SSAValue) and v in g.moved.places]
    if not moved:
        return None
    if node.op_type in FOLLOWS_MOVED_BATCH and not (
        any(g.moved.merged_outer(v) != 1 for v in moved) and node.op_type not in FOLLOWS_MERGED_BATCH
    ):
        return None
    if node.op_type in ROW_WISE and _rows_keep_batch(g, node, inputs):
        return inputs[0]
    if node.op_type in ELEMENT_WISE and _elements_keep_batch(g, inputs):
        return moved[0]
    raise Unsupported(g.moved.refusal(moved[0]))


def _rows_keep_batch(g: Graph, node, inputs: list) -> bool:
    """A row-wise node on a run-time first input whose batch is not in its rows, whose
    other inputs are constants (MatMul's a matrix)."""
    x = inputs[0]
    if not isinstance(x, SSAValue) or not g.moved.rows_keep_place(x) or any(isinstance(v, SSAValue) for v in inputs[1:]):
        return False
    if node.op_type == "LayerNormalization":
        rank = len(nn.shape_of(x))
        return attributes(node).get("axis", -1) % rank == rank - 1
    return node.op_type != "MatMul" or np.ndim(inputs[1]) == 2


def _elements_keep_batch(g: Graph, inputs: list) -> bool:
    tensors = [v for v in inputs if isinstance(v, SSAValue)]
    return g.moved.element_wise_keeps_place(tensors, [v.shape for v in inputs if isinstance(v, np.ndarray)])


def _guarded(node, compute: Callable[[], Any]) -> Any:
    """`compute()`, any exception (an attribute of the wrong type) a refusal naming the node."""
    try:
        return compute()
    except Exception as e:
        raise converter_failure(node.op_type, where(node), e) from None
