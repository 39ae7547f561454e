"""The shared library and its Python wrapper, the executable's --bench and --profile,
--target-cpu."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest
import torch
from conftest import assert_matches_torch, save_scripted
from models import build

from mnistc.driver import CompileOptions, compile_model
from mnistc.errors import MnistcError
from mnistc.models.mnist_cnn import BUNDLED_MODEL
from mnistc.preprocessing import Preprocessing
from mnistc.runtime import CompiledModel
from mnistc.verify import run_executable


def torch_outputs(path, inputs):
    with torch.no_grad():
        return torch.jit.load(str(path))(torch.from_numpy(inputs)).numpy()


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    path = tmp_path_factory.mktemp("lib") / "libmnist.so"
    compile_model(BUNDLED_MODEL, path, CompileOptions(shared=True))
    return path


def test_shared_library_and_header(library):
    header = library.with_suffix(".h").read_text()
    assert "int mnistc_model_run(const float* input, float* output, int64_t batch);" in header
    model = CompiledModel(library)
    assert (model.input_size, model.output_size, model.input_shape) == (784, 10, (1, 28, 28))
    inputs = np.random.default_rng(0).random((9, 1, 28, 28), dtype=np.float32)
    expected = torch_outputs(BUNDLED_MODEL, inputs)
    for threads in (1, 2):
        model.set_num_threads(threads)
        assert_matches_torch(model(inputs), expected)
        assert_matches_torch(model(inputs[0]), expected[:1])


def test_library_profile(library):
    """CompiledModel.profile: a positive time per kernel call, named, in program order."""
    model = CompiledModel(library)
    model.set_num_threads(1)
    inputs = np.random.default_rng(1).random((1, 1, 28, 28), dtype=np.float32)
    rows = model.profile(inputs, runs=20)
    assert [name for name, _ in rows] == [
        "conv2d_packed -> conv2d", "conv2d_winograd -> max_pool2d", "linear -> linear",
        "linear -> linear_1", "log_softmax -> y",
    ]  # fmt: skip
    assert all(seconds > 0 for _, seconds in rows)
    assert all(seconds == 0 for _, seconds in model.profile(inputs, runs=0))  # restarts at 0


@pytest.mark.parametrize("shape", [(783,), (784,), (28, 28), (28, 28, 1), (2, 28, 28, 1), (0, 1, 28, 28)])
def test_library_refuses_inputs_not_of_the_sample_shape(library, shape):
    """A [28, 28, 3]-like array is not taken as a batch of something: the message says
    what the model expects (issue 14, item 7)."""
    with pytest.raises(MnistcError, match=r"expected \[N, 1, 28, 28\] with N >= 1, or one sample \[1, 28, 28\]"):
        CompiledModel(library)(np.zeros(shape, np.float32))


def test_raw_pixels_go_through_the_declared_preprocessing(library):
    """The bundled model declares pixels / 255 (mnist_cnn.preprocessing.json), recorded in
    the library: uint8 images in give what their scaled floats give (issue 14)."""
    model = CompiledModel(library)
    assert model.preprocessing == Preprocessing(scale=1 / 255)
    pixels = np.random.default_rng(6).integers(0, 256, (2, 1, 28, 28), dtype=np.uint8)
    np.testing.assert_array_equal(model(pixels), model(pixels.astype(np.float32) * np.float32(1 / 255)))


@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.bool_])
def test_a_library_without_declared_preprocessing_refuses_integer_inputs(tmp_path, dtype):
    module = save_scripted(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3)), tmp_path / "m.pt")
    compile_model(module, tmp_path / "lib.so", CompileOptions(sample_shape=(1, 2, 2), shared=True))
    model = CompiledModel(tmp_path / "lib.so")
    assert model.preprocessing is None
    with pytest.raises(MnistcError, match=f"input of dtype {np.dtype(dtype)} refused: .* declares no preprocessing"):
        model(np.zeros((1, 1, 2, 2), dtype))


def test_preprocessing_declared_at_compile_time_is_recorded(tmp_path):
    """--scale/--mean/--std/--channel-order (CompileOptions.preprocessing) override the
    model's sidecar, and reach the library, the executable's --info and the C ABI."""
    declared = Preprocessing(scale=0.5, mean=(1.0,), std=(2.0,), channel_order="bgr")
    options = CompileOptions(preprocessing=declared)
    compile_model(BUNDLED_MODEL, tmp_path / "lib.so", CompileOptions(preprocessing=declared, shared=True))
    assert CompiledModel(tmp_path / "lib.so").preprocessing == declared
    compile_model(BUNDLED_MODEL, tmp_path / "exe", options)
    info = json.loads(subprocess.run([str(tmp_path / "exe"), "--info"], capture_output=True, text=True, check=True).stdout)
    assert info.pop("memory")["weights"] > 0  # the plan's figures: test_scratch.py
    assert info == {
        "input_shape": [1, 28, 28], "outputs": 10, "imported_whole": False,
        "preprocessing": json.loads(declared.to_json()),
        "inputs": [{"name": "x", "shape": [1, 28, 28]}],  # forward(self, x)
        "output_shapes": [{"name": "output", "shape": [10]}],
    }  # fmt: skip


def test_library_converts_other_float_precisions(library):
    inputs = np.random.default_rng(2).random((2, 1, 28, 28))
    model = CompiledModel(library)
    expected = model(inputs.astype(np.float32))
    for dtype in (np.float64, np.float16):
        converted = inputs.astype(dtype)
        np.testing.assert_array_equal(model(converted), model(converted.astype(np.float32)))
    assert model(inputs).dtype == np.float32
    np.testing.assert_array_equal(model(inputs), expected)


def test_library_gives_torch_out_for_torch_in(library):
    model = CompiledModel(library)
    inputs = torch.rand(3, 1, 28, 28, dtype=torch.float64)
    out = model(inputs)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == (3, 10)
    np.testing.assert_array_equal(out.numpy(), model(inputs.numpy()))


def _predict_in_worker(model, inputs):
    return model(inputs)


def test_library_pickles_into_a_worker_process(library):
    """Pickled as its path: a process pool's worker loads the library afresh."""
    import multiprocessing
    import pickle

    model = CompiledModel(library)
    assert pickle.loads(pickle.dumps(model)).path == model.path
    inputs = np.random.default_rng(4).random((2, 1, 28, 28), dtype=np.float32)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        out = pool.apply(_predict_in_worker, (model, inputs))
    np.testing.assert_array_equal(out, model(inputs))


