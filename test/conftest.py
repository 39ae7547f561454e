"""Shared fixtures: a private kernel cache, the kernels built once into it, the test models
saved once, and helpers to save and compile torch models; and a guard that keeps torch.jit's
builtin table from going stale while the suite loads op libraries."""

from __future__ import annotations

import ctypes
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from mnistc.cache import KERNELS
from mnistc.kernels import abi
from mnistc.driver import CompileOptions, compile_model
from mnistc.toolchain import MAIN_OBJECT, BuildConfig, kernel_objects
from mnistc.verify import run_executable

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = REPO.parent / "shared" / "data" / "mnist"

_JIT_BUILTINS_KEPT: list[object] = []
"""Every object registered in torch.jit's builtin table since this module was imported."""


def keep_jit_builtins_alive() -> None:
    """torch.jit keys its builtin table by `id()` and keeps no reference to the op objects
    `torch.ops` registers there; torch.library frees them when it adds an overload to an
    op (the packet's op is replaced) or destroys a library (the packet is dropped), and
    tests and the importers load op libraries (torchao, PT2E's quantize ops). A later
    object at a freed address, such as a Conv2d's 4-tuple `_reversed_padding_repeated_twice`
    (the same allocation size), is then taken for a builtin when a model is scripted:
    "builtin cannot be used as a value". Keeping every registered object alive, and the
    ops `torch.ops` holds now, means no id in the table is reused."""
    from torch._ops import OpOverloadPacket, _OpNamespace
    from torch.jit import _builtins

    register = _builtins._register_builtin

    def register_and_keep(fn, op) -> None:
        _JIT_BUILTINS_KEPT.append(fn)
        register(fn, op)

    _builtins._register_builtin = register_and_keep
    for namespace in vars(torch.ops).values():
        if isinstance(namespace, _OpNamespace):
            packets = [p for p in vars(namespace).values() if isinstance(p, OpOverloadPacket)]
            _JIT_BUILTINS_KEPT.extend(packet._op for packet in packets)


keep_jit_builtins_alive()


@pytest.fixture(scope="session", autouse=True)
def private_kernel_cache(tmp_path_factory):
    """Build the kernels once per session, away from the user's cache."""
    os.environ["MNISTC_CACHE_DIR"] = str(tmp_path_factory.mktemp("kernel-cache"))
    yield


@pytest.fixture(scope="session")
def session_kernels(private_kernel_cache) -> list[Path]:
    """The optimised kernel objects (no `main`), compiled once into the session's cache:
    what every default compile links, and what the kernel tests load."""
    return [o for o in kernel_objects(BuildConfig(), []) if o.name != MAIN_OBJECT]


@pytest.fixture(scope="session")
def session_kernel_cache(session_kernels) -> Path:
    """The session's kernel cache directory, holding those kernels."""
    return KERNELS.directory()


@pytest.fixture
def seed_kernels(session_kernel_cache):
    """Copies the session's kernel cache into another MNISTC_CACHE_DIR, so that a test of
    a fresh cache (imports, say) does not compile the kernels again."""
    kernels = session_kernel_cache

    def seed(cache_dir: Path) -> None:
        shutil.copytree(kernels, KERNELS.directory({"MNISTC_CACHE_DIR": str(cache_dir)}))

    return seed


def save_scripted(module: torch.nn.Module, path: Path) -> Path:
    torch.jit.save(torch.jit.script(module.eval()), str(path))
    return path


def save_traced(module: torch.nn.Module, example: torch.Tensor, path: Path) -> Path:
    torch.jit.save(torch.jit.trace(module.eval(), example), str(path))
    return path


@pytest.fixture(scope="session")
def saved_model(tmp_path_factory):
    """`save(name, form="scripted")`: a model of `models.MODELS` saved scripted or traced,
    once per session, and its sample shape. Tests only read these files."""
    from models import build

    folder = tmp_path_factory.mktemp("models")
    saved: dict[tuple[str, str], tuple[Path, tuple[int, ...]]] = {}

    def save(name: str, form: str = "scripted") -> tuple[Path, tuple[int, ...]]:
        if (name, form) not in saved:
            model, shape = build(name)
            path = folder / f"{name}-{form}.pt"
            if form == "scripted":
                save_scripted(model, path)
            else:
                save_traced(model, torch.rand(1, *shape), path)
            saved[name, form] = (path, shape)
        return saved[name, form]

    return save


def assert_matches_torch(actual: np.ndarray, expected: np.ndarray) -> None:
    """The project's contract: |a-b| <= 1e-4 + 1e-4*|b| and the same argmax per row."""
    actual = actual.reshape(expected.shape[0], -1)
    expected = expected.reshape(expected.shape[0], -1)
    bound = 1e-4 + 1e-4 * np.abs(expected)
    worst = np.max(np.abs(actual - expected) - bound)
    assert worst <= 0, f"outputs differ beyond tolerance by {worst:.3g}"
    np.testing.assert_array_equal(actual.argmax(1), expected.argmax(1))


def compile_and_run(
    model_path: Path, inputs: np.ndarray, tmp_path: Path, **options
) -> np.ndarray:
    executable = tmp_path / f"{model_path.stem}.bin"
    compile_model(model_path, executable, CompileOptions(**options))
    return run_executable(executable, inputs)


def torch_outputs(model_path: Path, inputs: np.ndarray) -> np.ndarray:
    model = torch.jit.load(str(model_path))
    with torch.no_grad():
        return model(torch.from_numpy(inputs)).numpy()


def high_water(library: ctypes.CDLL, reset: bool = False) -> tuple[int, ...]:
    """The most floats of kernel scratch any thread of `library` (kernels or a compiled
    model) asked of each slot (then from 0 again with `reset`)."""
    read = library.mnistc_scratch_high_water
    read.restype, read.argtypes = ctypes.c_int64, [ctypes.c_int64, ctypes.c_int64]
    return tuple(read(slot, int(reset)) for slot in range(abi.SCRATCH_SLOTS))
