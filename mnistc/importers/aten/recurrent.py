"""aten LSTM and GRU (`aten::lstm`, `aten::gru`; torch.export's `lstm.input`,
`gru.input` and the `getitem`s on their outputs) → one `nn.lstm` / `nn.gru` per layer.

The layers run on one sample's sequence batch first, [1, T, F]: a time-major input
(`batch_first=False`, [T, N, F]) is one in a sample, a view. The converter returns the
sequence of the last layer in the module's layout and the final states [L*D, N, H] (their
batch at dimension 1, see `shape_ops.MovedBatch`): h_n read from each layer's
sequence with slices, c_n from the LSTM's row after it. Initial states are
zero, constants or run-time tensors; dropout between layers is an inference no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from xdsl.ir import SSAValue

from mnistc.dialects import nn
from mnistc.importers import shape_ops
from mnistc.importers.aten.graph import ConversionContext, Node, NodeError


def _stacked(ctx: ConversionContext, tensors: Sequence[Any], name: str) -> SSAValue:
    """The weights of a layer's directions, one on top of the other (PyTorch's order)."""
    if not all(isinstance(t, torch.Tensor) for t in tensors):
        raise NodeError("weights computed at run time")
    return ctx.weight(name, torch.cat([t.detach().float() for t in tensors]))


def _module_path(node: Node) -> str:
    """`lstm.` for the module `lstm (LSTM)`: its weights keep PyTorch's parameter names
    (`lstm.weight_ih_l0`) whatever the front end calls the list that holds them."""
    path = node.location.module.rpartition(" (")[0]
    return f"{path}." if path else ""


def _layer_weights(ctx: ConversionContext, node: Node, params: list, has_biases: bool,
                   layers: int, directions: int) -> list[dict[str, SSAValue | None]]:  # fmt: skip
    """Per layer: weight_ih, weight_hh, bias_ih, bias_hh of its directions stacked."""
    per_direction = 4 if has_biases else 2
    if len(params) != layers * directions * per_direction:
        raise NodeError(
            f"{len(params)} weights for {layers} layers of {directions} directions "
            "(projections, proj_size > 0, are not supported)"
        )
    result = []
    for layer in range(layers):
        first = layer * directions * per_direction
        groups = [params[first + d * per_direction : first + (d + 1) * per_direction] for d in range(directions)]
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")[:per_direction]
        weights = {
            name: _stacked(ctx, [g[i] for g in groups], f"{_module_path(node)}{name}_l{layer}")
            for i, name in enumerate(names)
        }
        result.append({"bias_ih": None, "bias_hh": None, **weights})
    return result


def _initial_state(ctx: ConversionContext, value: Any, layers: int, directions: int,
                   hidden: int, what: str) -> list[SSAValue | None]:  # fmt: skip
    """Per layer, its directions' initial state [1, D, H], None where it is zero. The
    state is [L*D, N, H]: a constant (created with the batch size N, so 1 in a sample,
    or the same for every sample of a program exported with a fixed batch) or a
    run-time tensor whose batch is dimension 1."""
    expected = (layers * directions, 1, hidden)
    if isinstance(value, torch.Tensor):
        if not value.any():  # zero whatever its shape (a fixed export batch may show in it)
            return [None] * layers
        if value.dim() == 3 and value.shape[1] > 1 and bool((value == value[:, :1]).all()):
            value = value[:, :1]  # the same for every sample of a fixed export batch
        if tuple(value.shape) != expected:
            raise NodeError(f"{what} of shape {list(value.shape)}, expected {list(expected)} per sample")
        value = ctx.weight(what, value.float())
    elif nn.shape_of(value) != expected or ctx.moved.dim(value) != 1:
        raise NodeError(
            f"{what} of shape {list(nn.shape_of(value))} with its batch at dimension "
            f"{ctx.moved.dim(value)}: expected [L*D, N, H] ({list(expected)} per sample)"
        )
    states = []
    for layer in range(layers):
        part = shape_ops.slice_dim(ctx.builder, value, 0, range(layer * directions, (layer + 1) * directions))
        states.append(shape_ops.reshape(ctx.builder, part, (1, directions, hidden)))
    return states


def _convert(ctx: ConversionContext, node: Node, kind: str) -> tuple:
    args = node.args
    x, hx, params = ctx.tensor(node, 0), args[1], list(args[2])
    has_biases, layers, bidirectional, batch_first = bool(args[3]), int(args[4]), bool(args[7]), bool(args[8])
    directions = 2 if bidirectional else 1
    shape = nn.shape_of(x)
    if len(shape) != 3:
        raise NodeError(f"a {kind} on a rank-{len(shape)} input (needs a batch of sequences)")
    if ctx.moved.dim(x) != (0 if batch_first else 1):
        raise NodeError(
            f"batch_first={batch_first} on a tensor whose batch is dimension {ctx.moved.dim(x)}"
        )
    sequence = x if batch_first else shape_ops.reshape(ctx.builder, x, (1, shape[0], shape[2]))
    weights = _layer_weights(ctx, node, params, has_biases, layers, directions)
    hidden = nn.shape_of(weights[0]["weight_hh"])[1]
    hx = list(hx) if isinstance(hx, list | tuple) else [hx]
    if len(hx) != (2 if kind == "lstm" else 1):
        raise NodeError(f"{len(hx)} initial states")
    h0 = _initial_state(ctx, hx[0], layers, directions, hidden, "h0")
    c0 = _initial_state(ctx, hx[1], layers, directions, hidden, "c0") if kind == "lstm" else None
    h_n, c_n = [], []
    for layer in range(layers):
        w = weights[layer]
        operands = (sequence, w["weight_ih"], w["weight_hh"], w["bias_ih"], w["bias_hh"], h0[layer])
        if kind == "lstm":
            result = ctx.insert(nn.LstmOp(*operands, c0[layer]))[0]
            sequence, cell = shape_ops.sequence_and_cell_state(ctx.builder, result, directions, hidden)
            c_n.append(cell)
        else:
            sequence = ctx.insert(nn.GruOp(*operands))[0]
        h_n.append(shape_ops.final_hidden_state(ctx.builder, sequence, directions, hidden))
    output = sequence
    if not batch_first:
        steps = nn.shape_of(sequence)[1]
        output = ctx.moved.at(shape_ops.reshape(ctx.builder, sequence, (steps, 1, directions * hidden)), 1, kind)
    states = [
        ctx.moved.at(shape_ops.concat(ctx.builder, parts, 0) if len(parts) > 1 else parts[0], 1, kind)
        for parts in ([h_n, c_n] if kind == "lstm" else [h_n])
    ]
    return (output, *states)


def convert_lstm(ctx: ConversionContext, node: Node) -> tuple:
    return _convert(ctx, node, "lstm")


def convert_gru(ctx: ConversionContext, node: Node) -> tuple:
    return _convert(ctx, node, "gru")


CONVERTERS = {
    "aten::lstm": convert_lstm,
    "aten::gru": convert_gru,
}
