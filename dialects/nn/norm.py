"""The `norm` family: batch normalisation and local response normalisation."""

from __future__ import annotations

from typing import ClassVar

from xdsl.dialects.builtin import I64, Float64Type, FloatAttr, IntegerAttr, f64, i64
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

from mnistc.dialects.nn.base import FloatTensor, verify_rank
from mnistc.dialects.shapes import shape_of


@irdl_op_definition
class BatchNormOp(IRDLOperation):
    """Inference batch norm over channel dim 1: (x - mean) / sqrt(var + eps) * gamma + beta."""

    name = "nn.batch_norm"

    input = operand_def(FloatTensor)
    mean = operand_def(FloatTensor)
    var = operand_def(FloatTensor)
    gamma = operand_def(FloatTensor)
    beta = operand_def(FloatTensor)
    output = result_def(FloatTensor)
    eps = prop_def(FloatAttr[Float64Type])

    traits = traits_def(Pure())
    assembly_format = (
        "$input `mean` $mean `var` $var `gamma` $gamma `beta` $beta `eps` $eps attr-dict "
        "`:` type($input) `,` type($mean) `,` type($var) `,` type($gamma) `,` type($beta) "
        "`->` type($output)"
    )

    def __init__(self, input, mean, var, gamma, beta, eps: float):
        super().__init__(
            operands=[input, mean, var, gamma, beta],
            result_types=[input.type],
            properties={"eps": FloatAttr(eps, f64)},
        )

    def verify_(self) -> None:
        shape = shape_of(self.input)
        if len(shape) < 2:
            raise VerifyException("batch_norm input must have a channel dimension")
        for name in ("mean", "var", "gamma", "beta"):
            if shape_of(getattr(self, name)) != (shape[1],):
                raise VerifyException(f"batch_norm {name} must have shape [{shape[1]}]")
        if shape_of(self.output) != shape:
            raise VerifyException("batch_norm result must have the input's shape")
        if self.eps.value.data < 0:
            raise VerifyException("batch_norm eps must be >= 0")


@irdl_op_definition
class LRNOp(IRDLOperation):
    """Local response normalisation across channels (AlexNet's):
    x / (bias + alpha / size * sum of x^2 over `size` neighbouring channels) ^ beta."""

    name = "nn.lrn"

    T: ClassVar = VarConstraint("T", base(FloatTensor))
    input = operand_def(T)
    output = result_def(T)
    size = prop_def(IntegerAttr[I64])
    alpha = prop_def(FloatAttr[Float64Type])
    beta = prop_def(FloatAttr[Float64Type])
    bias = prop_def(FloatAttr[Float64Type])

    traits = traits_def(Pure())
    assembly_format = (
        "$input `size` $size `alpha` $alpha `beta` $beta `bias` $bias attr-dict `:` type($input)"
    )

    def __init__(self, input: SSAValue, size: int, alpha: float, beta: float, bias: float):
        super().__init__(
            operands=[input],
            result_types=[input.type],
            properties={
                "size": IntegerAttr(size, i64),
                "alpha": FloatAttr(alpha, f64),
                "beta": FloatAttr(beta, f64),
                "bias": FloatAttr(bias, f64),
            },
        )

    def verify_(self) -> None:
        if self.size.value.data < 1:
            raise VerifyException("lrn size must be >= 1")
        verify_rank("lrn input", self.input, 4)


OPS = (BatchNormOp, LRNOp)
"""The family's ops, as the `NN` dialect lists them."""

__all__ = ["BatchNormOp", "LRNOp"]
