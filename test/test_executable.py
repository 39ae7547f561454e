"""The compiled executable's contract: the seed's usage, batches, and bad input."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import torch
from conftest import assert_matches_torch

from mnistc.driver import CompileOptions, compile_model
from mnistc.models.mnist_cnn import BUNDLED_MODEL

SAMPLE_BYTES = 28 * 28 * 4


@pytest.fixture(scope="module")
def executable(tmp_path_factory):
    path = tmp_path_factory.mktemp("exe") / "mnist_model"
    compile_model(BUNDLED_MODEL, path, CompileOptions())
    return path


def run(executable, *args, cwd=None):
    return subprocess.run([str(executable), *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_seed_usage(executable, tmp_path):
    """np.random.randn(28, 28).tofile('test_input.bin'); ./mnist_model test_input.bin output.bin"""
    image = np.random.randn(28, 28).astype(np.float32)
    image.tofile(tmp_path / "test_input.bin")
    result = run(executable, "test_input.bin", "output.bin", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    output = np.fromfile(tmp_path / "output.bin", dtype=np.float32)
    assert output.shape == (10,)
    model = torch.jit.load(str(BUNDLED_MODEL))
    with torch.no_grad():
        expected = model(torch.from_numpy(image).view(1, 1, 28, 28)).numpy()
    assert_matches_torch(output[None], expected)


@pytest.mark.parametrize("batch", [1, 2, 7, 33])
def test_any_batch(executable, tmp_path, batch):
    inputs = np.random.default_rng(batch).random((batch, 1, 28, 28), dtype=np.float32)
    inputs.tofile(tmp_path / "in.bin")
    assert run(executable, tmp_path / "in.bin", tmp_path / "out.bin").returncode == 0
    output = np.fromfile(tmp_path / "out.bin", dtype=np.float32).reshape(batch, 10)
    with torch.no_grad():
        expected = torch.jit.load(str(BUNDLED_MODEL))(torch.from_numpy(inputs)).numpy()
    assert_matches_torch(output, expected)


@pytest.mark.parametrize("size", [0, 1, SAMPLE_BYTES - 4, SAMPLE_BYTES + 4, 3 * SAMPLE_BYTES + 2])
def test_wrong_input_size(executable, tmp_path, size):
    (tmp_path / "in.bin").write_bytes(b"\0" * size)
    result = run(executable, tmp_path / "in.bin", tmp_path / "out.bin")
    assert result.returncode != 0
    assert "not a positive multiple of one sample (1x28x28 float32 = 3136 bytes)" in result.stderr
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "out.bin").exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "in.bin"]


def test_failed_run_keeps_previous_output(executable, tmp_path):
    (tmp_path / "out.bin").write_bytes(b"previous")
    (tmp_path / "in.bin").write_bytes(b"\0" * 5)
    assert run(executable, tmp_path / "in.bin", tmp_path / "out.bin").returncode != 0
    assert (tmp_path / "out.bin").read_bytes() == b"previous"


def test_missing_input(executable, tmp_path):
    result = run(executable, tmp_path / "absent.bin", tmp_path / "out.bin")
    assert result.returncode != 0
    assert "cannot open input" in result.stderr and "absent.bin" in result.stderr
    assert not (tmp_path / "out.bin").exists()


def test_unwritable_output(executable, tmp_path):
    np.zeros((1, 28, 28), np.float32).tofile(tmp_path / "in.bin")
    result = run(executable, tmp_path / "in.bin", tmp_path / "no-such-dir" / "out.bin")
    assert result.returncode != 0
    assert "cannot write output" in result.stderr


@pytest.mark.parametrize("args", [[], ["only-one"], ["a", "b", "c"]])
def test_wrong_arguments(executable, args):
    result = run(executable, *args)
    assert result.returncode != 0
    assert result.stderr.startswith("usage:")


def test_executable_is_self_contained(executable, tmp_path):
    """No weight file or kernel library is needed next to the executable at run time."""
    moved = tmp_path / "moved_model"
    moved.write_bytes(executable.read_bytes())
    moved.chmod(0o755)
    np.zeros((1, 28, 28), np.float32).tofile(tmp_path / "in.bin")
    assert run(moved, "in.bin", "out.bin", cwd=tmp_path).returncode == 0
    libraries = subprocess.run(["ldd", str(moved)], capture_output=True, text=True).stdout
    assert "mnistc" not in libraries
