"""The `norm` family: batch normalisation, local response normalisation, layer norm and
group norm."""

from __future__ import annotations

from typing import ClassVar

from xdsl.dialects.builtin import I64, Float64Type, FloatAttr, IntegerAttr, f64, i64
from xdsl.ir import SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    IRDLOperation,
    VarConstraint,
    base,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from mnistc.dialects.nn.base import FloatTensor, OneSample, verify_rank
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

    traits = traits_def(Pure(), OneSample())
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

    traits = traits_def(Pure(), OneSample())
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


# layer norm and group norm, their affine weight and bias optional.


class AffineNormOp(IRDLOperation):
    """Base of the normalisations with an optional weight and bias."""

    input = operand_def(FloatTensor)
    weight = opt_operand_def(FloatTensor)
    bias = opt_operand_def(FloatTensor)
    output = result_def(FloatTensor)
    eps = prop_def(FloatAttr[Float64Type])

    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    traits = traits_def(Pure())

    def affine_shape(self) -> tuple[int, ...]:
        """The shape that weight and bias must have."""
        raise NotImplementedError

    def verify_(self) -> None:
        if self.eps.value.data < 0:
            raise VerifyException(f"{self.name.removeprefix('nn.')} eps must be >= 0")
        expected = self.affine_shape()
        for name in ("weight", "bias"):
            value = getattr(self, name)
            if value is not None and shape_of(value) != expected:
                raise VerifyException(
                    f"{self.name.removeprefix('nn.')} {name} shape {list(shape_of(value))} "
                    f"must be {list(expected)}"
                )
        if shape_of(self.output) != shape_of(self.input):
            raise VerifyException(
                f"{self.name.removeprefix('nn.')} result must have the input's shape"
            )


@irdl_op_definition
class LayerNormOp(AffineNormOp):
    """Layer norm over the dims from `axis` on (PyTorch's normalized_shape, ONNX's axis):
    (x - mean) / sqrt(var + eps) * weight + bias, the biased variance; weight and bias
    have the normalised dims' shape."""

    name = "nn.layer_norm"

    axis = prop_def(IntegerAttr[I64])
    assembly_format = (
        "$input (`weight` $weight^)? (`bias` $bias^)? `axis` $axis `eps` $eps attr-dict "
        "`:` type($input) (`weight` type($weight)^)? (`bias` type($bias)^)? `->` type($output)"
    )

    def __init__(self, input: SSAValue, axis: int, eps: float, weight=None, bias=None):
        rank = len(shape_of(input))
        super().__init__(
            operands=[input, weight, bias],
            result_types=[input.type],
            properties={
                "axis": IntegerAttr(axis % rank if rank else axis, i64),
                "eps": FloatAttr(eps, f64),
            },
        )

    def affine_shape(self) -> tuple[int, ...]:
        return shape_of(self.input)[self.axis.value.data :]

    def verify_(self) -> None:
        rank, axis = len(shape_of(self.input)), self.axis.value.data
        if not 1 <= axis < rank:
            raise VerifyException(
                f"layer_norm axis {axis} out of range for rank {rank} (use 1..{rank - 1}: "
                "dim 0 is the batch)"
            )
        super().verify_()


@irdl_op_definition
class GroupNormOp(AffineNormOp):
    """Group norm: the channels (dim 1) in `groups` groups, each group of each sample
    normalised over its channels and the dims after them; weight and bias per channel."""

    name = "nn.group_norm"

    groups = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure(), OneSample())
    assembly_format = (
        "$input (`weight` $weight^)? (`bias` $bias^)? `groups` $groups `eps` $eps attr-dict "
        "`:` type($input) (`weight` type($weight)^)? (`bias` type($bias)^)? `->` type($output)"
    )

    def __init__(self, input: SSAValue, groups: int, eps: float, weight=None, bias=None):
        super().__init__(
            operands=[input, weight, bias],
            result_types=[input.type],
            properties={"groups": IntegerAttr(groups, i64), "eps": FloatAttr(eps, f64)},
        )

    def affine_shape(self) -> tuple[int, ...]:
        return shape_of(self.input)[1:2]

    def verify_(self) -> None:
        shape, groups = shape_of(self.input), self.groups.value.data
        if len(shape) < 2:
            raise VerifyException("group_norm input must have a channel dimension")
        if groups < 1 or shape[1] % groups:
            raise VerifyException(f"group_norm groups {groups} must divide the {shape[1]} channels")
        super().verify_()


OPS = (BatchNormOp, LRNOp, LayerNormOp, GroupNormOp)
"""The family's ops, as the `NN` dialect lists them."""

__all__ = ["BatchNormOp", "LRNOp", "AffineNormOp", "GroupNormOp", "LayerNormOp"]
