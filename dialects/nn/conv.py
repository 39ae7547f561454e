"""The `conv` family: 2-D convolution and 2-D transposed convolution."""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import I64, DenseArrayBase, IntegerAttr, i64
from xdsl.ir import SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    IRDLOperation,
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
    OneSample,
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


def verify_conv2d_operands(op: IRDLOperation) -> tuple[int, ...]:
    """The checks that conv2d and qconv2d share (window properties, the input's and
    weight's shapes, groups, bias); returns the expected result shape."""
    verify_pair("stride", op.stride.get_values(), 1)
    verify_pair("padding", op.padding.get_values(), 0)
    verify_pair("dilation", op.dilation.get_values(), 1)
    n, c, h, w = verify_rank(f"{op.name.removeprefix('nn.')} input", op.input, 4)
    k, cg, kh, kw = verify_rank(f"{op.name.removeprefix('nn.')} weight", op.weight, 4)
    if min(k, cg, kh, kw) < 1:
        raise VerifyException(f"conv2d weight shape {[k, cg, kh, kw]} has an empty dimension")
    groups = op.groups.value.data
    if groups < 1 or c % groups or k % groups:
        raise VerifyException(
            f"groups ({groups}) must divide input channels ({c}) and output channels ({k})"
        )
    if cg * groups != c:
        raise VerifyException(f"weight expects {cg * groups} input channels, input has {c}")
    if op.bias is not None and shape_of(op.bias) != (k,):
        raise VerifyException(f"bias shape {list(shape_of(op.bias))} must be [{k}]")
    expected = conv2d_output_shape(
        (n, c, h, w), (k, cg, kh, kw), op.stride.get_values(), op.padding.get_values(),
        op.dilation.get_values(),
    )  # fmt: skip
    if min(expected) < 1:
        raise VerifyException(f"input {[n, c, h, w]} is smaller than the kernel")
    return expected


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
    traits = traits_def(Pure(), OneSample())
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
        self.verify_activation()
        expected = verify_conv2d_operands(self)
        verify_result_shape(self, expected)
        if self.residual is not None and shape_of(self.residual) != expected:
            raise VerifyException(
                f"residual shape {list(shape_of(self.residual))} must be {list(expected)}"
            )


# decoders: transposed convolution
def conv_transpose2d_output_shape(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    groups: int,
    stride: Sequence[int],
    padding: Sequence[int],
    output_padding: Sequence[int],
    dilation: Sequence[int],
) -> tuple[int, ...]:
    """PyTorch's rule: (H - 1) * stride - 2 * padding + dilation * (KH - 1) + output_padding + 1."""
    n, _, h, w = input_shape
    _, kg, kh, kw = weight_shape
    if not are_pairs(stride, padding, output_padding, dilation):
        return (n, kg * groups, 0, 0)
    return (
        n,
        kg * groups,
        *(
            (size - 1) * s - 2 * p + d * (k - 1) + extra + 1
            for size, k, s, p, extra, d in zip(
                (h, w), (kh, kw), stride, padding, output_padding, dilation
            )
        ),
    )


