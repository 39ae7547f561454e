"""Kernel scratch in the memory plan: each kernel's `scratch` formula (kernels/abi.py) is
what it really asks of scratch(), a compiled model reserves and reports it (peak memory =
weights + threads x (arena + scratch)), and a kernel asking for more stops the program.

The kernels record the most floats asked of each slot (`mnistc_scratch_high_water`), so
the tests compare the formulas and the plan with what the kernels requested.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import os
import subprocess

import numpy as np
import pytest
import torch
from conftest import high_water, save_traced
from test_kernels import (  # noqa: F401  (kernels: the module's kernel library fixture)
    activation_args,
    call,
    conv_geometry,
    conv_problem,
    depthwise_cases,
    gemm_cases,
    kernels,
    only,
    winograd_cases,
    winograd_raw_cases,
)

from test_quant_kernels import CONVS, random_int8
from test_quant_kernels import call as typed_call

from mnistc.dialects import cpu
from mnistc.driver import Compilation, CompileOptions, compile_model
from mnistc.kernels import abi
from mnistc.memory.plan_memory import planned_scratch, scratch_bytes
from mnistc.runtime import CompiledModel
from mnistc.targets.cpp import _entry
from mnistc.transforms import packing
from mnistc.transforms.packing import pack_quant_weight, quant_kernel_bias

OPENMP = ctypes.CDLL("libgomp.so.1")


def at_threads(threads: int, run) -> None:
    before = OPENMP.omp_get_max_threads()
    OPENMP.omp_set_num_threads(threads)
    try:
        run()
    finally:
        OPENMP.omp_set_num_threads(before)


def conv_case_problem(case: dict, pack=lambda weight: weight):
    """A convolution of the kernel tests' cases: buffers (the weight packed by `pack`),
    parameters and output shape."""
    x, weight, bias, _, expected = conv_problem(case, True, False)
    params = conv_geometry(case, expected) | {"pool": 0}
    return [x, pack(weight), bias, None], params, tuple(expected.shape[1:])


def transpose_problem(c, h, w, k, kh, kw, stride, pad, dilation, groups):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((c, h, w), dtype=np.float32)
    weight = rng.standard_normal((c, k // groups, kh, kw), dtype=np.float32)
    bias = rng.standard_normal(k, dtype=np.float32)
    oh = (h - 1) * stride[0] - 2 * pad[0] + dilation[0] * (kh - 1) + 1
    ow = (w - 1) * stride[1] - 2 * pad[1] + dilation[1] * (kw - 1) + 1
    params = dict(
        C=c, H=h, W=w, K=k, OH=oh, OW=ow, KH=kh, KW=kw, stride_h=stride[0], stride_w=stride[1],
        pad_h=pad[0], pad_w=pad[1], dilation_h=dilation[0], dilation_w=dilation[1], groups=groups,
    )  # fmt: skip
    return [x, weight, bias], params, (k, oh, ow)


def product_problems():
    """linear_gemm (rows of tokens), a batched matmul (columns past one NC block) and
    attention (query rows past one block): the kernels on the GEMM core that pack A."""
    rng = np.random.default_rng(6)

    def rand(*shape):
        return rng.standard_normal(shape, dtype=np.float32)

    yield "linear_gemm", [rand(13, 37), packing.pack_gemm_b(rand(19, 37)), rand(19)], dict(M=13, IN=37, OUT=19), (13, 19)
    matmul = dict(d0=1, d1=2, d2=3, l0=0, l1=3 * 7 * 29, l2=7 * 29, r0=0, r1=0, r2=29 * 401, M=7, K=29, N=401)
    yield "matmul", [rand(2, 3, 7, 29), rand(3, 29, 401)], matmul, (2, 3, 7, 401)
    attention = dict(batch=2, L=53, S=31, E=12, EV=9, mask_batch_stride=0, mask_row_stride=0, causal=1, scale=0.3)
    yield "attention", [rand(2, 53, 12), rand(2, 31, 12), rand(2, 31, 9), None], attention, (2, 53, 9)


def recurrent_problems():
    """An LSTM packed at compile time (two directions) and a GRU packed at each call."""
    rng = np.random.default_rng(7)

    def rand(*shape):
        return rng.standard_normal(shape, dtype=np.float32)

    t, f, h = 11, 13, 19
    ih, hh = rand(2 * 4 * h, f), rand(2 * 4 * h, h)
    weights = [packing.pack_recurrent_input_weight(ih, 2), packing.pack_recurrent_hidden_weight(hh, 2)]
    lstm = dict(T=t, F=f, H=h, directions=2, packed=1)
    yield "lstm", [rand(t, f), *weights, rand(8 * h), rand(8 * h), None, None], lstm, (t + 1, 2 * h)
    gru = dict(T=t, F=f, H=h, directions=1, packed=0)
    yield "gru", [rand(t, f), rand(3 * h, f), rand(3 * h, h), rand(3 * h), None, rand(1, h)], gru, (t, h)


def scratch_problems():
    """(kernel, buffers, params, output shape) for every kernel that takes scratch, on the
    kernel tests' odd shapes."""
    wino = [dict(case, kh=3, kw=3, dil=(1, 1), groups=1) for case in winograd_cases()]
    raw = [dict(case, kh=3, kw=3, dil=(1, 1), groups=1) for case in winograd_raw_cases()]
    for case in list(gemm_cases())[:8]:
        yield "conv2d_gemm", *conv_case_problem(case, lambda w, g=case["groups"]: packing.pack_gemm_weight(w, g))
    for case in list(gemm_cases())[3:6]:
        case = dict(case, stride=(1, 1))
        yield "conv2d_packed", *conv_case_problem(case, lambda w, g=case["groups"]: packing.pack_conv_weight(w, g))
    for case in list(depthwise_cases())[::2]:
        yield "conv2d_depthwise", *conv_case_problem(case)
    for case in wino:
        yield "conv2d_winograd", *conv_case_problem(case, packing.pack_winograd_weight)
    for case in raw:
        yield "conv2d_winograd_raw", *conv_case_problem(case, packing.pack_winograd_raw_weight)
    yield "conv_transpose2d", *transpose_problem(16, 10, 10, 8, 2, 2, (2, 2), (0, 0), (1, 1), 1)
    yield "conv_transpose2d", *transpose_problem(16, 7, 7, 8, 3, 3, (2, 2), (1, 1), (1, 1), 2)
    yield "conv_transpose2d", *transpose_problem(5, 23, 19, 7, 4, 3, (3, 1), (2, 0), (1, 2), 1)
    yield "conv_transpose2d", *transpose_problem(64, 32, 32, 32, 4, 4, (2, 2), (1, 1), (1, 1), 1)
    yield from product_problems()
    yield from recurrent_problems()


    for case in ("mnist_conv2", "odd_channels", "stride2_pad", "dilated_5x5", "groups", "depthwise_s2"):
        yield "qconv2d", *qconv_problem(*CONVS[case])
    yield "qlinear", *qlinear_problem(1, 9216, 128)  # MNIST's fc1
    yield "qlinear", *qlinear_problem(3, 37, 17)
    yield "max_pool2d_i8", *qpool_problem(5, 12, 10, 2, 2, 0, 1)  # the tiling window's path
    yield "max_pool2d_i8", *qpool_problem(5, 13, 11, 3, 2, 1, 1)


