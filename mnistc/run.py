"""`mnistc run`: classify real inputs with a compiled model and print the top classes.

Inputs are read by their kind (`mnistc/samples.py`): PNG/JPEG images (Pillow, an optional
dependency), `.npy` arrays of any float or integer dtype, MNIST idx files (`.gz` or not),
and raw float32 files; a directory stands for the files in it, in name order. Pixel data
(images, idx files, integer arrays) goes through the preprocessing the compiled model
declares (mnistc/preprocessing.py), else pixels / 255; float data is taken as it is. An
explicit `Preprocessing` (the CLI's `--scale/--mean/--std/--channel-order`) applies to
every input instead. Samples stream through the model `chunk` at a time, with progress
on stderr.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mnistc.errors import MnistcError
from mnistc.preprocessing import Preprocessing
from mnistc.samples import input_files, prepared, read_inputs

MODEL_SUFFIXES = (".pt", ".pth", ".pt2", ".onnx")


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
            self.input_shape, self.preprocessing, counts = _executable_info(target)
        else:
            self.model = CompiledModel(target)
            self.input_shape, self.preprocessing = self.model.input_shape, self.model.preprocessing
            counts = (len(self.model.input_names), len(self.model.output_names))
        if counts != (1, 1):
            raise MnistcError(
                f"{target}: a model of {counts[0]} inputs and {counts[1]} outputs: `mnistc run` "
                "classifies with a model of one input and one output (run the executable with "
                "one file per input and output, or call CompiledModel with several arrays)"
            )
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


def _executable_info(path: Path) -> tuple[tuple[int, ...], Preprocessing | None, tuple[int, int]]:
    """The sample shape, declared preprocessing, and counts of inputs and outputs that an
    mnistc executable prints (`--info`; one of each for executables built before)."""
    import json

    result = subprocess.run([str(path), "--info"], capture_output=True, text=True)
    try:
        info = json.loads(result.stdout)
        shape = tuple(int(d) for d in info["input_shape"])
        declared = info["preprocessing"]
        counts = (len(info.get("inputs", [0])), len(info.get("output_shapes", [0])))
    except (ValueError, KeyError, TypeError):
        raise MnistcError(f"{path}: not an executable built by `mnistc compile` (no --info)") from None
    preprocessing = None if declared is None else Preprocessing.from_json(json.dumps(declared), str(path))
    return shape, preprocessing, counts


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
