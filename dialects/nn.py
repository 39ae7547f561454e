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
from dataclasses import dataclass
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
from xdsl.ir import Attribute, Dialect, SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
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
    var_operand_def,
)
from xdsl.pattern_rewriter import RewritePattern
from xdsl.traits import HasCanonicalizationPatternsTrait, Pure
from xdsl.utils.exceptions import VerifyException

FloatTensor = TensorType[Float32Type]

ACTIVATIONS: dict[str, int] = {
    "elu": 1,
    "gelu": 0,
    "gelu_tanh": 0,
    "hardswish": 0,
    "hardtanh": 2,
    "leaky_relu": 1,
    "relu": 0,
    "sigmoid": 0,
    "tanh": 0,
}
"""Element-wise activations that conv2d and linear can apply in their epilogue, with the
number of float parameters each takes (elu: alpha; hardtanh: min, max; leaky_relu: slope)."""


@dataclass(frozen=True)
class Activation:
    """An activation with its parameters, as fused ops and activation ops describe it."""

    kind: str
    params: tuple[float, ...] = ()

    def verify(self) -> None:
        if self.kind not in ACTIVATIONS:
            raise VerifyException(
                f"unknown activation '{self.kind}' (supported: {', '.join(ACTIVATIONS)})"
            )
        if len(self.params) != ACTIVATIONS[self.kind]:
            raise VerifyException(
                f"activation '{self.kind}' takes {ACTIVATIONS[self.kind]} parameters, "
                f"got {len(self.params)}"
            )


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
    """Output length of a sliding window, with PyTorch's rules (ceil_mode included).

    Parameters out of range (a stride, dilation or kernel below 1) give 0 rather than a
    division by zero: builders can then construct the op and its verifier names the
    attribute that is wrong.
    """
    if stride < 1 or dilation < 1 or kernel < 1:
        return 0
    span = dilation * (kernel - 1) + 1
    numerator = size + 2 * pad - span
    if ceil_mode:
        out = -(-numerator // stride) + 1
        if (out - 1) * stride >= size + pad:
            out -= 1
        return out
    return numerator // stride + 1


def _are_pairs(*values: Sequence[int]) -> bool:
    """Whether every per-dimension window parameter has one value for H and one for W."""
    return all(len(v) == 2 for v in values)


def conv2d_output_shape(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
) -> tuple[int, ...]:
    n, _, h, w = input_shape
    k, _, kh, kw = weight_shape
    if not _are_pairs(stride, padding, dilation):
        return (n, k, 0, 0)
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
    if not _are_pairs(kernel, stride, padding, dilation):
        return (n, c, 0, 0)
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


def _activation_properties(activation: Activation | None) -> dict[str, Attribute | None]:
    if activation is None:
        return {"activation": None, "activation_params": None}
    params = DenseArrayBase.from_list(f64, list(activation.params)) if activation.params else None
    return {"activation": StringAttr(activation.kind), "activation_params": params}


class FusedActivationOp(IRDLOperation):
    """Base of ops with an optional activation applied to their result (conv2d, linear)."""

    activation = opt_prop_def(StringAttr)
    activation_params = opt_prop_def(DenseArrayBase.constr(f64))

    def fused_activation(self) -> Activation | None:
        if self.activation is None:
            return None
        params = self.activation_params.get_values() if self.activation_params else ()
        return Activation(self.activation.data, tuple(params))

    def verify_activation(self) -> None:
        if self.activation is None and self.activation_params is not None:
            raise VerifyException("activation_params without an activation")
        if (activation := self.fused_activation()) is not None:
            activation.verify()


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
class SplatOp(IRDLOperation):
    """A constant tensor whose elements all hold `value` (ONNX's `ConstantOfShape`).

    Only the value is kept, so a large fill costs nothing in the IR, the weight file or
    the executable; the lowering fills a buffer once, when the model first runs.
    """

    name = "nn.splat"

    value = prop_def(FloatAttr[Float64Type])
    result = result_def(FloatTensor)

    traits = traits_def(Pure())
    assembly_format = "$value attr-dict `:` type($result)"

    def __init__(self, value: float, shape: Sequence[int]):
        super().__init__(
            properties={"value": FloatAttr(float(value), f64)}, result_types=[tensor(shape)]
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
                **_activation_properties(activation),
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
        _verify_pair("stride", self.stride.get_values(), 1)
        _verify_pair("padding", self.padding.get_values(), 0)
        _verify_pair("dilation", self.dilation.get_values(), 1)
        self.verify_activation()
        n, c, h, w = _verify_rank("conv2d input", self.input, 4)
        k, cg, kh, kw = _verify_rank("conv2d weight", self.weight, 4)
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
        _verify_result_shape(self, expected)
        if self.residual is not None and shape_of(self.residual) != expected:
            raise VerifyException(
                f"residual shape {list(shape_of(self.residual))} must be {list(expected)}"
            )


@irdl_op_definition
class LinearOp(FusedActivationOp):
    """y = act(x W^T + b) on a [N, IN] input with a [OUT, IN] weight."""

    name = "nn.linear"

    input = operand_def(FloatTensor)
    weight = operand_def(FloatTensor)
    bias = opt_operand_def(FloatTensor)
    output = result_def(FloatTensor)

    traits = traits_def(Pure())
    assembly_format = (
        "$input `,` $weight (`bias` $bias^)? (`activation` $activation^)? "
        "(`params` $activation_params^)? attr-dict "
        "`:` type($input) `,` type($weight) (`,` type($bias)^)? `->` type($output)"
    )

    def __init__(
        self,
        input: SSAValue,
        weight: SSAValue,
        bias: SSAValue | None = None,
        activation: Activation | None = None,
    ):
        n = shape_of(input)[0]
        out_features = shape_of(weight)[0]
        super().__init__(
            operands=[input, weight, bias],
            result_types=[tensor((n, out_features))],
            properties=_activation_properties(activation),
        )

    def with_changes(self, **changes) -> LinearOp:
        """A copy with some of the builder's arguments replaced."""
        arguments = dict(
            input=self.input, weight=self.weight, bias=self.bias,
            activation=self.fused_activation(),
        )  # fmt: skip
        arguments.update(changes)
        return LinearOp(**arguments)

    def verify_(self) -> None:
        self.verify_activation()
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


class ActivationOp(ElementwiseUnaryOp):
    """Base of element-wise activations: each describes itself as an `Activation`."""

    def activation(self) -> Activation:
        return Activation(self.name.removeprefix("nn."))


def _float_param(op: IRDLOperation, name: str) -> float:
    attr = op.properties[name]
    assert isinstance(attr, FloatAttr)
    return attr.value.data


@irdl_op_definition
class ReluOp(ActivationOp):
    """max(x, 0)."""

    name = "nn.relu"


@irdl_op_definition
class SigmoidOp(ActivationOp):
    """1 / (1 + exp(-x))."""

    name = "nn.sigmoid"


@irdl_op_definition
class TanhOp(ActivationOp):
    """tanh(x)."""

    name = "nn.tanh"


@irdl_op_definition
class HardswishOp(ActivationOp):
    """x * relu6(x + 3) / 6."""

    name = "nn.hardswish"


@irdl_op_definition
class HardtanhOp(ActivationOp):
    """clamp(x, min, max); relu6 is hardtanh(0, 6)."""

    name = "nn.hardtanh"

    min = prop_def(FloatAttr[Float64Type])
    max = prop_def(FloatAttr[Float64Type])
    assembly_format = "$input `min` $min `max` $max attr-dict `:` type($input)"

    def __init__(self, input: SSAValue, min: float, max: float):
        IRDLOperation.__init__(
            self,
            operands=[input],
            result_types=[input.type],
            properties={"min": FloatAttr(min, f64), "max": FloatAttr(max, f64)},
        )

    def activation(self) -> Activation:
        return Activation("hardtanh", (_float_param(self, "min"), _float_param(self, "max")))

    def verify_(self) -> None:
        if _float_param(self, "min") > _float_param(self, "max"):
            raise VerifyException("hardtanh min must not exceed max")


class OneParameterActivationOp(ActivationOp):
    """Base of activations with one float parameter, a property named by `PARAMETER`."""

    PARAMETER: ClassVar[str]

    def __init__(self, input: SSAValue, value: float):
        IRDLOperation.__init__(
            self,
            operands=[input],
            result_types=[input.type],
            properties={self.PARAMETER: FloatAttr(value, f64)},
        )

    def activation(self) -> Activation:
        return Activation(self.name.removeprefix("nn."), (_float_param(self, self.PARAMETER),))


@irdl_op_definition
class LeakyReluOp(OneParameterActivationOp):
    """x if x >= 0 else slope * x."""

    name = "nn.leaky_relu"
    PARAMETER: ClassVar[str] = "slope"

    slope = prop_def(FloatAttr[Float64Type])
    assembly_format = "$input `slope` $slope attr-dict `:` type($input)"


@irdl_op_definition
class EluOp(OneParameterActivationOp):
    """x if x > 0 else alpha * (exp(x) - 1)."""

    name = "nn.elu"
    PARAMETER: ClassVar[str] = "alpha"

    alpha = prop_def(FloatAttr[Float64Type])
    assembly_format = "$input `alpha` $alpha attr-dict `:` type($input)"


@irdl_op_definition
class GeluOp(ActivationOp):
    """x * Phi(x), exactly (erf) or with the tanh approximation."""

    name = "nn.gelu"

    approximate = prop_def(StringAttr)
    assembly_format = "$input `approximate` $approximate attr-dict `:` type($input)"

    def __init__(self, input: SSAValue, approximate: str = "none"):
        IRDLOperation.__init__(
            self,
            operands=[input],
            result_types=[input.type],
            properties={"approximate": StringAttr(approximate)},
        )

    def activation(self) -> Activation:
        return Activation("gelu_tanh" if self.approximate.data == "tanh" else "gelu")

    def verify_(self) -> None:
        if self.approximate.data not in ("none", "tanh"):
            raise VerifyException("gelu approximate must be \"none\" or \"tanh\"")


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

    traits = traits_def(Pure())
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
        _verify_pair("kernel", kernel, 1)
        _verify_pair("stride", self.stride.get_values(), 1)
        _verify_pair("padding", padding, 0)
        if any(2 * p > k for p, k in zip(padding, kernel)):
            raise VerifyException("padding must be at most half the kernel size")
        for flag in (self.ceil_mode, self.count_include_pad):
            if flag.value.data not in (0, 1):
                raise VerifyException("ceil_mode and count_include_pad must be 0 or 1")
        if self.divisor.value.data < 0:
            raise VerifyException("divisor must be >= 0 (0: none)")
        expected = pool2d_output_shape(
            _verify_rank("avg_pool2d input", self.input, 4), kernel,
            self.stride.get_values(), padding, (1, 1), bool(self.ceil_mode.value.data),
        )  # fmt: skip
        if min(expected) < 1:
            raise VerifyException("input is smaller than the pooling window")
        _verify_result_shape(self, expected)


@irdl_op_definition
class AdaptiveAvgPool2DOp(IRDLOperation):
    """Average over PyTorch's adaptive windows to a fixed output size (1x1: global)."""

    name = "nn.adaptive_avg_pool2d"

    input = operand_def(FloatTensor)
    output = result_def(FloatTensor)

    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input) `->` type($output)"

    def __init__(self, input: SSAValue, output_size: Sequence[int]):
        n, c = shape_of(input)[:2]
        super().__init__(operands=[input], result_types=[tensor((n, c, *output_size))])

    def verify_(self) -> None:
        n, c, _, _ = _verify_rank("adaptive_avg_pool2d input", self.input, 4)
        out = _verify_rank("adaptive_avg_pool2d result", self.output, 4)
        if out[:2] != (n, c) or min(out[2:]) < 1:
            raise VerifyException(f"result {list(out)} must be [{n}, {c}, OH >= 1, OW >= 1]")


def broadcast_shape(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...] | None:
    """NumPy/PyTorch broadcasting of two shapes, or None if they do not broadcast."""
    rank = max(len(a), len(b))
    a = (1,) * (rank - len(a)) + tuple(a)
    b = (1,) * (rank - len(b)) + tuple(b)
    result = []
    for x, y in zip(a, b):
        if x != y and 1 not in (x, y):
            return None
        result.append(max(x, y))
    return tuple(result)


class BinaryOp(IRDLOperation):
    """Base of element-wise binary ops with broadcasting."""

    lhs = operand_def(FloatTensor)
    rhs = operand_def(FloatTensor)
    output = result_def(FloatTensor)

    traits = traits_def(Pure())
    assembly_format = (
        "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($output)"
    )

    def __init__(self, lhs: SSAValue, rhs: SSAValue):
        shape = broadcast_shape(shape_of(lhs), shape_of(rhs))
        super().__init__(operands=[lhs, rhs], result_types=[tensor(shape or shape_of(lhs))])

    def verify_(self) -> None:
        expected = broadcast_shape(shape_of(self.lhs), shape_of(self.rhs))
        if expected is None:
            raise VerifyException(
                f"shapes {list(shape_of(self.lhs))} and {list(shape_of(self.rhs))} do not broadcast"
            )
        _verify_result_shape(self, expected)


@irdl_op_definition
class AddOp(BinaryOp):
    """lhs + rhs, broadcasting."""

    name = "nn.add"


@irdl_op_definition
class MulOp(BinaryOp):
    """lhs * rhs, broadcasting."""

    name = "nn.mul"


@irdl_op_definition
class PReluOp(BinaryOp):
    """lhs if lhs >= 0 else slope * lhs, the slope (rhs) broadcasting (per channel)."""

    name = "nn.prelu"


@irdl_op_definition
class Pad2DOp(IRDLOperation):
    """Constant padding of the last two dimensions: `pads` = [top, left, bottom, right]."""

    name = "nn.pad2d"

    input = operand_def(FloatTensor)
    output = result_def(FloatTensor)
    pads = prop_def(DenseArrayBase.constr(i64))
    value = prop_def(FloatAttr[Float64Type])

    traits = traits_def(Pure())
    assembly_format = (
        "$input `pads` $pads `value` $value attr-dict `:` type($input) `->` type($output)"
    )

    def __init__(self, input: SSAValue, pads: Sequence[int], value: float = 0.0):
        *lead, h, w = shape_of(input)
        top, left, bottom, right = pads
        super().__init__(
            operands=[input],
            result_types=[tensor((*lead, h + top + bottom, w + left + right))],
            properties={
                "pads": DenseArrayBase.from_list(i64, list(pads)),
                "value": FloatAttr(value, f64),
            },
        )

    def verify_(self) -> None:
        pads = self.pads.get_values()
        if len(pads) != 4 or min(pads) < 0:
            raise VerifyException(f"pads must be 4 integers >= 0, got {list(pads)}")
        *lead, h, w = _verify_rank("pad2d input", self.input, 4)
        top, left, bottom, right = pads
        _verify_result_shape(self, (*lead, h + top + bottom, w + left + right))


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
        _verify_rank("lrn input", self.input, 4)


@irdl_op_definition
class ConcatOp(IRDLOperation):
    """Concatenation along `dim`."""

    name = "nn.concat"

    inputs = var_operand_def(FloatTensor)
    output = result_def(FloatTensor)
    dim = prop_def(IntegerAttr[I64])

    traits = traits_def(Pure())
    assembly_format = (
        "$inputs `dim` $dim attr-dict `:` type($inputs) `->` type($output)"
    )

    def __init__(self, inputs: Sequence[SSAValue], dim: int):
        shapes = [shape_of(v) for v in inputs]
        dim %= len(shapes[0])
        shape = list(shapes[0])
        shape[dim] = sum(s[dim] for s in shapes)
        super().__init__(
            operands=[inputs],
            result_types=[tensor(shape)],
            properties={"dim": IntegerAttr(dim, i64)},
        )

    def verify_(self) -> None:
        if not self.inputs:
            raise VerifyException("concat needs at least one input")
        shapes = [shape_of(v) for v in self.inputs]
        dim = self.dim.value.data
        if not 0 <= dim < len(shapes[0]):
            raise VerifyException(f"dim {dim} out of range for rank {len(shapes[0])}")
        for shape in shapes:
            if len(shape) != len(shapes[0]) or any(
                a != b for i, (a, b) in enumerate(zip(shape, shapes[0])) if i != dim
            ):
                raise VerifyException(
                    f"concat inputs {[list(s) for s in shapes]} differ outside dim {dim}"
                )
        expected = list(shapes[0])
        expected[dim] = sum(s[dim] for s in shapes)
        _verify_result_shape(self, expected)


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
        AdaptiveAvgPool2DOp,
        AddOp,
        AvgPool2DOp,
        BatchNormOp,
        ConcatOp,
        Conv2DOp,
        DropoutOp,
        EluOp,
        GeluOp,
        HardswishOp,
        HardtanhOp,
        LeakyReluOp,
        LinearOp,
        LogSoftmaxOp,
        LRNOp,
        MaxPool2DOp,
        MulOp,
        Pad2DOp,
        PReluOp,
        ReluOp,
        ReshapeOp,
        SigmoidOp,
        SoftmaxOp,
        SplatOp,
        TanhOp,
        WeightOp,
    ],
    [],
)
