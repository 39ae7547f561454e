"""The `recurrent` family: one layer of an LSTM or a GRU over a whole sequence.

One op is one layer, in one direction or both (a bidirectional layer), on one sample's
sequence laid out batch first, `[1, T, F]`: the importers split a multi-layer module into
one op per layer and move a time-major sequence (`batch_first=False`, ONNX) into this
layout. Gates follow PyTorch's order and formulas (LSTM: i, f, g, o; GRU: r, z, n, with
the reset gate applied after the recurrent product, ONNX's `linear_before_reset=1`); the
weights of both directions are stacked as PyTorch stacks them per layer
(`weight_ih_l0`, then `weight_ih_l0_reverse`). The result is the sequence of hidden
states `[1, T, D * H]` (each step's forward half, then its backward half), and for an
LSTM one row more, `[1, T + 1, D * H]`, the final cell state of each direction: the
importers read the sequence, `h_n` (the forward direction's last step, the backward
direction's first) and `c_n` from it with slices, views of the one result, so that a
model that reads all three runs the layer once.
"""

from __future__ import annotations

from typing import ClassVar

from xdsl.ir import SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    IRDLOperation,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from mnistc.dialects.nn.base import FloatTensor, OneSample, tensor, verify_rank, verify_result_shape
from mnistc.dialects.shapes import shape_of


