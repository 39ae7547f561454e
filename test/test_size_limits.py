"""Weights or buffers beyond what the linker can place are refused before g++ runs, with
the size and the limit; the compiler does not copy a model's weights more than it must."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import save_scripted
from xdsl.context import Context

from mnistc import driver, weights
from mnistc.dialects import cpu
from mnistc.driver import CompileOptions, compile_model
from mnistc.targets.cpp import STATIC_STORAGE_LIMIT, CppEmissionError, check_storage_limits
from mnistc.tools.mnistc_opt import main as mnistc_opt

HUGE_SAMPLE = (1, 32768, 32768)
"""A tiny convolution's output for this input is 8 GiB, with almost no weights."""
HUGE_CONV_OUTPUT = 2 * 32766 * 32766 * 4


class TinyConv(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 3)

    def forward(self, x):
        return torch.relu(self.conv(x)).flatten(1)


@pytest.fixture(scope="module")
def tiny_conv(tmp_path_factory):
    torch.manual_seed(0)
    return save_scripted(TinyConv(), tmp_path_factory.mktemp("limits") / "tiny.pt")


@pytest.fixture
def no_gxx(monkeypatch):
    """Fail the test if the build would start."""

    def build_executable(*args, **kwargs):
        raise AssertionError("g++ ran")

    monkeypatch.setattr(driver, "build_executable", build_executable)


def reported_size(message: str, what: str) -> int:
    match = re.search(rf"{what} take (\d+) bytes \(", message)
    assert match, message
    return int(match[1])


@pytest.mark.parametrize("optimise", [True, False], ids=["arena", "O0-buffers"])
def test_buffers_over_the_limit_refused_before_gxx(tiny_conv, tmp_path, no_gxx, optimise):
    options = CompileOptions(sample_shape=HUGE_SAMPLE, optimise=optimise)
    with pytest.raises(CppEmissionError) as error:
        compile_model(tiny_conv, tmp_path / "model", options)
    message = str(error.value)
    assert reported_size(message, "the buffers of one sample") >= HUGE_CONV_OUTPUT
    assert f"over the limit of {STATIC_STORAGE_LIMIT} bytes" in message
    assert not (tmp_path / "model").exists()


