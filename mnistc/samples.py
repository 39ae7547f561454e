"""Samples read from files by their kind, for `mnistc run` and calibration.

PNG/JPEG images (Pillow, an optional dependency), `.npy` arrays of any float or integer
dtype, MNIST idx files (`.gz` or not) and raw float32 files; a directory stands for the
files in it, in name order. `prepared` turns what was read into float32 model inputs.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnistc.errors import MnistcError
from mnistc.preprocessing import PIXELS_OVER_255, Preprocessing

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


@dataclass
class Samples:
    """A run of samples from one source, as read: [N, *sample_shape] values, whether they
    are raw pixels (integers) or prepared floats, and their names."""

    names: list[str]
    data: np.ndarray
    pixels: bool


def _sample_text(shape: Sequence[int]) -> str:
    return "x".join(map(str, shape))


def as_batch(array: np.ndarray, shape: tuple[int, ...], source: str) -> np.ndarray:
    """`array` as [N, *shape]: a batch, one sample, or (for one channel) samples
    without their channel dimension, as MNIST's [N, 28, 28]."""
    if array.shape == shape:
        return array[np.newaxis]
    if array.shape[1:] == shape:
        return array
    if shape[0] == 1 and array.shape[1:] == shape[1:]:
        return array[:, np.newaxis]
    if shape[0] == 1 and array.shape == shape[1:]:
        return array[np.newaxis, np.newaxis]
    raise MnistcError(
        f"{source}: an array of shape {list(array.shape)}, but the model takes samples of "
        f"{_sample_text(shape)} ([N, {', '.join(map(str, shape))}] or one sample)"
    )


def read_npy(path: Path, shape: tuple[int, ...]) -> Samples:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)  # read chunk by chunk
    except (ValueError, OSError, EOFError) as e:
        raise MnistcError(f"{path}: not a readable .npy file ({e})") from None
    if array.dtype.kind not in "fiub":
        raise MnistcError(f"{path}: dtype {array.dtype} is not numeric")
    batch = as_batch(array, shape, str(path))
    return Samples([f"{path.name}[{i}]" for i in range(len(batch))], batch, array.dtype.kind in "iub")


def read_idx(path: Path, shape: tuple[int, ...]) -> Samples:
    """An MNIST idx file of unsigned bytes: magic 0x0803 (images) and big-endian sizes."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise MnistcError(f"{path}: not a readable idx file ({e})") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise MnistcError(f"{path}: not an idx file of unsigned bytes (bad magic number)")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    body = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise MnistcError(f"{path}: {body.size} bytes of data for dimensions {list(dims)}")
    batch = as_batch(body.reshape(dims), shape, str(path))
    return Samples([f"{path.name}[{i}]" for i in range(len(batch))], batch, True)


def read_image(path: Path, shape: tuple[int, ...]) -> Samples:
    """An image file, as grayscale or RGB by the model's channels, resized to its H x W."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise MnistcError(f"{path}: reading images needs Pillow (pip install pillow)") from None
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise MnistcError(f"{path}: an image, but the model takes samples of {_sample_text(shape)}")
    try:
        with Image.open(path) as image:
            image = image.convert("L" if shape[0] == 1 else "RGB")
            if image.size != (shape[2], shape[1]):
                image = image.resize((shape[2], shape[1]), Image.BILINEAR)
            pixels = np.asarray(image)
    except (UnidentifiedImageError, OSError) as e:
        raise MnistcError(f"{path}: not a readable image ({e})") from None
    chw = pixels[np.newaxis] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    return Samples([path.name], chw[np.newaxis], True)


def read_raw(path: Path, shape: tuple[int, ...]) -> Samples:
    sample_bytes = 4 * int(np.prod(shape))
    size = path.stat().st_size
    if size == 0 or size % sample_bytes:
        raise MnistcError(
            f"{path}: {size} bytes is not a whole number of {_sample_text(shape)} float32 "
            f"samples ({sample_bytes} bytes each); give .npy, an idx file or an image instead"
        )
    data = np.memmap(path, np.float32, mode="r").reshape(-1, *shape)  # read chunk by chunk
    return Samples([f"{path.name}[{i}]" for i in range(len(data))], data, False)


def _reader(path: Path):
    name = path.name.lower()
    if name.endswith(".npy"):
        return read_npy
    if "idx" in name or name.endswith("-ubyte") or name.endswith("-ubyte.gz"):
        return read_idx
    if name.endswith(IMAGE_SUFFIXES):
        return read_image
    return read_raw


def input_files(paths: Sequence[str | Path]) -> list[Path]:
    """The files named, a directory standing for its files (not hidden) in name order."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            raise MnistcError(f"{path}: no such file or directory")
    if not files:
        raise MnistcError("no input files")
    return files


def read_inputs(files: Sequence[Path], shape: tuple[int, ...]) -> Iterator[Samples]:
    for path in files:
        yield _reader(path)(path, shape)


def prepared(data: np.ndarray, pixels: bool, explicit: Preprocessing | None,
             declared: Preprocessing | None) -> np.ndarray:  # fmt: skip
    """Float32 model inputs: an explicit preprocessing for everything; else pixels through
    the model's declared one (pixels / 255 without a declaration), floats as they are."""
    if explicit is not None:
        return explicit.apply(data)
    if pixels:
        return (declared or PIXELS_OVER_255).apply(data)
    return np.ascontiguousarray(data, dtype=np.float32)
