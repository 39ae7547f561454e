"""The aten converters of both aten front ends (TorchScript and torch.export), one table.

Each family has its module, named like the `nn` dialect's families: `conv`, `linear`,
`pool`, `activation`, `norm`, `elementwise`, `shape`, `softmax`, `reduce`, `quant` (the
quantize and dequantize ops of PT2E graphs), and `python` for the ops evaluated in Python
at import (sizes, lists, integer math). A converter takes the


`pool`, `activation`, `norm`, `elementwise`, `shape`, `softmax`, `reduce`, `recurrent`, and `python` for the
ops evaluated in Python at import (sizes, lists, integer math). A converter takes the
`ConversionContext` and a `Node` (`graph.py`) and returns the node's output values.

Adding an aten op: a converter in its family's module, listed in that module's
`CONVERTERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from xdsl.ir import SSAValue
from xdsl.utils.exceptions import VerifyException


from mnistc.importers.aten import (
    activation,
    conv,
    elementwise,
    linear,
    matmul,
    norm,
    pool,
    python,
    quant,
    recurrent,
    reduce,
    resample,
    shape,
    softmax,
)
from mnistc.importers.aten.graph import (
    UNSUPPORTED,
    ConversionContext,
    Node,
    NodeError,
    RunTimeTensor,
    holds_unsupported,
)
from mnistc.importers.common import ImportError_, converter_failure, locate_and_verify

Converter = Callable[[ConversionContext, Node], tuple]

TENSOR_CONVERTERS: dict[str, Converter] = {
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
    # quantized models (PT2E)
    **quant.CONVERTERS,
    **matmul.CONVERTERS,
    **recurrent.CONVERTERS,
}
"""aten ops that produce `nn` ops; in-place variants (`relu_`) map to the same converter."""

CONVERTERS: dict[str, Converter] = {**TENSOR_CONVERTERS, **python.CONVERTERS}
"""Every aten and prim op the importers convert, by name."""


# the converters that take a tensor whose batch is not dimension 0 (a recurrent
# state, a time-major sequence; see shape_ops.MovedBatch): they follow where it goes. Any
# other converter given one refuses its node.
FOLLOWS_MOVED_BATCH = {
    *python.CONVERTERS.values(),  # sizes, lists, identities
    *(TENSOR_CONVERTERS[name] for name in (
        "aten::contiguous", "aten::squeeze", "aten::unsqueeze", "aten::cat", "aten::concat",
        "aten::concatenate", "aten::transpose", "aten::swapaxes", "aten::swapdims", "aten::t",
        "aten::permute", "aten::select", "aten::slice", *recurrent.CONVERTERS, *python.RESHAPES,
        "aten::unflatten", "aten::unbind",
    )),
}  # fmt: skip

FOLLOWS_MERGED_BATCH = {
    TENSOR_CONVERTERS[name] for name in (
        "aten::contiguous", "aten::transpose", "aten::swapaxes", "aten::swapdims", "aten::t",
        "aten::permute", *python.RESHAPES, "aten::unflatten",
    )
} | set(python.CONVERTERS.values())  # fmt: skip
"""The followers that also take a batch merged into a dimension (`MovedBatch.merged`)."""

ROW_WISE = {"aten::linear", "aten::layer_norm", "aten::matmul"}
"""Ops on each row (the last dimension) of their first input, with constant weights:
wherever the batch is but in the rows, their result has it at the same place (as the
projections of sequence-first multi-head attention have it at dimension 1)."""

ELEMENT_WISE = {"aten::add", "aten::sub", "aten::mul", "aten::div", "aten::relu", "aten::gelu", "aten::dropout"}
"""Element-wise ops that keep a moved batch in place: their run-time operands have it at
the same place and shape, their constants do not vary along it."""


def _moved_batch_refusal(ctx: ConversionContext, convert: Converter, args: list[Any]) -> str | None:
    """Why the node cannot take its arguments, if one (or an item of a list) has a moved
    batch that its converter does not follow."""
    values = [v for a in args for v in (a if isinstance(a, list | tuple) else [a])]
    if convert in FOLLOWS_MOVED_BATCH and (
        convert in FOLLOWS_MERGED_BATCH or not any(isinstance(v, SSAValue) and v in ctx.moved.merged for v in values)
    ):
        return None
    return next(filter(None, map(ctx.moved.refusal, values)), None)


def _moved_batch_carrier(ctx: ConversionContext, node: Node) -> SSAValue | None:
    """The argument whose moved batch a row-wise or element-wise node's result keeps, if
    the node is one that may."""
    tensors = [a for a in node.args if isinstance(a, SSAValue)]
    if not tensors:
        return None
    first = tensors[0]
    if node.kind in ROW_WISE:
        rows_only = node.args[0] is first and len(tensors) == 1 and ctx.moved.rows_keep_place(first)
        matrix = node.kind != "aten::matmul" or getattr(node.args[1], "ndim", 0) == 2
        norm_of_rows = node.kind != "aten::layer_norm" or len(node.args[1]) == 1
        return first if rows_only and matrix and norm_of_rows else None
    constants = [tuple(a.shape) for a in node.args if isinstance(a, torch.Tensor)]
    return first if node.kind in ELEMENT_WISE and ctx.moved.element_wise_keeps_place(tensors, constants) else None


def supported_ops() -> list[str]:
    """The tensor ops, as a refusal lists them."""
    return sorted(TENSOR_CONVERTERS)


def refuse_if_any(ctx: ConversionContext) -> None:
    """At the end of an import: one refusal listing every op `convert_node` refused."""
    ctx.problems.raise_if_any("unsupported operators", supported_ops())


def converter(node: Node) -> Converter | None:
    """The node's converter: its Python evaluation when it has one and no argument is a
    run-time tensor (`aten::slice` of a list of sizes), else its tensor converter (an
    in-place `relu_` as `relu`)."""
    kind = node.kind
    base = kind[:-1] if kind.endswith("_") and not kind.endswith("__") else kind
    evaluate = python.CONVERTERS.get(kind)
    if evaluate is not None and (base not in TENSOR_CONVERTERS or not python.holds_tensor(node.args)):
        return evaluate
    return TENSOR_CONVERTERS.get(base)


def convert_node(ctx: ConversionContext, node: Node) -> tuple:
    """The node's output values, its new ops verified and located at the node.

    An op that cannot be converted (no converter, or arguments its converter does not
    handle) is recorded in `ctx.problems` and yields `UNSUPPORTED`; the ops that depend
    on it are skipped, so that the import goes on and the refusal lists every
    unsupported op once. Any other exception is one refusal naming the op.
    """
    convert = converter(node)
    if convert is None:
        return ctx.refuse(node)
    if holds_unsupported(node.args):
        if convert in python.VALUES_ONLY and node.returns_tensor:
            ctx.refuse(node, "on tensors")
        return (UNSUPPORTED,) * node.num_outputs
    carrier = None
    if (reason := _moved_batch_refusal(ctx, convert, node.args)) is not None:
        if (carrier := _moved_batch_carrier(ctx, node)) is None:
            return ctx.refuse(node, reason)
    block = ctx.builder.insertion_point.block
    last = block.last_op
    try:
        if convert not in python.EVALUATED and python.makes_run_time_tensor(node):
            node.args = python.per_sample_arguments(node)
        results = convert(ctx, node)
        if carrier is not None:
            ctx.moved.same_place(results[0], carrier, node.kind)
        locate_and_verify(block, last, node.location, results)
    except RunTimeTensor:
        return ctx.refuse(node, "on tensors")
    except NodeError as e:
        return ctx.refuse(node, str(e))
    except VerifyException as e:
        raise ImportError_(
            f"{node.kind} at {node.location.describe()}: {e} "
            f"(the input sample shape is {','.join(map(str, ctx.sample_shape))}; "
            "is that right? see --input-shape)"
        ) from None
    except ImportError_:
        raise
    except Exception as e:  # a malformed model, or a converter's own bug
        raise converter_failure(node.kind, node.location.describe(), e) from None
    return results
