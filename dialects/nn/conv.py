"""The `conv` family: 2-D convolution."""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import I64, DenseArrayBase, IntegerAttr, i64
from xdsl.ir import SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from mnistc.dialects.nn.activation import Activation, FusedActivationOp, activation_properties
from mnistc.dialects.nn.base import (
    FloatTensor,
    are_pairs,
    pair,
    tensor,
    verify_pair,
    verify_rank,
    verify_result_shape,
    window_output_size,
)
from mnistc.dialects.shapes import shape_of


def conv2d_output_shape(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
) -> tuple[int, ...]:
    n, _, h, w = input_shape
    k, _, kh, kw = weight_shape
    if not are_pairs(stride, padding, dilation):
        return (n, k, 0, 0)
    return (
        n,
        k,
        window_output_size(h, kh, stride[0], padding[0], dilation[0]),
        window_output_size(w, kw, stride[1], padding[1], dilation[1]),
    )


@irdl_op_definition
class Conv2DOp(FusedActivationOp):
    """2-D convolution, NCHW input and KCHW weight.

    Optional: a bias; a `residual` tensor of the result's shape added after the bias; an
    activation applied last: act(conv(x, w) + bias + residual).
    """

    name = "nn.conv2d"

    input = operand_def(FloatTensor)
    weight = operand_def(FloatTensor)
    bias = opt_operand_def(FloatTensor)
    residual = opt_operand_def(FloatTensor)
    output = result_def(FloatTensor)

    stride = prop_def(DenseArrayBase.constr(i64))
    padding = prop_def(DenseArrayBase.constr(i64))
    dilation = prop_def(DenseArrayBase.constr(i64))
    groups = prop_def(IntegerAttr[I64])

    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    traits = traits_def(Pure())
    assembly_format = (
        "$input `,` $weight (`bias` $bias^)? (`residual` $residual^)? `stride` $stride "
        "`padding` $padding `dilation` $dilation `groups` $groups "
        "(`activation` $activation^)? (`params` $activation_params^)? attr-dict "
        "`:` type($input) `,` type($weight) (`,` type($bias)^)? "
        "(`residual` type($residual)^)? `->` type($output)"
    )

    def __init__(
        self,
        input: SSAValue,
        weight: SSAValue,
        bias: SSAValue | None = None,
        stride: Sequence[int] = (1, 1),
        padding: Sequence[int] = (0, 0),
        dilation: Sequence[int] = (1, 1),
        groups: int = 1,
        activation: Activation | None = None,
        residual: SSAValue | None = None,
    ):
        shape = conv2d_output_shape(
            shape_of(input), shape_of(weight), stride, padding, dilation
        )
        super().__init__(
            operands=[input, weight, bias, residual],
            result_types=[tensor(shape)],
            properties={
                "stride": pair(stride),
                "padding": pair(padding),
                "dilation": pair(dilation),
                "groups": IntegerAttr(groups, i64),
                **activation_properties(activation),
            },
        )

    def with_changes(self, **changes) -> Conv2DOp:
        """A copy with some of the builder's arguments replaced."""
        arguments = dict(
            input=self.input, weight=self.weight, bias=self.bias,
            stride=self.stride.get_values(), padding=self.padding.get_values(),
            dilation=self.dilation.get_values(), groups=self.groups.value.data,
            activation=self.fused_activation(), residual=self.residual,
        )  # fmt: skip
        arguments.update(changes)
        return Conv2DOp(**arguments)

    def verify_(self) -> None:
        verify_pair("stride", self.stride.get_values(), 1)
        verify_pair("padding", self.padding.get_values(), 0)
        verify_pair("dilation", self.dilation.get_values(), 1)
        self.verify_activation()
        n, c, h, w = verify_rank("conv2d input", self.input, 4)
        k, cg, kh, kw = verify_rank("conv2d weight", self.weight, 4)
        if min(k, cg, kh, kw) < 1:
            raise VerifyException(f"conv2d weight shape {[k, cg, kh, kw]} has an empty dimension")
        groups = self.groups.value.data
        if groups < 1 or c % groups or k % groups:
            raise VerifyException(
                f"groups ({groups}) must divide input channels ({c}) and output channels ({k})"
            )
        if cg * groups != c:
            raise VerifyException(
                f"weight expects {cg * groups} input channels, input has {c}"
            )
        if self.bias is not None and shape_of(self.bias) != (k,):
            raise VerifyException(
                f"bias shape {list(shape_of(self.bias))} must be [{k}]"
            )
        expected = conv2d_output_shape(
            (n, c, h, w),
            (k, cg, kh, kw),
            self.stride.get_values(),
            self.padding.get_values(),
            self.dilation.get_values(),
        )
        if min(expected) < 1:
            raise VerifyException(f"input {[n, c, h, w]} is smaller than the kernel")
        verify_result_shape(self, expected)
        if self.residual is not None and shape_of(self.residual) != expected:
            raise VerifyException(
                f"residual shape {list(shape_of(self.residual))} must be {list(expected)}"
            )


OPS = (Conv2DOp,)
"""The family's ops, as the `NN` dialect lists them."""

__all__ = ["conv2d_output_shape", "Conv2DOp"]
