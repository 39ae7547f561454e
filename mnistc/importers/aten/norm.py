"""aten normalisation → `nn.batch_norm`, `nn.layer_norm`, `nn.group_norm`."""

from __future__ import annotations

import torch

from mnistc.dialects import nn
from mnistc.importers.aten.graph import ConversionContext, Node, NodeError


def convert_batch_norm(ctx: ConversionContext, node: Node) -> tuple:
    args = node.args
    x = ctx.tensor(node, 0)
    if args[5]:
        raise NodeError("batch_norm in training mode; call model.eval() before saving")
    channels = nn.shape_of(x)[1]
    gamma = ctx.tensor(node, 1) if args[1] is not None else ctx.weight("ones", torch.ones(channels))
    beta = ctx.tensor(node, 2) if args[2] is not None else ctx.weight("zeros", torch.zeros(channels))
    mean, var = ctx.tensor(node, 3), ctx.tensor(node, 4)
    return ctx.insert(nn.BatchNormOp(x, mean, var, gamma, beta, float(args[7])))




def _optional_tensor(ctx: ConversionContext, node: Node, index: int):
    return ctx.tensor(node, index) if node.args[index] is not None else None


def convert_layer_norm(ctx: ConversionContext, node: Node) -> tuple:
    """layer_norm(x, normalized_shape, weight, bias, eps): over the trailing dims."""
    x = ctx.tensor(node, 0)
    shape, normalized = nn.shape_of(x), list(node.args[1])
    if not normalized or tuple(normalized) != shape[len(shape) - len(normalized) :]:
        raise NodeError(f"normalized_shape {normalized} is not the trailing dims of {list(shape)}")
    weight, bias = _optional_tensor(ctx, node, 2), _optional_tensor(ctx, node, 3)
    axis, eps = len(shape) - len(normalized), float(node.args[4])
    return ctx.insert(nn.LayerNormOp(x, axis, eps, weight, bias))


def convert_group_norm(ctx: ConversionContext, node: Node) -> tuple:
    """group_norm(x, num_groups, weight, bias, eps)."""
    x = ctx.tensor(node, 0)
    weight, bias = _optional_tensor(ctx, node, 2), _optional_tensor(ctx, node, 3)
    return ctx.insert(nn.GroupNormOp(x, int(node.args[1]), float(node.args[4]), weight, bias))


def convert_instance_norm(ctx: ConversionContext, node: Node) -> tuple:
    """instance_norm(x, weight, bias, running_mean, running_var, use_input_stats, momentum,
    eps, cudnn_enabled): over each channel of each sample, a group norm of one channel per
    group; with running statistics instead (track_running_stats in eval mode), a batch norm."""
    if not node.args[5]:  # batch_norm's arguments, `training` False
        return convert_batch_norm(ctx, node)
    x = ctx.tensor(node, 0)
    weight, bias = _optional_tensor(ctx, node, 1), _optional_tensor(ctx, node, 2)
    return ctx.insert(nn.GroupNormOp(x, nn.shape_of(x)[1], float(node.args[7]), weight, bias))


CONVERTERS = {
    "aten::batch_norm": convert_batch_norm,
    "aten::group_norm": convert_group_norm,
    "aten::instance_norm": convert_instance_norm,
    "aten::layer_norm": convert_layer_norm,
}
