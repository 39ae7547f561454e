"""torch.export → `nn` dialect, through the aten converters TorchScript uses.

An ExportedProgram's graph calls the same aten operators TorchScript records, with the
same schemas, so each FX node is translated into the converters' neutral `Node`
(`mnistc.importers.aten.graph`): arguments completed from the schema's defaults,
parameters named by their state-dict keys, the location from the `stack_trace` and
`nn_module_stack` metadata.
"""

from __future__ import annotations

import importlib
import json
import operator
import zipfile
from pathlib import Path
from typing import Any

import torch
from xdsl.builder import Builder
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue
from xdsl.rewriter import InsertPoint

from mnistc.dialects import nn
from mnistc.importers.aten import convert_node, python, refuse_if_any
from mnistc.importers.aten.graph import UNSUPPORTED, ConversionContext, Node, source_location
from mnistc.dialects.shapes import element_count
from mnistc.importers import shape_ops
from mnistc.importers.common import (
    ImportedModel,
    ImportError_,
    check_storage,
    converter_failure,
    import_following_the_batch,
    quiet_torch_logging,
)
from mnistc.importers.signature import (
    SampleShapes,
    entry_function,
    fixed_inputs,
    input_block,
    output_names,
    shapes_for,
)
from mnistc.locations import ModelLocation
from mnistc.weights import WeightFile


def _arguments(node: torch.fx.Node) -> list[Any]:
    """Positional arguments completed with keyword arguments and the schema's defaults."""
    schema = node.target._schema
    values = []
    for i, argument in enumerate(schema.arguments):
        if i < len(node.args):
            values.append(node.args[i])
        elif argument.name in node.kwargs:
            values.append(node.kwargs[argument.name])
        else:
            values.append(argument.default_value if argument.has_default_value() else None)
    return values


PYTHON_TARGETS = {
    operator.getitem: "aten::__getitem__",
    operator.add: "aten::add",
    operator.sub: "aten::sub",
    operator.mul: "aten::mul",
    operator.truediv: "aten::div",
    operator.floordiv: "aten::floordiv",
    operator.mod: "aten::remainder",
    operator.neg: "aten::neg",
    operator.eq: "aten::eq",
    operator.ne: "aten::ne",
    operator.ge: "aten::ge",
    operator.gt: "aten::gt",
    operator.le: "aten::le",
    operator.lt: "aten::lt",
    operator.and_: "aten::__and__",
    operator.or_: "aten::__or__",
    operator.not_: "aten::__not__",
}
"""The Python functions an FX graph calls on sizes (`getitem` on the outputs of a
multi-output op, `mul` of a symbolic batch), as the aten ops TorchScript records."""


def _kind(node: torch.fx.Node) -> str:
    schema = getattr(node.target, "_schema", None)
    if schema is not None:
        return schema.name
    try:
        named = PYTHON_TARGETS.get(node.target)
    except TypeError:  # an unhashable target
        named = None
    return named or getattr(node.target, "__name__", None) or str(node.target)


def fixed_batch_as_batch_size(kind: str, args: list[Any], batch: int) -> list[Any]:
    """The arguments with a fixed export batch, first in a shape argument, as the
    `BatchSize` that `x.size(0)` gives in a dynamic program."""
    index = python.SHAPE_ARGUMENT.get(kind)
    if batch == 1 or index is None or index >= len(args):
        return args
    shape = args[index]
    if not isinstance(shape, list | tuple) or not shape or type(shape[0]) is not int or shape[0] != batch:
        return args
    if index == 1 and not (isinstance(args[0], SSAValue) and nn.shape_of(args[0])[:1] == (1,)):
        return args
    return [*args[:index], [python.BATCH, *shape[1:]], *args[index + 1 :]]


def _num_outputs(node: torch.fx.Node) -> int:
    """How many values the op returns (`max_pool2d_with_indices`: 2); a list of tensors
    (`split`) is one value, as in TorchScript."""
    schema = getattr(node.target, "_schema", None)
    return max(1, len(schema.returns)) if schema is not None else 1


def _module_path(node: torch.fx.Node) -> str:
    """`features.0 (Conv2d)`: the innermost module on the node's `nn_module_stack`."""
    stack = [(path, kind) for path, kind in (node.meta.get("nn_module_stack") or {}).values() if path]
    if not stack:
        return ""
    path, kind = stack[-1]
    return f"{path} ({str(kind).split('.')[-1]})"


