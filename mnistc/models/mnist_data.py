"""Reading MNIST's idx files (optionally gzipped) into float32 arrays scaled to [0, 1]."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from mnistc.errors import MnistcError

IMAGES = "t10k-images-idx3-ubyte"
LABELS = "t10k-labels-idx1-ubyte"

TRAIN_SLICE = slice(0, 8000)
HELD_OUT_SLICE = slice(8000, 10000)
"""The project's convention: train on test images 0-7999, evaluate on 8000-9999."""


class MnistDataError(MnistcError):
    """The data directory or one of its files is missing or malformed."""


def _read_idx(path: Path, magic: int) -> np.ndarray:
    candidates = [path, path.with_name(path.name + ".gz")]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        raise MnistDataError(f"{path} (or {path.name}.gz) not found")
    opener = gzip.open if found.suffix == ".gz" else open
    with opener(found, "rb") as f:
        data = f.read()
    header = np.frombuffer(data[:4], dtype=">u4")[0]
    if header != magic:
        raise MnistDataError(f"{found} is not an idx file (magic {header}, expected {magic})")
    ndim = magic & 0xFF
    dims = np.frombuffer(data[4 : 4 + 4 * ndim], dtype=">u4").astype(int)
    values = np.frombuffer(data[4 + 4 * ndim :], dtype=np.uint8)
    if values.size != int(np.prod(dims)):
        raise MnistDataError(f"{found} is truncated")
    return values.reshape(dims)


def load_mnist(data_dir: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Images as float32 [N, 1, 28, 28] in [0, 1] and labels as int64 [N]."""
    data_dir = Path(data_dir)
    images = _read_idx(data_dir / IMAGES, 2051)
    labels = _read_idx(data_dir / LABELS, 2049)
    if len(images) != len(labels):
        raise MnistDataError("image and label counts differ")
    return (images.astype(np.float32) / 255.0)[:, None], labels.astype(np.int64)


def default_data_dir() -> Path | None:
    """`../shared/data/mnist` next to the repository, where the project keeps MNIST."""
    repo = Path(__file__).resolve().parents[2]
    candidate = repo.parent / "shared" / "data" / "mnist"
    return candidate if candidate.is_dir() else None
