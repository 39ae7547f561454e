"""Shared fixtures: a private kernel cache, and helpers to save and compile torch models."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from mnistc.driver import CompileOptions, compile_model
from mnistc.verify import run_executable

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = REPO.parent / "shared" / "data" / "mnist"


@pytest.fixture(scope="session", autouse=True)
def private_kernel_cache(tmp_path_factory):
    """Build the kernels once per session, away from the user's cache."""
    os.environ["MNISTC_CACHE_DIR"] = str(tmp_path_factory.mktemp("kernel-cache"))
    yield


def save_scripted(module: torch.nn.Module, path: Path) -> Path:
    torch.jit.save(torch.jit.script(module.eval()), str(path))
    return path


def save_traced(module: torch.nn.Module, example: torch.Tensor, path: Path) -> Path:
    torch.jit.save(torch.jit.trace(module.eval(), example), str(path))
    return path


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
