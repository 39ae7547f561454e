"""TorchScript → `nn` dialect.

The module is frozen (parameters become constants, submodules are inlined), then its
graph is evaluated abstractly in one walk: each node is presented to the aten converters
(`mnistc.importers.aten`) as a neutral `Node`; tensors become `nn` SSA values with static
shapes, and everything else (ints, lists, `aten::size`, integer math) is computed in
Python, so shape arithmetic is folded at import time. Constant tensors go to the
weight file and are referenced by `nn.weight`.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from xdsl.builder import Builder
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue
from xdsl.rewriter import InsertPoint

from mnistc.importers.aten import convert_node, refuse_if_any
from mnistc.importers.aten.graph import (
    UNSUPPORTED,
    ConversionContext,
    Node,
    RunTimeTensor,
    source_location,
)
from mnistc.importers.aten.python import condition
from mnistc.importers import shape_ops
from mnistc.importers.common import (
    ImportedModel,
    ImportError_,
    check_storage,
    import_following_the_batch,
    quiet_torch_logging,
)
from mnistc.importers.signature import (
    SampleShapes,
    entry_function,
    fixed_inputs,
    input_block,
    is_one_shape,
    output_names,
    shapes_for,
)
from mnistc.locations import ModelLocation
from mnistc.weights import WeightFile


def _weight_name(value: torch._C.Value) -> str:
    name = value.debugName()
    return name.removeprefix("self.") if not name.isdigit() else f"const{name}"


def module_path(node: torch._C.Node) -> str:
    """`features.0 (Conv2d)` from TorchScript's `features(Sequential).0(Conv2d)`."""
    parts = re.findall(r"([^.()]+)\(([^()]*)\)", node.getModuleHierarchy())
    named = [(name, kind) for name, kind in parts if name not in ("SELF", "UNKNOWN_INSTANCE")]
    if not named:
        return ""
    return ".".join(name for name, _ in named) + f" ({named[-1][1]})"


def node_location(node: torch._C.Node) -> ModelLocation:
    """The node's first output, its module path and the first source line outside torch.

    Never raises: the debug information is read lazily from the archive's `debug_pkl`
    entries, and a damaged one costs the location, not the compile.
    """
    outputs = list(node.outputs())
    value = outputs[0].debugName() if outputs else ""
    try:
        trace, path = node.sourceRange(), module_path(node)
    except Exception:  # torch's RuntimeError on a damaged debug_pkl, or anything else
        trace, path = "", ""
    return source_location(trace, path, value)

SHAPE_FILE = "mnistc_input_shape"
"""Extra file in a TorchScript archive that records one sample's shape, "C,H,W" (one
per input for a model of several, in order: "C,H,W;L")."""
BATCH_FILE = "mnistc_input_batch"
"""Extra file that fixes the batch too, "N" (`save_with_shape(..., batch=N)`)."""

DEFAULT_SAMPLE_SHAPE = (1, 28, 28)


def save_with_shape(
    model: torch.jit.ScriptModule, path: str | Path, shape: SampleShapes, batch: int | None = None
) -> None:
    """`torch.jit.save`, recording the sample shape so `mnistc compile` needs no flag:
    one shape, or one per input in order.

    With `batch`, each input's whole shape [batch, *shape] is fixed (as a trace's is), so
    a graph that works across its first dimension is imported whole
    (`common.import_following_the_batch`); a shape may then be () for a rank-1 input.
    """
    shapes = [shape] if is_one_shape(shape) else list(shape)
    extra = {SHAPE_FILE: ";".join(",".join(map(str, s)) for s in shapes)}
    if batch is not None:
        extra[BATCH_FILE] = str(int(batch))
    torch.jit.save(model, str(path), _extra_files=extra)


def load_torchscript(path: str | Path) -> tuple[torch.jit.ScriptModule, tuple[int, ...] | None]:
    """The model and the sample shape that `save_with_shape` recorded, if any."""
    model, shape, _ = load_torchscript_with_batch(path)
    return model, shape


