"""Reference semantics of the `recurrent` family: LSTM and GRU layers, step by step as
PyTorch computes them (float64, rounded once)."""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl

from mnistc.dialects import nn
from mnistc.interpreters.nn.common import as_f32


def sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def lstm_cell(gates: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(h', c') from the summed gate inputs [4H] (i, f, g, o) and the cell state."""
    i, f, g, o = np.split(gates, 4)
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def gru_cell(x_gates: np.ndarray, h_gates: np.ndarray, h: np.ndarray) -> np.ndarray:
    """h' from the input and recurrent products with their biases ([3H] each: r, z, n);
    the reset gate scales the recurrent part of n (PyTorch's order)."""
    x_r, x_z, x_n = np.split(x_gates, 3)
    h_r, h_z, h_n = np.split(h_gates, 3)
    r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
    n = np.tanh(x_n + r * h_n)
    return (1.0 - z) * n + z * h


def recurrent_layer(
    kind: str, x: np.ndarray, w_ih, w_hh, b_ih=None, b_hh=None, h0=None, c0=None
) -> tuple[np.ndarray, np.ndarray]:
    """(every step's h [T, D * H], the final cell state [D, H]) of one layer on one
    sample's sequence x [T, F]; the cell state is zero for a GRU."""
    x = x.astype(np.float64)
    gates = 4 if kind == "lstm" else 3
    hidden = w_hh.shape[1]
    directions = w_hh.shape[0] // (gates * hidden)
    steps = x.shape[0]
    rows = gates * hidden
    outputs = np.zeros((steps, directions * hidden))
    cells = np.zeros((directions, hidden))
    for d in range(directions):
        block = slice(d * rows, (d + 1) * rows)
        wi, wh = w_ih[block].astype(np.float64), w_hh[block].astype(np.float64)
        bi = np.zeros(rows) if b_ih is None else b_ih[block].astype(np.float64)
        bh = np.zeros(rows) if b_hh is None else b_hh[block].astype(np.float64)
        h = np.zeros(hidden) if h0 is None else h0[0, d].astype(np.float64)
        c = np.zeros(hidden) if c0 is None else c0[0, d].astype(np.float64)
        order = range(steps) if d == 0 else range(steps - 1, -1, -1)
        for t in order:
            x_gates = wi @ x[t] + bi
            h_gates = wh @ h + bh
            if kind == "lstm":
                h, c = lstm_cell(x_gates + h_gates, c)
            else:
                h = gru_cell(x_gates, h_gates, h)
            outputs[t, d * hidden : (d + 1) * hidden] = h
        cells[d] = c
    return outputs, cells


def _operands(op: nn.RecurrentOp, args: tuple[Any, ...]) -> dict[str, Any]:
    """The op's operands by name (None where absent)."""
    values = dict(zip(op.operands, args))
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", *op.STATES)
    return {name: values.get(getattr(op, name)) for name in names}


class RecurrentFunctions(InterpreterFunctions):
    """nn.lstm and nn.gru."""

    @impl(nn.LstmOp)
    def run_lstm(self, interpreter: Interpreter, op: nn.LstmOp, args: tuple[Any, ...]):
        o = _operands(op, args)
        outputs, cells = recurrent_layer(
            "lstm", args[0][0], o["weight_ih"], o["weight_hh"], o["bias_ih"], o["bias_hh"],
            o["h0"], o["c0"],
        )  # fmt: skip
        return as_f32(np.concatenate([outputs, cells.reshape(1, -1)])[None])

    @impl(nn.GruOp)
    def run_gru(self, interpreter: Interpreter, op: nn.GruOp, args: tuple[Any, ...]):
        o = _operands(op, args)
        outputs, _ = recurrent_layer(
            "gru", args[0][0], o["weight_ih"], o["weight_hh"], o["bias_ih"], o["bias_hh"], o["h0"]
        )
        return as_f32(outputs[None])
