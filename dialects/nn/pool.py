"""The `pool` family: max, average and adaptive average pooling over NCHW."""

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

from mnistc.dialects.nn.base import (
    OneSample,
    ExactTensor,
    FloatTensor,
    are_pairs,
    element_type_of,
    pair,
    tensor,
    verify_pair,
    verify_rank,
    verify_result_shape,
    verify_same_element_type,
    window_output_size,
)
from mnistc.dialects.shapes import shape_of


def pool2d_output_shape(
    input_shape: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    ceil_mode: bool,
) -> tuple[int, ...]:
    n, c, h, w = input_shape
    if not are_pairs(kernel, stride, padding, dilation):
        return (n, c, 0, 0)
    return (
        n,
        c,
        window_output_size(h, kernel[0], stride[0], padding[0], dilation[0], ceil_mode),
        window_output_size(w, kernel[1], stride[1], padding[1], dilation[1], ceil_mode),
    )


@irdl_op_definition
class MaxPool2DOp(IRDLOperation):
    """2-D max pooling over NCHW, with PyTorch's padding, dilation and ceil_mode rules.

    float32 or int8: the maximum commutes with a monotonic quantization, so a quantized
    network pools its int8 tensors directly (the result keeps the input's element type).
    """

    name = "nn.max_pool2d"

    input = operand_def(ExactTensor)
    output = result_def(ExactTensor)
    kernel = prop_def(DenseArrayBase.constr(i64))
    stride = prop_def(DenseArrayBase.constr(i64))
    padding = prop_def(DenseArrayBase.constr(i64))
    dilation = prop_def(DenseArrayBase.constr(i64))
    ceil_mode = prop_def(IntegerAttr[I64])

    traits = traits_def(Pure(), OneSample())
    assembly_format = (
        "$input `kernel` $kernel `stride` $stride `padding` $padding `dilation` "
        "$dilation `ceil_mode` $ceil_mode attr-dict `:` type($input) `->` type($output)"
    )

    def __init__(
        self,
        input: SSAValue,
        kernel: Sequence[int],
        stride: Sequence[int],
        padding: Sequence[int] = (0, 0),
        dilation: Sequence[int] = (1, 1),
        ceil_mode: bool = False,
    ):
        shape = pool2d_output_shape(
            shape_of(input), kernel, stride, padding, dilation, ceil_mode
        )
        super().__init__(
            operands=[input],
            result_types=[tensor(shape, element_type_of(input))],
            properties={
                "kernel": pair(kernel),
                "stride": pair(stride),
                "padding": pair(padding),
                "dilation": pair(dilation),
                "ceil_mode": IntegerAttr(int(ceil_mode), i64),
            },
        )

    def verify_(self) -> None:
        kernel = self.kernel.get_values()
        padding = self.padding.get_values()
        verify_pair("kernel", kernel, 1)
        verify_pair("stride", self.stride.get_values(), 1)
        verify_pair("padding", padding, 0)
        verify_pair("dilation", self.dilation.get_values(), 1)
        if any(2 * p > k for p, k in zip(padding, kernel)):
            raise VerifyException("padding must be at most half the kernel size")
        if self.ceil_mode.value.data not in (0, 1):
            raise VerifyException("ceil_mode must be 0 or 1")
        expected = pool2d_output_shape(
            verify_rank("max_pool2d input", self.input, 4),
            kernel,
            self.stride.get_values(),
            padding,
            self.dilation.get_values(),
            bool(self.ceil_mode.value.data),
        )
        if min(expected) < 1:
            raise VerifyException("input is smaller than the pooling window")
        verify_result_shape(self, expected)
        verify_same_element_type(self)


