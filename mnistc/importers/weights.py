"""The weight file: raw little-endian float32 tensors, each aligned to 64 bytes."""

from __future__ import annotations

import numpy as np
import torch
from xdsl.builder import Builder
from xdsl.ir import SSAValue

from mnistc.dialects import nn

ALIGNMENT = 64


class WeightFileBuilder:
    """Collects constant tensors and emits the `nn.weight` ops that reference them."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0

    def append(self, array: np.ndarray) -> int:
        """Store the array; return its byte offset."""
        offset = self._size
        raw = np.ascontiguousarray(array, dtype="<f4").tobytes()
        padding = -len(raw) % ALIGNMENT
        self._chunks.append(raw + b"\0" * padding)
        self._size += len(raw) + padding
        return offset

    def add(self, builder: Builder, key: str, tensor: torch.Tensor) -> SSAValue:
        array = tensor.detach().to(torch.float32).contiguous().numpy()
        offset = self.append(array)
        value = builder.insert(nn.WeightOp(key, offset, array.shape)).result
        value.name_hint = key.replace(".", "_")
        return value

    def data(self) -> bytes:
        return b"".join(self._chunks)