def test_not_a_library(tmp_path):
    (tmp_path / "x.so").write_bytes(b"nope")
    with pytest.raises(MnistcError, match="not a library built by"):
        CompiledModel(tmp_path / "x.so")


def test_a_library_compiled_again_in_place_is_loaded_afresh(tmp_path):
    """dlopen returns a loaded library by name: the second load must see the new file
    (issue 9, item 11), and the first model keeps computing the old one."""
    path = tmp_path / "lib.so"
    inputs = np.random.default_rng(5).standard_normal((2, 1, 2, 2), dtype=np.float32)
    models, expected = [], []
    for outputs in (3, 5):
        module = save_scripted(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, outputs)),
                               tmp_path / f"m{outputs}.pt")  # fmt: skip
        compile_model(module, path, CompileOptions(sample_shape=(1, 2, 2), shared=True))
        models.append(CompiledModel(path))
        expected.append(torch_outputs(module, inputs))
    assert [m.output_size for m in models] == [3, 5]
    for model, want in zip(models, expected):
        assert_matches_torch(model(inputs), want)
    assert CompiledModel(path).output_size == 5  # unchanged since: the same library again


def test_library_from_c(library, tmp_path):
    """The header and the library are enough for a C program."""
    source = tmp_path / "use.c"
    source.write_text(
        '#include <stdio.h>\n#include "libmnist.h"\n'
        "int main(void) { float in[784] = {0}, out[10];\n"
        "  if (mnistc_model_run(in, out, 1)) return 1;\n"
        '  printf("%lld %lld %s\\n", (long long)mnistc_model_input_size(),\n'
        "         (long long)mnistc_model_output_size(), mnistc_model_input_shape());\n"
        "  return mnistc_model_run(in, out, -1) == 0; }\n"
    )
    subprocess.run(
        ["gcc", str(source), f"-I{library.parent}", str(library), f"-Wl,-rpath,{library.parent}",
         "-o", str(tmp_path / "use")], check=True,
    )  # fmt: skip
    result = subprocess.run([str(tmp_path / "use")], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "784 10 1x28x28"


def test_executable_bench(tmp_path):
    exe = tmp_path / "model"
    compile_model(BUNDLED_MODEL, exe, CompileOptions())
    np.zeros((3, 1, 28, 28), np.float32).tofile(tmp_path / "in.bin")
    result = subprocess.run([str(exe), "--bench", "5", str(tmp_path / "in.bin")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("batch 3, 5 runs: median ") and "p90" in result.stdout
    bad = subprocess.run([str(exe), "--bench", "zero", str(tmp_path / "in.bin")], capture_output=True, text=True)
    assert bad.returncode != 0 and "positive count" in bad.stderr


@pytest.mark.parametrize("threads", ["1", "2"])
def test_executable_profile(tmp_path, threads):
    """--profile: one row per kernel call, in program order, shares adding up to 100%."""
    exe = tmp_path / "model"
    compile_model(BUNDLED_MODEL, exe, CompileOptions())
    np.zeros((5, 1, 28, 28), np.float32).tofile(tmp_path / "in.bin")
    env = {**os.environ, "OMP_NUM_THREADS": threads}
    result = subprocess.run([str(exe), "--profile", "4", str(tmp_path / "in.bin")], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    header, columns, *rows = result.stdout.splitlines()
    assert header.startswith(f"batch 5, 4 runs, {threads} threads: ")
    assert columns.split() == ["#", "us/run", "share", "GFLOP/s", "kernel", "->", "output"]
    kernels = [row.split()[4] for row in rows]
    assert kernels == ["conv2d_packed", "conv2d_winograd", "linear", "linear", "log_softmax"]
    assert all(float(row.split()[1]) > 0 for row in rows)
    # GFLOP/s: kernels/abi.py's FLOPs of the call (direct-equivalent for Winograd: 2 x
    # 64 x 32 x 9 x 24 x 24 per sample) over its time; none for log_softmax.
    rates = [row.split()[3] for row in rows]
    assert rates[-1] == "-" and all(float(r) > 0 for r in rates[:-1])
    winograd_us = float(rows[1].split()[1])
    assert float(rates[1]) == pytest.approx(5 * 2 * 64 * 32 * 9 * 24 * 24 / winograd_us / 1e3, rel=0.02)
    assert sum(float(row.split()[2].rstrip("%")) for row in rows) == pytest.approx(100, abs=0.5)
    bad = subprocess.run([str(exe), "--profile", "-1", str(tmp_path / "in.bin")], capture_output=True, text=True)
    assert bad.returncode != 0 and "positive count" in bad.stderr


@pytest.mark.parametrize("threads", ["1", "2"])
def test_batch_threading_strategies_agree(tmp_path, threads):
    """Batches large enough run one sample per thread, each with its own arena."""
    model, shape = build("residual")
    path = save_scripted(model, tmp_path / "r.pt")
    exe = tmp_path / "model"
    compile_model(path, exe, CompileOptions(sample_shape=shape))
    inputs = np.random.default_rng(3).standard_normal((40, *shape), dtype=np.float32)
    env = {**os.environ, "OMP_NUM_THREADS": threads}
    (tmp_path / "in.bin").write_bytes(inputs.tobytes())
    subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], check=True, env=env)
    actual = np.fromfile(tmp_path / "out.bin", np.float32).reshape(40, -1)
    assert_matches_torch(actual, torch_outputs(path, inputs))


@pytest.mark.slow  # a kernel library for x86-64 of its own
@pytest.mark.parametrize("name", ["conv_bn", "mnist_cnn", "residual"])
def test_target_cpu_baseline_x86_64(name, tmp_path):
    """--target-cpu x86-64 (no AVX): the same kernels, portable vector code, same results;
    mnist_cnn and residual go through Winograd (with a fused pool, with a residual)."""
    model, shape = build(name)
    path = save_scripted(model, tmp_path / "m.pt")
    exe = tmp_path / "model"
    result = compile_model(path, exe, CompileOptions(sample_shape=shape, target_cpu="x86-64"))
    assert any("-march=x86-64" in c for c in result.commands)
    inputs = np.random.default_rng(4).standard_normal((5, *shape), dtype=np.float32)
    assert_matches_torch(run_executable(exe, inputs), torch_outputs(path, inputs))
