"""aten and prim ops evaluated in Python at import: sizes, lists, integer math, tests.

Shape arithmetic (`x.size(0)`, `view(n, -1)`) folds this way; applied to a tensor
computed at run time, such an op is refused (`RunTimeTensor`).

The `nn` IR is per sample: a run-time tensor's first dimension, the batch, is 1 there,
and the executable runs it on each sample of any batch. That computes the model when
each sample's result depends on that sample only, and on the batch size only through
the shapes of tensors: a size read from a run-time tensor is a `BatchSize`, which has
its per-sample value in arithmetic and tests but remembers how it scales with the
batch, so that it is accepted as the first size of a shape (`x.view(x.size(0), -1)`,
`cls.expand(x.size(0), -1, -1)`), where one sample's result is its share of the
batch's, and refused elsewhere (`x * x.size(0)`, `x.view(-1, x.size(0))`), never folded
into a wrong constant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from xdsl.ir import SSAValue

from mnistc.dialects import nn
from mnistc.importers.aten.graph import ConversionContext, Node, NodeError, RunTimeTensor
from mnistc.importers.shape_ops import BATCH_SIZE_REFUSAL


def holds_tensor(value: Any) -> bool:
    """Whether a value, or any item of a (nested) list or tuple, is a run-time tensor."""
    if isinstance(value, list | tuple):
        return any(holds_tensor(v) for v in value)
    return isinstance(value, SSAValue)


class BatchSize(int):
    """An integer computed from the batch size: its value at batch 1, and `degree` k
    when it is that value times batch**k (`x.numel()`: k = 1), None when it is not of
    that form (`n + 1`). Arithmetic keeps track; a result of degree 0 is a plain int."""

    degree: int | None

    def __new__(cls, value: int, degree: int | None = 1) -> int:
        if degree == 0:
            return int(value)
        number = super().__new__(cls, value)
        number.degree = degree
        return number

    def __repr__(self) -> str:
        return f"{int(self)}*batch" + (f"^{self.degree}" if self.degree != 1 else "")

    def _sum(self, other: Any, value: int) -> Any:
        _check_integer(other)
        degree = self.degree if degree_of(other) == self.degree else None
        return BatchSize(value, degree)

    def _product(self, other: Any, value: Any, sign: int) -> Any:
        _check_integer(other)
        a, b = self.degree, degree_of(other)
        return BatchSize(int(value), None if a is None or b is None else a + sign * b)

    def __add__(self, other):
        return self._sum(other, int(self) + other)

    __radd__ = __add__

    def __sub__(self, other):
        return self._sum(other, int(self) - other)

    def __rsub__(self, other):
        return self._sum(other, other - int(self))

    def __neg__(self):
        return BatchSize(-int(self), self.degree)

    def __mul__(self, other):
        return self._product(other, int(self) * other, 1)

    __rmul__ = __mul__

    def __floordiv__(self, other):
        if isinstance(other, int) and other and int(self) % int(other):
            return BatchSize(int(self) // other, None)
        return self._product(other, int(self) // other, -1)

    def __rfloordiv__(self, other):
        if isinstance(other, int) and int(self) and int(other) % int(self):
            return BatchSize(other // int(self), None)
        return BatchSize(other // int(self), None if self.degree is None else -self.degree)

    def __truediv__(self, other):
        if isinstance(other, int) and other and not int(self) % int(other):
            return self.__floordiv__(other)
        raise NodeError("divides the batch size into a fraction")

    def __rtruediv__(self, other):
        if isinstance(other, int) and int(self) and not int(other) % int(self):
            return self.__rfloordiv__(other)
        raise NodeError("divides by the batch size into a fraction")

    def __mod__(self, other):
        return BatchSize(int(self) % other, None)

    def __rmod__(self, other):
        return BatchSize(other % int(self), None)


def _check_integer(other: Any) -> None:
    """Arithmetic of the batch size with a float or a tensor: its result could not be
    told from a per-sample constant."""
    if not isinstance(other, int):
        raise NodeError(f"computes with the batch size and a {type(other).__name__}")


def _is_floating_point(value: Any) -> bool:
    """A run-time tensor is float32; `x is None` and `x.is_floating_point()` are the
    checks scripted nn.MultiheadAttention makes of its inputs and masks."""
    return isinstance(value, SSAValue) or (isinstance(value, torch.Tensor) and value.is_floating_point())


def traced_sizes(values: Sequence[Any]) -> list[Any]:
    """Size arithmetic as tracing records it (`bsz * num_heads`, the constant a 0-dim
    integer tensor): with a batch size among the values, such tensors as ints."""
    if not any(isinstance(v, BatchSize) for v in values):
        return list(values)
    return [
        int(v) if isinstance(v, torch.Tensor) and v.dim() == 0 and not v.is_floating_point() else v
        for v in values
    ]


def degree_of(value: int) -> int | None:
    """How a size scales with the batch: 0 for a plain int."""
    return value.degree if isinstance(value, BatchSize) else 0


BATCH = BatchSize(1)
"""The batch size, 1 in the per-sample IR."""


def with_batch(shape: Sequence[int], batch_dim: int = 0) -> list[int]:
    """A run-time tensor's sizes, the batch's (the first, or `batch_dim`) as a
    `BatchSize`: it is the batch (or a multiple of it, after `view(2 * n, ...)`) in the
    model, its value in one sample."""
    return [BatchSize(d) if i == batch_dim else d for i, d in enumerate(shape)]


SHAPE_ARGUMENT = {
    "aten::view": 1, "aten::reshape": 1, "aten::_unsafe_view": 1, "aten::expand": 1,
    "aten::broadcast_to": 1, "aten::repeat": 1, "aten::new_zeros": 1, "aten::new_ones": 1,
    "aten::new_full": 1, "aten::new_empty": 1, "aten::zeros": 0, "aten::ones": 0,
    "aten::full": 0, "aten::empty": 0,
}  # fmt: skip
"""Tensor ops with a shape argument (its index), whose first size may be a multiple of
the batch (`view(x.size(0), -1)`, `view(2 * x.size(0), -1)`): the batch's elements are
ordered sample by sample, so run on one sample such a shape gives the sample's share.
Elsewhere in the shape the batch would interleave the samples."""


def makes_run_time_tensor(node: Node) -> bool:
    """Whether a tensor op's result is computed at run time: from a run-time tensor, or
    a new tensor of a given shape; a traced `x.size(0) * 2` is a tensor op on sizes."""
    return node.kind in SHAPE_ARGUMENT or holds_tensor(node.args)


def per_sample_arguments(node: Node) -> list[Any]:
    """The arguments of a tensor op with a multiple of the batch, first in its shape
    argument, replaced by its value in one sample; any other size computed from the
    batch refused, as the per-sample IR would compute it with batch 1."""
    args = list(node.args)
    index = SHAPE_ARGUMENT.get(node.kind)
    if node.kind in RESHAPES and _one_size_of_batch(args[1]):
        return args  # the converter places the batch at that size (shape_ops.batch_after_reshape)
    if index is not None and index < len(args) and isinstance(args[index], list | tuple) and args[index]:
        first, *rest = args[index]
        args[index] = [int(first) if degree_of(first) == 1 else first, *rest]
        if _uniform_along_any_size(node):
            args[index] = [int(d) if degree_of(d) == 1 else d for d in args[index]]
    if _holds_batch_size(args):
        raise NodeError(BATCH_SIZE_REFUSAL)
    return args



RESHAPES = {"aten::view", "aten::reshape"}
"""Reshapes, which may take a multiple of the batch as any one size of their shape: the
batch keeps its place in memory ([L, N * H, D] of multi-head attention's heads)."""


def _one_size_of_batch(shape: Any) -> bool:
    """A shape one of whose sizes is the batch times a constant, and no other depends on it."""
    if not isinstance(shape, list | tuple):
        return False
    degrees = [degree_of(d) for d in shape]
    return degrees.count(1) == 1 and degrees.count(0) == len(degrees) - 1


# a recurrent layer's initial state is created [L*D, N, H], the batch second.
ZERO_FILLS = {"aten::zeros", "aten::new_zeros", "aten::empty", "aten::new_empty"}
"""Tensor ops whose result is zero (or undefined) whatever its shape: one sample's share
along the batch, wherever it is in the shape, is the result with that size 1, and no
computation along that dimension (a sum over the batch) can tell."""


def _uniform_along_any_size(node: Node) -> bool:
    """A zero fill (PyTorch's default initial states), or the expansion of a constant
    (a learned state, `h0.expand(-1, x.size(0), -1)`), whose per-sample share is the
    constant."""
    constant_expanded = node.kind == "aten::expand" and isinstance(node.args[0], torch.Tensor)
    return node.kind in ZERO_FILLS or constant_expanded


def _holds_batch_size(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return any(_holds_batch_size(v) for v in value)
    return isinstance(value, BatchSize)


def _python(fn: Callable[..., Any]) -> Callable:
    def convert(ctx: ConversionContext, node: Node) -> tuple:
        if holds_tensor(node.args):
            raise RunTimeTensor()
        return (fn(*node.args),)

    VALUES_ONLY.add(convert)
    return convert


VALUES_ONLY: set[Callable] = set()
"""The converters that evaluate their op on constants only: applied to the result of a
refused op (a run-time tensor), such an op is refused too; the others (lists, sizes,
checks) handle run-time tensors."""


def _rounded_div(a, b, mode: str):
    return a // b if mode == "floor" else int(a / b)


def _divide(a, b, *mode):
    return a / b if not mode or mode[0] is None else _rounded_div(a, b, mode[0])


def _sizes(ctx: ConversionContext, node: Node) -> list[int]:
    """The sizes of the node's first argument: a constant's own, a run-time tensor's
    with its batch (`with_batch`)."""
    value = node.args[0]
    if isinstance(value, torch.Tensor):
        return list(value.shape)
    x = ctx.tensor(node, 0)
    return with_batch(nn.shape_of(x), ctx.moved.dim(x))


def convert_size(ctx: ConversionContext, node: Node) -> tuple:
    shape = _sizes(ctx, node)
    return (list(shape) if len(node.args) == 1 else shape[node.args[1]],)


def convert_numel(ctx: ConversionContext, node: Node) -> tuple:
    count = 1
    for d in _sizes(ctx, node):
        count = d * count
    return (count,)


def convert_getitem(ctx: ConversionContext, node: Node) -> tuple:
    """An item of a list or tuple, which may hold tensors (the outputs of `split`); an
    item of a run-time tensor (`x[0]`) is an indexing op, not evaluated here."""
    container, index = node.args[:2]
    if not isinstance(container, list | tuple):
        raise RunTimeTensor() if isinstance(container, SSAValue) else NodeError(
            f"cannot index {type(container).__name__}"
        )
    return (container[index],)


def _slice(values, start=None, end=None, step=1):
    """aten::slice.t of a list (`x.shape[-2:]`)."""
    return list(values)[start:end:step]


def convert_identity(ctx: ConversionContext, node: Node) -> tuple:
    """Ops that return their input's value (`clone`, `detach`, torch.export's
    `lift_fresh_copy` of a lifted constant): the value itself, constant or run-time."""
    return (node.args[0],)


SCALAR_TYPES = {
    3: torch.int32, 4: torch.int64, 5: torch.float16, 6: torch.float32, 7: torch.float64, 11: torch.bool,
}
"""TorchScript's numbers for the element types (c10::ScalarType) a model converts to."""


def _target_dtype(args: list[Any]) -> Any:
    """The element type an `aten::to`-like op converts to: the first dtype among its
    arguments (TorchScript's a number; `to.other` and `type_as` another tensor's); None
    when the op keeps it (`to(device)`)."""
    for a in args[1:]:
        if isinstance(a, torch.dtype):
            return a
        if type(a) is int:
            return SCALAR_TYPES.get(a, f"element type #{a}")
        if isinstance(a, torch.Tensor):
            return a.dtype
        if isinstance(a, SSAValue):
            return torch.float32
    return None


def _tensor(data, dtype=None, *_) -> torch.Tensor:
    """aten::tensor of a constant list (TorchScript keeps `torch.tensor([...])` an op)."""
    if _holds_batch_size(data):
        raise NodeError("makes a tensor of the batch size")
    dtype = SCALAR_TYPES.get(dtype, dtype) if type(dtype) is int else dtype
    tensor = torch.tensor(data, dtype=dtype)
    return tensor.float() if dtype is None and tensor.is_floating_point() else tensor


def convert_to(ctx: ConversionContext, node: Node) -> tuple:
    """`to`, `_to_copy`, `type_as`: a run-time tensor stays itself when converted to
    float32 (a model computes in float32), a constant is converted; a run-time tensor
    converted to another element type is refused."""
    value, dtype = node.args[0], _target_dtype(node.args)
    if isinstance(value, torch.Tensor) and isinstance(dtype, torch.dtype):
        return (value.to(dtype),)
    if isinstance(value, SSAValue) and dtype not in (None, torch.float32):
        raise NodeError(f"conversion of a run-time tensor to {str(dtype).removeprefix('torch.')}")
    return (value,)


def _constant(value: Any) -> Callable:
    """An op whose result is known whatever its argument, a run-time tensor included
    (`x.dtype`: a model computes in float32 on the CPU)."""

    def convert(ctx: ConversionContext, node: Node) -> tuple:
        return (value,)

    return convert


def convert_check(ctx: ConversionContext, node: Node) -> tuple:
    """torch.export's run-time checks (`_assert_scalar`, `_assert_tensor_metadata`,
    range constraints): proved by the exporter for the shapes it traced, and the
    per-sample IR runs batch 1 whatever the guards on the batch say."""
    return (None,)


def convert_dim(ctx: ConversionContext, node: Node) -> tuple:
    """The rank; of a constant too, without making it a weight."""
    return (len(_sizes(ctx, node)),)


def convert_list(ctx: ConversionContext, node: Node) -> tuple:
    return (list(node.args),)


def convert_unpack(ctx: ConversionContext, node: Node) -> tuple:
    return tuple(node.args[0])


def convert_raise(ctx: ConversionContext, node: Node) -> tuple:
    message = next((a for a in node.args if isinstance(a, str)), "an exception")
    raise NodeError(f"the model raises {message!r} for this input shape")


def condition(value: Any) -> bool:
    """The folded condition of a `prim::If` (TorchScript walks the taken branch)."""
    if holds_tensor(value):
        raise RunTimeTensor()
    return bool(value)


CONVERTERS = {
    "aten::Bool": _python(bool),
    "aten::Int": _python(lambda x: x if isinstance(x, int) else int(x)),
    "aten::_assert_async": convert_check,
    "aten::_assert_scalar": convert_check,
    "aten::_assert_tensor_metadata": convert_check,
    "aten::sym_constrain_range": convert_check,
    "aten::sym_constrain_range_for_size": convert_check,
    "aten::ScalarImplicit": _python(lambda x: x),
    "aten::__and__": _python(lambda a, b: a and b),
    "aten::__contains__": _python(lambda container, item: item in container),
    "aten::__derive_index": _python(lambda index, start, step: start + index * step),
    "aten::__range_length": _python(lambda low, high, step: len(range(low, high, step))),
    "aten::__getitem__": convert_getitem,
    "aten::_to_copy": convert_to,
    "aten::alias": convert_identity,
    "aten::clone": convert_identity,
    "aten::detach": convert_identity,
    "aten::detach_": convert_identity,
    "aten::lift_fresh": convert_identity,
    "aten::lift_fresh_copy": convert_identity,
    "aten::__is__": lambda ctx, node: (node.args[0] is node.args[1],),
    "aten::__isnot__": lambda ctx, node: (node.args[0] is not node.args[1],),
    "aten::is_floating_point": lambda ctx, node: (_is_floating_point(node.args[0]),),
    "prim::TupleIndex": lambda ctx, node: (node.args[0][node.args[1]],),
    "aten::Float": _python(float),
    "aten::__not__": _python(lambda a: not a),
    "aten::__or__": _python(lambda a, b: a or b),
    "aten::all": _python(lambda values: bool(torch.as_tensor(values).all())),
    "aten::any": _python(lambda values: bool(torch.as_tensor(values).any())),
    "aten::append": _python(lambda values, value: values.append(value) or values),
    "aten::dim": convert_dim,
    "aten::div": _python(_divide),
    "aten::eq": _python(lambda a, b: a == b),
    "aten::floor_divide": _python(lambda a, b: a // b),
    "aten::floordiv": _python(lambda a, b: a // b),
    "aten::format": _python(lambda fmt, *a: str(fmt)),
    "aten::ge": _python(lambda a, b: a >= b),
    "aten::gt": _python(lambda a, b: a > b),
    "aten::le": _python(lambda a, b: a <= b),
    "aten::len": _python(len),
    "aten::lt": _python(lambda a, b: a < b),
    "aten::ne": _python(lambda a, b: a != b),
    "aten::neg": _python(lambda a: -a),
    "aten::remainder": _python(lambda a, b: a % b),
    "aten::numel": convert_numel,
    "aten::size": convert_size,
    "aten::slice": _python(_slice),
    "aten::sym_numel": convert_numel,
    "aten::sym_size": convert_size,
    "aten::tensor": _python(_tensor),
    "aten::to": convert_to,
    "aten::type_as": convert_to,
    "aten::warn": _python(lambda *a: None),
    "prim::ListConstruct": convert_list,
    "prim::ListUnpack": convert_unpack,
    "prim::NumToTensor": _python(lambda x: x),
    "prim::RaiseException": convert_raise,
    "prim::TupleConstruct": convert_list,
    "prim::TupleUnpack": convert_unpack,
    "prim::Uninitialized": _python(lambda: None),
    "prim::device": _constant("cpu"),
    "prim::dtype": _constant(torch.float32),
    "prim::is_nested": _constant(False),
    "prim::type": _python(lambda device: torch.device(device).type),
    # a compiled model runs in float32 without autocast or gradients
    "aten::is_autocast_enabled": _constant(False),
    "aten::is_grad_enabled": _constant(False),
    "prim::requires_grad": _constant(False),
    "prim::unchecked_cast": convert_identity,  # Optional[Tensor] to Tensor: an optional input given
}
"""Ops evaluated in Python on constants (shape arithmetic); `prim::If` is the front
end's, which walks the branch that `condition` picks."""

EVALUATED = set(CONVERTERS.values())
"""The converters above: they compute sizes, so a `BatchSize` may flow through them."""
