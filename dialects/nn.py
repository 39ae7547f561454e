"""The `nn` dialect: neural-network operators on tensors.

This is the level the importers produce and the graph optimisations work on. Every
op is value-semantic (`Pure`), carries its hyper-parameters as properties, and its
typed builder infers the result type, so the verifier and the importer share one
definition of each op's shape rule.

Batch convention: tensors carry the batch dimension, and the importers emit it as 1.
The lowering runs the graph once per sample, so the executable accepts any batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import (
    I64,
    DenseArrayBase,
    Float32Type,
    Float64Type,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    f32,
    f64,
    i64,
)
from xdsl.ir import Dialect, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    VarConstraint,
    base,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.pattern_rewriter import RewritePattern
from xdsl.traits import HasCanonicalizationPatternsTrait, Pure
from xdsl.utils.exceptions import VerifyException

FloatTensor = TensorType[Float32Type]

ACTIVATIONS = ("relu",)
"""Element-wise activations that conv2d and linear can apply in their epilogue."""


def tensor(shape: Sequence[int]) -> TensorType:
    return TensorType(f32, list(shape))


def shape_of(value: SSAValue) -> tuple[int, ...]:
    assert isinstance(value.type, TensorType)
    return tuple(value.type.get_shape())


def pair(values: Sequence[int] | int) -> DenseArrayBase:
    if isinstance(values, int):
        values = (values, values)
    return DenseArrayBase.from_list(i64, list(values))


def window_output_size(
    size: int, kernel: int, stride: int, pad: int, dilation: int, ceil_mode: bool = False
) -> int:
    """Output length of a sliding window, with PyTorch's rules (ceil_mode included)."""
    span = dilation * (kernel - 1) + 1
    numerator = size + 2 * pad - span
    if ceil_mode:
        out = -(-numerator // stride) + 1
        if (out - 1) * stride >= size + pad:
            out -= 1
        return out
    return numerator // stride + 1


def conv2d_output_shape(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
) -> tuple[int, ...]:
    n, _, h, w = input_shape
    k, _, kh, kw = weight_shape
    return (
        n,
        k,
        window_output_size(h, kh, stride[0], padding[0], dilation[0]),
        window_output_size(w, kw, stride[1], padding[1], dilation[1]),
    )


def pool2d_output_shape(
    input_shape: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    ceil_mode: bool,
) -> tuple[int, ...]:
    n, c, h, w = input_shape
    return (
        n,
        c,
        window_output_size(h, kernel[0], stride[0], padding[0], dilation[0], ceil_mode),
        window_output_size(w, kernel[1], stride[1], padding[1], dilation[1], ceil_mode),
    )


def _verify_pair(name: str, values: tuple[int, ...], minimum: int) -> None:
    if len(values) != 2 or any(v < minimum for v in values):
        raise VerifyException(
            f"{name} must be two integers >= {minimum}, got {list(values)}"
        )


def _verify_rank(what: str, value: SSAValue, rank: int) -> tuple[int, ...]:
    shape = shape_of(value)
    if len(shape) != rank:
        raise VerifyException(f"{what} must have rank {rank}, got shape {list(shape)}")
    return shape


def _verify_result_shape(op: IRDLOperation, expected: Sequence[int]) -> None:
    actual = shape_of(op.results[0])
    if actual != tuple(expected):
        raise VerifyException(
            f"result shape {list(actual)} does not match the expected {list(expected)}"
        )


def _verify_activation(activation: StringAttr | None) -> None:
    if activation is not None and activation.data not in ACTIVATIONS:
        raise VerifyException(
            f"unknown activation '{activation.data}' (supported: {', '.join(ACTIVATIONS)})"
        )


@irdl_op_definition
class WeightOp(IRDLOperation):
    """A constant tensor stored in the model's weight file.

    `key` names the tensor (its module path in the source model), `offset` is its byte
    offset in the little-endian float32 weight file named by the module's
    `nn.weights_file` attribute. Keeping the data out of the IR keeps it readable.
    """

    name = "nn.weight"

    key = prop_def(StringAttr)
    offset = prop_def(IntegerAttr[I64])
    result = result_def(FloatTensor)

    traits = traits_def(Pure())
    assembly_format = "$key `offset` $offset attr-dict `:` type($result)"

    def __init__(self, key: str, offset: int, shape: Sequence[int]):
        super().__init__(
            properties={"key": StringAttr(key), "offset": IntegerAttr(offset, i64)},
            result_types=[tensor(shape)],
        )

    def verify_(self) -> None:
        if self.offset.value.data < 0 or self.offset.value.data % 4:
            raise VerifyException("weight offset must be a non-negative multiple of 4")


@irdl_op_definition
class Conv2DOp(IRDLOperation):
    """2-D convolution, NCHW input and KCHW weight, optional bias and fused activation."""

    name = "nn.conv2d"

    input = operand_def(FloatTensor)
    weight = operand_def(FloatTensor)
    bias = opt_operand_def(FloatTensor)
    output = result_def(FloatTensor)

    stride = prop_def(DenseArrayBase.constr(i64))
    padding = prop_def(DenseArrayBase.constr(i64))
    dilation = prop_def(DenseArrayBase.constr(i64))
    groups = prop_def(IntegerAttr[I64])
    activation = opt_prop_def(StringAttr)

    traits = traits_def(Pure())
    assembly_format = (
        "$input `,` $weight (`bias` $bias^)? `stride` $stride `padding` $padding "
        "`dilation` $dilation `groups` $groups (`activation` $activation^)? attr-dict "
        "`:` type($input) `,` type($weight) (`,` type($bias)^)? `->` type($output)"
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
        activation: str | None = None,
    ):
        shape = conv2d_output_shape(
            shape_of(input), shape_of(weight), stride, padding, dilation
        )
        super().__init__(
            operands=[input, weight, bias],
            result_types=[tensor(shape)],
            properties={
                "stride": pair(stride),
                "padding": pair(padding),
                "dilation": pair(dilation),
                "groups": IntegerAttr(groups, i64),
                "activation": StringAttr(activation) if activation else None,
            },
        )

    def verify_(self) -> None:
        _verify_pair("stride", self.stride.get_values(), 1)
        _verify_pair("padding", self.padding.get_values(), 0)
        _verify_pair("dilation", self.dilation.get_values(), 1)
        _verify_activation(self.activation)
        n, c, h, w = _verify_rank("conv2d input", self.input, 4)
        k, cg, kh, kw = _verify_rank("conv2d weight", self.weight, 4)
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
        _verify_result_shape(self, expected)


@irdl_op_definition
class LinearOp(IRDLOperation):
    """y = x W^T + b on a [N, IN] input with a [OUT, IN] weight; optional activation."""

    name = "nn.linear"

    input = operand_def(FloatTensor)
    weight = operand_def(FloatTensor)
    bias = opt_operand_def(FloatTensor)
    output = result_def(FloatTensor)
    activation = opt_prop_def(StringAttr)

    traits = traits_def(Pure())
    assembly_format = (
        "$input `,` $weight (`bias` $bias^)? (`activation` $activation^)? attr-dict "
        "`:` type($input) `,` type($weight) (`,` type($bias)^)? `->` type($output)"
    )

    def __init__(
        self,
        input: SSAValue,
        weight: SSAValue,
        bias: SSAValue | None = None,
        activation: str | None = None,
    ):
        n = shape_of(input)[0]
        out_features = shape_of(weight)[0]
        super().__init__(
            operands=[input, weight, bias],
            result_types=[tensor((n, out_features))],
            properties={"activation": StringAttr(activation) if activation else None},
        )

    def verify_(self) -> None:
        _verify_activation(self.activation)
        n, in_features = _verify_rank("linear input", self.input, 2)
        out_features, weight_in = _verify_rank("linear weight", self.weight, 2)
        if weight_in != in_features:
            raise VerifyException(
                f"weight expects {weight_in} input features, input has {in_features}"
            )
        if self.bias is not None and shape_of(self.bias) != (out_features,):
            raise VerifyException(
                f"bias shape {list(shape_of(self.bias))} must be [{out_features}]"
            )
        _verify_result_shape(self, (n, out_features))


@irdl_op_definition
class MaxPool2DOp(IRDLOperation):
    """2-D max pooling over NCHW, with PyTorch's padding, dilation and ceil_mode rules."""

    name = "nn.max_pool2d"

    input = operand_def(FloatTensor)
    output = result_def(FloatTensor)
    kernel = prop_def(DenseArrayBase.constr(i64))
    stride = prop_def(DenseArrayBase.constr(i64))
    padding = prop_def(DenseArrayBase.constr(i64))
    dilation = prop_def(DenseArrayBase.constr(i64))
    ceil_mode = prop_def(IntegerAttr[I64])

    traits = traits_def(Pure())
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
            result_types=[tensor(shape)],
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
        _verify_pair("kernel", kernel, 1)
        _verify_pair("stride", self.stride.get_values(), 1)
        _verify_pair("padding", padding, 0)
        _verify_pair("dilation", self.dilation.get_values(), 1)
        if any(2 * p > k for p, k in zip(padding, kernel)):
            raise VerifyException("padding must be at most half the kernel size")
        if self.ceil_mode.value.data not in (0, 1):
            raise VerifyException("ceil_mode must be 0 or 1")
        expected = pool2d_output_shape(
            _verify_rank("max_pool2d input", self.input, 4),
            kernel,
            self.stride.get_values(),
            padding,
            self.dilation.get_values(),
            bool(self.ceil_mode.value.data),
        )
        if min(expected) < 1:
            raise VerifyException("input is smaller than the pooling window")
        _verify_result_shape(self, expected)


class ElementwiseUnaryOp(IRDLOperation):
    """Base of ops whose result has the operand's type."""

    T: ClassVar = VarConstraint("T", base(FloatTensor))
    input = operand_def(T)
    output = result_def(T)

    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input)"

    def __init__(self, input: SSAValue):
        super().__init__(operands=[input], result_types=[input.type])


