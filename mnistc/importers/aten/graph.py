"""What the aten converters see of a model: the neutral interface of both aten front ends.

TorchScript (`mnistc.importers.torchscript`) and torch.export
(`mnistc.importers.torch_export`) call the same aten operators with the same schemas.
Each front end translates its graph's nodes into `Node`s (arguments resolved and
completed with the schema's defaults, a `ModelLocation`), and one `ConversionContext`
turns them into `nn` ops through the converters of `mnistc.importers.aten`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from xdsl.builder import Builder
from xdsl.ir import SSAValue

from mnistc.importers.common import ImportError_, Problems, check_storage
from mnistc.importers.shape_ops import MovedBatch
from mnistc.locations import ModelLocation
from mnistc.weights import WeightFile, weight_op


@dataclass
class Node:
    """One aten call as the converters see it."""

    kind: str
    """The operator, `aten::conv2d`; in-place variants (`aten::relu_`) keep their `_`."""
    args: list[Any]
    """Every schema argument in order: Python values, constant `torch.Tensor`s, `nn` SSA
    values, lists of these, or `UNSUPPORTED` downstream of a refused op."""
    arg_names: list[str]
    """The model's name of each argument: a constant tensor becomes a weight of that name."""
    num_outputs: int = 1
    location: ModelLocation = field(default_factory=ModelLocation)
    returns_tensor: bool = False
    """A Python-evaluated op that yields a tensor is refused on run-time tensors."""


class NodeError(Exception):
    """A node's inputs are outside what the converter handles (message only)."""


class RunTimeTensor(NodeError):
    """A scalar op (add, mul, ...) applied to a tensor computed at run time."""


class _Unsupported:
    """The value of a node that could not be converted; its users are skipped."""

    def __repr__(self) -> str:
        return "UNSUPPORTED"


UNSUPPORTED = _Unsupported()


def holds_unsupported(value: Any) -> bool:
    """Whether a value, or any item of a (nested) list or tuple, stands for the result
    of a refused op (`aten::cat` takes a list of tensors)."""
    if isinstance(value, list | tuple):
        return any(holds_unsupported(v) for v in value)
    return value is UNSUPPORTED


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
    )  # fmt: skip


@dataclass
class ConversionContext:
    """The state of one import: where ops go, the weight file, what was refused."""

    builder: Builder
    weights: WeightFile
    sample_shape: Sequence[int]
    problems: Problems = field(default_factory=Problems)
    _weights_of: dict[tuple[str, int], SSAValue] = field(default_factory=dict)
    # recurrent layers' states and time-major sequences hold the batch elsewhere
    moved: MovedBatch = field(default_factory=MovedBatch)

    def returned(self, value: Any) -> Any:
        """The model's output, refused if its batch is not dimension 0."""
        if (reason := self.moved.refusal(value)) is not None:
            raise ImportError_(f"the model's output: {reason}")
        return value

    def refuse(self, node: Node, reason: str = "") -> tuple:
        """Record the node as unsupported; placeholders for its outputs."""
        self.problems.add(node.kind, node.location.describe(), reason)
        return (UNSUPPORTED,) * node.num_outputs

    def insert(self, op) -> tuple[SSAValue]:
        """Insert an op; its first result as a converter's result tuple."""
        return (self.builder.insert(op).results[0],)

    def weight(self, key: str, tensor: torch.Tensor) -> SSAValue:
        """An `nn.weight` holding the tensor, appended to the weight file."""
        check_tensor(key, tensor)
        array = tensor.detach().to(torch.float32).contiguous().numpy()
        return self.builder.insert(weight_op(self.weights, key, array)).result

    def tensor(self, node: Node, index: int) -> SSAValue:
        """The IR value of a tensor argument; a constant tensor becomes a weight, once."""
        value = node.args[index]
        if isinstance(value, torch.Tensor):
            key = (node.arg_names[index], id(value))
            if key not in self._weights_of:
                self._weights_of[key] = self.weight(node.arg_names[index], value)
            return self._weights_of[key]
        if not isinstance(value, SSAValue):
            raise NodeError(f"expected a tensor, got {type(value).__name__} {value!r}")
        return value


TORCHSCRIPT_TORCH_CODE = "code/__torch__/torch/"
"""Where a TorchScript archive keeps its serialized copy of torch's own modules."""


def source_location(trace: str, module: str = "", value: str = "", innermost: bool = False) -> ModelLocation:
    """A location from torch's record of a node's Python stack (TorchScript's source
    range, FX's `stack_trace`): the first frame outside torch itself (the last with
    `innermost`, for a stack listed outermost first), else the first frame."""
    lines = re.findall(r'File "([^"]+)", line (\d+)|([^\s(]+\.py)\((\d+)\)', trace)
    frames = [(a or c, int(b or d)) for a, b, c, d in lines]
    torch_dir = str(Path(torch.__file__).parent)
    user = [f for f in frames if not f[0].startswith((torch_dir, TORCHSCRIPT_TORCH_CODE))]
    if innermost:
        user.reverse()
    file, line = user[0] if user else (frames[0] if frames else ("", 0))
    return ModelLocation(value, module, file, line)
