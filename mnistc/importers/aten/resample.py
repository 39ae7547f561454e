"""aten upsampling (`F.interpolate`, `nn.Upsample`) → `nn.resize2d`."""

from __future__ import annotations

from mnistc.dialects import nn
from mnistc.importers.aten.graph import ConversionContext, Node, NodeError
from mnistc.dialects.shapes import squeeze_h
from mnistc.importers.aten.shape import as_2d, reshape


def pytorch_scale(size_in: int, size_out: int, factor: float | None, align_corners: bool) -> float:
    """The source step PyTorch uses (`area_pixel_compute_scale`): from corner to corner with
    align_corners, else 1 / the given factor, else in / out."""
    if align_corners:
        return (size_in - 1) / (size_out - 1) if size_out > 1 else 0.0
    return 1.0 / factor if factor else size_in / size_out


def resize(
    ctx: ConversionContext, node: Node, size, factors, mode: str, align_corners: bool = False
) -> tuple:
    """`x` resized to `size`, or by `factors` (sizes floor(in * factor)), as PyTorch's
    nearest (`nearest_floor`, shift 0), nearest-exact (shift 0.5) or bilinear
    (`linear`, half-pixel unless align_corners) kernels sample it."""
    x = ctx.tensor(node, 0)
    shape = nn.shape_of(x)
    if len(shape) != 4:
        raise NodeError(f"only 2-D resizing of [N, C, H, W] is supported, got {list(shape)}")
    factors = list(factors) if factors else [None, None]
    if size is None:
        if None in factors:
            raise NodeError("neither an output size nor scale factors")
        size = [int(d * f) for d, f in zip(shape[2:], factors)]
    scale = [pytorch_scale(d, o, f, align_corners) for d, o, f in zip(shape[2:], size, factors)]
    shift, offset = {
        "nearest": ((0.0, 0.0), (0.0, 0.0)),
        "nearest-exact": ((0.5, 0.5), (0.0, 0.0)),
        "bilinear": ((0.0, 0.0), (0.0, 0.0)) if align_corners else ((0.5, 0.5), (-0.5, -0.5)),
    }[mode]
    op_mode = "linear" if mode == "bilinear" else "nearest_floor"
    return ctx.insert(nn.Resize2DOp(x, size, op_mode, scale, shift, offset))


def _factors(args: list, at: int) -> list | None:
    """scales_h, scales_w of the explicit-size overloads (None when absent)."""
    return [args[at], args[at + 1]] if args[at] is not None and args[at + 1] is not None else None


def nearest(mode: str):
    """`upsample_nearest2d` (self, output_size, scales_h, scales_w) or its `.vec` form
    (input, output_size?, scale_factors?)."""

    def convert(ctx: ConversionContext, node: Node) -> tuple:
        args = node.args
        if len(args) == 3:
            return resize(ctx, node, args[1], args[2], mode)
        return resize(ctx, node, args[1], _factors(args, 2), mode)

    return convert


def convert_upsample_bilinear2d(ctx: ConversionContext, node: Node) -> tuple:
    """`upsample_bilinear2d` (self, output_size, align_corners, scales_h, scales_w) or its
    `.vec` form (input, output_size?, align_corners, scale_factors?)."""
    args = node.args
    if len(args) == 4:
        return resize(ctx, node, args[1], args[3], "bilinear", bool(args[2]))
    return resize(ctx, node, args[1], _factors(args, 3), "bilinear", bool(args[2]))


def _resize_1d(ctx: ConversionContext, node: Node, mode: str, align_corners: bool = False) -> tuple:
    """`upsample_nearest1d` / `upsample_linear1d`, in their explicit-size and `.vec` forms
    (the factor a float or a one-element list): [N, C, L] resized as [N, C, 1, L]."""
    size, factor = node.args[1], node.args[-1]
    factor = factor[0] if isinstance(factor, list | tuple) else factor
    lifted = as_2d(ctx, node, [node.args[0]])
    (out,) = resize(
        ctx, lifted, None if size is None else (1, *size), None if factor is None else (1.0, factor),
        mode, align_corners,
    )  # fmt: skip
    return reshape(ctx, out, squeeze_h(nn.shape_of(out)))


CONVERTERS = {
    # 1-D
    "aten::upsample_linear1d": lambda ctx, node: _resize_1d(ctx, node, "bilinear", bool(node.args[2])),
    "aten::upsample_nearest1d": lambda ctx, node: _resize_1d(ctx, node, "nearest"),
    # 2-D
    "aten::_upsample_nearest_exact2d": nearest("nearest-exact"),
    "aten::upsample_bilinear2d": convert_upsample_bilinear2d,
    "aten::upsample_nearest2d": nearest("nearest"),
}
