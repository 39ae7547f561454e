"""Lowering of the `resample` family."""

from __future__ import annotations

from collections.abc import Callable

from xdsl.ir import Operation

from mnistc.dialects import nn
from mnistc.dialects.shapes import shape_of
from mnistc.kernels import abi
from mnistc.lowering.nn_to_cpu.common import KernelCall


def _lower_resize2d(op: nn.Resize2DOp) -> list[KernelCall]:
    _, c, h, w = shape_of(op.input)
    oh, ow = shape_of(op.output)[2:]
    params: dict[str, int | float] = {
        "C": c, "H": h, "W": w, "OH": oh, "OW": ow, "mode": abi.RESIZE_CODES[op.mode.data],
        "divide": int(op.divide is not None),
    }  # fmt: skip
    for name in ("scale", "shift", "offset"):
        params[f"{name}_h"], params[f"{name}_w"] = getattr(op, name).get_values()
    return [KernelCall("resize2d", [op.input], params)]


LOWERINGS: dict[type[Operation], Callable[..., list[KernelCall]]] = {
    nn.Resize2DOp: _lower_resize2d,
}
