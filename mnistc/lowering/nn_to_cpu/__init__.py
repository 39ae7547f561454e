"""The per-op lowerings of `convert-nn-to-cpu`, one module per op family (the names of
`dialects/nn/`).

Each family's module maps its `nn` ops to a function returning the kernel calls (a
kernel of kernels/abi.py, its inputs and its params by name) that compute the op's
result into one destination buffer, in a `LOWERINGS` table; `KERNEL_LOWERINGS` joins
them. The `weight` family and the views of the `shape` family (`view_offset`) are handled
by the pass itself (mnistc/lowering/convert_nn_to_cpu.py), as they call no kernel.
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.ir import Operation

from mnistc.lowering.nn_to_cpu import (
    activation,
    conv,
    elementwise,
    linear,
    matmul,
    norm,
    pool,
    quant,
    recurrent,
    reduce,
    resample,
    shape,
    softmax,
)
from mnistc.lowering.nn_to_cpu.common import KernelCall

KERNEL_LOWERINGS: dict[type[Operation], Callable[..., list[KernelCall]]] = {
    **conv.LOWERINGS,
    **linear.LOWERINGS,
    **pool.LOWERINGS,
    **activation.LOWERINGS,
    **norm.LOWERINGS,
    **elementwise.LOWERINGS,
    **shape.LOWERINGS,
    **softmax.LOWERINGS,
    **reduce.LOWERINGS,
    **resample.LOWERINGS,
    **quant.LOWERINGS,
    **matmul.LOWERINGS,
    **recurrent.LOWERINGS,
}
"""`nn` op → the kernel calls that compute its result into one destination buffer."""
