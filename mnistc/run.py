"""`mnistc run`: classify real inputs with a compiled model and print the top classes.

Inputs are read by their kind (`read_inputs`): PNG/JPEG images (Pillow, an optional
dependency), `.npy` arrays of any float or integer dtype, MNIST idx files (`.gz` or not),
and raw float32 files; a directory stands for the files in it, in name order. Pixel data
(images, idx files, integer arrays) goes through the preprocessing the compiled model
declares (mnistc/preprocessing.py), else pixels / 255; float data is taken as it is. An
explicit `Preprocessing` (the CLI's `--scale/--mean/--std/--channel-order`) applies to
every input instead. Samples stream through the model `chunk` at a time, with progress
on stderr.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnistc.errors import MnistcError
from mnistc.preprocessing import PIXELS_OVER_255, Preprocessing

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
MODEL_SUFFIXES = (".pt", ".pth", ".pt2", ".onnx")


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


class Progress:
    """A progress line on stderr, redrawn in place on a terminal (silent otherwise), and
    a throughput line at the end; neither for a run of one small file."""

    def __init__(self, total_files: int, small: int, stream=sys.stderr):
        self.total_files, self.small, self.stream = total_files, small, stream
        self.files = self.samples = 0
        self.start = time.perf_counter()
        self.tty = hasattr(stream, "isatty") and stream.isatty()

    def advance(self, samples: int, files: int = 0) -> None:
        self.samples += samples
        self.files += files
        if self.tty and not self.quiet:
            width = 30
            done = int(width * self.files / max(self.total_files, 1))
            self.stream.write(f"\r[{'#' * done}{'.' * (width - done)}] {self.files}/{self.total_files} files, "
                              f"{self.samples} samples")  # fmt: skip
            self.stream.flush()

    @property
    def quiet(self) -> bool:
        return self.total_files == 1 and self.samples <= self.small

    def finish(self) -> None:
        if self.quiet:
            return
        seconds = time.perf_counter() - self.start
        if self.tty:
            self.stream.write("\n")
        rate = self.samples / seconds if seconds > 0 else float("inf")
        self.stream.write(f"mnistc: {self.samples} samples from {self.files} files in {seconds:.2f} s "
                          f"({rate:.0f} samples/s)\n")  # fmt: skip


def softmax(outputs: np.ndarray) -> np.ndarray:
    """Class probabilities from logits or log-probabilities (softmax is shift-invariant,
    so log_softmax outputs give their own probabilities back)."""
    shifted = outputs - outputs.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def top_classes(outputs: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
    probabilities = softmax(outputs.astype(np.float64))
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return [[(int(c), float(p[c])) for c in row] for row, p in zip(order, probabilities)]


def read_labels(path: str | Path | None) -> list[str] | None:
    if path is None:
        return None
    try:
        return [line.strip() for line in Path(path).read_text().splitlines()]
    except (OSError, UnicodeDecodeError) as e:
        raise MnistcError(f"{path}: cannot read the labels ({e})") from None


def format_top(name: str, top: list[tuple[int, float]], labels: list[str] | None) -> str:
    def label(c: int) -> str:
        return labels[c] if labels is not None and c < len(labels) else str(c)

    return f"{name}: " + ", ".join(f"{label(c)} ({p:.3f})" for c, p in top)


class Runner:
    """Something that maps float32 [N, *input_shape] to [N, outputs]: a library loaded
    in process, or an executable run on a temporary file."""

    def __init__(self, target: Path, work: Path):
        from mnistc.runtime import CompiledModel

        self.executable = None
        if target.suffix.lower() in MODEL_SUFFIXES:
            from mnistc.driver import CompileOptions, compile_model

            library = work / "libmodel.so"
            compile_model(target, library, CompileOptions(shared=True))
            target = library
        if _is_elf_executable(target):
            self.executable = target = target.resolve()
            self.input_shape, self.preprocessing = _executable_info(target)
        else:
            self.model = CompiledModel(target)
            self.input_shape, self.preprocessing = self.model.input_shape, self.model.preprocessing
        self.work = work

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if self.executable is None:
            return self.model(batch)
        inputs, outputs = self.work / "in.bin", self.work / "out.bin"
        np.ascontiguousarray(batch, np.float32).tofile(inputs)
        result = subprocess.run([str(self.executable), str(inputs), str(outputs)], capture_output=True, text=True)
        if result.returncode != 0:
            raise MnistcError(f"{self.executable}: {result.stderr.strip() or f'exit {result.returncode}'}")
        return np.fromfile(outputs, np.float32).reshape(len(batch), -1)


def _is_elf_executable(path: Path) -> bool:
    """An ELF file of type EXEC or DYN that is not a library (no `.so` in its name)."""
    try:
        with open(path, "rb") as f:
            head = f.read(18)
    except OSError as e:
        raise MnistcError(f"{path}: {e.strerror}") from None
    return head[:4] == b"\x7fELF" and ".so" not in path.name and os.access(path, os.X_OK)


def _executable_info(path: Path) -> tuple[tuple[int, ...], Preprocessing | None]:
    """The sample shape and declared preprocessing an mnistc executable prints (`--info`)."""
    import json

    result = subprocess.run([str(path), "--info"], capture_output=True, text=True)
    try:
        info = json.loads(result.stdout)
        shape = tuple(int(d) for d in info["input_shape"])
        declared = info["preprocessing"]
    except (ValueError, KeyError, TypeError):
        raise MnistcError(f"{path}: not an executable built by `mnistc compile` (no --info)") from None
    return shape, None if declared is None else Preprocessing.from_json(json.dumps(declared), str(path))


def run(
    target: str | Path,
    inputs: Sequence[str | Path],
    top: int = 3,
    labels: str | Path | None = None,
    output: str | Path | None = None,
    prep: Preprocessing | None = None,
    chunk: int = 256,
    log=print,
    progress_stream=sys.stderr,
) -> np.ndarray:
    """Classify every input with `target` (a model file, an mnistc library or
    executable); print the top classes per sample and return all outputs."""
    if top < 1:
        raise MnistcError("--top must be at least 1")
    names = read_labels(labels)
    files = input_files(inputs)
    with tempfile.TemporaryDirectory(prefix="mnistc-run-") as work:
        runner = Runner(Path(target), Path(work))
        shape = tuple(runner.input_shape)
        progress = Progress(len(files), chunk, progress_stream)
        results = []
        for samples in read_inputs(files, shape):
            for start in range(0, len(samples.data), chunk):
                data = prepared(samples.data[start : start + chunk], samples.pixels, prep, runner.preprocessing)
                outputs = runner(data)
                for name, row in zip(samples.names[start : start + chunk], top_classes(outputs, top)):
                    log(format_top(name, row, names))
                results.append(outputs)
                progress.advance(len(outputs))
            progress.advance(0, files=1)
        progress.finish()
    everything = np.concatenate(results)
    if output is not None:
        from mnistc.outputs import write_bytes

        buffer = io.BytesIO()
        np.save(buffer, everything)
        write_bytes(output, buffer.getvalue())
    return everything
