"""ONNX BatchNormalization, LRN, LayerNormalization, GroupNormalization and
InstanceNormalization → `nn.batch_norm`, `nn.lrn`, `nn.layer_norm`, `nn.group_norm`."""

from __future__ import annotations

import numpy as np
from xdsl.ir import SSAValue

from mnistc.dialects import nn
from mnistc.importers.onnx.activation import unary
from mnistc.importers.common import ImportError_
from mnistc.importers.onnx.graph import Graph, Unsupported


def convert_batch_norm(g: Graph, node, attrs) -> tuple:
    x, scale, bias, mean, var = (g.tensor(name) for name in node.input[:5])
    return g.insert(nn.BatchNormOp(x, mean, var, scale, bias, float(attrs.get("epsilon", 1e-5))))




def _no_extra_outputs(node, what: str) -> None:
    if any(node.output[1:]):
        raise Unsupported(f"{node.op_type}'s {what} outputs")


def _affine(g: Graph, node, index: int, shape) -> SSAValue | None:
    """An optional Scale or B: a constant broadcast (as ONNX does) to `shape`."""
    if len(node.input) <= index or not node.input[index]:
        return None
    value = g.float_constant(node.input[index], f"{node.op_type}'s scale and bias")
    if value.shape != tuple(shape):
        try:
            value = np.broadcast_to(value, shape).copy()
        except ValueError:
            raise ImportError_(f"scale or bias of shape {list(value.shape)} for {list(shape)}") from None
    return g.weight(node.input[index], value)


def convert_layer_norm(g: Graph, node, attrs) -> tuple:
    _no_extra_outputs(node, "Mean and InvStdDev")
    if attrs.get("stash_type", 1) != 1:
        raise Unsupported("LayerNormalization with a stash_type other than float")
    x = g.tensor(node.input[0])
    shape = nn.shape_of(x)
    axis = attrs.get("axis", -1) % len(shape)
    weight, bias = (_affine(g, node, i, shape[axis:]) for i in (1, 2))
    return g.insert(nn.LayerNormOp(x, axis, attrs.get("epsilon", 1e-5), weight, bias))


def convert_group_norm(g: Graph, node, attrs) -> tuple:
    """Scale and bias per channel (opset 21), or per group (opset 18, repeated per channel)."""
    x = g.tensor(node.input[0])
    groups, channels = attrs["num_groups"], nn.shape_of(x)[1]
    if groups < 1 or channels % groups:
        raise ImportError_(f"num_groups {groups} does not divide the {channels} channels")
    affine = []
    for index in (1, 2):
        value = g.float_constant(node.input[index], "GroupNormalization's scale and bias")
        if value.shape == (groups,) and groups != channels:
            value = np.repeat(value, channels // groups)
        affine.append(g.weight(node.input[index], value))
    return g.insert(nn.GroupNormOp(x, groups, attrs.get("epsilon", 1e-5), *affine))


def convert_instance_norm(g: Graph, node, attrs) -> tuple:
    """InstanceNormalization(x, scale[C], B[C]): a group norm of one channel per group."""
    x = g.tensor(node.input[0])
    what = "InstanceNormalization's scale and bias"
    scale, bias = (g.weight(node.input[i], g.float_constant(node.input[i], what)) for i in (1, 2))
    return g.insert(nn.GroupNormOp(x, nn.shape_of(x)[1], attrs.get("epsilon", 1e-5), scale, bias))


CONVERTERS = {
    "BatchNormalization": convert_batch_norm,
    "LRN": unary(
        lambda x, a: nn.LRNOp(x, a["size"], a.get("alpha", 1e-4), a.get("beta", 0.75), a.get("bias", 1.0))
    ),
    "GroupNormalization": convert_group_norm,
    "InstanceNormalization": convert_instance_norm,
    "LayerNormalization": convert_layer_norm,
}