def qconv_problem(c, h, w, k, kh, kw, stride, pad, dilation, groups):
    """An int8 convolution of test_quant_kernels' shapes (the values do not matter here)."""
    rng = np.random.default_rng(c * h + k)
    weight = random_int8(rng, (k, c // groups, kh, kw))
    bias = rng.integers(-100, 100, size=k).astype(np.int32)
    oh = (h + 2 * pad - dilation * (kh - 1) - 1) // stride + 1
    ow = (w + 2 * pad - dilation * (kw - 1) - 1) // stride + 1
    buffers = [
        random_int8(rng, (c, h, w)), pack_quant_weight(weight, groups),
        quant_kernel_bias(weight, bias, 0), np.full(k, 0.01, np.float32),
    ]  # fmt: skip
    params = dict(
        C=c, H=h, W=w, K=k, OH=oh, OW=ow, KH=kh, KW=kw, stride_h=stride, stride_w=stride,
        pad_h=pad, pad_w=pad, dilation_h=dilation, dilation_w=dilation, groups=groups,
        input_zero_point=0, output_zero_point=0, qmin=-128, qmax=127,
    )  # fmt: skip
    return buffers, params, (k, oh, ow)


def qlinear_problem(m, n_in, n_out):
    rng = np.random.default_rng(n_in)
    weight = random_int8(rng, (n_out, n_in))
    buffers = [
        random_int8(rng, (m, n_in)), pack_quant_weight(weight),
        quant_kernel_bias(weight, np.zeros(n_out, np.int32), 0), np.full(n_out, 0.01, np.float32),
    ]  # fmt: skip
    params = dict(M=m, IN=n_in, OUT=n_out, output_zero_point=0, qmin=-128, qmax=127)
    return buffers, params, (m, n_out)


def qpool_problem(c, h, w, size, stride, pad, dilation):
    oh = (h + 2 * pad - dilation * (size - 1) - 1) // stride + 1
    ow = (w + 2 * pad - dilation * (size - 1) - 1) // stride + 1
    params = dict(
        C=c, H=h, W=w, OH=oh, OW=ow, KH=size, KW=size, stride_h=stride, stride_w=stride,
        pad_h=pad, pad_w=pad, dilation_h=dilation, dilation_w=dilation,
    )  # fmt: skip
    return [random_int8(np.random.default_rng(h), (c, h, w))], params, (c, oh, ow)


PROBLEMS = list(scratch_problems())


def test_every_kernel_that_takes_scratch_declares_it():
    """The kernels whose sources call scratch() are those with a formula, all tested here."""
    from mnistc.kernels import KERNEL_DIR

    declared = {k.name for k in abi.KERNELS.values() if k.scratch is not None}
    assert declared == {name for name, *_ in PROBLEMS}
    sources = ("conv/depthwise.cpp", "conv/packed.cpp", "conv/winograd.cpp", "conv/transpose.cpp")
    for name in (*sources, "gemm.cpp", "matmul.cpp", "linear.cpp", "recurrent.cpp", "quant.cpp"):
        assert "scratch(" in (KERNEL_DIR / name).read_text(), name


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: f"{p[0]}-{p[2]}")
def test_scratch_formula_is_what_the_kernel_asks(kernels, problem):  # noqa: F811
    """On one thread the kernel asks exactly its formula's floats of each slot; on two,
    no thread asks for more."""
    name, buffers, params, shape = problem
    kernel = abi.kernel(name)
    values = only(name, params | activation_args(None, ()))
    formula = kernel.scratch_floats(values)
    int8 = bool(kernel.element_types)
    for threads in (1, 2):
        out = np.empty(shape, np.int8 if int8 else np.float32)
        high_water(kernels, reset=True)
        at_threads(threads, lambda: (typed_call if int8 else call)(kernels, name, [*buffers, out], **values))
        asked = high_water(kernels)
        if threads == 1:
            assert asked == formula
        else:
            assert all(a <= f for a, f in zip(asked, formula)), (asked, formula)


class Decoder(torch.nn.Module):
    """Every kernel that takes scratch: packed (few channels), GEMM (stride 2), depthwise,
    Winograd (3x3, 16 channels), and a transposed convolution on the GEMM core."""

    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.down = torch.nn.Conv2d(16, 24, 3, stride=2, padding=1)
        self.depthwise = torch.nn.Conv2d(24, 24, 3, padding=1, groups=24)
        self.wino = torch.nn.Conv2d(24, 16, 3, padding=1)
        self.up = torch.nn.ConvTranspose2d(16, 8, 2, stride=2)

    def forward(self, x):
        x = torch.relu(self.down(torch.relu(self.stem(x))))
        return self.up(torch.relu(self.wino(torch.relu(self.depthwise(x)))))


SHAPE = (3, 20, 20)


@pytest.fixture(scope="module")
def decoder(tmp_path_factory):
    directory = tmp_path_factory.mktemp("scratch")
    torch.manual_seed(0)
    model = save_traced(Decoder().eval(), torch.zeros(1, *SHAPE), directory / "decoder.pt")
    compilation = Compilation.import_file(model, SHAPE)
    compilation.run_to("cpp")
    library = compile_model(compilation, directory / "libdecoder.so", CompileOptions(shared=True))
    executable = compile_model(model, directory / "decoder", CompileOptions(sample_shape=SHAPE))
    return compilation, library, executable, directory


def test_the_plan_is_what_the_kernels_ask_for(decoder):
    """The planned slots are the largest need of any call, which the kernels then ask for
    exactly on one thread, and never exceed on two."""
    compilation, library, _, _ = decoder
    function = _entry(compilation.module)
    plan = planned_scratch(function)
    kernels = {op.kernel.name for op in function.walk() if isinstance(op, cpu.CallOp)}
    assert {"conv2d_gemm", "conv2d_depthwise", "conv_transpose2d"} <= kernels, kernels
    assert plan[0] > 0 and plan[1] > 0
    compiled = CompiledModel(library.output)
    inputs = np.random.default_rng(0).standard_normal((3, *SHAPE), dtype=np.float32)
    high_water(compiled._lib, reset=True)
    compiled.set_num_threads(1)
    compiled(inputs[:1])
    assert high_water(compiled._lib, reset=True) == plan
    compiled.set_num_threads(2)
    compiled(inputs)
    assert all(a <= p for a, p in zip(high_water(compiled._lib), plan))
    memory = compiled.planned_memory()
    assert memory.scratch == scratch_bytes(function) >= 4 * sum(plan)
    assert memory == library.memory


def test_info_and_compile_report_the_peak(decoder):
    """--info: weights + threads x (arena + scratch), the figures `mnistc compile` gives."""
    _, _, executable, _ = decoder
    env = {**os.environ, "OMP_NUM_THREADS": "3"}
    info = json.loads(subprocess.run([str(executable.output), "--info"], capture_output=True, text=True, check=True, env=env).stdout)
    memory = info["memory"]
    planned = executable.memory
    assert memory == {
        "weights": planned.weights, "arena_per_thread": planned.arena,
        "scratch_per_thread": planned.scratch, "threads": 3, "peak": planned.peak(3),
    }  # fmt: skip
    assert planned.scratch > 0 and planned.arena > 0 and planned.weights >= executable.weight_bytes


def test_a_kernel_asking_more_than_planned_stops_the_program(decoder, monkeypatch):
    """A formula that under-counts: the kernel's scratch() call stops the program with
    the slot and both sizes, before it can write past the plan."""
    _, _, _, directory = decoder
    transpose = abi.KERNELS["conv_transpose2d"]
    short = dataclasses.replace(transpose, scratch=lambda p: (1, 1))
    monkeypatch.setitem(abi.KERNELS, "conv_transpose2d", short)

    class Up(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.up = torch.nn.ConvTranspose2d(4, 2, 2, stride=2)

        def forward(self, x):
            return self.up(x)

    torch.manual_seed(1)
    model = save_traced(Up().eval(), torch.zeros(1, 4, 3, 3), directory / "up.pt")
    exe = compile_model(model, directory / "up", CompileOptions(sample_shape=(4, 3, 3))).output
    np.ones((1, 4, 3, 3), np.float32).tofile(directory / "in.bin")
    result = subprocess.run([str(exe), str(directory / "in.bin"), str(directory / "out.bin")], capture_output=True, text=True)
    assert result.returncode != 0
    assert "scratch in slot" in result.stderr and "the plan holds 1" in result.stderr
    assert not (directory / "out.bin").exists()
