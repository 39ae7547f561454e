"""Calling a compiled model in process: `mnistc compile --shared -o libmodel.so`, then

    model = CompiledModel("libmodel.so")
    logits = model(images)          # [N, C, H, W] (or one [C, H, W] sample) → [N, outputs]
    y, z = model(x, mask=mask)      # several inputs (in order or by name) and outputs

The input must have the model's sample shape, with or without a leading batch dimension.
NumPy arrays give NumPy arrays and torch tensors give torch tensors (on the CPU, float32).
Floating-point inputs of other precisions are converted to float32, as the model computes
in float32 (taken as prepared). Integer and boolean inputs are raw pixels: they go through
the preprocessing the model declared at compile time (`model.preprocessing`, e.g. pixels
/ 255 for the bundled model), and are refused when it declared none (and always for a
model of several inputs). A model of several inputs takes one array per input, each
with its own sample shape (`model.input_names`, `model.input_shapes`) and all with the
same batch; a model of several outputs returns a tuple of `[N, *output_shapes[j]]`
arrays (a model of one output returns its `[N, outputs]` array, as it always did). A `CompiledModel` pickles as its library's path, so it passes to
worker processes (multiprocessing, Ray, Dask), which load the library afresh.

Threads follow OMP_NUM_THREADS, or `model.set_num_threads(n)`. `model.profile(images)`
times each kernel call. A library compiled again in place is loaded afresh: a new
`CompiledModel` computes the new model, and older ones keep computing the old one.
"""

from __future__ import annotations

import ctypes
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np

from mnistc.errors import MnistcError
from mnistc.memory import PlannedMemory

_FLOATS = ctypes.POINTER(ctypes.c_float)

_libraries: dict[tuple[Path, tuple[int, ...]], ctypes.CDLL] = {}
"""Every library this process loaded, by path and the identity of the file it named."""
_libraries_lock = threading.Lock()


def _identity(path: Path) -> tuple[int, ...]:
    stat = path.stat()
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _load_library(path: Path) -> ctypes.CDLL:
    """dlopen `path`; a private copy of it when another file of that path was loaded
    before, since dlopen matches by name and would return the old library."""
    with _libraries_lock:
        key = (path, _identity(path))
        if key not in _libraries:
            if any(loaded == path for loaded, _ in _libraries):
                _libraries[key] = _load_copy(path)
            else:
                _libraries[key] = ctypes.CDLL(str(path))
        return _libraries[key]


def _load_copy(path: Path) -> ctypes.CDLL:
    with tempfile.TemporaryDirectory(prefix="mnistc-lib-") as scratch:
        copy = Path(scratch) / path.name
        shutil.copyfile(path, copy)
        return ctypes.CDLL(str(copy))  # stays mapped after the copy is removed


def _declared_preprocessing(lib: ctypes.CDLL, path: Path):
    """The library's `mnistc_model_preprocessing()` (libraries built before it have none)."""
    from mnistc.preprocessing import Preprocessing

    if not hasattr(lib, "mnistc_model_preprocessing"):
        return None
    lib.mnistc_model_preprocessing.restype = ctypes.c_char_p
    text = lib.mnistc_model_preprocessing().decode()
    return Preprocessing.from_json(text, str(path)) if text else None


def _imported_whole(lib: ctypes.CDLL) -> str | None:
    """The library's `mnistc_model_imported_whole()`, None for a model that runs any batch
    (and for libraries built before it)."""
    if not hasattr(lib, "mnistc_model_imported_whole"):
        return None
    lib.mnistc_model_imported_whole.restype = ctypes.c_char_p
    return lib.mnistc_model_imported_whole().decode() or None


def _is_torch_tensor(value) -> bool:
    """Whether `value` is a torch tensor, without importing torch for NumPy callers."""
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _signature(lib: ctypes.CDLL, kind: str) -> tuple[list[str], list[tuple[int, ...]]]:
    """The names and sample shapes of the library's inputs or outputs (`kind`); a library
    built before models had several has one of each, named `input` and `output`."""
    count = getattr(lib, f"mnistc_model_num_{kind}s", None)
    if count is None:
        shape = lib.mnistc_model_input_shape().decode() if kind == "input" else str(
            lib.mnistc_model_output_size()
        )
        return [kind], [_shape(shape)]
    count.restype = ctypes.c_int64
    name, shape = (getattr(lib, f"mnistc_model_{kind}_{what}") for what in ("name", "shape_of"))
    for function in (name, shape):
        function.restype, function.argtypes = ctypes.c_char_p, [ctypes.c_int64]
    indices = range(count())
    return [name(i).decode() for i in indices], [_shape(shape(i).decode()) for i in indices]


