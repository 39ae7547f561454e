"""The `softmax` family: softmax and log-softmax over one dimension."""

from __future__ import annotations

from typing import ClassVar

from xdsl.dialects.builtin import I64, IntegerAttr, i64
from xdsl.ir import SSAValue
from xdsl.irdl import (
    IRDLOperation,
    VarConstraint,
    base,
    irdl_op_definition,
    operand_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from mnistc.dialects.nn.base import FloatTensor
from mnistc.dialects.shapes import shape_of


class SoftmaxBase(IRDLOperation):
    """Base of the normalising ops over one dimension."""

    T: ClassVar = VarConstraint("T", base(FloatTensor))
    input = operand_def(T)
    output = result_def(T)
    dim = prop_def(IntegerAttr[I64])

    traits = traits_def(Pure())
    assembly_format = "$input `dim` $dim attr-dict `:` type($input)"

    def __init__(self, input: SSAValue, dim: int):
        rank = len(shape_of(input))
        super().__init__(
            operands=[input],
            result_types=[input.type],
            properties={"dim": IntegerAttr(dim % rank if rank else dim, i64)},
        )

    def verify_(self) -> None:
        rank = len(shape_of(self.input))
        if not 0 <= self.dim.value.data < rank:
            raise VerifyException(
                f"dim {self.dim.value.data} out of range for rank {rank} (use 0..{rank - 1})"
            )


@irdl_op_definition
class SoftmaxOp(SoftmaxBase):
    """exp(x) / sum(exp(x)) along `dim`."""

    name = "nn.softmax"


@irdl_op_definition
class LogSoftmaxOp(SoftmaxBase):
    """x - log(sum(exp(x))) along `dim`."""

    name = "nn.log_softmax"


OPS = (SoftmaxOp, LogSoftmaxOp)
"""The family's ops, as the `NN` dialect lists them."""

__all__ = ["LogSoftmaxOp", "SoftmaxBase", "SoftmaxOp"]