def _calls_quantized_ops(path: Path) -> bool:
    """Whether the saved program calls PT2E's `quantized_decomposed` ops, whose library
    torch.export.load needs registered first. It is loaded only then: registering op
    libraries changes torch's JIT tables for the rest of the process. A damaged archive
    answers no: torch.export.load, next, reports it."""
    try:
        with zipfile.ZipFile(path) as archive:
            programs = [name for name in archive.namelist() if name.endswith(".json")]
            return any(b"quantized_decomposed" in archive.read(name) for name in programs)
    except Exception:  # any damage: BadZipFile, a bad CRC, zlib errors, truncation
        return False


def load_exported(path: str | Path) -> torch.export.ExportedProgram:
    """Load a `torch.export.save`d file; every failure is one message, torch's own log
    output (a traceback logged as a warning) is kept off stderr and quoted instead."""
    path = Path(path)
    if not path.is_file():
        raise ImportError_(f"{path}: {'is a directory' if path.is_dir() else 'no such file'}")
    try:
        check_payload_storages(path)
    except ImportError_ as e:
        raise ImportError_(f"{path}: {e}") from None
    if _calls_quantized_ops(path):
        importlib.import_module("torch.ao.quantization.fx._decomposed")  # PT2E's quantize ops

    try:
        with quiet_torch_logging() as logged:
            return torch.export.load(str(path))
    except Exception as e:  # zip, pickle and version errors
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        cause = next((m for m in reversed(logged) if m), "")
        if cause and "error when deserializing" in first:
            first = cause
        raise ImportError_(f"{path}: not a torch.export file (torch.export.save): {first}") from None


PAYLOAD_CONFIGS = {"data/weights/": "_weights_config.json", "data/constants/": "_constants_config.json"}
"""Where a .pt2 archive describes its tensors: folder → suffix of the JSON config in it."""


def check_payload_storages(path: Path) -> None:
    """Refuse a weight or constant whose shape, strides and offset reach past the bytes
    of its archive entry. torch.export.load checks a short entry, but loads an empty
    one as zeros; either is a damaged file. The message names the tensor."""
    try:
        archive = zipfile.ZipFile(path)
    except Exception:  # BadZipFile, OSError, a name that is not UTF-8...
        return  # torch.export.load says what is wrong
    with archive:
        sizes = {info.filename.split("/", 1)[-1]: info.file_size for info in archive.infolist()}
        for entry in archive.namelist():
            inner = entry.split("/", 1)[-1]
            folder = next(
                (f for f, end in PAYLOAD_CONFIGS.items() if inner.startswith(f) and inner.endswith(end)),
                None,
            )
            if folder is None or "/" in inner.removeprefix(folder):
                continue
            try:
                config = json.loads(archive.read(entry))["config"]
                for name, payload in config.items():
                    _check_payload(name, payload, folder, sizes)
            except ImportError_:
                raise
            except Exception as e:  # malformed JSON or fields of the wrong type
                raise ImportError_(f"damaged {inner}: {type(e).__name__}: {e}") from None


def _check_payload(name: str, payload: dict, folder: str, sizes: dict[str, int]) -> None:
    if payload.get("use_pickle") or payload.get("tensor_meta") is None:
        return  # pickled tensors are checked by torch.load, then by the importer
    meta = payload["tensor_meta"]
    shape = [d["as_int"] for d in meta["sizes"]]
    strides = [d["as_int"] for d in meta["strides"]]
    offset = meta["storage_offset"]["as_int"]
    from torch._export.serde.schema import ScalarType
    from torch._export.serde.serialize import _SERIALIZE_TO_TORCH_DTYPE

    dtype = _SERIALIZE_TO_TORCH_DTYPE.get(ScalarType(meta["dtype"]))
    if dtype is None:
        raise ImportError_(f"tensor '{name}' has an unknown element type {meta['dtype']}")
    entry = folder + payload["path_name"]
    itemsize = torch.empty(0, dtype=dtype).element_size()
    check_storage(name, shape, strides, offset, itemsize, sizes.get(entry, 0), f"its entry {entry}")


