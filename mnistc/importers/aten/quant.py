"""PyTorch's PT2E quantized graphs (`prepare_pt2e` / `convert_pt2e`, e.g. with
`X86InductorQuantizer`) → the QDQ form that `fold-qdq` turns into int8 layers.

`quantize_per_tensor` and `dequantize_per_tensor` of a run-time tensor become
`nn.quantize` and `nn.dequantize`; uint8 (the X86 quantizer's activations) is mapped to
int8 exactly: q - 128, with the zero point shifted by 128. A dequantized constant (the
folded int8 weights, `dequantize_per_channel`) that is symmetric int8 becomes fold-qdq's
`dequantized_weight` form, bitwise the float32 weight PyTorch computes; any other is its
float32 values, and its layer stays in float32. Refused, with the op named: ranges other
than the full int8 or uint8 one (reduce_range), per-channel quantization of a run-time
tensor, other element types.
"""

from __future__ import annotations

import torch
from xdsl.ir import SSAValue

from mnistc.dialects import nn
from mnistc.importers.aten.graph import ConversionContext, Node, NodeError
from mnistc.importers.common import check_storage
from mnistc.transforms.fold_qdq import dequantized_weight

INT8_SHIFTS = {torch.int8: (-128, 127, 0), torch.uint8: (0, 255, 128)}
"""Element type → its full range and the shift that maps it onto int8."""


def int8_zero_point(zero_point: int, quant_min: int, quant_max: int, dtype) -> int:
    """The zero point on the int8 scale of a tensor quantized to [quant_min, quant_max]."""
    low, high, shift = INT8_SHIFTS.get(dtype, (None, None, None))
    if (quant_min, quant_max) != (low, high):
        raise NodeError(
            f"quantization to {str(dtype).removeprefix('torch.')} [{quant_min}, {quant_max}]: "
            "only the full int8 and uint8 ranges are supported"
        )
    return int(zero_point) - shift


def _scalar(value) -> float:
    """A scale or zero point, given as a number or as a one-element constant tensor."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise NodeError("per-channel quantization of a run-time tensor (activations are per tensor)")
        return value.item()
    if not isinstance(value, int | float):
        raise NodeError("a scale or zero point computed at run time")
    return value


def convert_quantize_per_tensor(ctx: ConversionContext, node: Node) -> tuple:
    """quantize_per_tensor(input, scale, zero_point, quant_min, quant_max, dtype)."""
    x = node.args[0]
    if not isinstance(x, SSAValue):
        raise NodeError("quantize_per_tensor of a constant")
    scale, zero_point, quant_min, quant_max, dtype = node.args[1:6]
    shifted = int8_zero_point(_scalar(zero_point), quant_min, quant_max, dtype)
    return ctx.insert(nn.QuantizeOp(x, _scalar(scale), shifted))


def convert_dequantize_per_tensor(ctx: ConversionContext, node: Node) -> tuple:
    """dequantize_per_tensor(input, scale, zero_point, quant_min, quant_max, dtype)."""
    x, scale, zero_point, quant_min, quant_max, dtype = node.args[:6]
    _float32_output(node.args[6:])
    if isinstance(x, SSAValue):
        shifted = int8_zero_point(_scalar(zero_point), quant_min, quant_max, dtype)
        return ctx.insert(nn.DequantizeOp(x, _scalar(scale), shifted))
    scales = torch.tensor([_scalar(scale)], dtype=torch.float32)
    zero_points = torch.tensor([_scalar(zero_point)], dtype=torch.int64)
    return (_dequantized_constant(ctx, node, scales, zero_points, None),)


def convert_dequantize_per_channel(ctx: ConversionContext, node: Node) -> tuple:
    """dequantize_per_channel(input, scales, zero_points, axis, quant_min, quant_max,
    dtype) of a constant: the folded int8 weights of `convert_pt2e`."""
    x, scales, zero_points, axis = node.args[:4]
    _float32_output(node.args[7:])
    if not isinstance(x, torch.Tensor) or not isinstance(scales, torch.Tensor):
        raise NodeError("per-channel quantization of a run-time tensor (activations are per tensor)")
    if zero_points is None:
        zero_points = torch.zeros_like(scales, dtype=torch.int64)
    if not isinstance(zero_points, torch.Tensor) or scales.shape != zero_points.shape:
        raise NodeError("scales and zero points of different shapes")
    axis = axis % x.dim()
    if scales.dim() != 1 or scales.numel() != x.shape[axis]:
        raise NodeError(f"{scales.numel()} scales for {x.shape[axis]} channels")
    return (_dequantized_constant(ctx, node, scales, zero_points, axis),)


def _float32_output(out_dtype: list) -> None:
    if out_dtype and out_dtype[0] not in (None, torch.float32):
        raise NodeError(f"dequantization to {out_dtype[0]} (float32 is supported)")


def _dequantized_constant(
    ctx: ConversionContext, node: Node, scales: torch.Tensor, zero_points: torch.Tensor, axis: int | None
):
    """(x - zero_point) * scale in float32 as PyTorch computes it, along `axis` (None:
    per tensor): as fold-qdq's int8 weight form when symmetric int8, else as a constant."""
    x, (quant_min, quant_max, dtype) = node.args[0], node.args[3:6] if axis is None else node.args[4:7]
    if not isinstance(x, torch.Tensor) or x.dtype != dtype:
        raise NodeError(f"a constant of element type {getattr(x, 'dtype', type(x).__name__)}, not {dtype}")
    name = node.arg_names[0]
    check_storage(
        name, x.shape, x.stride(), x.storage_offset(), x.element_size(), x.untyped_storage().nbytes()
    )  # fmt: skip
    along = [1] * x.dim()
    if axis is not None:
        along[axis] = -1
    shifts = torch.tensor(
        [int8_zero_point(int(z), quant_min, quant_max, dtype) for z in zero_points.reshape(-1)]
    )
    integers = x.to(torch.int64) - INT8_SHIFTS[dtype][2] - shifts.reshape(along)
    scale = scales.to(torch.float32).reshape(along if axis is not None else [])
    if not shifts.any() and x.dim() >= 2 and axis in (None, 0):
        return dequantized_weight(
            ctx.builder, ctx.weights, name, integers.to(torch.int8).numpy(), scale.reshape(-1).numpy()
        )
    return integers.to(torch.float32) * scale


CONVERTERS = {
    "quantized_decomposed::quantize_per_tensor": convert_quantize_per_tensor,
    "quantized_decomposed::dequantize_per_tensor": convert_dequantize_per_tensor,
    "quantized_decomposed::dequantize_per_channel": convert_dequantize_per_channel,
}
"""The quantize and dequantize ops of PT2E graphs (torch.export)."""