@irdl_op_definition
class ReluOp(ElementwiseUnaryOp):
    """max(x, 0), element-wise."""

    name = "nn.relu"


@irdl_op_definition
class DropoutOp(IRDLOperation):
    """Dropout with probability `p`: the identity at inference, kept so imports are faithful."""

    name = "nn.dropout"

    T: ClassVar = VarConstraint("T", base(FloatTensor))
    input = operand_def(T)
    output = result_def(T)
    p = prop_def(FloatAttr[Float64Type])

    traits = traits_def(Pure())
    assembly_format = "$input `p` $p attr-dict `:` type($input)"

    def __init__(self, input: SSAValue, p: float):
        super().__init__(
            operands=[input],
            result_types=[input.type],
            properties={"p": FloatAttr(p, f64)},
        )

    def verify_(self) -> None:
        if not 0.0 <= self.p.value.data <= 1.0:
            raise VerifyException(f"dropout probability {self.p.value.data} not in [0, 1]")


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


class ReshapeOpHasCanonicalizationPatterns(HasCanonicalizationPatternsTrait):
    @classmethod
    def get_canonicalization_patterns(cls) -> tuple[RewritePattern, ...]:
        from mnistc.transforms.canonicalization_patterns.nn import (
            ComposeReshapes,
            RemoveIdentityReshape,
        )

        return (RemoveIdentityReshape(), ComposeReshapes())


@irdl_op_definition
class ReshapeOp(IRDLOperation):
    """Reinterpret the elements (row-major) under a new static shape: flatten, view."""

    name = "nn.reshape"

    input = operand_def(FloatTensor)
    output = result_def(FloatTensor)

    traits = traits_def(Pure(), ReshapeOpHasCanonicalizationPatterns())
    assembly_format = "$input attr-dict `:` type($input) `->` type($output)"

    def __init__(self, input: SSAValue, shape: Sequence[int]):
        super().__init__(operands=[input], result_types=[tensor(shape)])

    def verify_(self) -> None:
        src, dst = self.input.type, self.output.type
        assert isinstance(src, TensorType) and isinstance(dst, TensorType)
        if src.element_count() != dst.element_count():
            raise VerifyException(
                f"reshape from {list(src.get_shape())} to {list(dst.get_shape())} "
                "changes the number of elements"
            )


NN = Dialect(
    "nn",
    [
        Conv2DOp,
        DropoutOp,
        LinearOp,
        LogSoftmaxOp,
        MaxPool2DOp,
        ReluOp,
        ReshapeOp,
        SoftmaxOp,
        WeightOp,
    ],
    [],
)
