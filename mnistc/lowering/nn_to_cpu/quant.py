"""Lowering of the `quant` family (issue 13) to the int8 kernels of kernels/quant.cpp.

quantize and dequantize are one call each. qlinear and qconv2d need their constants in
the kernels' form, computed here at compile time (`PackedWeight`, appended to the weight
file): the int8 weight packed (mnistc/transforms/packing.py:pack_quant_weight), the
int32 bias with the input zero point folded in (`quant_kernel_bias`), and the float32
requantization multipliers (`nn.requantization_multipliers`, the definition the reference
interpreter uses). The fused activation is the int8 clamp [qmin, qmax] of `bounds()`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from xdsl.ir import Operation, SSAValue

from mnistc.dialects import nn
from mnistc.dialects.shapes import element_count, shape_of
from mnistc.lowering.nn_to_cpu.common import ConstantReader, KernelCall, PackedWeight, pairs
from mnistc.transforms.packing import pack_quant_weight, quant_kernel_bias


def _lower_quantize(op: nn.QuantizeOp | nn.DequantizeOp) -> list[KernelCall]:
    kernel = "quantize" if isinstance(op, nn.QuantizeOp) else "dequantize"
    params = {
        "count": element_count(shape_of(op.input)),
        "zero_point": op.zero_point.value.data,
        "scale": op.scale.value.data,
    }
    return [KernelCall(kernel, [op.input], params)]


def _key(value: SSAValue) -> str:
    owner = value.owner
    return owner.key.data if isinstance(owner, nn.WeightOp) else (value.name_hint or "w")


def _layer_constants(op: nn.QConv2DOp | nn.QLinearOp, groups: int) -> list[PackedWeight]:
    """The packed weight, the kernels' int32 bias and the multipliers of a layer."""
    input_zero_point = op.input_zero_point.value.data
    key = _key(op.weight)

    def bias(read: ConstantReader) -> np.ndarray:
        model_bias = read(op.bias) if op.bias is not None else None
        return quant_kernel_bias(read(op.weight), model_bias, input_zero_point)

    return [
        PackedWeight(f"{key}|packed_int8", lambda read: pack_quant_weight(read(op.weight), groups)),
        PackedWeight(f"{key}|bias_int32", bias),
        PackedWeight(f"{key}|multiplier", lambda read: op.multipliers(read(op.weight_scale))),
    ]


def _requantization(op: nn.QConv2DOp | nn.QLinearOp) -> dict[str, int]:
    qmin, qmax = op.bounds()
    return {"output_zero_point": op.output_zero_point.value.data, "qmin": qmin, "qmax": qmax}


def _lower_qlinear(op: nn.QLinearOp) -> list[KernelCall]:
    m, n_in = shape_of(op.input)
    n_out = shape_of(op.weight)[0]
    params = {"M": m, "IN": n_in, "OUT": n_out, **_requantization(op)}
    return [KernelCall("qlinear", [op.input, *_layer_constants(op, 1)], params)]


def _lower_qconv2d(op: nn.QConv2DOp) -> list[KernelCall]:
    _, c, h, w = shape_of(op.input)
    k, _, kh, kw = shape_of(op.weight)
    _, _, oh, ow = shape_of(op.output)
    groups = op.groups.value.data
    params = {
        "C": c, "H": h, "W": w, "K": k, "OH": oh, "OW": ow, "KH": kh, "KW": kw,
        **pairs("stride", op.stride.get_values()), **pairs("pad", op.padding.get_values()),
        **pairs("dilation", op.dilation.get_values()), "groups": groups,
        "input_zero_point": op.input_zero_point.value.data, **_requantization(op),
    }  # fmt: skip
    return [KernelCall("qconv2d", [op.input, *_layer_constants(op, groups)], params)]


LOWERINGS: dict[type[Operation], Callable[..., list[KernelCall]]] = {
    nn.QuantizeOp: _lower_quantize,
    nn.DequantizeOp: _lower_quantize,
    nn.QLinearOp: _lower_qlinear,
    nn.QConv2DOp: _lower_qconv2d,
}
