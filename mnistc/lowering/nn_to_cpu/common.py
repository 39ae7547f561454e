"""What the families' lowerings share: the kernel call they return, an absent optional
input, and the error they raise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.ir import SSAValue

from mnistc.errors import MnistcError


class LoweringError(MnistcError):
    pass


@dataclass(frozen=True)
class Null:
    """An absent optional input of the given shape: `cpu.null`, a nullptr in C++."""

    shape: tuple[int, ...]


@dataclass(frozen=True)
class KernelCall:
    """One call writing (part of) the op's result: kernel name, inputs, params by name."""

    kernel: str
    inputs: Sequence[SSAValue | Null]
    params: dict[str, int | float]


def optional(value: SSAValue | None, shape: Sequence[int]) -> SSAValue | Null:
    return value if value is not None else Null(tuple(shape))


def pairs(prefix: str, values: Sequence[int]) -> dict[str, int]:
    """`stride` (2, 1) → {"stride_h": 2, "stride_w": 1}."""
    height, width = values
    return {f"{prefix}_h": height, f"{prefix}_w": width}