@irdl_op_definition
class AvgPool2DOp(IRDLOperation):
    """2-D average pooling with PyTorch's ceil_mode, count_include_pad and divisor_override
    (`divisor` 0 means none)."""

    name = "nn.avg_pool2d"

    input = operand_def(FloatTensor)
    output = result_def(FloatTensor)
    kernel = prop_def(DenseArrayBase.constr(i64))
    stride = prop_def(DenseArrayBase.constr(i64))
    padding = prop_def(DenseArrayBase.constr(i64))
    ceil_mode = prop_def(IntegerAttr[I64])
    count_include_pad = prop_def(IntegerAttr[I64])
    divisor = prop_def(IntegerAttr[I64])

    traits = traits_def(Pure(), OneSample())
    assembly_format = (
        "$input `kernel` $kernel `stride` $stride `padding` $padding `ceil_mode` $ceil_mode "
        "`count_include_pad` $count_include_pad `divisor` $divisor attr-dict "
        "`:` type($input) `->` type($output)"
    )

    def __init__(
        self,
        input: SSAValue,
        kernel: Sequence[int],
        stride: Sequence[int],
        padding: Sequence[int] = (0, 0),
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor: int = 0,
    ):
        shape = pool2d_output_shape(shape_of(input), kernel, stride, padding, (1, 1), ceil_mode)
        super().__init__(
            operands=[input],
            result_types=[tensor(shape)],
            properties={
                "kernel": pair(kernel),
                "stride": pair(stride),
                "padding": pair(padding),
                "ceil_mode": IntegerAttr(int(ceil_mode), i64),
                "count_include_pad": IntegerAttr(int(count_include_pad), i64),
                "divisor": IntegerAttr(divisor, i64),
            },
        )

    def verify_(self) -> None:
        kernel, padding = self.kernel.get_values(), self.padding.get_values()
        verify_pair("kernel", kernel, 1)
        verify_pair("stride", self.stride.get_values(), 1)
        verify_pair("padding", padding, 0)
        if any(2 * p > k for p, k in zip(padding, kernel)):
            raise VerifyException("padding must be at most half the kernel size")
        for flag in (self.ceil_mode, self.count_include_pad):
            if flag.value.data not in (0, 1):
                raise VerifyException("ceil_mode and count_include_pad must be 0 or 1")
        if self.divisor.value.data < 0:
            raise VerifyException("divisor must be >= 0 (0: none)")
        expected = pool2d_output_shape(
            verify_rank("avg_pool2d input", self.input, 4), kernel,
            self.stride.get_values(), padding, (1, 1), bool(self.ceil_mode.value.data),
        )  # fmt: skip
        if min(expected) < 1:
            raise VerifyException("input is smaller than the pooling window")
        verify_result_shape(self, expected)


@irdl_op_definition
class AdaptiveAvgPool2DOp(IRDLOperation):
    """Average over PyTorch's adaptive windows to a fixed output size (1x1: global)."""

    name = "nn.adaptive_avg_pool2d"

    input = operand_def(FloatTensor)
    output = result_def(FloatTensor)

    traits = traits_def(Pure(), OneSample())
    assembly_format = "$input attr-dict `:` type($input) `->` type($output)"

    def __init__(self, input: SSAValue, output_size: Sequence[int]):
        n, c = shape_of(input)[:2]
        super().__init__(operands=[input], result_types=[tensor((n, c, *output_size))])

    def verify_(self) -> None:
        n, c, _, _ = verify_rank("adaptive_avg_pool2d input", self.input, 4)
        out = verify_rank("adaptive_avg_pool2d result", self.output, 4)
        if out[:2] != (n, c) or min(out[2:]) < 1:
            raise VerifyException(f"result {list(out)} must be [{n}, {c}, OH >= 1, OW >= 1]")


OPS = (MaxPool2DOp, AvgPool2DOp, AdaptiveAvgPool2DOp)
"""The family's ops, as the `NN` dialect lists them."""

__all__ = ["AdaptiveAvgPool2DOp", "AvgPool2DOp", "MaxPool2DOp", "pool2d_output_shape"]
