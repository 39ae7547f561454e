"""plan-memory: place every `memref.alloc` of a block in one static arena, by liveness.

A buffer is live from the op that allocates it to the last op of its block that uses
it or a `cpu.view` of it. Buffers whose live ranges do not overlap may share bytes.
Placement is greedy by size (largest first, each at the lowest offset that does not
collide with an already placed, overlapping buffer): the heuristic of TFLite's arena
planner, near-optimal on the chains that CNNs are.

Kernel scratch is planned too: each `cpu.call` needs, on every thread that runs it, the
floats its kernel's `scratch` formula (kernels/abi.py) gives for its parameters, in each
scratch slot, for as long as the call runs. No two calls of one thread run at once, so
every call's slot starts at the slot's beginning and a slot is as large as its largest
need; the C++ target gives each thread that storage, and a kernel asking for more stops
the program.

The function gets three attributes: `cpu.arena_size` (bytes of the arena),
`cpu.unshared_size` (the sum of all buffer sizes, what no sharing would cost) and
`cpu.scratch_floats` (floats per thread of each scratch slot). A thread of a run holds at
most its arena and its scratch: the peak memory of a run on T threads is the weights
plus T x (arena + scratch).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func, memref
from xdsl.dialects.builtin import DenseArrayBase, IntegerAttr, MemRefType, ModuleOp, i64
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from mnistc.dialects import cpu
from mnistc.kernels.abi import SCRATCH_SLOTS

DEFAULT_ALIGNMENT = 64
"""Bytes; a cache line, and what the C++ target aligns the arena to."""


@dataclass
class BufferLife:
    alloc: memref.AllocOp
    size: int
    first: int
    last: int
    offset: int = -1

    def overlaps(self, other: BufferLife) -> bool:
        return self.first <= other.last and other.first <= self.last


def buffer_bytes(type_: MemRefType, alignment: int = DEFAULT_ALIGNMENT) -> int:
    size = cpu.buffer_size(type_)
    return size + (-size % alignment)


def _ancestor_in(block: Block, op: Operation) -> Operation | None:
    while op is not None and op.parent_block() is not block:
        op = op.parent_op()
    return op


def last_use(block: Block, value: SSAValue, index: dict[Operation, int]) -> int:
    """The index in `block` of the last op that uses `value` or a `cpu.view` of it (its
    definition when nothing does): where the buffer's life ends."""
    last = index[value.owner] if isinstance(value.owner, Operation) else 0
    for use in value.uses:
        user = _ancestor_in(block, use.operation)
        if user is None:
            continue
        last = max(last, index[user])
        if isinstance(use.operation, cpu.ViewOp):
            last = max(last, last_use(block, use.operation.result, index))
    return last


def live_ranges(block: Block, alignment: int = DEFAULT_ALIGNMENT) -> list[BufferLife]:
    index = {op: i for i, op in enumerate(block.ops)}
    return [
        BufferLife(
            op, buffer_bytes(op.memref.type, alignment), i, last_use(block, op.memref, index)
        )
        for op, i in index.items()
        if isinstance(op, memref.AllocOp)
    ]


def assign_offsets(buffers: list[BufferLife]) -> int:
    """Set each buffer's offset; return the arena size in bytes."""
    placed: list[BufferLife] = []
    for buffer in sorted(buffers, key=lambda b: (-b.size, b.first)):
        offset = 0
        for other in sorted(placed, key=lambda b: b.offset):
            if not buffer.overlaps(other):
                continue
            if offset + buffer.size <= other.offset:
                break
            offset = max(offset, other.offset + other.size)
        buffer.offset = offset
        placed.append(buffer)
    return max((b.offset + b.size for b in buffers), default=0)


def _blocks_with_allocs(function: func.FuncOp) -> list[Block]:
    blocks = {}
    for op in function.walk():
        if isinstance(op, memref.AllocOp) and op.parent_block() is not None:
            blocks[id(op.parent_block())] = op.parent_block()
    return list(blocks.values())


def plan_function(
    function: func.FuncOp, alignment: int = DEFAULT_ALIGNMENT
) -> tuple[int, int]:
    """Replace the function's allocs by arena slots; return (arena, unshared) bytes."""
    blocks = _blocks_with_allocs(function)
    if not blocks and "cpu.arena_size" in function.attributes:
        return _planned_sizes(function)
    arena = unshared = 0
    for block in blocks:
        buffers = live_ranges(block, alignment)
        base = arena
        arena = base + assign_offsets(buffers)
        for buffer in buffers:
            slot = cpu.ArenaSlotOp(base + buffer.offset, buffer.alloc.memref.type)
            slot.result.name_hint = buffer.alloc.memref.name_hint
            buffer.alloc.memref.replace_all_uses_with(slot.result)
            block.insert_op_before(slot, buffer.alloc)
            block.erase_op(buffer.alloc)
            unshared += buffer.size
    function.attributes["cpu.arena_size"] = IntegerAttr(arena, i64)
    function.attributes["cpu.unshared_size"] = IntegerAttr(unshared, i64)
    function.attributes["cpu.scratch_floats"] = DenseArrayBase.from_list(i64, plan_scratch(function))
    return arena, unshared


def call_scratch(call: cpu.CallOp) -> tuple[int, ...]:
    """Floats per thread, by scratch slot, that the call's kernel asks for at most."""
    return call.kernel.scratch_floats(call.param_values())


def plan_scratch(function: func.FuncOp) -> tuple[int, ...]:
    """Each slot's floats per thread: the largest need of any call (their lives, one
    call each, never overlap on a thread)."""
    slots = [0] * SCRATCH_SLOTS
    for op in function.walk():
        if isinstance(op, cpu.CallOp):
            slots = [max(a, b) for a, b in zip(slots, call_scratch(op))]
    return tuple(slots)


def planned_scratch(function: func.FuncOp) -> tuple[int, ...]:
    """The scratch plan `plan-memory` recorded, else (at -O0) the same plan made now."""
    attr = function.attributes.get("cpu.scratch_floats")
    if isinstance(attr, DenseArrayBase):
        return tuple(attr.get_values())
    return plan_scratch(function)


def scratch_bytes(function: func.FuncOp) -> int:
    """Bytes of kernel scratch per thread, every slot 64-byte aligned."""
    return sum(-(-4 * floats // 64) * 64 for floats in planned_scratch(function))


def _planned_sizes(function: func.FuncOp) -> tuple[int, int]:
    """The sizes an earlier run of the pass recorded."""
    arena, unshared = (function.attributes[k] for k in ("cpu.arena_size", "cpu.unshared_size"))
    assert isinstance(arena, IntegerAttr) and isinstance(unshared, IntegerAttr)
    return arena.value.data, unshared.value.data


@dataclass(frozen=True)
class PlanMemoryPass(ModulePass):
    """Option `alignment`: bytes each buffer is padded to (a power of two, at least 4)."""

    name = "plan-memory"
    alignment: int = DEFAULT_ALIGNMENT

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.alignment < 4 or self.alignment & (self.alignment - 1):
            raise PassFailedException(
                f"plan-memory: alignment must be a power of two >= 4, got {self.alignment}"
            )
        for function in op.ops:
            if isinstance(function, func.FuncOp) and not function.is_declaration:
                plan_function(function, self.alignment)
