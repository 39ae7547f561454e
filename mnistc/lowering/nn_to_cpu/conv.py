"""Lowering of the `conv` family to the general `conv2d` kernel (`pack-weights` later
picks a faster one by shape)."""

from __future__ import annotations

from collections.abc import Callable

from xdsl.ir import Operation

from mnistc.dialects import nn
from mnistc.dialects.shapes import shape_of
from mnistc.lowering.nn_to_cpu.activation import activation_params
from mnistc.lowering.nn_to_cpu.common import KernelCall, optional, pairs


def _lower_conv2d(op: nn.Conv2DOp) -> list[KernelCall]:
    _, c, h, w = shape_of(op.input)
    k, _, kh, kw = shape_of(op.weight)
    _, _, oh, ow = shape_of(op.output)
    inputs = [op.input, op.weight, optional(op.bias, (k,)), optional(op.residual, shape_of(op.output))]
    params = {
        "C": c, "H": h, "W": w, "K": k, "OH": oh, "OW": ow, "KH": kh, "KW": kw,
        **pairs("stride", op.stride.get_values()), **pairs("pad", op.padding.get_values()),
        **pairs("dilation", op.dilation.get_values()), "groups": op.groups.value.data,
        **activation_params(op.fused_activation()),
    }  # fmt: skip
    return [KernelCall("conv2d", inputs, params)]


def _lower_conv_transpose2d(op: nn.ConvTranspose2DOp) -> list[KernelCall]:
    _, c, h, w = shape_of(op.input)
    _, k, oh, ow = shape_of(op.output)
    kh, kw = shape_of(op.weight)[2:]
    params = {
        "C": c, "H": h, "W": w, "K": k, "OH": oh, "OW": ow, "KH": kh, "KW": kw,
        **pairs("stride", op.stride.get_values()), **pairs("pad", op.padding.get_values()),
        **pairs("dilation", op.dilation.get_values()), "groups": op.groups.value.data,
        **activation_params(op.fused_activation()),
    }  # fmt: skip
    return [KernelCall("conv_transpose2d", [op.input, op.weight, optional(op.bias, (k,))], params)]


LOWERINGS: dict[type[Operation], Callable[..., list[KernelCall]]] = {
    nn.Conv2DOp: _lower_conv2d,
    nn.ConvTranspose2DOp: _lower_conv_transpose2d,
}
