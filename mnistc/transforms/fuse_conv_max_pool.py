"""fuse-conv-max-pool: pool inside the Winograd convolution's epilogue.

At the `cpu` level, after `pack-weights`: a `cpu.call @max_pool2d` with a 2x2 window,
stride 2 and no padding, whose input is a temporary buffer written only by a
`cpu.call @conv2d_winograd` (or `@conv2d_winograd_raw`) without residual, becomes that
convolution with `pool` = 2 writing the pooled result directly. The full-size temporary
disappears, and with it a pass over memory.
"""

from __future__ import annotations

from xdsl.context import Context
from xdsl.dialects import memref
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from mnistc.dialects import cpu
from mnistc.transforms.pack_weights import WINOGRAD_PATHS
from mnistc.locations import located

POOL_SIZE = 2
FUSABLE_POOL = {"KH": POOL_SIZE, "KW": POOL_SIZE, "stride_h": POOL_SIZE, "stride_w": POOL_SIZE,
                "pad_h": 0, "pad_w": 0, "dilation_h": 1, "dilation_w": 1}  # fmt: skip
"""The pools that the Winograd kernel's epilogue computes (`pool` = POOL_SIZE)."""


def _is_fusable_pool(pool: cpu.CallOp) -> bool:
    p = pool.param
    floored = (p("OH"), p("OW")) == (p("H") // POOL_SIZE, p("W") // POOL_SIZE)
    return floored and all(p(name) == value for name, value in FUSABLE_POOL.items())


def _sole_writer(buffer: SSAValue, reader: cpu.CallOp) -> cpu.CallOp | None:
    """The call writing `buffer`, if `buffer` is a temporary with no other user."""
    if not isinstance(buffer.owner, memref.AllocOp) or buffer.uses.get_length() != 2:
        return None
    writer = next((use.operation for use in buffer.uses if use.operation is not reader), None)
    if isinstance(writer, cpu.CallOp) and tuple(writer.outputs) == (buffer,):
        return writer
    return None


class FuseMaxPoolIntoWinograd(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, pool: cpu.CallOp, rewriter: PatternRewriter, /):
        if pool.callee.string_value() != "max_pool2d" or not _is_fusable_pool(pool):
            return
        buffer = pool.inputs[0]
        conv = _sole_writer(buffer, pool)
        if conv is None or conv.callee.string_value() not in {p.kernel for p in WINOGRAD_PATHS}:
            return
        if conv.param("pool") or not isinstance(conv.inputs[3].owner, cpu.NullOp):
            return
        params = conv.param_values() | {"pool": POOL_SIZE}
        fused = located(cpu.CallOp(conv.callee.string_value(), list(conv.inputs), list(pool.outputs), params), conv, pool)
        rewriter.replace(pool, fused, new_results=[])
        rewriter.erase(conv)
        rewriter.erase(buffer.owner)


class FuseConvMaxPoolPass(ModulePass):
    """See the module docstring."""

    name = "fuse-conv-max-pool"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(FuseMaxPoolIntoWinograd()).rewrite_module(op)
