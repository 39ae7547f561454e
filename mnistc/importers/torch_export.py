"""torch.export → `nn` dialect, reusing the TorchScript importer's aten converters.

An ExportedProgram's graph calls the same aten operators TorchScript records, with the
same schemas, so each FX node is presented to the converters of
`mnistc.importers.torchscript` through a small adapter (arguments completed from the
schema's defaults, parameters named by their state-dict keys, locations from the
`stack_trace` and `nn_module_stack` metadata).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
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
from mnistc.importers.torchscript import (
    UNSUPPORTED,
    _Context,
    _converter,
    _NodeError,
    _RunTimeTensor,
    node_location,
)
from mnistc.weights import WeightFile


@dataclass(frozen=True)
class _Value:
    """A graph value as the converters see it: a key with a `debugName`."""

    name: str

    def debugName(self) -> str:  # noqa: N802 (TorchScript's spelling)
        return self.name


class _Node:
    """An FX node with the parts of torch._C.Node's interface the converters use."""

    def __init__(self, node: torch.fx.Node, inputs: list[_Value]):
        self.node, self.inputs = node, inputs

    def kind(self) -> str:
        schema = getattr(self.node.target, "_schema", None)
        return schema.name if schema is not None else str(self.node.target)

    def inputsAt(self, index: int) -> _Value:  # noqa: N802
        return self.inputs[index]

    def outputsSize(self) -> int:  # noqa: N802
        return 1

    def sourceRange(self) -> str:  # noqa: N802
        return self.node.meta.get("stack_trace", "") or ""

    def getModuleHierarchy(self) -> str:  # noqa: N802
        stack = self.node.meta.get("nn_module_stack") or {}
        parts = [f"{path.split('.')[-1]}({kind.split('.')[-1]})" for path, kind in stack.values() if path]
        return ".".join(parts)


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
    program: torch.export.ExportedProgram, sample_shape: Sequence[int] | None = None
) -> ImportedModel:
    """Import an ExportedProgram whose one user input is the batch of samples."""
    signature = program.graph_signature
    if len(signature.user_inputs) != 1:
        raise ImportError_(f"models with {len(signature.user_inputs)} inputs are not supported")
    constants = {
        **signature.inputs_to_parameters,
        **signature.inputs_to_buffers,
        **getattr(signature, "inputs_to_lifted_tensor_constants", {}),
    }
    state = {**program.state_dict, **program.constants}
    placeholders = [n for n in program.graph.nodes if n.op == "placeholder"]
    user_input = next((n for n in placeholders if n.name == signature.user_inputs[0]), None)
    if user_input is None or any(
        n is not user_input and constants.get(n.name) not in state for n in placeholders
    ):
        raise ImportError_("the exported program's inputs do not match its signature and state")
    if sample_shape is None:
        if "val" not in user_input.meta:
            raise ImportError_(
                "the exported program does not record its input's shape; give --input-shape"
            )
        sample_shape = tuple(int(d) for d in user_input.meta["val"].shape[1:])
    block = Block(arg_types=[nn.tensor((1, *sample_shape))])
    block.args[0].name_hint = "input"
    ctx = _Context(Builder(InsertPoint.at_end(block)), WeightFile(), {}, sample_shape)
    keys: dict[torch.fx.Node, _Value] = {}
    for node in placeholders:
        if node is user_input:
            keys[node] = _Value(node.name)
            ctx.values[keys[node]] = block.args[0]
        else:
            keys[node] = _Value(constants[node.name])
            ctx.values[keys[node]] = state[constants[node.name]].detach()
    output = None
    for node in program.graph.nodes:
        if node.op == "call_function":
            _convert(ctx, node, keys)
        elif node.op == "output":
            (result,) = node.args[0]
            output = ctx.values.get(keys.get(result))
    ctx.problems.raise_if_any()
    if not isinstance(output, SSAValue):
        raise ImportError_("the model must return one tensor computed from its input")
    ctx.builder.insert(func.ReturnOp(output))
    function = func.FuncOp(ENTRY, ((block.args[0].type,), (output.type,)), Region(block))
    return ImportedModel(ModuleOp([function]), ctx.weights, ctx.origins)


def _resolve(value: Any, keys: dict[torch.fx.Node, _Value], ctx: _Context) -> Any:
    if isinstance(value, torch.fx.Node):
        return ctx.values.get(keys[value])
    if isinstance(value, list | tuple):
        return [_resolve(v, keys, ctx) for v in value]
    return value


def _convert(ctx: _Context, fx_node: torch.fx.Node, keys: dict[torch.fx.Node, _Value]) -> None:
    raw = _arguments(fx_node) if hasattr(fx_node.target, "_schema") else list(fx_node.args)
    inputs = []
    for i, value in enumerate(raw):
        if isinstance(value, torch.fx.Node):
            inputs.append(keys[value])
        else:
            inputs.append(_Value(f"{fx_node.name}_arg{i}"))
            ctx.values[inputs[-1]] = _resolve(value, keys, ctx)
    node = _Node(fx_node, inputs)
    keys[fx_node] = _Value(fx_node.name)
    args = [ctx.values.get(v) for v in inputs]
    converter = _converter(node.kind())
    if converter is None or any(a is UNSUPPORTED for a in args):
        if converter is None:
            ctx.problems.add(node)
        ctx.values[keys[fx_node]] = UNSUPPORTED
        return
    try:
        results = converter(ctx, args, node)
        for value in results:
            if isinstance(value, OpResult):
                value.owner.verify()
                ctx.origins.setdefault(value, (fx_node.name, node_location(node)))
    except _RunTimeTensor:
        ctx.problems.add(node, "on tensors")
        results = (UNSUPPORTED,)
    except VerifyException as e:
        raise ImportError_(f"{node.kind()} at {node_location(node)}: {e}") from None
    except (_NodeError, *MALFORMED_MODEL_ERRORS) as e:
        raise ImportError_(f"{node.kind()} at {node_location(node)}: {e}") from None
    ctx.values[keys[fx_node]] = results[0]
