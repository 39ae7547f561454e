"""aten and prim ops evaluated in Python at import: sizes, lists, integer math, tests.

Shape arithmetic (`x.size(0)`, `view(n, -1)`) folds this way; applied to a tensor
computed at run time, such an op is refused (`RunTimeTensor`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from xdsl.ir import SSAValue

from mnistc.dialects import nn
from mnistc.importers.aten.graph import ConversionContext, Node, NodeError, RunTimeTensor


def _holds_tensor(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return any(_holds_tensor(v) for v in value)
    return isinstance(value, SSAValue)


def _python(fn: Callable[..., Any]) -> Callable:
    def convert(ctx: ConversionContext, node: Node) -> tuple:
        if _holds_tensor(node.args):
            raise RunTimeTensor()
        return (fn(*node.args),)

    return convert


def _rounded_div(a, b, mode: str):
    return a // b if mode == "floor" else int(a / b)


def _divide(a, b, *mode):
    return a / b if not mode or mode[0] is None else _rounded_div(a, b, mode[0])


def convert_size(ctx: ConversionContext, node: Node) -> tuple:
    shape = nn.shape_of(ctx.tensor(node, 0))
    return (list(shape) if len(node.args) == 1 else shape[node.args[1]],)


def convert_dim(ctx: ConversionContext, node: Node) -> tuple:
    return (len(nn.shape_of(ctx.tensor(node, 0))),)


def convert_list(ctx: ConversionContext, node: Node) -> tuple:
    return (list(node.args),)


def convert_unpack(ctx: ConversionContext, node: Node) -> tuple:
    return tuple(node.args[0])


def convert_raise(ctx: ConversionContext, node: Node) -> tuple:
    message = next((a for a in node.args if isinstance(a, str)), "an exception")
    raise NodeError(f"the model raises {message!r} for this input shape")


def condition(value: Any) -> bool:
    """The folded condition of a `prim::If` (TorchScript walks the taken branch)."""
    if _holds_tensor(value):
        raise RunTimeTensor()
    return bool(value)


CONVERTERS = {
    "aten::Int": _python(int),
    "aten::ScalarImplicit": _python(lambda x: x),
    "aten::__and__": _python(lambda a, b: a and b),
    "aten::__contains__": _python(lambda container, item: item in container),
    "aten::__getitem__": _python(lambda xs, i: xs[i]),
    "aten::__is__": _python(lambda a, b: a is b),
    "aten::__isnot__": _python(lambda a, b: a is not b),
    "aten::__not__": _python(lambda a: not a),
    "aten::__or__": _python(lambda a, b: a or b),
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
    "aten::size": convert_size,
    "aten::t": _python(lambda t: t.t()),
    "aten::transpose": _python(lambda t, a, b: t.transpose(a, b)),
    "aten::warn": _python(lambda *a: None),
    "prim::ListConstruct": convert_list,
    "prim::ListUnpack": convert_unpack,
    "prim::NumToTensor": _python(lambda x: x),
    "prim::RaiseException": convert_raise,
    "prim::TupleConstruct": convert_list,
    "prim::TupleUnpack": convert_unpack,
    "prim::Uninitialized": _python(lambda: None),
    "prim::device": _python(lambda *_: "cpu"),
    "prim::dtype": _python(lambda *_: torch.float32),
    "prim::unchecked_cast": _python(lambda x: x),
}
"""Ops evaluated in Python on constants (shape arithmetic); `prim::If` is the front
end's, which walks the branch that `condition` picks."""
