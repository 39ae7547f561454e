"""The `activation` family: element-wise activations, and the `Activation` that conv2d and
linear fuse into their epilogue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from xdsl.dialects.builtin import (
    I64,
    DenseArrayBase,
    Float64Type,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    f64,
    i64,
)
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    VarConstraint,
    base,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from mnistc.dialects.nn.base import FloatTensor, tensor, verify_result_shape
from mnistc.dialects.shapes import shape_of
from mnistc.kernels import abi

ACTIVATIONS: dict[str, int] = {
    name: parameters for name, parameters, _ in abi.ACTIVATIONS if name != "none"
}
"""Element-wise activations that conv2d and linear can apply in their epilogue, with the
number of float parameters each takes (elu: alpha; hardtanh: min, max; leaky_relu: slope):
the kinds of the kernel contract."""


@dataclass(frozen=True)
class Activation:
    """An activation with its parameters, as fused ops and activation ops describe it."""

    kind: str
    params: tuple[float, ...] = ()

    def verify(self) -> None:
        if self.kind not in ACTIVATIONS:
            raise VerifyException(
                f"unknown activation '{self.kind}' (supported: {', '.join(sorted(ACTIVATIONS))})"
            )
        if len(self.params) != ACTIVATIONS[self.kind]:
            raise VerifyException(
                f"activation '{self.kind}' takes {ACTIVATIONS[self.kind]} parameters, "
                f"got {len(self.params)}"
            )


def activation_properties(activation: Activation | None) -> dict[str, Attribute | None]:
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
class SiluOp(ActivationOp):
    """x * sigmoid(x) (swish)."""

    name = "nn.silu"


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


@irdl_op_definition
class HardsigmoidOp(ActivationOp):
    """clamp(alpha * x + beta, 0, 1): PyTorch's relu6(x + 3) / 6 is alpha 1/6, beta 1/2;
    ONNX's HardSigmoid defaults to alpha 0.2, beta 0.5, so both are carried."""

    name = "nn.hardsigmoid"

    alpha = prop_def(FloatAttr[Float64Type])
    beta = prop_def(FloatAttr[Float64Type])
    assembly_format = "$input `alpha` $alpha `beta` $beta attr-dict `:` type($input)"

    def __init__(self, input: SSAValue, alpha: float = 1 / 6, beta: float = 0.5):
        IRDLOperation.__init__(
            self,
            operands=[input],
            result_types=[input.type],
            properties={"alpha": FloatAttr(alpha, f64), "beta": FloatAttr(beta, f64)},
        )

    def activation(self) -> Activation:
        return Activation("hardsigmoid", (_float_param(self, "alpha"), _float_param(self, "beta")))


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


# more activations, and the element-wise math functions (unary, so they run
# and fuse through the same activation kernel and epilogues).


@irdl_op_definition
class MishOp(ActivationOp):
    """x * tanh(softplus(x))."""

    name = "nn.mish"


@irdl_op_definition
class SoftplusOp(ActivationOp):
    """log(1 + exp(beta * x)) / beta, or x where beta * x > threshold (PyTorch's)."""

    name = "nn.softplus"

    beta = prop_def(FloatAttr[Float64Type])
    threshold = prop_def(FloatAttr[Float64Type])
    assembly_format = "$input `beta` $beta `threshold` $threshold attr-dict `:` type($input)"

    def __init__(self, input: SSAValue, beta: float = 1.0, threshold: float = 20.0):
        IRDLOperation.__init__(
            self,
            operands=[input],
            result_types=[input.type],
            properties={"beta": FloatAttr(beta, f64), "threshold": FloatAttr(threshold, f64)},
        )

    def activation(self) -> Activation:
        return Activation("softplus", (_float_param(self, "beta"), _float_param(self, "threshold")))

    def verify_(self) -> None:
        if _float_param(self, "beta") == 0:
            raise VerifyException("softplus beta must not be 0")


@irdl_op_definition
class SoftsignOp(ActivationOp):
    """x / (1 + |x|)."""

    name = "nn.softsign"


@irdl_op_definition
class SeluOp(ActivationOp):
    """scale * elu(x, alpha) with SELU's fixed alpha and scale."""

    name = "nn.selu"


