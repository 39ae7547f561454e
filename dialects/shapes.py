"""Static shapes of tensors and buffers, read and counted in one place for every level
(the `nn` and `cpu` dialects, the lowering, the memory plan and the C++ target)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from xdsl.dialects.builtin import MemRefType, TensorType
from xdsl.ir import Attribute, SSAValue


def shape_of(value: SSAValue | Attribute) -> tuple[int, ...]:
    """The shape of a tensor or memref value, or of such a type (dynamic dimensions are
    negative)."""
    type_ = value.type if isinstance(value, SSAValue) else value
    assert isinstance(type_, TensorType | MemRefType), type_
    return tuple(type_.get_shape())


def element_count(shape: Sequence[int]) -> int:
    """The number of elements of a static shape (1 for a scalar's empty shape)."""
    return math.prod(shape)


def unsqueeze_h(shape: Sequence[int]) -> tuple[int, ...]:
    """[N, C, L] → [N, C, 1, L]: a 1-D layer's tensor as its 2-D counterpart sees it (the
    importers bring conv1d, the 1-D pools and resizes to the 2-D ops this way)."""
    return (*shape[:2], 1, *shape[2:])


def squeeze_h(shape: Sequence[int]) -> tuple[int, ...]:
    """[N, C, 1, L] → [N, C, L]: a 2-D result back in the 1-D layer's shape."""
    return (*shape[:2], *shape[3:])
