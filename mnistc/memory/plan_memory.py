"""plan-memory: place every `memref.alloc` of a block in one static arena, by liveness.

A buffer is live from the op that allocates it to the last op of its block that uses
it or a `cpu.view` of it. Buffers whose live ranges do not overlap may share bytes.
Placement is greedy by size (largest first, each at the lowest offset that does not
collide with an already placed, overlapping buffer): the heuristic of TFLite's arena
planner, near-optimal on the chains that CNNs are.

The function gets two attributes: `cpu.arena_size` (bytes of the arena) and
`cpu.unshared_size` (the sum of all buffer sizes, what no sharing would cost).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func, memref
from xdsl.dialects.builtin import IntegerAttr, MemRefType, ModuleOp, i64
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from mnistc.dialects import cpu

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
    return arena, unshared


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