def _shape(text: str) -> tuple[int, ...]:
    """A sample shape from the ABI's "CxHxW" text ("" for a sample of one value)."""
    return tuple(int(d) for d in text.split("x")) if text else ()


class CompiledModel:
    """A shared library built by `mnistc compile --shared`, callable on NumPy arrays."""

    def __init__(self, path: str | Path):
        self.path = Path(path).resolve()
        try:
            self._lib = _load_library(self.path)
            run = self._lib.mnistc_model_run
        except (OSError, AttributeError) as e:
            raise MnistcError(f"{path}: not a library built by `mnistc compile --shared`: {e}") from None
        run.argtypes = [_FLOATS, _FLOATS, ctypes.c_int64]
        run.restype = ctypes.c_int
        for name in ("mnistc_model_input_size", "mnistc_model_output_size"):
            getattr(self._lib, name).restype = ctypes.c_int64
        self._lib.mnistc_model_input_shape.restype = ctypes.c_char_p
        self.input_size = int(self._lib.mnistc_model_input_size())
        self.output_size = int(self._lib.mnistc_model_output_size())
        self.input_names, self.input_shapes = _signature(self._lib, "input")
        self.output_names, self.output_shapes = _signature(self._lib, "output")
        self.input_shape = self.input_shapes[0]
        """The sample shape of the first (for most models the only) input."""
        self.preprocessing = _declared_preprocessing(self._lib, self.path)
        """What raw pixels go through before the model (None if not declared)."""
        self.imported_whole = _imported_whole(self._lib)
        """Why the model was imported whole, taking exactly one `input_shape` tensor
        (its input shape fixed, its batch not followable); None when it takes any batch."""

    def __call__(self, *inputs, **named):
        """The model on a batch [N, *input_shape] or one sample [*input_shape] of each
        input (in order, or by name): [N, outputs] of the input's kind (NumPy or torch)
        for a model of one output, a tuple of [N, *output_shapes[j]] for several."""
        arrays = [self._checked(a, i) for i, a in enumerate(self._in_order(inputs, named))]
        batch = self._common_batch(arrays)
        if len(self.output_names) == 1:
            shapes = [(batch, self.output_size)]
        else:
            shapes = [(batch, *shape) for shape in self.output_shapes]
        outputs = [np.empty(shape, dtype=np.float32) for shape in shapes]
        status = self._run(arrays, outputs, batch)
        if status != 0:
            raise MnistcError(f"the model failed (status {status})")
        if any(_is_torch_tensor(a) for a in (*inputs, *named.values())):
            import torch

            outputs = [torch.from_numpy(o) for o in outputs]
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def _run(self, arrays: list[np.ndarray], outputs: list[np.ndarray], batch: int) -> int:
        """One call of the C ABI: `mnistc_model_run` for one input and one output (which
        every library has), `mnistc_model_run_n` for more."""
        if len(arrays) == 1 and len(outputs) == 1:
            return self._lib.mnistc_model_run(
                arrays[0].ctypes.data_as(_FLOATS), outputs[0].ctypes.data_as(_FLOATS), batch
            )
        run = self._optional(
            "mnistc_model_run_n", ctypes.c_int, ctypes.POINTER(_FLOATS), ctypes.POINTER(_FLOATS), ctypes.c_int64
        )
        pointers = [(_FLOATS * len(group))(*(a.ctypes.data_as(_FLOATS) for a in group)) for group in (arrays, outputs)]
        return run(pointers[0], pointers[1], batch)

    def _in_order(self, inputs: tuple, named: dict) -> list:
        """The arrays given positionally and by name, in the model's input order."""
        names = self.input_names
        listed = ", ".join(names)
        if unknown := [k for k in named if k not in names]:
            raise MnistcError(f"unknown input {unknown[0]!r} (the model's inputs: {listed})")
        if twice := [k for k in named if names.index(k) < len(inputs)]:
            raise MnistcError(f"input {twice[0]!r} given twice (by position and by name)")
        ordered = list(inputs) + [None] * (len(names) - len(inputs))
        for key, value in named.items():
            ordered[names.index(key)] = value
        if len(ordered) != len(names) or any(v is None for v in ordered):
            given = len(inputs) + len(named)
            raise MnistcError(
                f"the model takes {len(names)} input{'s' if len(names) != 1 else ''} "
                f"({listed}), got {given}"
            )
        return ordered

    def _common_batch(self, arrays: list[np.ndarray]) -> int:
        """The batch all the inputs share, refused (naming them) when they differ."""
        batches = {a.shape[0] for a in arrays}
        if len(batches) > 1:
            sizes = ", ".join(f"{n} {a.shape[0]}" for n, a in zip(self.input_names, arrays))
            raise MnistcError(f"the inputs hold different numbers of samples ({sizes}): give the same batch of each")
        return batches.pop()

    def _checked(self, inputs, index: int = 0) -> np.ndarray:
        """Input `index` as a C-contiguous float32 [N, *shape] array, or a clear refusal."""
        if _is_torch_tensor(inputs):
            inputs = inputs.detach().cpu().numpy()
        array = np.asarray(inputs)
        shape = self.input_shapes[index]
        what = "input" if len(self.input_names) == 1 else f"input '{self.input_names[index]}'"
        sample = "x".join(map(str, shape))
        pixels = array.dtype.kind in "iub"
        preprocessing = self.preprocessing if len(self.input_names) == 1 else None
        if array.dtype.kind not in "fiub" or (pixels and preprocessing is None):
            raise MnistcError(
                f"{what} of dtype {array.dtype} refused: the model takes float32 {sample} "
                "samples, and declares no preprocessing for raw pixels (convert and scale "
                "the data first, e.g. pixels / 255 as float32)"
            )
        if self.imported_whole is not None and array.shape not in (shape, (1, *shape)):
            raise MnistcError(
                f"{what} of shape {list(array.shape)} refused: the model takes exactly one "
                f"{list(shape)} tensor, its fixed input shape (or [1, "
                f"{', '.join(map(str, shape))}]; imported whole: {self.imported_whole})"
            )
        if array.shape == shape:
            array = array[np.newaxis]
        if array.shape[1:] != shape or array.shape[0] == 0:
            raise MnistcError(
                f"{what} of shape {list(array.shape)} refused: expected [N, "
                f"{', '.join(map(str, shape))}] with N >= 1, or one sample "
                f"{list(shape)}"
            )
        if pixels:
            array = preprocessing.apply(array)
        return np.ascontiguousarray(array, dtype=np.float32)

    def __reduce__(self):
        """Pickled as the library's path: a worker process loads the library afresh."""
        return (CompiledModel, (str(self.path),))

    def profile(self, inputs, runs: int = 100) -> list[tuple[str, float]]:
        """Seconds per run of each kernel call ("kernel -> output buffer"), in program
        order, over `runs` inferences of `inputs` after one warm-up; summed over threads.
        A model of several inputs takes a tuple of arrays, one per input."""
        lib = self._lib
        if not hasattr(lib, "mnistc_model_profile"):
            raise MnistcError("this library predates profiling: compile it again")
        lib.mnistc_model_profile_count.restype = ctypes.c_int64
        lib.mnistc_model_profile_name.restype = ctypes.c_char_p
        lib.mnistc_model_profile_name.argtypes = [ctypes.c_int64]
        lib.mnistc_model_profile_seconds.restype = ctypes.c_double
        lib.mnistc_model_profile_seconds.argtypes = [ctypes.c_int64]
        arguments = inputs if isinstance(inputs, tuple) else (inputs,)
        self(*arguments)
        lib.mnistc_model_profile(1)
        try:
            for _ in range(runs):
                self(*arguments)
        finally:
            lib.mnistc_model_profile(0)
        return [
            (lib.mnistc_model_profile_name(i).decode(), lib.mnistc_model_profile_seconds(i) / max(runs, 1))
            for i in range(lib.mnistc_model_profile_count())
        ]  # fmt: skip

    def call_flops(self) -> list[int]:
        """Each kernel call's floating-point operations for one sample, in profile order,
        counted as the direct algorithm's (kernels/abi.py; 0 for data movement)."""
        flops = self._optional("mnistc_model_profile_flops", ctypes.c_int64, ctypes.c_int64)
        count = self._optional("mnistc_model_profile_count", ctypes.c_int64)()
        return [int(flops(i)) for i in range(count)]

    def planned_memory(self) -> PlannedMemory:
        """The memory plan compiled into the library (weights, per-thread arena and
        kernel scratch)."""
        weights, arena, scratch = (
            int(self._optional(f"mnistc_model_{what}_bytes", ctypes.c_int64)())
            for what in ("weight", "buffer", "scratch")
        )
        return PlannedMemory(weights, arena, scratch)

    def _optional(self, name: str, restype, *argtypes):
        """A C ABI function that older libraries lack (MnistcError then)."""
        function = getattr(self._lib, name, None)
        if function is None:
            raise MnistcError(f"{self.path}: this library predates {name}: compile it again")
        function.restype, function.argtypes = restype, list(argtypes)
        return function

    def set_num_threads(self, threads: int) -> None:
        """OpenMP's thread count for calls from the calling Python thread (an OpenMP
        setting is per thread; other threads keep OMP_NUM_THREADS)."""
        self._lib.omp_set_num_threads(ctypes.c_int(threads))
