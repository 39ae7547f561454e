"""ONNX Resize and Upsample → `nn.resize2d`."""

from __future__ import annotations

import numpy as np

from mnistc.dialects import nn
from mnistc.importers.onnx.graph import Graph, Unsupported, decode
from mnistc.dialects.shapes import squeeze_h, unsqueeze_h
from mnistc.importers.onnx.shape import reshape

NEAREST_MODES = {
    "floor": "nearest_floor",
    "ceil": "nearest_ceil",
    "round_prefer_floor": "nearest_round_prefer_floor",
    "round_prefer_ceil": "nearest_round_prefer_ceil",
}
"""ONNX's nearest_mode as nn.resize2d's mode."""


def coordinate_map(transform: str, size_in: int, size_out: int, factor: float):
    """(divisor, shift, offset) of ONNX's coordinate_transformation_mode along one
    dimension, `factor` the output/input ratio: x = (i + shift) / divisor + offset, as
    ONNX Runtime computes it."""
    if size_in == 1:  # every coordinate reads the one pixel (the H of a 1-D resize)
        return 1.0, 0.0, 0.0
    if transform == "align_corners":
        return ((size_out - 1) / (size_in - 1) if size_out > 1 else float("inf")), 0.0, 0.0
    if transform == "asymmetric":
        return factor, 0.0, 0.0
    if transform == "half_pixel" or (transform == "pytorch_half_pixel" and size_out > 1):
        return factor, 0.5, -0.5
    if transform == "pytorch_half_pixel":
        return float("inf"), 0.0, 0.0
    if transform == "tf_half_pixel_for_nn":
        return factor, 0.5, 0.0
    raise Unsupported(f"coordinate_transformation_mode '{transform}'")


def _sizes_and_factors(g: Graph, shape, scales, sizes):
    """Output H, W and the output/input ratios, from `sizes` or from `scales`."""
    if sizes is not None and sizes.size:
        sizes = [int(v) for v in sizes.reshape(-1)]
        if len(sizes) != 4 or sizes[:2] != [1, shape[1]] and sizes[:2] != [g.batch, shape[1]]:
            raise Unsupported(f"Resize to sizes {sizes} (only H and W of NCHW)")
        out = sizes[2:]
        return out, [np.float32(o) / np.float32(i) for o, i in zip(out, shape[2:])]
    if scales is None or not scales.size:
        raise Unsupported("Resize without scales or sizes")
    scales = [np.float32(v) for v in scales.reshape(-1)]
    if len(scales) != 4 or scales[:2] != [1, 1] or min(scales) <= 0:
        raise Unsupported(f"Resize by scales {[float(s) for s in scales]} (only H and W of NCHW)")
    return [int(np.float32(i) * s) for i, s in zip(shape[2:], scales[2:])], scales[2:]


def resize(g: Graph, node, mode: str, transform: str, nearest_mode: str, scales, sizes) -> tuple:
    x = g.tensor(node.input[0])
    shape = nn.shape_of(x)
    if len(shape) == 3:  # 1-D: [N, C, L] resized as [N, C, 1, L]
        (x,) = reshape(g, x, unsqueeze_h(shape))
        scales, sizes = (
            None if v is None or not v.size else np.insert(v.reshape(-1), 2, 1) for v in (scales, sizes)
        )
        (out,) = _resize_2d(g, x, mode, transform, nearest_mode, scales, sizes)
        return reshape(g, out, squeeze_h(nn.shape_of(out)))
    if len(shape) != 4:
        raise Unsupported(f"only 1-D and 2-D resizing is supported, got a tensor of shape {list(shape)}")
    return _resize_2d(g, x, mode, transform, nearest_mode, scales, sizes)


def _resize_2d(g: Graph, x, mode: str, transform: str, nearest_mode: str, scales, sizes) -> tuple:
    shape = nn.shape_of(x)
    if mode not in ("nearest", "linear"):
        raise Unsupported(f"mode '{mode}'")
    out, factors = _sizes_and_factors(g, shape, scales, sizes)
    maps = [coordinate_map(transform, i, o, float(f)) for i, o, f in zip(shape[2:], out, factors)]
    divisor, shift, offset = zip(*maps)
    if all(d != float("inf") for d in divisor):
        scale, divide = divisor, True
    else:  # a coordinate pinned at 0 (one output pixel): the multiplying form, by 0
        scale, divide = [0.0 if d == float("inf") else 1.0 / d for d in divisor], False
    op_mode = "linear" if mode == "linear" else NEAREST_MODES.get(nearest_mode)
    if op_mode is None:
        raise Unsupported(f"nearest_mode '{nearest_mode}'")
    return g.insert(nn.Resize2DOp(x, out, op_mode, scale, shift, offset, divide))


def _optional_constant(g: Graph, node, index: int, what: str):
    if len(node.input) > index and node.input[index]:
        return np.asarray(g.constant(node.input[index], what), dtype=np.float64)
    return None


def _legacy_nearest(scales) -> str:
    """ONNX Runtime's nearest pixel before opset 11: floor when upsampling, ceil when
    downsampling."""
    if scales is not None and all(s >= 1 for s in scales.reshape(-1)):
        return "floor"
    if scales is not None and all(s <= 1 for s in scales.reshape(-1)[2:]):
        return "ceil"
    raise Unsupported("Resize that upsamples one dimension and downsamples the other")


def convert_resize(g: Graph, node, attrs) -> tuple:
    for name in ("antialias", "exclude_outside"):
        if attrs.get(name, 0):
            raise Unsupported(f"Resize with {name}")
    if "axes" in attrs and sorted(a % 4 for a in attrs["axes"]) != [0, 1, 2, 3]:
        raise Unsupported(f"Resize over axes {list(attrs['axes'])}")
    if decode(attrs.get("keep_aspect_ratio_policy", "stretch")) != "stretch":
        raise Unsupported("Resize with a keep_aspect_ratio_policy")
    mode = decode(attrs.get("mode", "nearest"))
    if g.opset < 11:
        scales = _optional_constant(g, node, 1, "Resize's scales")
        return resize(g, node, mode, "asymmetric", _legacy_nearest(scales), scales, None)
    scales = _optional_constant(g, node, 2, "Resize's scales")
    sizes = _optional_constant(g, node, 3, "Resize's sizes")
    transform = decode(attrs.get("coordinate_transformation_mode", "half_pixel"))
    nearest_mode = decode(attrs.get("nearest_mode", "round_prefer_floor"))
    return resize(g, node, mode, transform, nearest_mode, scales, sizes)


def convert_upsample(g: Graph, node, attrs) -> tuple:
    """Upsample (opsets 7-9): scales as an attribute, then as an input; asymmetric
    coordinates, ONNX Runtime's floor for nearest."""
    if "scales" in attrs:
        scales = np.asarray(attrs["scales"], dtype=np.float64)
    else:
        scales = _optional_constant(g, node, 1, "Upsample's scales")
    mode = decode(attrs.get("mode", "nearest"))
    mode = "linear" if mode == "bilinear" else mode
    return resize(g, node, mode, "asymmetric", "floor", scales, None)


CONVERTERS = {"Resize": convert_resize, "Upsample": convert_upsample}
