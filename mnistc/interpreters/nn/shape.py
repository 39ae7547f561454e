"""Reference semantics of the `shape` family."""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl

from mnistc.dialects import nn
from mnistc.interpreters.nn.common import as_f32


NUMPY_PAD_MODES = {"reflect": "reflect", "replicate": "edge"}
"""pad2d's modes as np.pad names them."""


class ShapeFunctions(InterpreterFunctions):
    """pad2d, concat, reshape, transpose, slice, expand and dropout (the identity)."""

    @impl(nn.Pad2DOp)
    def run_pad2d(self, interpreter: Interpreter, op: nn.Pad2DOp, args: tuple[Any, ...]):
        top, left, bottom, right = op.pads.get_values()
        widths = [(0, 0)] * (args[0].ndim - 2) + [(top, bottom), (left, right)]
        if op.pad_mode != "constant":
            return as_f32(np.pad(args[0], widths, mode=NUMPY_PAD_MODES[op.pad_mode]))
        return as_f32(np.pad(args[0], widths, constant_values=op.value.value.data))

    @impl(nn.ConcatOp)
    def run_concat(self, interpreter: Interpreter, op: nn.ConcatOp, args: tuple[Any, ...]):
        return as_f32(np.concatenate(args, axis=op.dim.value.data))

    @impl(nn.ReshapeOp)
    def run_reshape(self, interpreter: Interpreter, op: nn.ReshapeOp, args: tuple[Any, ...]):
        return (args[0].reshape(nn.shape_of(op.output)),)

    @impl(nn.TransposeOp)
    def run_transpose(self, interpreter: Interpreter, op: nn.TransposeOp, args: tuple[Any, ...]):
        return (np.ascontiguousarray(np.transpose(args[0], op.permutation.get_values())),)

    @impl(nn.SliceOp)
    def run_slice(self, interpreter: Interpreter, op: nn.SliceOp, args: tuple[Any, ...]):
        indices = [
            offset + stride * np.arange(size)
            for offset, stride, size in zip(
                op.offsets.get_values(), op.strides.get_values(), nn.shape_of(op.output)
            )
        ]
        return (args[0][np.ix_(*indices)],)

    @impl(nn.ExpandOp)
    def run_expand(self, interpreter: Interpreter, op: nn.ExpandOp, args: tuple[Any, ...]):
        return (np.broadcast_to(args[0], nn.shape_of(op.output)).copy(),)

    @impl(nn.DropoutOp)
    def run_dropout(self, interpreter: Interpreter, op: nn.DropoutOp, args: tuple[Any, ...]):
        return (args[0],)