def import_exported(
    program: torch.export.ExportedProgram, sample_shape: SampleShapes | None = None
) -> ImportedModel:
    """Import an ExportedProgram whose user inputs are batches of samples (dimension 0)."""
    signature = program.graph_signature
    constants = {
        **signature.inputs_to_parameters,
        **signature.inputs_to_buffers,
        **getattr(signature, "inputs_to_lifted_tensor_constants", {}),
    }
    state = {**program.state_dict, **program.constants}
    placeholders = [n for n in program.graph.nodes if n.op == "placeholder"]
    by_name = {n.name: n for n in placeholders}
    user_inputs = [by_name.get(name) for name in signature.user_inputs]
    if not user_inputs or None in user_inputs or any(
        n not in user_inputs and constants.get(n.name) not in state for n in placeholders
    ):
        raise ImportError_("the exported program's inputs do not match its signature and state")
    names = [n.name for n in user_inputs]
    parts = (program, user_inputs, constants, state, placeholders)

    def per_sample() -> ImportedModel:
        shapes = shapes_for(names, sample_shape, lambda i: _recorded_shape(user_inputs[i]))
        return _import_program(*parts, shapes, _fixed_batch(user_inputs[0]))

    return import_following_the_batch(
        per_sample,
        lambda fixed: _import_program(*parts, fixed, None),
        names,
        fixed_inputs(names, [_example_dims(n) for n in user_inputs], sample_shape),
    )


def _example_dims(user_input: torch.fx.Node) -> list[int | None]:
    """The dimensions of a user input's example, None where dynamic (a `Dim`)."""
    example = getattr(user_input.meta.get("val"), "shape", None)
    return [d if type(d) is int else None for d in example] if example is not None else [None, None]


def _recorded_shape(user_input: torch.fx.Node) -> tuple | None:
    """One sample's shape as the program records it (its example input's, after the
    batch), None when it does not; a dynamic size stays a symbol, which is refused."""
    value = user_input.meta.get("val")
    return tuple(value.shape[1:]) if value is not None and hasattr(value, "shape") else None


def _import_program(
    program: torch.export.ExportedProgram,
    user_inputs: list[torch.fx.Node],
    constants: dict[str, str],
    state: dict[str, Any],
    placeholders: list[torch.fx.Node],
    shapes: list[tuple],
    batch: int | None,
) -> ImportedModel:
    """The program on `nn` inputs [1, *shape], one per user input: one sample of a batch
    exported as `batch`, or (`batch` None) each whole input, seen by the converters as
    the model's own tensor, with no batch to follow."""
    names = [n.name for n in user_inputs]
    block = input_block(names, shapes)
    ctx = ConversionContext(Builder(InsertPoint.at_end(block)), WeightFile(), shapes[0])
    arguments: list[SSAValue] = list(block.args)
    if batch is None:
        ctx.moved.followed = False
        arguments = [shape_ops.whole_input(ctx.builder, a, s) for a, s in zip(block.args, shapes)]
    values: dict[torch.fx.Node, Any] = {}
    names_of: dict[torch.fx.Node, str] = {}
    for node in placeholders:
        if node in user_inputs:
            values[node], names_of[node] = arguments[user_inputs.index(node)], node.name
        else:
            values[node] = state[constants[node.name]].detach()
            names_of[node] = constants[node.name]
    returned: list = []
    attention_groups = _attention_groups(program.graph)
    for node in program.graph.nodes:
        path = _attention_module(node) if node.op == "call_function" else None
        group = attention_groups.get(path)
        if group is not None and node is group[0] and not _convert_attention_module(ctx, group, values, names_of):
            del attention_groups[path]  # a form the fused op does not take: op by op
            group = None
        if group is not None:
            continue
        if node.op == "call_function":
            values[node] = _convert(ctx, node, values, names_of, batch or 1)
            names_of[node] = node.name
        elif node.op == "output":
            returned = node.args[0] if isinstance(node.args[0], list | tuple) else [node.args[0]]
    refuse_if_any(ctx)
    outputs = [values.get(r) if isinstance(r, torch.fx.Node) else r for r in returned]
    if not outputs or not all(isinstance(v, SSAValue) for v in outputs):
        raise ImportError_(
            "the model must return tensors computed from its inputs (one, or a tuple or list of them)"
        )
    outputs = [ctx.returned(v) for v in outputs]
    if batch is None:
        outputs = [shape_ops.whole_output(ctx.builder, v) for v in outputs]
    else:
        for value, node in zip(outputs, returned):
            _check_output_per_sample(value, node, batch)
    names_out = output_names(len(outputs), _output_names(program.graph_signature))
    function = entry_function(block, names, outputs, names_out)
    return ImportedModel(ModuleOp([function]), ctx.weights)