def load_torchscript_with_batch(path: str | Path):
    """Load a TorchScript file, turning torch's many failure modes into one message:
    the model, the sample shape and the fixed batch `save_with_shape` recorded (None
    when not recorded)."""
    path = Path(path)
    if not path.is_file():
        raise ImportError_(f"{path}: {'is a directory' if path.is_dir() else 'no such file'}")
    try:
        check_archive_storages(path)
        unreadable = None
    except _UnreadablePickle as e:  # torch.jit.load may say better what the file is
        unreadable = e
    extra = {SHAPE_FILE: "", BATCH_FILE: ""}
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
    recorded, batch = (
        text.decode() if isinstance(text, bytes) else text for text in (extra[SHAPE_FILE], extra[BATCH_FILE])
    )
    try:
        parts = recorded.split(";")
        shapes = [tuple(int(d) for d in part.split(",") if d) for part in parts] if recorded or batch else None
        shape = shapes[0] if shapes and len(shapes) == 1 else shapes
        fixed_batch = int(batch) if batch else None
    except ValueError:
        raise ImportError_(f"{path}: malformed {SHAPE_FILE} '{recorded}' or {BATCH_FILE} '{batch}'") from None
    return model, shape, fixed_batch


def sample_shape_of(recorded: SampleShapes | None, requested: SampleShapes | None):
    """The shape asked for, else the one the file records, else MNIST's 1,28,28."""
    shape = requested or (recorded if recorded is not None else DEFAULT_SAMPLE_SHAPE)
    return tuple(shape) if is_one_shape(shape) else shape


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
    """Every tensor the frozen graph computes at top level, by the debug name the importer
    sees (the copy that is run renumbers unnamed values, so names come from the original)."""
    original = forward_graph(frozen)
    graph = original.copy()

    def tensors(g: torch._C.Graph) -> list[torch._C.Value]:
        return [
            v for n in g.nodes() if n.kind() != "prim::Constant" for v in n.outputs()
            if isinstance(v.type(), torch._C.TensorType)
        ]  # fmt: skip

    names = [v.debugName() for v in tensors(original)]
    values = tensors(graph)
    graph.eraseOutput(0)
    node = graph.insertNode(graph.create("prim::TupleConstruct", values))
    node.output().setType(torch._C.TupleType([v.type() for v in values]))
    graph.registerOutput(node.output())
    function = torch._C._create_function_from_graph("intermediate_values", graph)
    with torch.no_grad():
        results = function(frozen, sample)
    return dict(zip(names, results, strict=True))


def _constant(node: torch._C.Node) -> Any:
    value = node.output().toIValue()
    if isinstance(value, torch.Tensor):
        if value.dtype != torch.float32 and value.is_floating_point():
            value = value.float()
    return value


def import_graph(
    graph: torch._C.Graph, sample_shape: SampleShapes | None, module=None, recorded=None, whole: bool = False
) -> ImportedModel:
    """Evaluate a frozen graph on `[1, *shape]` inputs into an `nn` function (with `whole`,
    on the model's own input tensors, `sample_shape` their whole shapes, with no batch
    to follow).

    `sample_shape` is one shape, shapes in input order or by name (`signature.shapes_for`);
    `recorded` what `save_with_shape` stored, if anything.
    `module` is the frozen module the graph belongs to: the attributes that freezing
    keeps (buffers that a training branch would update, such as an instance norm's
    running statistics) are read from it through `prim::GetAttr`.
    An op that cannot be converted does not stop the walk: the ops that depend on it are
    skipped and the model is refused at the end with every unsupported op listed once.
    """
    self_value, inputs, defaults = _arguments(graph, module, sample_shape)
    names = list(inputs)
    shapes = shapes_for(names, sample_shape, _found_shape(names, recorded))
    block = input_block(names, shapes)
    ctx = ConversionContext(Builder(InsertPoint.at_end(block)), WeightFile(), shapes[0])
    arguments: list[SSAValue] = list(block.args)
    if whole:
        ctx.moved.followed = False
        arguments = [shape_ops.whole_input(ctx.builder, a, s) for a, s in zip(block.args, shapes)]
    values: dict[torch._C.Value, Any] = {**dict(zip(inputs.values(), arguments)), **defaults}
    if module is not None:
        values[self_value] = module
    _walk(ctx, values, graph.nodes())
    refuse_if_any(ctx)
    outputs = [ctx.returned(v) for v in _returned_values(values, graph)]
    if whole:
        outputs = [shape_ops.whole_output(ctx.builder, v) for v in outputs]
    function = entry_function(block, names, outputs, output_names(len(outputs)))
    return ImportedModel(ModuleOp([function]), ctx.weights)


