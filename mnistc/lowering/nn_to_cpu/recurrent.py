"""Lowering of the `recurrent` family: one kernel call per layer, its weights as stored
(`packed = 0`) until `pack-weights` packs them."""

from __future__ import annotations

from collections.abc import Callable

from xdsl.ir import Operation

from mnistc.dialects import nn
from mnistc.dialects.shapes import shape_of
from mnistc.lowering.nn_to_cpu.common import KernelCall, optional


def _inputs_and_params(op: nn.RecurrentOp) -> tuple[list, dict[str, int]]:
    """The buffers of kernels/abi.py's `lstm` or `gru` (absent ones null) and the
    geometry they share."""
    _, steps, features = shape_of(op.input)
    rows = shape_of(op.weight_hh)[0]
    state = (1, op.directions, op.hidden_size)
    inputs = [
        op.input, op.weight_ih, op.weight_hh,
        optional(op.bias_ih, (rows,)), optional(op.bias_hh, (rows,)),
        *(optional(getattr(op, name), state) for name in op.STATES),
    ]  # fmt: skip
    params = {"T": steps, "F": features, "H": op.hidden_size, "directions": op.directions,
              "packed": 0}  # fmt: skip
    return inputs, params


def _lower_lstm(op: nn.LstmOp) -> list[KernelCall]:
    inputs, params = _inputs_and_params(op)
    return [KernelCall("lstm", inputs, params)]


def _lower_gru(op: nn.GruOp) -> list[KernelCall]:
    inputs, params = _inputs_and_params(op)
    return [KernelCall("gru", inputs, params)]


LOWERINGS: dict[type[Operation], Callable[..., list[KernelCall]]] = {
    nn.LstmOp: _lower_lstm,
    nn.GruOp: _lower_gru,
}
