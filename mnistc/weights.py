"""The weight file behind `nn.weight` and `cpu.weight`.

Raw little-endian tensors, each starting at a multiple of 64 bytes; the module's
`nn.weights_file` attribute names the file. Tensors are float32, except the int8 weights
and int32 biases of quantized layers (`STORED_DTYPES`): the `nn.weight` op's element
type says how its bytes read. Passes that compute new constants (batch-norm
folding, constant folding, weight packing) append to it, so earlier offsets stay valid.

Passes reach the file through the `WeightStore` of the pipeline's context
(`mnistc.context.MnistcContext`, see `of`): the driver puts the model's weights there,
and `mnistc-opt` lets the store read a file from disk on first use. The store never writes:
whoever owns the pipeline decides where appended weights go.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr, f32, i8, i32
from xdsl.ir import Attribute

from mnistc.dialects import nn
from mnistc.errors import MnistcError
from mnistc.outputs import write_bytes

ATTRIBUTE = "nn.weights_file"
ALIGNMENT = 64
STORED_DTYPES: dict[Attribute, np.dtype] = {
    f32: np.dtype("<f4"), i8: np.dtype("i1"), i32: np.dtype("<i4")
}  # fmt: skip
"""The element types a weight file stores, and how their bytes read."""


def stored_type(array: np.ndarray) -> Attribute:
    """int8 and int32 arrays are stored as they are; anything else as float32."""
    return {np.dtype("int8"): i8, np.dtype("int32"): i32}.get(np.asarray(array).dtype, f32)


def dtype_of_type(element_type: Attribute) -> np.dtype:
    """The NumPy dtype of a stored IR element type (f32, i8, i32)."""
    return STORED_DTYPES[element_type]


class WeightFileError(MnistcError):
    pass


class WeightFile:
    """Tensors at byte offsets in one growing buffer.

    Models can be large, so the buffer is copied only where it must be: a file is read
    straight into it, tensors are appended from their own memory, and `data` is a view.
    """

    def __init__(self, data: bytes | bytearray = b"", name: str = "") -> None:
        self._data = data if isinstance(data, bytearray) else bytearray(data)
        self.name = name
        self.modified = False

    @classmethod
    def from_file(cls, path: str | Path, name: str | None = None) -> WeightFile:
        """The file's bytes, read into the buffer without an intermediate copy."""
        with open(path, "rb") as file:
            data = bytearray(os.fstat(file.fileno()).st_size)
            size = file.readinto(data)
        del data[size:]  # the file shrank while we read it
        return cls(data, str(path) if name is None else name)

    def __len__(self) -> int:
        return len(self._data)

    def data(self) -> memoryview:
        """A read-only view of the bytes (no copy); release it before appending."""
        return memoryview(self._data).toreadonly()

    def _pad(self) -> int:
        self._data.extend(bytes(-len(self._data) % ALIGNMENT))
        self.modified = True
        return len(self._data)

    def append(self, array: np.ndarray) -> int:
        """Store the array (as float32 unless it is int8 or int32); return its byte offset."""
        offset = self._pad()
        data = np.ascontiguousarray(array, dtype=STORED_DTYPES[stored_type(array)])
        self._data.extend(data.reshape(-1).view(np.uint8))
        return offset

    def _check_span(self, offset: int, shape: Sequence[int], itemsize: int = 4) -> int:
        """The byte size of a tensor at `offset`, which must lie inside the file."""
        size = itemsize * int(np.prod(shape, dtype=np.int64))
        if offset < 0 or offset + size > len(self._data):
            raise WeightFileError(
                f"weight at offset {offset} with shape {list(shape)} lies outside "
                f"'{self.name}' ({len(self._data)} bytes)"
            )
        return size

    def read(self, offset: int, shape: Sequence[int], dtype: np.dtype = STORED_DTYPES[f32]) -> np.ndarray:
        """A copy of the tensor: a view would pin the buffer, which appends may move."""
        dtype = np.dtype(dtype)
        size = self._check_span(offset, shape, dtype.itemsize)
        count = size // dtype.itemsize
        return np.frombuffer(self._data, dtype=dtype, count=count, offset=offset).reshape(shape).copy()

    def keep_only(
        self, tensors: Iterable[tuple[int, Sequence[int]] | tuple[int, Sequence[int], int]]
    ) -> dict[tuple[int, tuple[int, ...]], int]:
        """Drop every byte that none of `tensors` (offset, shape[, itemsize: 4 when
        absent]) covers, moving the rest down in place (no second buffer); return each
        tensor's new offset by (offset, shape). Overlapping tensors move together, and
        every offset keeps its alignment."""
        sizes: dict[tuple[int, tuple[int, ...]], int] = {}
        for offset, shape, *itemsize in tensors:
            key = (offset, tuple(shape))
            sizes[key] = max(sizes.get(key, 0), itemsize[0] if itemsize else 4)
        spans = sorted(sizes)
        regions: list[list[int]] = []  # [old start, old end, new start]
        for offset, shape in spans:
            end = offset + self._check_span(offset, shape, sizes[(offset, shape)])
            if regions and offset < regions[-1][1]:
                regions[-1][1] = max(regions[-1][1], end)
            else:
                regions.append([offset, end, 0])
        cursor = 0
        with memoryview(self._data) as view:
            for region in regions:
                start, end, _ = region
                region[2] = cursor + (start - cursor) % ALIGNMENT  # <= start: moves down
                view[region[2] : region[2] + end - start] = view[start:end]
                cursor = region[2] + end - start
        del self._data[cursor:]
        self.modified = True
        starts = [start for start, _, _ in regions]
        moved = {}
        for offset, shape in spans:
            start, _, new_start = regions[bisect.bisect_right(starts, offset) - 1]
            moved[(offset, shape)] = new_start + offset - start
        return moved

    def save(self, path: str | Path) -> None:
        """Write by the rule of `mnistc.outputs`: readers never see a half-written file."""
        write_bytes(path, self._data)
        self.modified = False


