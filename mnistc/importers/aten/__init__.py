"""The aten converters of both aten front ends (TorchScript and torch.export), one table.

Each family has its module, named like the `nn` dialect's families: `conv`, `linear`,
`pool`, `activation`, `norm`, `elementwise`, `shape`, `softmax`, `reduce`, and `python` for the
ops evaluated in Python at import (sizes, lists, integer math). A converter takes the
`ConversionContext` and a `Node` (`graph.py`) and returns the node's output values.

Adding an aten op: a converter in its family's module, listed in that module's
`CONVERTERS`.
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.utils.exceptions import VerifyException

from mnistc.importers.aten import (
    activation,
    conv,
    elementwise,
    linear,
    norm,
    pool,
    python,
    reduce,
    shape,
    softmax,
)
from mnistc.importers.aten.graph import (
    UNSUPPORTED,
    ConversionContext,
    Node,
    NodeError,
    RunTimeTensor,
)
from mnistc.importers.common import MALFORMED_MODEL_ERRORS, ImportError_, locate_and_verify

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
}
"""aten ops that produce `nn` ops; in-place variants (`relu_`) map to the same converter."""

CONVERTERS: dict[str, Converter] = {**TENSOR_CONVERTERS, **python.CONVERTERS}
"""Every aten and prim op the importers convert, by name."""


def supported_ops() -> list[str]:
    """The tensor ops, as a refusal lists them."""
    return sorted(TENSOR_CONVERTERS)


def converter(kind: str) -> Converter | None:
    base = kind[:-1] if kind.endswith("_") and not kind.endswith("__") else kind
    if base in TENSOR_CONVERTERS:
        return TENSOR_CONVERTERS[base]
    return python.CONVERTERS.get(kind)


def convert_node(ctx: ConversionContext, node: Node) -> tuple:
    """The node's output values, its new ops verified and located at the node.

    An op that cannot be converted is recorded in `ctx.problems` and yields
    `UNSUPPORTED`, as do the ops that depend on it, so that the import goes on and the
    refusal can list every unsupported op once.
    """
    convert = converter(node.kind)
    if convert is None or any(a is UNSUPPORTED for a in node.args):
        if convert is None:
            ctx.problems.add(node)
        elif node.kind in python.CONVERTERS and node.returns_tensor:
            ctx.problems.add(node, "on tensors")
        return (UNSUPPORTED,) * node.num_outputs
    block = ctx.builder.insertion_point.block
    last = block.last_op
    try:
        results = convert(ctx, node)
        locate_and_verify(block, last, node.location, results)
    except RunTimeTensor:
        ctx.problems.add(node, "on tensors")
        return (UNSUPPORTED,) * node.num_outputs
    except VerifyException as e:
        raise ImportError_(
            f"{node.kind} at {node.location.describe()}: {e} "
            f"(the input sample shape is {','.join(map(str, ctx.sample_shape))}; "
            "is that right? see --input-shape)"
        ) from None
    except (NodeError, *MALFORMED_MODEL_ERRORS) as e:
        raise ImportError_(f"{node.kind} at {node.location.describe()}: {e}") from None
    return results
