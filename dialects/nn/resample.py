"""The `resample` family: resizing the spatial dimensions by interpolation (upsample,
interpolate, ONNX Resize)."""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import DenseArrayBase, StringAttr, UnitAttr, f64
from xdsl.ir import SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from mnistc.dialects.nn.base import FloatTensor, OneSample, tensor, verify_rank
from mnistc.dialects.shapes import shape_of
from mnistc.kernels import abi

RESIZE_MODES = tuple(abi.RESIZE_CODES)
"""How a source coordinate becomes a value (the kernel contract's modes): the nearest
pixel, rounding the coordinate down, up, or to the nearest integer with ties down or up
(ONNX's nearest modes; PyTorch's `nearest` and `nearest-exact` round down); or linear
interpolation of its two neighbours."""


@irdl_op_definition
class Resize2DOp(IRDLOperation):
    """Resize H and W of NCHW to the result's size by sampling the input.

    Output pixel i of a dimension reads the input at the source coordinate
    `(i + shift) * scale + offset`, or with `divide` `(i + shift) / scale + offset`,
    computed in float32 as PyTorch (which multiplies) and ONNX Runtime (which divides by
    the resize factor) do, so that a coordinate on a rounding tie rounds as theirs: every
    coordinate convention of both is one such affine map (PyTorch's `nearest`: shift 0,
    scale in/out; `align_corners=True`: scale (in-1)/(out-1); half-pixel: shift 0.5,
    offset -0.5). Linear mode clamps the coordinate to [0, size - 1] and interpolates;
    nearest modes round it (`mode`) and clamp the index.
    """

    name = "nn.resize2d"

    input = operand_def(FloatTensor)
    output = result_def(FloatTensor)
    mode = prop_def(StringAttr)
    scale = prop_def(DenseArrayBase.constr(f64))
    shift = prop_def(DenseArrayBase.constr(f64))
    offset = prop_def(DenseArrayBase.constr(f64))
    divide = opt_prop_def(UnitAttr)

    traits = traits_def(Pure(), OneSample())
    assembly_format = (
        "$input `mode` $mode (`divide` $divide^)? `scale` $scale `shift` $shift `offset` $offset "
        "attr-dict "
        "`:` type($input) `->` type($output)"
    )

    def __init__(
        self,
        input: SSAValue,
        size: Sequence[int],
        mode: str,
        scale: Sequence[float],
        shift: Sequence[float] = (0.0, 0.0),
        offset: Sequence[float] = (0.0, 0.0),
        divide: bool = False,
    ):
        n, c = shape_of(input)[:2]
        super().__init__(
            operands=[input],
            result_types=[tensor((n, c, *size))],
            properties={
                "mode": StringAttr(mode),
                **{
                    name: DenseArrayBase.from_list(f64, [float(v) for v in values])
                    for name, values in (("scale", scale), ("shift", shift), ("offset", offset))
                },
                "divide": UnitAttr() if divide else None,
            },
        )

    def verify_(self) -> None:
        if self.mode.data not in RESIZE_MODES:
            raise VerifyException(
                f"resize mode '{self.mode.data}' (supported: {', '.join(RESIZE_MODES)})"
            )
        for name in ("scale", "shift", "offset"):
            values = getattr(self, name).get_values()
            if len(values) != 2 or not all(abs(v) < float("inf") for v in values):
                raise VerifyException(f"{name} must be two finite numbers, got {list(values)}")
        if self.divide is not None and 0.0 in self.scale.get_values():
            raise VerifyException("a scale that divides must not be 0")
        n, c, _, _ = verify_rank("resize2d input", self.input, 4)
        out = verify_rank("resize2d result", self.output, 4)
        if out[:2] != (n, c) or min(out[2:]) < 1:
            raise VerifyException(f"result {list(out)} must be [{n}, {c}, OH >= 1, OW >= 1]")


OPS = (Resize2DOp,)
"""The family's ops, as the `NN` dialect lists them."""

__all__ = ["RESIZE_MODES", "Resize2DOp"]