class RecurrentOp(IRDLOperation):
    """What LSTM and GRU share: the operands, the shapes they imply and their checks."""

    GATES: ClassVar[int] = 0
    """Gate blocks per direction in the stacked weights (4 for LSTM, 3 for GRU)."""

    # The operands and result of both (`input`, `weight_ih`, `weight_hh`, `bias_ih`,
    # `bias_hh`, `h0`, then an LSTM's `c0`) are defined by each op: IRDL orders a
    # subclass's own fields first.

    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    traits = traits_def(Pure(), OneSample())

    @property
    def hidden_size(self) -> int:
        """H: the recurrent weight is [D * GATES * H, H]."""
        return shape_of(self.weight_hh)[-1]

    @property
    def directions(self) -> int:
        """D: 2 for a bidirectional layer, else 1."""
        return shape_of(self.weight_hh)[0] // max(1, self.GATES * self.hidden_size)

    EXTRA_ROWS: ClassVar[int] = 0
    """Rows of the result after the T steps' hidden states (an LSTM's final cell state)."""

    @classmethod
    def result_shape(cls, input: SSAValue, weight_hh: SSAValue) -> tuple[int, ...]:
        """The result [1, T (+ 1), D * H] that the builders infer."""
        n, steps = shape_of(input)[:2]
        rows, hidden = shape_of(weight_hh)
        return (n, steps + cls.EXTRA_ROWS, rows // max(1, cls.GATES))

    def expected_result(self) -> tuple[int, ...]:
        n, steps = shape_of(self.input)[:2]
        return (n, steps + self.EXTRA_ROWS, self.directions * self.hidden_size)

    def verify_(self) -> None:
        kind = self.name.removeprefix("nn.")
        n, steps, features = verify_rank(f"{kind} input", self.input, 3)
        rows, hidden = verify_rank(f"{kind} weight_hh", self.weight_hh, 2)
        if n != 1:
            raise VerifyException(f"{kind} input must be one sample [1, T, F], got batch {n}")
        if steps < 1 or hidden < 1 or rows not in (self.GATES * hidden, 2 * self.GATES * hidden):
            raise VerifyException(
                f"{kind} weight_hh shape {[rows, hidden]} must be [D * {self.GATES} * H, H] "
                "with D 1 or 2, on a sequence of at least one step"
            )
        expected_ih = (rows, features)
        if shape_of(self.weight_ih) != expected_ih:
            raise VerifyException(
                f"{kind} weight_ih shape {list(shape_of(self.weight_ih))} must be "
                f"{list(expected_ih)}"
            )
        for name in ("bias_ih", "bias_hh"):
            value = getattr(self, name)
            if value is not None and shape_of(value) != (rows,):
                raise VerifyException(
                    f"{kind} {name} shape {list(shape_of(value))} must be [{rows}]"
                )
        state = (1, self.directions, hidden)
        for name in self.STATES:
            value = getattr(self, name)
            if value is not None and shape_of(value) != state:
                raise VerifyException(
                    f"{kind} {name} shape {list(shape_of(value))} must be {list(state)}"
                )
        verify_result_shape(self, self.expected_result())

    STATES: ClassVar[tuple[str, ...]] = ("h0",)
    """The optional initial states, [1, D, H] each; absent means zero."""


@irdl_op_definition
class LstmOp(RecurrentOp):
    """One LSTM layer (PyTorch's nn.LSTM without projections) over the whole sequence:
    i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of x W_ih^T + b_ih + h W_hh^T + b_hh;
    c' = f * c + i * g; h' = o * tanh(c'). The result is every step's h, then the final
    c of each direction as row T."""

    name = "nn.lstm"
    GATES: ClassVar[int] = 4
    EXTRA_ROWS: ClassVar[int] = 1
    STATES: ClassVar[tuple[str, ...]] = ("h0", "c0")

    input = operand_def(FloatTensor)
    weight_ih = operand_def(FloatTensor)
    weight_hh = operand_def(FloatTensor)
    bias_ih = opt_operand_def(FloatTensor)
    bias_hh = opt_operand_def(FloatTensor)
    h0 = opt_operand_def(FloatTensor)
    output = result_def(FloatTensor)
    c0 = opt_operand_def(FloatTensor)

    assembly_format = (
        "$input `,` $weight_ih `,` $weight_hh (`bias_ih` $bias_ih^)? (`bias_hh` $bias_hh^)? "
        "(`h0` $h0^)? (`c0` $c0^)? attr-dict `:` type($input) "
        "`,` type($weight_ih) `,` type($weight_hh) (`bias_ih` type($bias_ih)^)? "
        "(`bias_hh` type($bias_hh)^)? (`h0` type($h0)^)? (`c0` type($c0)^)? `->` type($output)"
    )

    def __init__(
        self,
        input: SSAValue,
        weight_ih: SSAValue,
        weight_hh: SSAValue,
        bias_ih: SSAValue | None = None,
        bias_hh: SSAValue | None = None,
        h0: SSAValue | None = None,
        c0: SSAValue | None = None,
    ):
        super().__init__(
            operands=[input, weight_ih, weight_hh, bias_ih, bias_hh, h0, c0],
            result_types=[tensor(self.result_shape(input, weight_hh))],
        )


@irdl_op_definition
class GruOp(RecurrentOp):
    """One GRU layer (PyTorch's nn.GRU) over the whole sequence: r, z = sigmoid of
    x W_i^T + b_i + h W_h^T + b_h for their gate blocks; n = tanh(x W_in^T + b_in +
    r * (h W_hn^T + b_hn)); h' = (1 - z) * n + z * h. The result is every step's h."""

    name = "nn.gru"
    GATES: ClassVar[int] = 3

    input = operand_def(FloatTensor)
    weight_ih = operand_def(FloatTensor)
    weight_hh = operand_def(FloatTensor)
    bias_ih = opt_operand_def(FloatTensor)
    bias_hh = opt_operand_def(FloatTensor)
    h0 = opt_operand_def(FloatTensor)
    output = result_def(FloatTensor)

    assembly_format = (
        "$input `,` $weight_ih `,` $weight_hh (`bias_ih` $bias_ih^)? (`bias_hh` $bias_hh^)? "
        "(`h0` $h0^)? attr-dict `:` type($input) `,` type($weight_ih) `,` type($weight_hh) "
        "(`bias_ih` type($bias_ih)^)? (`bias_hh` type($bias_hh)^)? (`h0` type($h0)^)? "
        "`->` type($output)"
    )

    def __init__(
        self,
        input: SSAValue,
        weight_ih: SSAValue,
        weight_hh: SSAValue,
        bias_ih: SSAValue | None = None,
        bias_hh: SSAValue | None = None,
        h0: SSAValue | None = None,
    ):
        super().__init__(
            operands=[input, weight_ih, weight_hh, bias_ih, bias_hh, h0],
            result_types=[tensor(self.result_shape(input, weight_hh))],
        )


OPS = (LstmOp, GruOp)
"""The family's ops, as the `NN` dialect lists them."""

__all__ = ["GruOp", "LstmOp", "RecurrentOp"]