def _check_output_per_sample(output: SSAValue, exported: Any, batch: int) -> None:
    """Refuse a per-sample import whose output is not the sample's share of the exported
    one (a constant broadcast the sample across dimension 0, `x + w` with w [B, F] of an
    export at batch B): only a program exported with a static output shape tells."""
    shape = getattr(getattr(exported, "meta", {}).get("val"), "shape", None)
    if shape is None or not all(type(d) is int for d in shape):
        return
    total = element_count(tuple(shape))
    if element_count(nn.shape_of(output)) * batch != total:
        raise ImportError_(
            f"one sample's output {list(nn.shape_of(output))} is not its share of the "
            f"exported output {list(shape)} at batch {batch}: the graph works across "
            "dimension 0, the batch"
        )


def _output_names(signature) -> list[str]:
    """torch.export's names of the user outputs (the graph nodes they come from)."""
    return [getattr(spec.arg, "name", "") for spec in signature.output_specs
            if spec.kind.name == "USER_OUTPUT"]  # fmt: skip


def _fixed_batch(user_input: torch.fx.Node) -> int:
    """The batch size the program was exported with, 1 if dynamic (a `Dim`) or unknown."""
    value = user_input.meta.get("val")
    shape = getattr(value, "shape", ())
    return shape[0] if shape and isinstance(shape[0], int) else 1


def _resolve(value: Any, values: dict[torch.fx.Node, Any]) -> Any:
    if isinstance(value, torch.fx.Node):
        return values.get(value)
    if isinstance(value, list | tuple):
        return [_resolve(v, values) for v in value]
    return value


def _convert(
    ctx: ConversionContext,
    node: torch.fx.Node,
    values: dict[torch.fx.Node, Any],
    names: dict[torch.fx.Node, str],
    batch: int,
) -> Any:
    """The node's value: its one result, or the tuple of them that `getitem` indexes."""
    location = _location(node)
    try:
        aten = _as_node(node, values, names, location)
        aten.args = fixed_batch_as_batch_size(aten.kind, aten.args, batch)
        results = convert_node(ctx, aten)
    except ImportError_:
        raise
    except Exception as e:  # a graph no exporter writes (arguments outside the schema...)
        raise converter_failure(_kind(node), location.describe(), e) from None
    return results if _num_outputs(node) > 1 else results[0]


def _location(node: torch.fx.Node) -> ModelLocation:
    trace = node.meta.get("stack_trace", "") or ""
    return source_location(trace, _module_path(node), node.name, innermost=True)


def _as_node(
    node: torch.fx.Node,
    values: dict[torch.fx.Node, Any],
    names: dict[torch.fx.Node, str],
    location: ModelLocation,
) -> Node:
    """The FX node as the aten converters see it."""
    raw = _arguments(node) if hasattr(node.target, "_schema") else list(node.args)
    arg_names = [
        names.get(v, v.name) if isinstance(v, torch.fx.Node) else f"{node.name}_arg{i}"
        for i, v in enumerate(raw)
    ]
    value = node.meta.get("val")
    returns_tensor = isinstance(value, torch.Tensor) or (
        isinstance(value, list | tuple) and any(isinstance(v, torch.Tensor) for v in value)
    )
    return Node(
        _kind(node), [_resolve(v, values) for v in raw], arg_names, _num_outputs(node), location,
        returns_tensor,
    )  # fmt: skip


# --- nn.MultiheadAttention as one op ----------------------------------------------
# torch.export records nn.MultiheadAttention decomposed in its sequence-first layout: the
# batch moves to dimension 1, merges with the heads and comes back. In its plain form
# (packed projection, no mask, batch first) the nodes of one such module (its
# `nn_module_stack`) are converted together, as the fused op tracing records
# (aten::_native_multi_head_attention); any other form op by op, the converters
# following the batch (shape_ops.MovedBatch) and `fuse-attention` fusing it again.

MULTI_HEAD_ATTENTION = "torch.nn.modules.activation.MultiheadAttention"


def _type_name(kind: Any) -> str:
    return kind if isinstance(kind, str) else f"{kind.__module__}.{kind.__qualname__}"


