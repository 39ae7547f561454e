"""Lowering of the `shape` family: reshape and dropout alias their input's buffer
(`VIEW_OPS`), pad2d and concat copy into a fresh one."""

from __future__ import annotations

from collections.abc import Callable

from xdsl.ir import Operation

from mnistc.dialects import nn
from mnistc.dialects.shapes import element_count, shape_of
from mnistc.lowering.nn_to_cpu.common import KernelCall

VIEW_OPS = (nn.ReshapeOp, nn.DropoutOp)
"""Ops that reuse their input's buffer."""


def _lower_pad2d(op: nn.Pad2DOp) -> list[KernelCall]:
    *lead, h, w = shape_of(op.input)
    top, left, bottom, right = op.pads.get_values()
    if op.pad_mode != "constant":
        params = {
            "C": element_count(lead), "H": h, "W": w, "top": top, "left": left,
            "bottom": bottom, "right": right, "reflect": int(op.pad_mode == "reflect"),
        }  # fmt: skip
        return [KernelCall("pad2d_edge", [op.input], params)]
    params = {
        "C": element_count(lead), "H": h, "W": w, "top": top, "left": left, "bottom": bottom,
        "right": right, "value": op.value.value.data,
    }  # fmt: skip
    return [KernelCall("pad2d", [op.input], params)]


def _lower_concat(op: nn.ConcatOp) -> list[KernelCall]:
    dim, out = op.dim.value.data, shape_of(op.output)
    outer, trailing = element_count(out[:dim]), element_count(out[dim + 1 :])
    calls, offset = [], 0
    for value in op.inputs:
        inner = shape_of(value)[dim] * trailing
        params = {"outer": outer, "inner": inner, "out_stride": out[dim] * trailing, "offset": offset}
        calls.append(KernelCall("copy_block", [value], params))
        offset += inner
    return calls


LOWERINGS: dict[type[Operation], Callable[..., list[KernelCall]]] = {
    nn.ConcatOp: _lower_concat,
    nn.Pad2DOp: _lower_pad2d,
}
