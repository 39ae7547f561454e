"""The weight file behind `nn.weight` and `cpu.weight`.

Raw little-endian float32 tensors, each starting at a multiple of 64 bytes; the module's
`nn.weights_file` attribute names the file. Passes that compute new constants (batch-norm
folding, constant folding, weight packing) append to it, so earlier offsets stay valid.

A file is found in the in-memory registry first (the driver keeps the model's weights
there while it compiles), then on disk, relative to the working directory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import ModuleOp, StringAttr

from mnistc.dialects import nn
from mnistc.errors import MnistcError
from mnistc.outputs import write_bytes

ATTRIBUTE = "nn.weights_file"
ALIGNMENT = 64


class WeightFileError(MnistcError):
    pass


class WeightFile:
    """Tensors at byte offsets in one growing buffer."""

    def __init__(self, data: bytes = b"", name: str = "") -> None:
        self._data = bytearray(data)
        self.name = name
        self.modified = False

    def __len__(self) -> int:
        return len(self._data)

    def data(self) -> bytes:
        return bytes(self._data)

    def append(self, array: np.ndarray) -> int:
        """Store the array as float32; return its byte offset."""
        self._data.extend(b"\0" * (-len(self._data) % ALIGNMENT))
        offset = len(self._data)
        self._data.extend(np.ascontiguousarray(array, dtype="<f4").tobytes())
        self.modified = True
        return offset

    def read(self, offset: int, shape: Sequence[int]) -> np.ndarray:
        count = int(np.prod(shape, dtype=np.int64))
        if offset < 0 or offset + 4 * count > len(self._data):
            raise WeightFileError(
                f"weight at offset {offset} with shape {list(shape)} lies outside "
                f"'{self.name}' ({len(self._data)} bytes)"
            )
        return np.frombuffer(self._data, dtype="<f4", count=count, offset=offset).reshape(shape).copy()

    def save(self, path: str | Path) -> None:
        """Write by the rule of `mnistc.outputs`: readers never see a half-written file."""
        write_bytes(path, self._data)
        self.modified = False


def weight_op(weights: WeightFile, key: str, array: np.ndarray) -> nn.WeightOp:
    """Append `array` and return the `nn.weight` op that references it."""
    op = nn.WeightOp(key, weights.append(array), np.shape(array))
    hint = re.sub(r"[^A-Za-z0-9_]", "_", key)
    op.result.name_hint = hint if hint[:1].isalpha() else f"w_{hint}"
    return op


_IN_MEMORY: dict[str, WeightFile] = {}


@contextmanager
def in_memory(name: str, weights: WeightFile) -> Iterator[WeightFile]:
    """Serve `name` from memory for the duration (how the driver runs passes)."""
    previous = _IN_MEMORY.get(name)
    _IN_MEMORY[name] = weights
    try:
        yield weights
    finally:
        if previous is None:
            del _IN_MEMORY[name]
        else:
            _IN_MEMORY[name] = previous


def weights_name(module: ModuleOp) -> str:
    attr = module.attributes.get(ATTRIBUTE)
    if not isinstance(attr, StringAttr):
        raise WeightFileError(f"the module has no '{ATTRIBUTE}' attribute naming its weights")
    return attr.data


def load(module: ModuleOp) -> WeightFile:
    """The weight file of a module, from memory or disk."""
    name = weights_name(module)
    if name in _IN_MEMORY:
        return _IN_MEMORY[name]
    try:
        return WeightFile(Path(name).read_bytes(), name)
    except OSError as e:
        raise WeightFileError(f"cannot read weight file '{name}': {e.strerror}") from None


def store(module: ModuleOp, weights: WeightFile) -> None:
    """Persist what a pass appended (a no-op for in-memory files)."""
    if weights.modified and not any(w is weights for w in _IN_MEMORY.values()):
        weights.save(weights.name)


def set_weights_name(module: ModuleOp, name: str) -> ModuleOp:
    module.attributes[ATTRIBUTE] = StringAttr(name)
    return module
