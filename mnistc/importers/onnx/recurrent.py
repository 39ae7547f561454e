"""ONNX LSTM and GRU → `nn.lstm` / `nn.gru`, as torch.onnx.export writes them: one node
per layer, time-major (`layout` 0): X [T, N, F], Y [T, D, N, H], Y_h and Y_c [D, N, H].

In one sample X is [T, 1, F], its batch at dimension 1 (after the exporter's Transpose of
a batch-first input, see `shape_ops.MovedBatch`), the same elements as the `nn` op's
[1, T, F]; Y is the op's result [1, T, D*H] seen as [T, D, 1, H]. ONNX's gate blocks
(LSTM i, o, f, c; GRU z, r, h) are reordered into PyTorch's (i, f, g, o; r, z, n), and
its bias [D, 2 * gates * H] split into the input and recurrent biases. Only PyTorch's
semantics are taken: default activations, no clip, no peepholes, no sequence lengths,
GRU's `linear_before_reset=1`.
"""

from __future__ import annotations

import numpy as np
from xdsl.ir import SSAValue

from mnistc.dialects import nn
from mnistc.importers import shape_ops
from mnistc.importers.onnx.graph import Graph, Unsupported, decode

GATE_ORDER = {"LSTM": (0, 2, 3, 1), "GRU": (1, 0, 2)}
"""ONNX's gate block at each of PyTorch's positions."""

DEFAULT_ACTIVATIONS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"]}


def _check_attributes(node, attrs) -> tuple[int, int]:
    """(directions, hidden size), refusing what PyTorch's layers do not compute."""
    kind = node.op_type
    direction = decode(attrs.get("direction", "forward"))
    if direction not in ("forward", "bidirectional"):
        raise Unsupported(f"direction '{direction}'")
    directions = 2 if direction == "bidirectional" else 1
    activations = [decode(a) for a in attrs.get("activations", [])]
    if activations and activations != DEFAULT_ACTIVATIONS[kind] * directions:
        raise Unsupported(f"activations {activations}")
    if "clip" in attrs or attrs.get("input_forget", 0) or attrs.get("layout", 0):
        raise Unsupported("clip, input_forget or layout 1")
    if kind == "GRU" and attrs.get("linear_before_reset", 0) != 1:
        raise Unsupported("linear_before_reset=0 (PyTorch's GRU is linear_before_reset=1)")
    return directions, int(attrs["hidden_size"])


def _input(node, index: int) -> str | None:
    return node.input[index] if len(node.input) > index and node.input[index] else None


def _gates(g: Graph, array: np.ndarray, kind: str, name: str) -> SSAValue:
    """[D, gates * H, ...] in ONNX's gate order → [D * gates * H, ...] in PyTorch's."""
    gates = len(GATE_ORDER[kind])
    blocks = array.reshape(array.shape[0], gates, -1, *array.shape[2:])
    ordered = blocks[:, list(GATE_ORDER[kind])]
    return g.weight(name, ordered.reshape(-1, *array.shape[2:]))


def _state(g: Graph, name: str | None, directions: int, hidden: int) -> SSAValue | None:
    """An initial state [D, N, H] as the op's [1, D, H]; None when absent or zero."""
    if name is None:
        return None
    value = g.values[name]
    if isinstance(value, np.ndarray):
        if value.shape != (directions, 1, hidden):
            raise Unsupported(f"initial state of shape {list(value.shape)} per sample")
        if not value.any():
            return None
    else:
        value = g.tensor(name)
        if nn.shape_of(value) != (directions, 1, hidden) or g.moved.dim(value) != 1:
            raise Unsupported(f"initial state of shape {list(nn.shape_of(value))}, its batch not dimension 1")
    return shape_ops.reshape(g.builder, g.tensor(name), (1, directions, hidden))


def convert_recurrent(g: Graph, node, attrs) -> tuple:
    kind = node.op_type
    directions, hidden = _check_attributes(node, attrs)
    if _input(node, 4) is not None or _input(node, 7) is not None:
        raise Unsupported("sequence_lens or peepholes")
    x = g.tensor(node.input[0])
    shape = nn.shape_of(x)
    if len(shape) != 3 or g.moved.dim(x) != 1:
        raise Unsupported(f"X of shape {list(shape)} whose batch is dimension {g.moved.dim(x)} (needs [T, N, F])")
    sequence = shape_ops.reshape(g.builder, x, (1, shape[0], shape[2]))
    weight_ih = _gates(g, g.float_constant(node.input[1], f"{kind}'s W"), kind, node.input[1])
    weight_hh = _gates(g, g.float_constant(node.input[2], f"{kind}'s R"), kind, node.input[2])
    bias_ih = bias_hh = None
    if (b := _input(node, 3)) is not None:
        both = g.float_constant(b, f"{kind}'s B").reshape(directions, 2, -1)
        bias_ih = _gates(g, both[:, 0], kind, f"{b}.input")
        bias_hh = _gates(g, both[:, 1], kind, f"{b}.recurrent")
    h0 = _state(g, _input(node, 5), directions, hidden)
    operands = (sequence, weight_ih, weight_hh, bias_ih, bias_hh, h0)
    if kind == "LSTM":
        c0 = _state(g, _input(node, 6), directions, hidden)
        result = g.insert(nn.LstmOp(*operands, c0))[0]
        output, cell = shape_ops.sequence_and_cell_state(g.builder, result, directions, hidden)
    else:
        output = g.insert(nn.GruOp(*operands))[0]
    steps = shape[0]
    results = [
        g.moved.at(shape_ops.reshape(g.builder, output, (steps, directions, 1, hidden)), 2, kind),
        g.moved.at(shape_ops.final_hidden_state(g.builder, output, directions, hidden), 1, kind),
    ]
    if kind == "LSTM":
        results.append(g.moved.at(cell, 1, kind))
    return tuple(results[: len(node.output)])


CONVERTERS = {"LSTM": convert_recurrent, "GRU": convert_recurrent}
