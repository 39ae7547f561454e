"""What the families' lowerings share: the kernel call they return, an absent optional
input, a weight computed at compile time, and the error they raise."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from xdsl.ir import SSAValue

from mnistc.errors import MnistcError


class LoweringError(MnistcError):
    pass


@dataclass(frozen=True)
class Null:
    """An absent optional input of the given shape: `cpu.null`, a nullptr in C++."""

    shape: tuple[int, ...]


ConstantReader = Callable[[SSAValue], np.ndarray]
"""The value of a tensor that the model's weight file holds (an `nn.weight`)."""


@dataclass(frozen=True)
class PackedWeight:
    """A weight that the lowering computes at compile time from the model's constants (an
    int8 kernel's packed layout): `compute` gets a ConstantReader; the result is appended
    to the weight file and read through a `cpu.weight` named `key`."""

    key: str
    compute: Callable[[ConstantReader], np.ndarray]


@dataclass(frozen=True)
class KernelCall:
    """One call writing (part of) the op's result: kernel name, inputs, params by name."""

    kernel: str
    inputs: Sequence[SSAValue | Null | PackedWeight]
    params: dict[str, int | float]


def optional(value: SSAValue | None, shape: Sequence[int]) -> SSAValue | Null:
    return value if value is not None else Null(tuple(shape))


def pairs(prefix: str, values: Sequence[int]) -> dict[str, int]:
    """`stride` (2, 1) → {"stride_h": 2, "stride_w": 1}."""
    height, width = values
    return {f"{prefix}_h": height, f"{prefix}_w": width}
