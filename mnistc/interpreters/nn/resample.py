"""Reference semantics of the `resample` family."""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl

from mnistc.dialects import nn
from mnistc.interpreters.nn.common import as_f32

ROUNDINGS = {
    "nearest_floor": np.floor,
    "nearest_ceil": np.ceil,
    "nearest_round_prefer_floor": lambda x: np.ceil(x - np.float32(0.5)),
    "nearest_round_prefer_ceil": lambda x: np.floor(x + np.float32(0.5)),
}
"""How each nearest mode rounds a source coordinate."""


def source_taps(
    size_out: int, size_in: int, mode: str, scale: float, shift: float, offset: float, divide: bool
):
    """(first index, second index, weight of the second) of each output position along
    one dimension; the coordinate in float32, as the kernels compute it."""
    shifted = np.arange(size_out, dtype=np.float32) + np.float32(shift)
    scaled = shifted / np.float32(scale) if divide else shifted * np.float32(scale)
    coordinate = scaled + np.float32(offset)
    if mode == "linear":
        coordinate = np.clip(coordinate, np.float32(0), np.float32(size_in - 1))
        first = np.floor(coordinate).astype(np.int64)
        return first, np.minimum(first + 1, size_in - 1), (coordinate - first).astype(np.float64)
    index = np.clip(ROUNDINGS[mode](coordinate), 0, size_in - 1).astype(np.int64)
    return index, index, None


def resize2d(x: np.ndarray, size, mode: str, scale, shift, offset, divide=False) -> np.ndarray:
    x = x.astype(np.float64)
    (h0, h1, fh), (w0, w1, fw) = (
        source_taps(size[d], x.shape[2 + d], mode, scale[d], shift[d], offset[d], divide)
        for d in (0, 1)
    )
    if mode != "linear":
        return x[:, :, h0][:, :, :, w0]
    rows = x[:, :, h0] * (1 - fh)[:, None] + x[:, :, h1] * fh[:, None]
    return rows[:, :, :, w0] * (1 - fw) + rows[:, :, :, w1] * fw


class ResampleFunctions(InterpreterFunctions):
    """resize2d."""

    @impl(nn.Resize2DOp)
    def run_resize2d(self, interpreter: Interpreter, op: nn.Resize2DOp, args: tuple[Any, ...]):
        return as_f32(
            resize2d(
                args[0], nn.shape_of(op.output)[2:], op.mode.data, op.scale.get_values(),
                op.shift.get_values(), op.offset.get_values(), op.divide is not None,
            )  # fmt: skip
        )