def weight_op(weights: WeightFile, key: str, array: np.ndarray) -> nn.WeightOp:
    """Append `array` and return the `nn.weight` op that references it (float32, or int8
    and int32 kept as they are)."""
    op = nn.WeightOp(key, weights.append(array), np.shape(array), stored_type(array))
    op.result.name_hint = name_hint(key)
    return op


def name_hint(key: str) -> str:
    """An SSA name for a weight's key (`0.weight` of a Sequential -> `w_0_weight`)."""
    hint = re.sub(r"[^A-Za-z0-9_]", "_", key)
    return hint if hint[:1].isalpha() else f"w_{hint}"


def weights_name(module: ModuleOp) -> str:
    attr = module.attributes.get(ATTRIBUTE)
    if not isinstance(attr, StringAttr):
        raise WeightFileError(f"the module has no '{ATTRIBUTE}' attribute naming its weights")
    return attr.data


def set_weights_name(module: ModuleOp, name: str) -> ModuleOp:
    module.attributes[ATTRIBUTE] = StringAttr(name)
    return module


def read_file(name: str) -> WeightFile:
    """A weight file from disk, relative to the working directory."""
    try:
        return WeightFile.from_file(name)
    except OSError as e:
        raise WeightFileError(f"cannot read weight file '{name}': {e.strerror}") from None


def load(module: ModuleOp) -> WeightFile:
    """The weight file that a module names, read from disk."""
    return read_file(weights_name(module))


class WeightStore:
    """The weight files of one pipeline, by the name that `nn.weights_file` gives.

    A name that nobody added is read from disk on first use; after that every pass works
    on the same buffer, so what one pass appends the next one sees. Nothing is written
    back: `modified()` tells the pipeline's owner what changed.
    """

    def __init__(self) -> None:
        self._files: dict[str, WeightFile] = {}

    def add(self, name: str, weights: WeightFile) -> WeightFile:
        """Serve `weights` under `name` (the driver's in-memory model, an output's name)."""
        self._files[name] = weights
        return weights

    def get(self, name: str) -> WeightFile:
        if name not in self._files:
            self._files[name] = read_file(name)
        return self._files[name]

    def size(self, name: str) -> int | None:
        """The byte size of a weight file, without reading it; None if there is none."""
        if name in self._files:
            return len(self._files[name])
        return file_size(name)

    def modified(self) -> dict[str, WeightFile]:
        """The files that passes appended to since they were read or last saved."""
        return {name: weights for name, weights in self._files.items() if weights.modified}

    def clone(self) -> WeightStore:
        """An independent copy (for `Context.clone`): appends to it leave this one alone."""
        copy = WeightStore()
        for name, weights in self._files.items():
            duplicate = copy._files[name] = WeightFile(bytearray(weights.data()), weights.name)
            duplicate.modified = weights.modified
        return copy


def store_of(ctx: Context) -> WeightStore | None:
    """The weight store that the pipeline's context owns, if it is mnistc's context."""
    store = getattr(ctx, "weights", None)
    return store if isinstance(store, WeightStore) else None


def of(ctx: Context, module: ModuleOp) -> WeightFile:
    """The weight file of `module`, as the pass pipeline running in `ctx` holds it."""
    store = store_of(ctx)
    if store is None:
        raise WeightFileError(
            "this pass reads and adds weights through the context's weight store: run it in "
            "a mnistc.context.MnistcContext (mnistc.ir.make_context(), as mnistc-opt "
            "does), not a plain xDSL Context"
        )
    return store.get(weights_name(module))


def file_size(name: str) -> int | None:
    try:
        return Path(name).stat().st_size
    except OSError:
        return None


def size(ctx: Context, name: str) -> int | None:
    """The byte size of weight file `name` as a pipeline in `ctx` sees it (the store's
    copy, else the file on disk); None when there is no such file."""
    store = store_of(ctx)
    return store.size(name) if store is not None else file_size(name)
