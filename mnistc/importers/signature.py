"""The imported function's signature: its inputs, their sample shapes, and its outputs.

A model takes N tensors and returns M, all sharing the dynamic batch dimension 0. Every
front end builds its `nn` entry function here: `@forward(%a: tensor<1x...>, %b: ...)`
with one argument per model input and one result per model output, each carrying its
name from the model file (ONNX's graph input and output names, TorchScript's argument
names, torch.export's placeholder and output names) as the MLIR argument or result
attribute `mnistc.name`. The lowering, the C++ target and the C ABI read the names back
with `signature_names`.

Sample shapes asked for (`--input-shape`, `CompileOptions.sample_shape`) take three
forms: one shape `(C, H, W)` (a model of one input, as before), a sequence of shapes in
input order, or a mapping from input name to shape; `shapes_for` matches them with the
model's inputs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, StringAttr
from xdsl.ir import Block, Region, SSAValue

from mnistc.dialects import nn
from mnistc.importers.common import ENTRY, ImportError_, fixed_input_shape

NAME = "mnistc.name"
"""The argument and result attribute holding an input's or output's name."""

SampleShapes = Sequence[int] | Sequence[Sequence[int]] | Mapping[str, Sequence[int]]
"""What a caller may ask for: one shape, shapes in input order, or shapes by name."""


def is_one_shape(requested) -> bool:
    """Whether `requested` is a single shape `(C, H, W)` rather than several."""
    return not isinstance(requested, Mapping) and all(isinstance(d, int) for d in requested)


def normalized(requested: SampleShapes | None):
    """A hashable, canonical form of what was asked for (the import cache's key)."""
    if not requested:
        return None
    if isinstance(requested, Mapping):
        return tuple(sorted((str(k), tuple(int(d) for d in v)) for k, v in requested.items()))
    if is_one_shape(requested):
        return tuple(int(d) for d in requested)
    return tuple(tuple(int(d) for d in shape) for shape in requested)


def fixed_inputs(
    names: Sequence[str], dims: Sequence[Sequence[int | None]], asked: SampleShapes | None
) -> list[tuple[int, ...]] | None:
    """The whole shape of every input (its `dims`, the batch first) when every dimension
    of every input is fixed and no other sample shape was asked for (`--input-shape`
    naming another sample: the batch is then dimension 0); None otherwise. What a model
    imported whole takes (`common.import_following_the_batch`)."""
    fixed = [fixed_input_shape(d) for d in dims]
    if not fixed or None in fixed:
        return None
    if not asked:
        return fixed
    try:
        requested = _asked_by_index(names, asked)
    except ImportError_:  # the per-sample import says why
        return None
    return fixed if all(fixed[i][1:] == shape for i, shape in requested.items()) else None


def shapes_for(
    names: Sequence[str],
    requested: SampleShapes | None,
    found: Callable[[int], Sequence[int] | None],
) -> list[tuple[int, ...]]:
    """The sample shape of each input: the one asked for, else `found(i)` (what the model
    file records, or None); refused, naming the input, where neither gives one."""
    asked = _asked_by_index(names, requested)
    shapes = []
    for i, name in enumerate(names):
        shape = asked.get(i) or found(i)
        if shape == ():
            raise ImportError_(
                f"input '{name}' has rank 1: its first dimension is the batch, and no sample "
                "is left (a compiled model takes samples of rank 1 or more)"
            )
        if shape is None:
            raise ImportError_(
                f"input '{name}' has no static sample shape: give it with "
                f"--input-shape {name}=C,H,W" + _all_inputs(names)
            )
        if any(not isinstance(d, int) or d < 1 for d in shape):
            raise ImportError_(
                f"input '{name}': its sample shape {list(shape)} is not static; give it with "
                f"--input-shape {name}=..." + _all_inputs(names)
            )
        shapes.append(tuple(shape))
    return shapes


def _asked_by_index(names: Sequence[str], requested: SampleShapes | None) -> dict[int, tuple]:
    """The requested shapes by input index, refused when they do not fit the inputs."""
    if not requested:
        return {}
    if isinstance(requested, Mapping):
        unknown = [k for k in requested if k not in names]
        if unknown:
            raise ImportError_(
                f"--input-shape names {', '.join(map(repr, unknown))}, not an input of the "
                f"model" + _all_inputs(names, always=True)
            )
        return {names.index(k): tuple(v) for k, v in requested.items()}
    shapes = [tuple(requested)] if is_one_shape(requested) else [tuple(s) for s in requested]
    if len(shapes) != len(names):
        raise ImportError_(
            f"{len(shapes)} input shape{'s' if len(shapes) != 1 else ''} given for a model of "
            f"{len(names)} inputs" + _all_inputs(names, always=True)
            + " (give one per input, e.g. --input-shape NAME=C,H,W for each)"
        )
    return dict(enumerate(shapes))


def _all_inputs(names: Sequence[str], always: bool = False) -> str:
    return f" (the model's inputs: {', '.join(names)})" if always or len(names) > 1 else ""


def input_block(names: Sequence[str], shapes: Sequence[Sequence[int]]) -> Block:
    """The entry block: one `[1, *shape]` argument per input, named after it (`input`
    when the model has one, as the IR always called it)."""
    block = Block(arg_types=[nn.tensor((1, *shape)) for shape in shapes])
    for argument, name in zip(block.args, names):
        argument.name_hint = "input" if len(names) == 1 else ssa_name(name)
    return block


def ssa_name(name: str) -> str:
    """A valid SSA name hint from a model's input name (`input.1` → `input_1`)."""
    hint = re.sub(r"\W", "_", name) or "input"
    return hint if not hint[0].isdigit() else f"v{hint}"


def entry_function(
    block: Block,
    input_names: Sequence[str],
    results: Sequence[SSAValue],
    output_names: Sequence[str],
) -> func.FuncOp:
    """`@forward` returning `results`, its arguments and results named."""
    block.add_op(func.ReturnOp(*results))
    return func.FuncOp(
        ENTRY,
        ([a.type for a in block.args], [r.type for r in results]),
        Region(block),
        arg_attrs=_named(input_names),
        res_attrs=_named(output_names),
    )


def _named(names: Sequence[str]) -> ArrayAttr[DictionaryAttr]:
    return ArrayAttr([DictionaryAttr({NAME: StringAttr(name)}) for name in names])


def output_names(count: int, names: Sequence[str] | None = None) -> list[str]:
    """The outputs' names: those given, else `output` for one and `output_0`... for more."""
    if names and len(names) == count and all(names):
        return list(names)
    return ["output"] if count == 1 else [f"output_{i}" for i in range(count)]


def signature_names(function: func.FuncOp) -> tuple[list[str], list[str]]:
    """The names of a function's inputs and outputs (`input_i`/`output_i` where unnamed)."""

    def names(attrs, count: int, kind: str) -> list[str]:
        found = []
        for i in range(count):
            attr = attrs.data[i].data.get(NAME) if attrs is not None and i < len(attrs.data) else None
            fallback = kind if count == 1 else f"{kind}_{i}"
            found.append(attr.data if isinstance(attr, StringAttr) else fallback)
        return found

    kind = function.function_type
    return (
        names(function.arg_attrs, len(kind.inputs.data), "input"),
        names(function.res_attrs, len(kind.outputs.data), "output"),
    )
