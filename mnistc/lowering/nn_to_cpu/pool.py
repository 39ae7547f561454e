"""Lowering of the `pool` family."""

from __future__ import annotations

from collections.abc import Callable

from xdsl.dialects.builtin import i8
from xdsl.ir import Operation

from mnistc.dialects import nn
from mnistc.dialects.shapes import shape_of
from mnistc.lowering.nn_to_cpu.common import KernelCall, pairs


def _pool_geometry(op: nn.MaxPool2DOp | nn.AvgPool2DOp) -> dict[str, int]:
    _, c, h, w = shape_of(op.input)
    _, _, oh, ow = shape_of(op.output)
    kh, kw = op.kernel.get_values()
    return {
        "C": c, "H": h, "W": w, "OH": oh, "OW": ow, "KH": kh, "KW": kw,
        **pairs("stride", op.stride.get_values()), **pairs("pad", op.padding.get_values()),
    }  # fmt: skip


def _lower_max_pool2d(op: nn.MaxPool2DOp) -> list[KernelCall]:
    params = {**_pool_geometry(op), **pairs("dilation", op.dilation.get_values())}
    int8 = nn.element_type_of(op.input) == i8
    return [KernelCall("max_pool2d_i8" if int8 else "max_pool2d", [op.input], params)]


def _lower_avg_pool2d(op: nn.AvgPool2DOp) -> list[KernelCall]:
    params = {
        **_pool_geometry(op),
        "count_include_pad": op.count_include_pad.value.data,
        "divisor": op.divisor.value.data,
    }
    return [KernelCall("avg_pool2d", [op.input], params)]


def _lower_adaptive_avg_pool2d(op: nn.AdaptiveAvgPool2DOp) -> list[KernelCall]:
    _, c, h, w = shape_of(op.input)
    oh, ow = shape_of(op.output)[2:]
    return [KernelCall("adaptive_avg_pool2d", [op.input], {"C": c, "H": h, "W": w, "OH": oh, "OW": ow})]


LOWERINGS: dict[type[Operation], Callable[..., list[KernelCall]]] = {
    nn.AdaptiveAvgPool2DOp: _lower_adaptive_avg_pool2d,
    nn.AvgPool2DOp: _lower_avg_pool2d,
    nn.MaxPool2DOp: _lower_max_pool2d,
}
