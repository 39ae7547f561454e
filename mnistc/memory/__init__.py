"""Memory planning (plan_memory.py) and what its plan adds up to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlannedMemory:
    """What a compiled model holds, in bytes, as planned at compile time: the same figures
    the C++ target compiles into the program (`mnistc_model_*_bytes`, `--info`)."""

    weights: int
    """Embedded weights and constant buffers."""
    arena: int
    """One sample's buffers, per thread."""
    scratch: int
    """The kernels' scratch, per thread."""

    def peak(self, threads: int = 1) -> int:
        """Weights plus, for every thread, its arena and its scratch."""
        return self.weights + threads * (self.arena + self.scratch)
