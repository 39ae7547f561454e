"""The `linear` family: fully connected layers."""

from __future__ import annotations

from xdsl.ir import SSAValue
from xdsl.irdl import IRDLOperation, irdl_op_definition, operand_def, opt_operand_def, result_def, traits_def
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from mnistc.dialects.nn.activation import Activation, FusedActivationOp, activation_properties
from mnistc.dialects.nn.base import FloatTensor, tensor, verify_rank, verify_result_shape
from mnistc.dialects.shapes import shape_of


def verify_linear_operands(op: IRDLOperation) -> tuple[int, int]:
    """The checks that linear and qlinear share; returns the expected result shape."""
    n, in_features = verify_rank(f"{op.name.removeprefix('nn.')} input", op.input, 2)
    out_features, weight_in = verify_rank(f"{op.name.removeprefix('nn.')} weight", op.weight, 2)
    if weight_in != in_features:
        raise VerifyException(f"weight expects {weight_in} input features, input has {in_features}")
    if op.bias is not None and shape_of(op.bias) != (out_features,):
        raise VerifyException(f"bias shape {list(shape_of(op.bias))} must be [{out_features}]")
    return (n, out_features)


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
            properties=activation_properties(activation),
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
        verify_result_shape(self, verify_linear_operands(self))


OPS = (LinearOp,)
"""The family's ops, as the `NN` dialect lists them."""

__all__ = ["LinearOp", "verify_linear_operands"]