@irdl_op_definition
class CeluOp(OneParameterActivationOp):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""

    name = "nn.celu"
    PARAMETER: ClassVar[str] = "alpha"

    alpha = prop_def(FloatAttr[Float64Type])
    assembly_format = "$input `alpha` $alpha attr-dict `:` type($input)"

    def verify_(self) -> None:
        if _float_param(self, "alpha") == 0:
            raise VerifyException("celu alpha must not be 0")


@irdl_op_definition
class ExpOp(ActivationOp):
    """exp(x)."""

    name = "nn.exp"


@irdl_op_definition
class LogOp(ActivationOp):
    """The natural logarithm: -inf at 0, NaN below."""

    name = "nn.log"


@irdl_op_definition
class SqrtOp(ActivationOp):
    """sqrt(x): NaN below 0."""

    name = "nn.sqrt"


@irdl_op_definition
class RsqrtOp(ActivationOp):
    """1 / sqrt(x)."""

    name = "nn.rsqrt"


@irdl_op_definition
class NegOp(ActivationOp):
    """-x."""

    name = "nn.neg"


@irdl_op_definition
class AbsOp(ActivationOp):
    """|x|."""

    name = "nn.abs"


@irdl_op_definition
class PowOp(OneParameterActivationOp):
    """x to a constant number power, PyTorch's pow.Tensor_Scalar (its exponents 2, 0.5,
    -1... by x * x, sqrt, 1 / x); a tensor exponent is `nn.powf` (elementwise)."""

    name = "nn.pow"
    PARAMETER: ClassVar[str] = "exponent"

    exponent = prop_def(FloatAttr[Float64Type])
    assembly_format = "$input `exponent` $exponent attr-dict `:` type($input)"


@irdl_op_definition
class ReciprocalOp(ActivationOp):
    """1 / x."""

    name = "nn.reciprocal"


@irdl_op_definition
class GluOp(IRDLOperation):
    """The gated linear unit: the input split in two halves a, b along `dim`, a * sigmoid(b).
    Not an activation: its result has half the input's size along `dim`."""

    name = "nn.glu"

    input = operand_def(FloatTensor)
    output = result_def(FloatTensor)
    dim = prop_def(IntegerAttr[I64])

    traits = traits_def(Pure())
    assembly_format = "$input `dim` $dim attr-dict `:` type($input) `->` type($output)"

    def __init__(self, input: SSAValue, dim: int):
        shape = list(shape_of(input))
        dim = dim % len(shape) if shape else dim
        if 0 <= dim < len(shape):
            shape[dim] //= 2
        super().__init__(
            operands=[input],
            result_types=[tensor(shape)],
            properties={"dim": IntegerAttr(dim, i64)},
        )

    def verify_(self) -> None:
        shape, dim = list(shape_of(self.input)), self.dim.value.data
        if not 0 <= dim < len(shape):
            raise VerifyException(
                f"dim {dim} out of range for rank {len(shape)} (use 0..{len(shape) - 1})"
            )
        if shape[dim] % 2:
            raise VerifyException(f"glu halves dim {dim}, whose size {shape[dim]} is odd")
        shape[dim] //= 2
        verify_result_shape(self, shape)


ACTIVATION_OPS = (
    ReluOp, SigmoidOp, TanhOp, SiluOp, HardswishOp, HardsigmoidOp, HardtanhOp, LeakyReluOp,
    EluOp, GeluOp,
    MishOp, SoftplusOp, SoftsignOp, SeluOp, CeluOp,
    ExpOp, LogOp, SqrtOp, RsqrtOp, NegOp, AbsOp, PowOp, ReciprocalOp,
)  # fmt: skip
"""The element-wise ops that describe themselves as an `Activation`."""

OPS = (*ACTIVATION_OPS, GluOp)
"""The family's ops, as the `NN` dialect lists them."""

__all__ = [
    "Activation", "activation_properties", "ActivationOp", "ACTIVATIONS",
    "ElementwiseUnaryOp", "EluOp", "FusedActivationOp", "GeluOp", "HardsigmoidOp", "HardswishOp",
    "HardtanhOp", "LeakyReluOp", "OneParameterActivationOp", "ReluOp", "SigmoidOp",
    "SiluOp", "TanhOp",
    "AbsOp", "ACTIVATION_OPS", "CeluOp", "ExpOp", "GluOp", "LogOp", "MishOp", "NegOp", "PowOp",
    "ReciprocalOp", "RsqrtOp", "SeluOp", "SoftplusOp", "SoftsignOp", "SqrtOp",
]