def test_cli_refuses_a_huge_arena(tiny_conv, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mnistc.tools.mnistc", "compile", str(tiny_conv), "-q",
         "--input-shape", ",".join(map(str, HUGE_SAMPLE)), "-o", str(tmp_path / "model")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("mnistc: error: cpp target: the buffers of one sample take")
    assert "Traceback" not in result.stderr and "relocation" not in result.stderr
    assert not (tmp_path / "model").exists()


def test_storage_limit_boundary():
    check_storage_limits(STATIC_STORAGE_LIMIT, STATIC_STORAGE_LIMIT)
    with pytest.raises(CppEmissionError, match=f"the weights take {STATIC_STORAGE_LIMIT + 1} bytes"):
        check_storage_limits(STATIC_STORAGE_LIMIT + 1, 0)
    with pytest.raises(CppEmissionError, match="the buffers of one sample take"):
        check_storage_limits(0, STATIC_STORAGE_LIMIT + 1)


LINEAR = """\
builtin.module attributes {nn.weights_file = "w.bin"} {
  func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
    %w = nn.weight "fc.weight" offset 0 : tensor<2x4xf32>
    %0 = nn.linear %x, %w : tensor<1x4xf32>, tensor<2x4xf32> -> tensor<1x2xf32>
    func.return %0 : tensor<1x2xf32>
  }
}
"""


def run_opt(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = mnistc_opt(list(args))
        except SystemExit as e:
            code = e.code
    return code, out.getvalue(), err.getvalue()


def test_cpp_target_refuses_weights_over_the_limit(tmp_path, monkeypatch):
    """A sparse weight file: its size is over the limit, its disk use nothing; the target
    only looks at the size."""
    monkeypatch.chdir(tmp_path)
    np.zeros(8, "<f4").tofile("w.bin")
    (tmp_path / "nn.mlir").write_text(LINEAR)
    code, lowered, err = run_opt("nn.mlir", "-p", "convert-nn-to-cpu")
    assert code == 0, err
    (tmp_path / "cpu.mlir").write_text(lowered)

    os.truncate("w.bin", STATIC_STORAGE_LIMIT)
    code, cpp, err = run_opt("cpu.mlir", "-t", "cpp")
    assert code == 0, err
    assert ".incbin" in cpp

    os.truncate("w.bin", STATIC_STORAGE_LIMIT + 64)
    code, cpp, err = run_opt("cpu.mlir", "-t", "cpp")
    assert code == 1 and cpp == ""
    assert err.startswith(
        f"mnistc-opt: error: cpp target: the weights take {STATIC_STORAGE_LIMIT + 64} bytes"
    )


def test_weight_file_size_from_the_context_or_disk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ctx = driver.make_context()
    ctx.weights.add("held.bin", weights.WeightFile(bytes(100)))
    (tmp_path / "disk.bin").write_bytes(bytes(36))
    assert weights.size(ctx, "held.bin") == 100
    assert weights.size(Context(), "held.bin") is None  # only ctx's store holds it
    assert weights.size(ctx, "disk.bin") == weights.size(Context(), "disk.bin") == 36
    assert weights.size(ctx, "missing.bin") is None


def test_compact_copies_only_the_referenced_tensors(tiny_conv):
    """compact_weights moves bytes as they are, and drops what no op reads."""
    compilation = driver.Compilation.import_file(tiny_conv, (1, 8, 8))
    compilation.run_to("loops")
    referenced = [(key, compilation.weights.read(*key)) for key in lowered_weights(compilation)]
    assert referenced
    compilation.weights.append(np.ones(1000))  # read by no op: compacted away
    compilation.compact_weights()
    assert len(compilation.weights) <= sum(64 + data.nbytes for _, data in referenced)
    for (_, data), key in zip(referenced, lowered_weights(compilation)):
        np.testing.assert_array_equal(compilation.weights.read(*key), data)


def lowered_weights(compilation: driver.Compilation) -> list[tuple[int, tuple[int, ...]]]:
    return [
        (op.offset.value.data, tuple(op.result.type.get_shape()))
        for op in compilation.module.walk()
        if isinstance(op, cpu.WeightOp)
    ]


def test_weight_file_read_from_disk_without_loss(tmp_path):
    data = np.arange(37, dtype="<f4")
    file = weights.WeightFile(name="w")
    offset = file.append(data[:5])
    second = file.append(data.reshape(1, 37).astype(np.float64))
    file.save(tmp_path / "w.bin")
    loaded = weights.WeightFile.from_file(tmp_path / "w.bin")
    assert bytes(loaded.data()) == bytes(file.data())
    np.testing.assert_array_equal(loaded.read(offset, (5,)), data[:5])
    np.testing.assert_array_equal(loaded.read(second, (1, 37)), data.reshape(1, 37))


def test_keep_only_moves_tensors_down_in_place():
    file = weights.WeightFile(name="w")
    offsets = [file.append(np.full(n, float(n), "<f4")) for n in (3, 40, 5, 7)]
    data = bytes(file.data())
    # The 40-element tensor is also read as 2x2 at an unaligned offset inside it, and the
    # 7-element one twice: overlapping tensors move together, duplicates once.
    kept = [(offsets[1], (40,)), (offsets[1] + 8, (2, 2)), (offsets[3], (7,)), (offsets[3], (7,))]
    moved = file.keep_only(kept)
    assert len(file) == 192 + 28  # 160 bytes padded to 192, then 28
    for offset, shape in kept:
        new = moved[(offset, shape)]
        assert new % 64 == offset % 64
        size = 4 * int(np.prod(shape))
        assert bytes(file.data()[new : new + size]) == data[offset : offset + size]