def _found_shape(names: list[str], recorded):
    """The shape of input i that the file records (`save_with_shape`), else 1,28,28 for
    a model of one input, as before; None for the inputs of a model of several."""

    def found(i: int):
        if recorded:
            shapes = [recorded] if all(isinstance(d, int) for d in recorded) else list(recorded)
            if len(shapes) == len(names):
                return shapes[i]
        return DEFAULT_SAMPLE_SHAPE if len(names) == 1 else None

    return found


def _arguments(graph: torch._C.Graph, module, requested) -> tuple[torch._C.Value, dict, dict]:
    """`self`, the data inputs by name, and the other arguments of `forward` bound to
    their defaults (`mask=None`, `is_causal=None` of `nn.TransformerEncoder`), which the
    walk then folds like constants. The first argument and those without a default are
    inputs; another with a default is an input only when `--input-shape` names it."""
    self_value, *values = list(graph.inputs())
    arguments = module._get_method("forward").schema.arguments[1:] if module is not None else []
    if len(arguments) != len(values):  # no schema: every argument is an input
        arguments = [None] * len(values)
    named = set(requested) if isinstance(requested, Mapping) else set()
    inputs, defaults = {}, {}
    for value, argument in zip(values, arguments):
        name = argument.name if argument is not None else value.debugName().split(".")[0]
        if inputs and argument is not None and argument.has_default_value() and name not in named:
            defaults[value] = argument.default_value
        else:
            inputs[name] = value
    if not inputs:
        raise ImportError_("the model's forward takes no input")
    return self_value, inputs, defaults


def _walk(ctx: ConversionContext, values: dict[torch._C.Value, Any], nodes) -> None:
    """Convert nodes in order; a `prim::If` whose condition folds walks its taken branch
    (shape checks in library code, `if input.dim() != 4`)."""
    for node in nodes:
        kind = node.kind()
        if kind == "prim::Constant":
            values[node.output()] = _constant(node)
            continue
        if kind == "prim::If":
            _walk_if(ctx, values, node)
            continue
        if kind == "prim::Loop":
            _walk_loop(ctx, values, node)
            continue
        if kind == "prim::GetAttr":
            values[node.output()] = _attribute(ctx, node, values.get(node.input()))
            continue
        results = convert_node(ctx, _as_node(node, values))
        for value, result in zip(node.outputs(), results, strict=True):
            values[value] = result


def _as_node(node: torch._C.Node, values: dict[torch._C.Value, Any]) -> Node:
    """The node as the aten converters see it."""
    inputs = list(node.inputs())
    return Node(
        node.kind(),
        [values.get(v) for v in inputs],
        [_weight_name(v) for v in inputs],
        node.outputsSize(),
        node_location(node),
        any(isinstance(v.type(), torch._C.TensorType) for v in node.outputs()),
    )


def _attribute(ctx: ConversionContext, node: torch._C.Node, owner: Any) -> Any:
    """`prim::GetAttr`: the attribute of a (sub)module, so that chains such as
    `self.norm.running_mean` fold; a tensor is a constant like a frozen parameter."""
    name = node.s("name")
    if not isinstance(owner, torch._C.ScriptModule) or not owner.hasattr(name):
        (value,) = ctx.refuse(
            Node(node.kind(), [], [], 1, node_location(node)), f"attribute '{name}' of an unknown object"
        )
        return value
    value = owner.getattr(name)
    if isinstance(value, torch.Tensor) and value.is_floating_point() and value.dtype != torch.float32:
        value = value.float()
    return value


def _walk_if(ctx: ConversionContext, values: dict[torch._C.Value, Any], node: torch._C.Node) -> None:
    """A `prim::If` whose condition folds at import walks its taken branch (`if mask is
    not None`, `if torch.is_autocast_enabled()`, `if self.training`); one whose condition
    depends on the input's values is refused naming the op that computes it; one whose
    condition comes from a refused op is skipped, as that op's other users are."""
    outputs = list(node.outputs())
    flag, taken = values.get(node.inputsAt(0)), None
    if flag is not UNSUPPORTED:
        try:
            then_block, else_block = node.blocks()
            taken = then_block if condition(flag) else else_block
        except RunTimeTensor:
            reason = f"a condition on the input's values, from {_origin(node.inputsAt(0))}"
            ctx.refuse(_as_node(node, values), reason)
    if taken is None:
        for value in outputs:
            values[value] = UNSUPPORTED
        return
    _walk(ctx, values, taken.nodes())
    for value, result in zip(outputs, taken.outputs(), strict=True):
        values[value] = values.get(result)


