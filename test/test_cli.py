"""`mnistc` and `mnistc-opt` as users run them: messages, exit codes, no tracebacks."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import save_scripted
from models import build

from mnistc.models.mnist_cnn import BUNDLED_MODEL
from mnistc.verify import run_executable


def mnistc(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "mnistc.tools.mnistc", *map(str, args)],
        capture_output=True, text=True, cwd=cwd,
    )  # fmt: skip


def mnistc_opt(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "mnistc.tools.mnistc_opt", *map(str, args)],
        capture_output=True, text=True, input=stdin,
    )  # fmt: skip


def assert_clean_failure(result, *fragments):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_compile_default_model_reports_memory(tmp_path):
    result = mnistc("compile", "-o", tmp_path / "mnist_model")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "mnist_model").is_file()
    # conv1's 32x26x26 output and the pooled 64x12x12 output of conv2 are live together;
    # the linear layers' outputs reuse the arena; unshared, each 64-byte aligned.
    arena = (32 * 26 * 26 + 64 * 12 * 12) * 4
    assert f"arena {arena} bytes, unshared buffers 123968 bytes" in result.stderr
    # Kernel scratch per thread: slot 0 is conv2's padded channels-last input in Winograd
    # (26 x 26 pixels x 32 channels), slot 1 a thread's transformed tiles (36 positions x
    # 6 tiles x (32 + 64) channels); conv1's padded input (28 x 28 + 24) fits in slot 0.
    scratch = (26 * 26 * 32 + 36 * 6 * 96) * 4
    weights = int(re.search(r"weights (\d+) bytes", result.stderr)[1])
    assert (
        f"kernel scratch {scratch} bytes per thread; peak memory {weights + arena + scratch} "
        f"bytes on one thread, {arena + scratch} more per further thread" in result.stderr
    )


@pytest.mark.parametrize(
    "content",
    [pytest.param(b"", marks=pytest.mark.slow), pytest.param(b"garbage", marks=pytest.mark.slow), b"PK\x03\x04truncated"],
)  # one CLI path for all three, each a process importing torch; in-process: test_importer
def test_corrupt_model(tmp_path, content):
    (tmp_path / "bad.pt").write_bytes(content)
    result = mnistc("compile", tmp_path / "bad.pt", "-o", tmp_path / "out")
    assert_clean_failure(result, "mnistc: error:", "not a readable TorchScript file")
    assert not (tmp_path / "out").exists()


def test_unsupported_model_leaves_no_output(tmp_path):
    class Cos(torch.nn.Module):
        def forward(self, x):
            return torch.cos(x).flatten(1)

    path = save_scripted(Cos(), tmp_path / "cos.pt")
    result = mnistc("compile", path, "-o", tmp_path / "out")
    assert_clean_failure(result, "unsupported operators", "aten::cos at")
    assert list(tmp_path.iterdir()) == [path]


def test_failed_compile_keeps_previous_output(tmp_path):
    (tmp_path / "out").write_bytes(b"previous")
    result = mnistc("compile", "--kernel-dir", tmp_path / "nowhere", "-o", tmp_path / "out")
    assert_clean_failure(result, "kernel directory")
    assert (tmp_path / "out").read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def copy_of_kernels(tmp_path):
    """A writable copy of the kernel directory (its C++ sources and headers, family
    subdirectories included), for --kernel-dir."""
    from mnistc.kernels import KERNEL_DIR

    kernels = tmp_path / "kernels"
    shutil.copytree(KERNEL_DIR, kernels, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return kernels


@pytest.mark.slow  # builds a kernel library of its own
def test_broken_kernel_dir_reports_compiler_error(tmp_path):
    kernels = copy_of_kernels(tmp_path)
    (kernels / "linear.cpp").write_text("this is not C++\n")
    result = mnistc("compile", "--kernel-dir", kernels, "-o", tmp_path / "out")
    assert_clean_failure(result, "'g++' failed")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "stage,marker",
    [("nn", "nn.conv2d"), ("loops", "cpu.call @conv2d"), ("cpp", "mnistc_conv2d_packed(")],
)
def test_emit_stages(stage, marker, tmp_path):
    result = mnistc("compile", "--emit", stage, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert marker in result.stdout
    if stage == "nn":
        assert 'activation "relu"' in result.stdout and "nn.dropout" not in result.stdout
    if stage == "loops":
        assert "cpu.arena_slot" in result.stdout and "memref.alloc" not in result.stdout


@pytest.mark.parametrize("flags", [(), ("--no-winograd",)])
def test_winograd_and_its_pool_fusion_can_be_turned_off(flags, tmp_path):
    result = mnistc("compile", "--emit", "loops", *flags, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    calls = re.findall(r"cpu\.call @(\w+)", result.stdout)
    if flags:  # conv2 has 64 output channels: the GEMM core (pack-weights' cost rule)
        assert calls[:3] == ["conv2d_packed", "conv2d_gemm", "max_pool2d"]
    else:  # conv2 runs Winograd with the max pool in its epilogue
        assert calls[:2] == ["conv2d_packed", "conv2d_winograd"] and "max_pool2d" not in calls


def test_emit_O0_keeps_the_graph_as_imported(tmp_path):
    result = mnistc("compile", "--emit", "nn", "-O0", cwd=tmp_path)
    assert result.returncode == 0
    assert "nn.dropout" in result.stdout and "activation" not in result.stdout


def test_keep_build(tmp_path):
    build_dir = tmp_path / "build"
    result = mnistc("compile", "-o", tmp_path / "m", "--build-dir", build_dir)
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in build_dir.iterdir())
    assert {"model.cpp", "weights.bin", "build.sh", "00-nn.mlir", "02-loops.mlir"} <= set(names)
    assert "g++" in (build_dir / "build.sh").read_text()
    assert str(build_dir) in result.stderr
    default = mnistc("compile", "-o", tmp_path / "m2", "--keep-build")
    assert default.returncode == 0, default.stderr
    assert (tmp_path / "m2.build" / "model.cpp").is_file()
    assert f"{tmp_path / 'm2.build'}" in default.stderr


def test_keep_build_does_not_take_the_model(tmp_path):
    """`--keep-build` is a flag: the next word stays the model (issue 9, item 8)."""
    path = save_scripted(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3)), tmp_path / "tiny.pt")
    result = mnistc("compile", "--keep-build", path, "--input-shape", "1,2,2", "-o", "kb", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert run_executable(tmp_path / "kb", np.ones((2, 1, 2, 2), np.float32)).shape == (2, 3)
    assert (tmp_path / "kb.build" / "model.cpp").is_file()


def test_build_dir_that_is_a_file_leaves_no_output(tmp_path):
    (tmp_path / "taken").write_text("")
    result = mnistc("compile", "--build-dir", tmp_path / "taken", "-o", tmp_path / "m")
    assert_clean_failure(result, "mnistc: error:", "not a directory")
    assert not (tmp_path / "m").exists()


def test_input_shape_flag(tmp_path):
    model, shape = build("sequential_mlp")
    path = save_scripted(model, tmp_path / "mlp.pt")
    assert_clean_failure(mnistc("compile", path, "-o", tmp_path / "m"), "--input-shape")
    ok = mnistc("compile", path, "--input-shape", ",".join(map(str, shape)), "-o", tmp_path / "m")
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize("shape", ["1,x,3", "0,2,2", ""])
def test_bad_input_shape_flag(shape, tmp_path):
    result = mnistc("compile", "--input-shape", shape, "-o", tmp_path / "m")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_export_model_round_trips(tmp_path):
    result = mnistc("export-model", "-o", tmp_path / "model.pt")
    assert result.returncode == 0
    assert (tmp_path / "model.pt").read_bytes() == BUNDLED_MODEL.read_bytes()
    untrained = mnistc("export-model", "--untrained", "-o", tmp_path / "fresh.pt")
    assert untrained.returncode == 0
    compiled = mnistc("compile", tmp_path / "fresh.pt", "-o", tmp_path / "fresh")
    assert compiled.returncode == 0, compiled.stderr


def test_verify_passes_on_default_model():
    result = mnistc("verify", "--batches", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout and "argmax agree=7/7" in result.stdout


@pytest.mark.slow  # builds a kernel library of its own
def test_verify_fails_when_kernels_are_wrong(tmp_path):
    """A kernel that computes the wrong thing makes `mnistc verify` exit non-zero."""
    kernels = copy_of_kernels(tmp_path)
    broken = (kernels / "linear.cpp").read_text().replace("sum + (bias ? bias[o] : 0.0f)", "sum")
    assert broken != (kernels / "linear.cpp").read_text()
    (kernels / "linear.cpp").write_text(broken)
    result = mnistc("verify", "--batches", "1", "--kernel-dir", kernels)
    assert result.returncode == 1
    assert "FAIL" in result.stdout


def test_mnistc_opt_lists_passes_and_reads_stdin():
    help_text = "".join(mnistc_opt("--help").stdout.split())
    for name in ("convert-nn-to-cpu", "fuse-activation", "plan-memory", "remove-dropout", "dce"):
        assert name in help_text
    ir = """func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
      %0 = nn.dropout %x p 5.000000e-01 : tensor<1x4xf32>
      %1 = nn.relu %0 : tensor<1x4xf32>
      func.return %1 : tensor<1x4xf32>
    }"""
    result = mnistc_opt("-p", "remove-dropout", stdin=ir)
    assert result.returncode == 0 and "nn.dropout" not in result.stdout and "nn.relu" in result.stdout


def test_mnistc_opt_bad_input():
    result = mnistc_opt(stdin="func.func @f( {")
    assert_clean_failure(result, "mnistc-opt: error:")
