"""Lowering of the `softmax` family: the input seen as [outer, axis, inner]."""

from __future__ import annotations

from collections.abc import Callable

from xdsl.ir import Operation

from mnistc.dialects import nn
from mnistc.dialects.shapes import element_count, shape_of
from mnistc.lowering.nn_to_cpu.common import KernelCall


def _softmax_lowering(kernel: str) -> Callable[[nn.SoftmaxBase], list[KernelCall]]:
    def lower(op: nn.SoftmaxBase) -> list[KernelCall]:
        dims, axis = shape_of(op.input), op.dim.value.data
        params = {
            "outer": element_count(dims[:axis]), "axis": dims[axis],
            "inner": element_count(dims[axis + 1 :]),
        }  # fmt: skip
        return [KernelCall(kernel, [op.input], params)]

    return lower


LOWERINGS: dict[type[Operation], Callable[..., list[KernelCall]]] = {
    nn.LogSoftmaxOp: _softmax_lowering("log_softmax"),
    nn.SoftmaxOp: _softmax_lowering("softmax"),
}