def _attention_module(node: torch.fx.Node) -> str | None:
    """The path of the outermost nn.MultiheadAttention whose forward recorded the node."""
    for path, kind in (node.meta.get("nn_module_stack") or {}).values():
        if _type_name(kind) == MULTI_HEAD_ATTENTION:
            return path
    return None


def _attention_groups(graph: torch.fx.Graph) -> dict[str, list[torch.fx.Node]]:
    groups: dict[str, list[torch.fx.Node]] = {}
    for node in graph.nodes:
        path = _attention_module(node) if node.op == "call_function" else None
        if path is not None:
            groups.setdefault(path, []).append(node)
    return groups


def _convert_attention_module(
    ctx: ConversionContext, nodes: list[torch.fx.Node], values: dict[torch.fx.Node, Any],
    names: dict[torch.fx.Node, str],
) -> bool:  # fmt: skip
    """The module's results, from its inputs (query, key, value: the run-time tensors in
    order of first use) and its parameters, through the aten converter of the fused op;
    False for a form it does not take (a mask, is_causal, separate projection weights,
    sequence-first inputs), whose nodes are then converted one by one."""
    members = set(nodes)
    path = _attention_module(nodes[0])
    external = list(dict.fromkeys(a for n in nodes for a in n.all_input_nodes if a not in members))
    run_time = [a for a in external if isinstance(values.get(a), SSAValue)]
    parameters = {
        names.get(a, "").removeprefix(f"{path}."): a for a in external if isinstance(values.get(a), torch.Tensor)
    }
    outputs = [n for n in nodes if any(u not in members for u in n.users)]
    location = _location(nodes[0])
    result = next((n for n in outputs if n.target == torch.ops.aten.transpose.int), None)
    weights = next((n for n in outputs if n is not result), None)
    reason = _unsupported_attention(members, run_time, parameters, outputs, result, weights)
    if reason is None:
        heads = _head_count(nodes, values[parameters["in_proj_weight"]].shape[1])
        # self-attention passes one tensor, key is value two, else three
        query, key, value = run_time[0], run_time[min(1, len(run_time) - 1)], run_time[-1]
        arguments = [
            values[query], values[key], values[value], None, heads,
            *(values[parameters[p]] for p in ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias")),
            None, weights is not None, weights is not None and weights.target == torch.ops.aten.mean.dim, None,
        ]  # fmt: skip
        arg_names = ["query", "key", "value", "embed_dim", "num_head"] + [
            names[parameters[p]] for p in ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias")
        ] + ["mask", "need_weights", "average_attn_weights", "mask_type"]
        aten = Node("aten::_native_multi_head_attention", arguments, arg_names, 2, location, True)
        results = convert_node(ctx, aten)
    else:
        return False
    for node in outputs:
        values[node] = results[0] if node is result else results[1]
        names[node] = node.name
    return True


def _unsupported_attention(members, run_time, parameters, outputs, result, weights) -> str | None:
    """Why the module's recorded form is not the one converted, or None."""
    expected = {"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"}
    if set(parameters) != expected:
        return "only with a packed in-projection, biases, and no mask"
    if not 1 <= len(run_time) <= 3 or result is None or len(outputs) > 2:
        return "only with batch_first=True, no mask, returning the output (and its weights)"
    if any(n.target == torch.ops.aten.scaled_dot_product_attention.default and _is_causal(n) for n in members):
        return "with is_causal"
    transpose = torch.ops.aten.transpose.int
    if not all(any(u in members and u.target == transpose for u in t.users) for t in run_time):
        return "only with batch_first=True"
    if weights is not None and weights.target not in (torch.ops.aten.mean.dim, torch.ops.aten.view.default):
        return "its attention weights in an unknown form"
    return None


def _is_causal(sdpa: torch.fx.Node) -> bool:
    """scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal, ...)."""
    return bool(sdpa.kwargs.get("is_causal", sdpa.args[5] if len(sdpa.args) > 5 else False))


def _head_count(nodes: list[torch.fx.Node], embed_dim: int) -> int:
    """embed_dim / head_dim, head_dim the last size of the attention's queries."""
    for node in nodes:
        if node.target in (torch.ops.aten.bmm.default, torch.ops.aten.scaled_dot_product_attention.default):
            return embed_dim // node.args[0].meta["val"].shape[-1]
    raise ImportError_("nn.MultiheadAttention without its attention product")
