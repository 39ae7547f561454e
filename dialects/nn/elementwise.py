"""The `elementwise` family: binary ops with broadcasting (add, mul, prelu, sub, div, max,
min, powf)."""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.ir import SSAValue
from xdsl.irdl import irdl_op_definition, operand_def, result_def, traits_def
from xdsl.pattern_rewriter import RewritePattern
from xdsl.traits import HasCanonicalizationPatternsTrait, Pure
from xdsl.utils.exceptions import VerifyException

from mnistc.dialects.nn.activation import Activation, FusedActivationOp, activation_properties
from mnistc.dialects.nn.base import FloatTensor, tensor, verify_result_shape
from mnistc.dialects.shapes import shape_of


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


class BinaryOp(FusedActivationOp):
    """Base of element-wise binary ops with broadcasting, and an optional activation of
    the result (fused by `fuse-activation`: `relu(a + b)` is one pass)."""

    lhs = operand_def(FloatTensor)
    rhs = operand_def(FloatTensor)
    output = result_def(FloatTensor)

    traits = traits_def(Pure())
    assembly_format = (
        "$lhs `,` $rhs (`activation` $activation^)? (`params` $activation_params^)? "
        "attr-dict `:` type($lhs) `,` type($rhs) `->` type($output)"
    )

    def __init__(self, lhs: SSAValue, rhs: SSAValue, activation: Activation | None = None):
        shape = broadcast_shape(shape_of(lhs), shape_of(rhs))
        super().__init__(
            operands=[lhs, rhs],
            result_types=[tensor(shape or shape_of(lhs))],
            properties=activation_properties(activation),
        )

    def with_changes(self, **changes) -> BinaryOp:
        """A copy with some of the builder's arguments replaced."""
        arguments = dict(lhs=self.lhs, rhs=self.rhs, activation=self.fused_activation())
        arguments.update(changes)
        return type(self)(**arguments)

    def verify_(self) -> None:
        self.verify_activation()
        expected = broadcast_shape(shape_of(self.lhs), shape_of(self.rhs))
        if expected is None:
            raise VerifyException(
                f"shapes {list(shape_of(self.lhs))} and {list(shape_of(self.rhs))} do not broadcast"
            )
        verify_result_shape(self, expected)


@irdl_op_definition
class AddOp(BinaryOp):
    """lhs + rhs, broadcasting."""

    name = "nn.add"


class MulOpHasCanonicalizationPatterns(HasCanonicalizationPatternsTrait):
    @classmethod
    def get_canonicalization_patterns(cls) -> tuple[RewritePattern, ...]:
        from mnistc.transforms.canonicalization_patterns.nn import FoldSwish

        return (FoldSwish(),)


@irdl_op_definition
class MulOp(BinaryOp):
    """lhs * rhs, broadcasting."""

    name = "nn.mul"

    traits = traits_def(Pure(), MulOpHasCanonicalizationPatterns())


@irdl_op_definition
class PReluOp(BinaryOp):
    """lhs if lhs >= 0 else slope * lhs, the slope (rhs) broadcasting (per channel)."""

    name = "nn.prelu"




@irdl_op_definition
class SubOp(BinaryOp):
    """lhs - rhs, broadcasting."""

    name = "nn.sub"


@irdl_op_definition
class DivOp(BinaryOp):
    """lhs / rhs, broadcasting (true division, IEEE: x / 0 is +-inf or NaN)."""

    name = "nn.div"


@irdl_op_definition
class MaxOp(BinaryOp):
    """The element-wise maximum, broadcasting; NaN on either side wins (torch.maximum)."""

    name = "nn.max"


@irdl_op_definition
class MinOp(BinaryOp):
    """The element-wise minimum, broadcasting; NaN on either side wins (torch.minimum)."""

    name = "nn.min"


@irdl_op_definition
class PowfOp(BinaryOp):
    """lhs to the power rhs, broadcasting, as C's powf (MLIR's `math.powf`), which is
    PyTorch's pow of two tensors: a negative base to a non-integer power is NaN, x^0 = 1
    and 1^y = 1 even for NaN. A constant number exponent is `nn.pow`, whose exponents
    2, 0.5, -1... run as PyTorch runs them (x * x, sqrt, 1 / x)."""

    name = "nn.powf"


OPS = (AddOp, MulOp, PReluOp, SubOp, DivOp, MaxOp, MinOp, PowfOp)
"""The family's ops, as the `NN` dialect lists them."""

__all__ = [
    "AddOp", "BinaryOp", "broadcast_shape", "MulOp", "PReluOp",
    "DivOp", "MaxOp", "MinOp", "PowfOp", "SubOp",
]
