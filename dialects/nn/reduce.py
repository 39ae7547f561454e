"""The `reduce` family: mean, sum, max and min over any set of dims, keeping them (as size
1) or not."""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import I64, DenseArrayBase, IntegerAttr, i64
from xdsl.ir import SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    operand_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from mnistc.dialects.nn.base import FloatTensor, tensor, verify_result_shape
from mnistc.dialects.shapes import shape_of


def reduced_shape(shape: Sequence[int], dims: Sequence[int], keepdim: bool) -> tuple[int, ...]:
    """The shape after reducing `dims` (normalised, in range): each becomes 1 with
    `keepdim`, else is dropped."""
    if keepdim:
        return tuple(1 if i in dims else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in dims)


class ReduceOp(IRDLOperation):
    """Base of the reductions: `dims` sorted, distinct and in range; `keepdim` 0 or 1."""

    input = operand_def(FloatTensor)
    output = result_def(FloatTensor)
    dims = prop_def(DenseArrayBase.constr(i64))
    keepdim = prop_def(IntegerAttr[I64])

    traits = traits_def(Pure())
    assembly_format = (
        "$input `dims` $dims `keepdim` $keepdim attr-dict `:` type($input) `->` type($output)"
    )

    def __init__(self, input: SSAValue, dims: Sequence[int], keepdim: bool):
        """Negative dims count from the end, as in PyTorch."""
        rank = len(shape_of(input))
        dims = sorted({d % rank if rank else d for d in dims})
        super().__init__(
            operands=[input],
            result_types=[tensor(reduced_shape(shape_of(input), dims, keepdim))],
            properties={
                "dims": DenseArrayBase.from_list(i64, dims),
                "keepdim": IntegerAttr(int(keepdim), i64),
            },
        )

    def reduced_dims(self) -> tuple[int, ...]:
        return tuple(self.dims.get_values())

    def verify_(self) -> None:
        rank, dims = len(shape_of(self.input)), list(self.reduced_dims())
        if not dims:
            raise VerifyException("a reduction needs at least one dim")
        if dims != sorted(set(dims)) or not all(0 <= d < rank for d in dims):
            raise VerifyException(
                f"dims {dims} must be distinct, sorted and in range for rank {rank} "
                f"(use 0..{rank - 1})"
            )
        if self.keepdim.value.data not in (0, 1):
            raise VerifyException("keepdim must be 0 or 1")
        verify_result_shape(
            self, reduced_shape(shape_of(self.input), dims, bool(self.keepdim.value.data))
        )


@irdl_op_definition
class ReduceMeanOp(ReduceOp):
    """The mean over `dims`."""

    name = "nn.reduce_mean"


@irdl_op_definition
class ReduceSumOp(ReduceOp):
    """The sum over `dims`."""

    name = "nn.reduce_sum"


@irdl_op_definition
class ReduceMaxOp(ReduceOp):
    """The maximum over `dims` (amax; NaN wins, as in PyTorch)."""

    name = "nn.reduce_max"


@irdl_op_definition
class ReduceMinOp(ReduceOp):
    """The minimum over `dims` (amin; NaN wins, as in PyTorch)."""

    name = "nn.reduce_min"


OPS = (ReduceMeanOp, ReduceSumOp, ReduceMaxOp, ReduceMinOp)
"""The family's ops, as the `NN` dialect lists them."""

__all__ = ["ReduceMaxOp", "ReduceMeanOp", "ReduceMinOp", "ReduceOp", "ReduceSumOp", "reduced_shape"]