@irdl_op_definition
class ConvTranspose2DOp(FusedActivationOp):
    """2-D transposed convolution (the gradient of conv2d with respect to its input, the
    decoders' upsampling layer), NCHW input and PyTorch's weight layout [C, K/groups, KH, KW].

    Each input pixel scatters its weighted kernel into the output at `stride`; `padding`
    crops the result at the top and left, and by the same amount at the bottom and right,
    where `output_padding` extends it again (PyTorch keeps it in [0, stride or dilation);
    any value, negative ones trimming more at the end, is well defined here, as ONNX's
    asymmetric pads need). Optional bias
    and fused activation: act(conv_transpose(x, w) + bias).
    """

    name = "nn.conv_transpose2d"

    input = operand_def(FloatTensor)
    weight = operand_def(FloatTensor)
    bias = opt_operand_def(FloatTensor)
    output = result_def(FloatTensor)

    stride = prop_def(DenseArrayBase.constr(i64))
    padding = prop_def(DenseArrayBase.constr(i64))
    output_padding = prop_def(DenseArrayBase.constr(i64))
    dilation = prop_def(DenseArrayBase.constr(i64))
    groups = prop_def(IntegerAttr[I64])

    traits = traits_def(Pure(), OneSample())
    assembly_format = (
        "$input `,` $weight (`bias` $bias^)? `stride` $stride `padding` $padding "
        "`output_padding` $output_padding `dilation` $dilation `groups` $groups "
        "(`activation` $activation^)? (`params` $activation_params^)? attr-dict "
        "`:` type($input) `,` type($weight) (`,` type($bias)^)? `->` type($output)"
    )

    def __init__(
        self,
        input: SSAValue,
        weight: SSAValue,
        bias: SSAValue | None = None,
        stride: Sequence[int] = (1, 1),
        padding: Sequence[int] = (0, 0),
        output_padding: Sequence[int] = (0, 0),
        dilation: Sequence[int] = (1, 1),
        groups: int = 1,
        activation: Activation | None = None,
    ):
        shape = conv_transpose2d_output_shape(
            shape_of(input), shape_of(weight), groups, stride, padding, output_padding, dilation
        )
        super().__init__(
            operands=[input, weight, bias],
            result_types=[tensor(shape)],
            properties={
                "stride": pair(stride),
                "padding": pair(padding),
                "output_padding": pair(output_padding),
                "dilation": pair(dilation),
                "groups": IntegerAttr(groups, i64),
                **activation_properties(activation),
            },
        )

    def with_changes(self, **changes) -> ConvTranspose2DOp:
        """A copy with some of the builder's arguments replaced."""
        arguments = dict(
            input=self.input, weight=self.weight, bias=self.bias,
            stride=self.stride.get_values(), padding=self.padding.get_values(),
            output_padding=self.output_padding.get_values(),
            dilation=self.dilation.get_values(), groups=self.groups.value.data,
            activation=self.fused_activation(),
        )  # fmt: skip
        arguments.update(changes)
        return ConvTranspose2DOp(**arguments)

    def verify_(self) -> None:
        stride, dilation = self.stride.get_values(), self.dilation.get_values()
        output_padding = self.output_padding.get_values()
        verify_pair("stride", stride, 1)
        verify_pair("padding", self.padding.get_values(), 0)
        if len(output_padding) != 2:
            raise VerifyException(f"output_padding must be two integers, got {list(output_padding)}")
        verify_pair("dilation", dilation, 1)
        self.verify_activation()
        n, c, h, w = verify_rank("conv_transpose2d input", self.input, 4)
        cw, kg, kh, kw = verify_rank("conv_transpose2d weight", self.weight, 4)
        if min(cw, kg, kh, kw) < 1:
            raise VerifyException(
                f"conv_transpose2d weight shape {[cw, kg, kh, kw]} has an empty dimension"
            )
        groups = self.groups.value.data
        if groups < 1 or c % groups:
            raise VerifyException(f"groups ({groups}) must divide input channels ({c})")
        if cw != c:
            raise VerifyException(f"weight expects {cw} input channels, input has {c}")
        if self.bias is not None and shape_of(self.bias) != (kg * groups,):
            raise VerifyException(
                f"bias shape {list(shape_of(self.bias))} must be [{kg * groups}]"
            )
        expected = conv_transpose2d_output_shape(
            (n, c, h, w), (cw, kg, kh, kw), groups, stride, self.padding.get_values(),
            output_padding, dilation,
        )  # fmt: skip
        if min(expected) < 1:
            raise VerifyException(f"padding leaves an empty output {list(expected)}")
        verify_result_shape(self, expected)


OPS = (Conv2DOp, ConvTranspose2DOp)
"""The family's ops, as the `NN` dialect lists them."""

__all__ = [
    "conv2d_output_shape",
    "verify_conv2d_operands",
    "Conv2DOp",
    "conv_transpose2d_output_shape",
    "ConvTranspose2DOp",
]
