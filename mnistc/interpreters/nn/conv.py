"""Reference semantics of the `conv` family."""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl

from mnistc.dialects import nn
from mnistc.interpreters.nn.activation import fused
from mnistc.interpreters.nn.common import as_f32, pad, patches


def conv2d(x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    x, weight = x.astype(np.float64), weight.astype(np.float64)
    n, c, h, w = x.shape
    k, cg, kh, kw = weight.shape
    oh = nn.window_output_size(h, kh, stride[0], padding[0], dilation[0])
    ow = nn.window_output_size(w, kw, stride[1], padding[1], dilation[1])
    padded = pad(x, padding)
    kg = k // groups
    out = np.zeros((n, k, oh, ow))
    for g in range(groups):
        xs = padded[:, g * cg : (g + 1) * cg]
        ws = weight[g * kg : (g + 1) * kg]
        for i, j, patch in patches(xs, (kh, kw), stride, dilation, (oh, ow)):
            out[:, g * kg : (g + 1) * kg] += np.einsum("nchw,kc->nkhw", patch, ws[:, :, i, j], optimize=True)
    if bias is not None:
        out += bias.astype(np.float64)[None, :, None, None]
    return out


def conv_transpose2d(
    x, weight, bias=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
    dilation=(1, 1), groups=1,
):  # fmt: skip
    """Every input pixel scatters its weighted kernel into an uncropped output, which
    `padding` then crops (the definition, as the adjoint of conv2d)."""
    x, weight = x.astype(np.float64), weight.astype(np.float64)
    n, c, h, w = x.shape
    _, kg, kh, kw = weight.shape
    _, k, oh, ow = nn.conv_transpose2d_output_shape(
        x.shape, weight.shape, groups, stride, padding, output_padding, dilation
    )
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    extent = [max(p + o, (size - 1) * s + d * (kernel - 1) + 1)
              for p, o, size, s, d, kernel in ((ph, oh, h, sh, dh, kh), (pw, ow, w, sw, dw, kw))]  # fmt: skip
    full = np.zeros((n, k, *extent))
    cg = c // groups
    for g in range(groups):
        xs, ws = x[:, g * cg : (g + 1) * cg], weight[g * cg : (g + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                target = full[:, g * kg : (g + 1) * kg, i * dh : i * dh + sh * (h - 1) + 1 : sh,
                              j * dw : j * dw + sw * (w - 1) + 1 : sw]  # fmt: skip
                target += np.einsum("nchw,ck->nkhw", xs, ws[:, :, i, j])
    out = full[:, :, ph : ph + oh, pw : pw + ow]
    if bias is not None:
        out = out + bias.astype(np.float64)[None, :, None, None]
    return out


class ConvFunctions(InterpreterFunctions):
    """nn.conv2d, with its residual and fused activation; nn.conv_transpose2d."""

    @impl(nn.ConvTranspose2DOp)
    def run_conv_transpose2d(self, interpreter: Interpreter, op: nn.ConvTranspose2DOp, args):
        x, weight, *rest = args
        out = conv_transpose2d(
            x, weight, rest[0] if rest else None, op.stride.get_values(),
            op.padding.get_values(), op.output_padding.get_values(), op.dilation.get_values(),
            op.groups.value.data,
        )  # fmt: skip
        return as_f32(fused(op, out))

    @impl(nn.Conv2DOp)
    def run_conv2d(self, interpreter: Interpreter, op: nn.Conv2DOp, args: tuple[Any, ...]):
        x, weight, *rest = args
        bias = rest.pop(0) if op.bias is not None else None
        out = conv2d(
            x, weight, bias, op.stride.get_values(), op.padding.get_values(),
            op.dilation.get_values(), op.groups.value.data,
        )  # fmt: skip
        if op.residual is not None:
            out = out + rest[0]
        return as_f32(fused(op, out))
