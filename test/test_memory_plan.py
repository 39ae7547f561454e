"""The arena planner: buffers live at the same time never share bytes, others may."""

from __future__ import annotations

import random

import pytest

from mnistc.memory.plan_memory import BufferLife, assign_offsets


def random_buffers(seed: int) -> list[BufferLife]:
    rng = random.Random(seed)
    buffers = []
    for _ in range(rng.randint(1, 30)):
        first = rng.randint(0, 40)
        buffers.append(BufferLife(None, 64 * rng.randint(1, 50), first, first + rng.randint(0, 10)))
    return buffers


@pytest.mark.parametrize("seed", range(50))
def test_live_buffers_never_overlap(seed):
    buffers = random_buffers(seed)
    arena = assign_offsets(buffers)
    for a in buffers:
        assert a.offset >= 0 and a.offset % 64 == 0 and a.offset + a.size <= arena
        for b in buffers:
            if a is not b and a.overlaps(b):
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset
    assert arena <= sum(b.size for b in buffers)
    peak = max(
        sum(b.size for b in buffers if b.first <= t <= b.last)
        for t in range(0, 60)
    )
    assert arena >= peak


def test_chain_reuses_memory():
    """a -> b -> c: a and c are never live together, so c takes a's place."""
    a, b, c = BufferLife(None, 1024, 0, 1), BufferLife(None, 2048, 1, 2), BufferLife(None, 1024, 2, 3)
    assert assign_offsets([a, b, c]) == 3072
    assert c.offset == a.offset