def _origin(value: torch._C.Value) -> str:
    """The op that computes a condition, through the conversions to bool."""
    producer = value.node()
    while producer.kind() in ("aten::Bool", "aten::Int", "aten::Float") and producer.inputsSize():
        producer = producer.inputsAt(0).node()
    return producer.kind()


MAX_UNROLLED_TRIPS = 4096
"""The most iterations a loop is unrolled to at import (a loop over sizes or scale
factors runs a few times)."""


def _walk_loop(ctx: ConversionContext, values: dict[torch._C.Value, Any], node: torch._C.Node) -> None:
    """A `prim::Loop` whose trip count and condition fold (the list comprehensions of
    library code, `[float(s) for s in scale_factor]` in `F.interpolate`), unrolled."""
    trips, go, *carried = (values.get(v) for v in node.inputs())
    (body,) = node.blocks()
    parameters, outputs = list(body.inputs()), list(node.outputs())
    iteration = 0
    while _folds(trips, go, carried) and iteration < trips and condition(go):
        if iteration == MAX_UNROLLED_TRIPS:
            raise ImportError_(
                f"a loop of more than {MAX_UNROLLED_TRIPS} iterations at "
                f"{node_location(node).describe()}"
            )
        for parameter, value in zip(parameters, [iteration, *carried], strict=True):
            values[parameter] = value
        _walk(ctx, values, body.nodes())
        go, *carried = (values.get(v) for v in body.outputs())
        iteration += 1
    if not _folds(trips, go, carried):
        ctx.refuse(_as_node(node, values), "a loop that does not fold at import")
        carried = [UNSUPPORTED] * len(outputs)
    for value, result in zip(outputs, carried, strict=True):
        values[value] = result


def _folds(trips: Any, go: Any, carried: list) -> bool:
    return isinstance(trips, int) and not isinstance(go, SSAValue) and go is not UNSUPPORTED and all(
        v is not UNSUPPORTED for v in carried
    )


def _returned_values(values: dict[torch._C.Value, Any], graph: torch._C.Graph) -> list[SSAValue]:
    """The model's outputs: the tensor it returns, or each tensor of a tuple or list."""
    (returned,) = list(graph.outputs())
    value = values.get(returned)
    results = list(value) if isinstance(value, list | tuple) else [value]
    if not results or not all(isinstance(v, SSAValue) for v in results):
        raise ImportError_(
            "the model must return tensors computed from its inputs (one, or a tuple or list of them)"
        )
    return results


def import_torchscript(path: str | Path, sample_shape: SampleShapes | None = None) -> ImportedModel:
    """Import a `torch.jit.save`d model; `sample_shape` is the shape of one sample (C,H,W),
    or one per input (in order or by name)."""
    model, recorded, batch = load_torchscript_with_batch(path)
    return import_script_module(model, sample_shape, recorded, batch)


def import_script_module(
    model: torch.jit.ScriptModule, sample_shape: SampleShapes | None, recorded=None, batch: int | None = None
) -> ImportedModel:
    """Freeze a scripted or traced module in memory and import its `forward`: per sample,
    or, given the fixed `batch` of a graph that cannot follow it, each whole
    [batch, *sample shape] input (`common.import_following_the_batch`)."""
    frozen = freeze(model)
    graph = forward_graph(frozen)
    names = list(_arguments(graph, frozen, sample_shape)[1]) if batch is not None else []
    samples = [] if recorded is None else [recorded] if is_one_shape(recorded) else list(recorded)
    dims = [(batch, *shape) for shape in samples] if len(samples) == len(names) else []
    return import_following_the_batch(
        lambda: import_graph(graph, sample_shape, frozen, recorded),
        lambda fixed: import_graph(graph, dict(zip(names, fixed)), frozen, whole=True),
        names,
        fixed_inputs(names, dims, sample_shape),
    )


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
