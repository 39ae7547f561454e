"""The int8 kernels of kernels/quant.cpp against NumPy, bit for bit.

The reference is the integer arithmetic of the quantized `nn` IR, written here from its
definition (not from the kernels' layouts): acc = sum((x - input_zp) * w) + bias in
integers, y = clamp(rint(float32(acc) * multiplier) + output_zp, qmin, qmax) in float32
with ties to even. The kernels are built three times, one build per ISA path that the
preprocessor chooses (AVX-512 VNNI, AVX2 with vpmaddwd, scalar), from kernels/quant.cpp
and kernels/scratch.cpp (the scratch it asks for; under a second each), and every path
must give the same bytes.
"""

from __future__ import annotations

import ctypes
import re
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import high_water

from mnistc.kernels import KERNEL_DIR, abi
from mnistc.memory.plan_memory import planned_scratch
from mnistc.targets.cpp import _entry
from mnistc.toolchain import BuildConfig
from mnistc.dialects import nn
from mnistc.dialects.nn import requantization_multipliers
from mnistc.driver import WEIGHTS_FILE, Compilation, CompileOptions, compile_model
from mnistc.importers.common import ImportedModel
from mnistc.interpreters.nn import run_function
from mnistc.runtime import CompiledModel
from mnistc.weights import WeightFile, set_weights_name, weight_op
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Region
from mnistc.transforms.packing import pack_quant_weight, quant_kernel_bias

ISA_TARGETS = {
    "vnni": ("native", "__AVX512VNNI__"),
    "avx2": ("x86-64-v3", "__AVX2__"),
    "scalar": ("x86-64", None),
}
"""Path → the -march that selects it, and the macro that it needs: the VNNI path is the
host's own (`native`, the default build), tested where the host has AVX-512 VNNI."""

C_TYPES = {"float": ctypes.c_float, "int8_t": ctypes.c_int8, "int32_t": ctypes.c_int32}
NUMPY_TYPES = {"float": np.float32, "int8_t": np.int8, "int32_t": np.int32}


def _macros(march: str) -> str:
    return subprocess.run(
        ["g++", f"-march={march}", "-dM", "-E", "-x", "c++", "/dev/null"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


@pytest.fixture(scope="module")
def quant_builds(tmp_path_factory) -> dict[str, Path]:
    """kernels/quant.cpp built for each ISA path, side by side, with the flags of an
    optimised compile."""
    directory = tmp_path_factory.mktemp("quant")
    builds = {isa: directory / f"libquant-{isa}.so" for isa in ISA_TARGETS}
    compiles = [
        subprocess.Popen(
            ["g++", *BuildConfig(target_cpu=march).flags(), "-shared",
             *(str(KERNEL_DIR / name) for name in ("quant.cpp", "scratch.cpp")), "-o", str(builds[isa])]  # fmt: skip
        )
        for isa, (march, _) in ISA_TARGETS.items()
    ]
    assert all(compile_.wait() == 0 for compile_ in compiles)
    return builds


@pytest.fixture(scope="module", params=sorted(ISA_TARGETS))
def quant(request, quant_builds) -> ctypes.CDLL:
    """The kernels of one ISA path; the build's macros prove which path it is."""
    march, macro = ISA_TARGETS[request.param]
    macros = _macros(march)
    if macro is not None and f"#define {macro} " not in _macros("native"):
        pytest.skip(f"this host has no {macro[2:-2]}: its path cannot run here")
    assert macro is None or f"#define {macro} " in macros
    assert "__AVX512VNNI__" not in macros or request.param == "vnni"
    assert "__AVX2__" not in macros or request.param != "scalar"
    return ctypes.CDLL(str(quant_builds[request.param]))


def call(library: ctypes.CDLL, name: str, buffers: list[np.ndarray], **params) -> None:
    """Calls kernel `name` of kernels/abi.py, checking each buffer's element type against
    the contract."""
    kernel = abi.kernel(name)
    names = (*kernel.inputs, *kernel.outputs)
    assert len(buffers) == len(names) and set(params) == {*kernel.params, *kernel.fparams}
    pointers = []
    for buffer_name, array in zip(names, buffers):
        c_type = kernel.element_type(buffer_name)
        assert array.dtype == NUMPY_TYPES[c_type] and array.flags.c_contiguous, buffer_name
        pointers.append(array.ctypes.data_as(ctypes.POINTER(C_TYPES[c_type])))
    values = kernel.arguments(params)
    ints, floats = values[: len(kernel.params)], values[len(kernel.params) :]
    getattr(library, kernel.symbol)(
        *pointers, *(ctypes.c_int64(v) for v in ints), *(ctypes.c_float(v) for v in floats)
    )


# --- the reference ---------------------------------------------------------------------


def requantize(acc: np.ndarray, multiplier: np.ndarray, zero_point: int, qmin: int, qmax: int) -> np.ndarray:
    """acc int64 [..., OUT] (channels last) or broadcast against multiplier."""
    scaled = acc.astype(np.float32) * multiplier.astype(np.float32)
    assert scaled.dtype == np.float32
    return np.clip(np.rint(scaled).astype(np.int64) + zero_point, qmin, qmax).astype(np.int8)


def random_int8(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.integers(-128, 128, size=shape, dtype=np.int64).astype(np.int8)


def assert_saturates_and_not(expected: np.ndarray, qmin: int, qmax: int) -> None:
    """The case tested both the clamp and values in range."""
    assert ((expected == qmin) | (expected == qmax)).any()
    assert ((expected > qmin) & (expected < qmax)).any()


def bounds(rng: np.random.Generator, zero_point: int, fused: str) -> tuple[int, int]:
    """qmin, qmax: the int8 range, or from the zero point up (a fused relu)."""
    return (zero_point, 127) if fused == "relu" else (-128, 127)


# --- quantize / dequantize ----------------------------------------------------------------


@pytest.mark.parametrize("zero_point", [-128, 0, 127, -3])
def test_quantize(quant, zero_point):
    rng = np.random.default_rng(1)
    scale = np.float32(0.0371)
    x = (rng.standard_normal(1001) * 6).astype(np.float32)  # odd count, many saturate
    ties = (np.arange(-20, 20, dtype=np.float32) + np.float32(0.5)) * np.float32(0.25)
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30], dtype=np.float32)
    x = np.concatenate([x, ties, special]).astype(np.float32)
    for s in (scale, np.float32(0.25)):  # 0.25: the ties fall exactly on .5
        out = np.empty(x.size, dtype=np.int8)
        call(quant, "quantize", [x, out], count=x.size, zero_point=zero_point, scale=float(s))
        with np.errstate(invalid="ignore"):
            q = np.rint(x / s)
        expected = np.clip(np.where(np.isnan(q), 0, q) + zero_point, -128, 127).astype(np.int8)
        np.testing.assert_array_equal(out, expected)
    assert out[x.size - 7] == zero_point  # NaN → the zero point


@pytest.mark.parametrize("zero_point", [-128, 127, 5])
def test_dequantize(quant, zero_point):
    q = np.arange(-128, 128, dtype=np.int8)
    out = np.empty(q.size, dtype=np.float32)
    call(quant, "dequantize", [q, out], count=q.size, zero_point=zero_point, scale=0.0371)
    expected = (q.astype(np.int64) - zero_point).astype(np.float32) * np.float32(0.0371)
    np.testing.assert_array_equal(out, expected)


# --- qlinear ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "m, n_in, n_out, in_zp, out_zp, fused",
    [
        (1, 37, 10, -128, 127, "none"),
        (1, 9216, 128, 127, -128, "relu"),  # MNIST's fc1
        (3, 5, 17, 0, -7, "none"),
        (2, 64, 33, 11, -100, "relu"),
    ],
)
def test_qlinear(quant, m, n_in, n_out, in_zp, out_zp, fused):
    rng = np.random.default_rng(n_in * n_out)
    x = random_int8(rng, (m, n_in))
    x[0, : min(4, n_in)] = [-128, 127, -128, 127][: min(4, n_in)]
    w = random_int8(rng, (n_out, n_in))
    w[0, :] = -128  # the extreme weights
    bias = rng.integers(-(2**16), 2**16, size=n_out).astype(np.int32)
    acc = (x.astype(np.int64) - in_zp) @ w.astype(np.int64).T + bias
    # Multipliers that make some outputs saturate at both ends and others land in range.
    spread = np.abs(acc).max() + 1
    multiplier = requantization_multipliers(0.5, rng.uniform(120, 800, size=n_out) / spread, 1.0)
    multiplier[np.abs(acc).max(axis=0).argmax()] = 1000 / spread  # saturates
    qmin, qmax = bounds(rng, out_zp, fused)
    out = np.empty((m, n_out), dtype=np.int8)
    call(
        quant, "qlinear",
        [x, pack_quant_weight(w), quant_kernel_bias(w, bias, in_zp), multiplier, out],
        M=m, IN=n_in, OUT=n_out, output_zero_point=out_zp, qmin=qmin, qmax=qmax,
    )  # fmt: skip
    expected = requantize(acc, multiplier, out_zp, qmin, qmax)
    np.testing.assert_array_equal(out, expected)
    assert_saturates_and_not(expected, qmin, qmax)


# --- qconv2d ------------------------------------------------------------------------------

CONVS = {
    # name: C, H, W, K, KH, KW, stride, pad, dilation, groups
    "mnist_conv1": (1, 28, 28, 32, 3, 3, 1, 0, 1, 1),
    "mnist_conv2": (32, 12, 12, 64, 3, 3, 1, 0, 1, 1),
    "odd_channels": (3, 9, 21, 5, 3, 3, 1, 1, 1, 1),
    "stride2_pad": (6, 11, 13, 17, 3, 3, 2, 1, 1, 1),
    "dilated_5x5": (4, 12, 12, 9, 5, 5, 1, 2, 2, 1),
    "pointwise": (33, 5, 7, 19, 1, 1, 1, 0, 1, 1),
    "groups": (6, 8, 8, 9, 3, 3, 1, 1, 1, 3),
    "depthwise_s2": (8, 9, 9, 8, 3, 3, 2, 1, 1, 8),
}


@pytest.mark.parametrize("name", sorted(CONVS))
@pytest.mark.parametrize("in_zp, out_zp, fused", [(-128, 127, "none"), (127, -128, "relu"), (3, -5, "none")])
def test_qconv2d(quant, name, in_zp, out_zp, fused):
    c, h, w, k, kh, kw, stride, pad, dilation, groups = CONVS[name]
    rng = np.random.default_rng(zlib.crc32(f"{name}{in_zp}".encode()))
    x = random_int8(rng, (c, h, w))
    weight = random_int8(rng, (k, c // groups, kh, kw))
    weight[-1] = -128
    bias = rng.integers(-(2**16), 2**16, size=k).astype(np.int32)
    real = torch.from_numpy(x.astype(np.float64) - in_zp)[None]
    acc = F.conv2d(
        real, torch.from_numpy(weight.astype(np.float64)), torch.from_numpy(bias.astype(np.float64)),
        stride, pad, dilation, groups,
    )[0].numpy()  # fmt: skip
    assert np.array_equal(acc, np.round(acc))  # exact in float64: integer sums below 2^53
    oh, ow = acc.shape[1:]
    spread = np.abs(acc).max() + 1
    multiplier = rng.uniform(60 / spread, 400 / spread, size=k).astype(np.float32)
    multiplier[np.abs(acc).max(axis=(1, 2)).argmax()] = 1000 / spread  # saturates
    qmin, qmax = bounds(rng, out_zp, fused)
    out = np.empty((k, oh, ow), dtype=np.int8)
    geometry = {
        "C": c, "H": h, "W": w, "K": k, "OH": oh, "OW": ow, "KH": kh, "KW": kw,
        "stride_h": stride, "stride_w": stride, "pad_h": pad, "pad_w": pad,
        "dilation_h": dilation, "dilation_w": dilation, "groups": groups,
    }  # fmt: skip
    call(
        quant, "qconv2d",
        [x, pack_quant_weight(weight, groups), quant_kernel_bias(weight, bias, in_zp), multiplier, out],
        **geometry, input_zero_point=in_zp, output_zero_point=out_zp, qmin=qmin, qmax=qmax,
    )  # fmt: skip
    expected = requantize(acc.astype(np.int64), multiplier[:, None, None], out_zp, qmin, qmax)
    np.testing.assert_array_equal(out, expected)
    assert_saturates_and_not(expected, qmin, qmax)


# --- max_pool2d_i8 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kernel, stride, pad, dilation, h, w",
    [(2, 2, 0, 1, 13, 11), (2, 2, 0, 1, 12, 10), (3, 2, 1, 1, 13, 11), (3, 1, 1, 2, 13, 11)],
)  # 2x2 on 12x10: the windows tile the planes, the vector path
def test_max_pool2d_i8(quant, kernel, stride, pad, dilation, h, w):
    rng = np.random.default_rng(kernel * 10 + pad + h)
    x = random_int8(rng, (5, h, w))
    x[0] = -128  # a plane at the bottom of the range: padding must not win over it
    x[1, :2, :2] = [[127, -128], [-128, -127]]
    expected = F.max_pool2d(torch.from_numpy(x.astype(np.float32))[None], kernel, stride, pad, dilation)[0]
    expected = expected.numpy().astype(np.int8)
    out = np.empty(expected.shape, dtype=np.int8)
    oh, ow = expected.shape[1:]
    call(
        quant, "max_pool2d_i8", [x, out],
        C=5, H=h, W=w, OH=oh, OW=ow, KH=kernel, KW=kernel, stride_h=stride, stride_w=stride,
        pad_h=pad, pad_w=pad, dilation_h=dilation, dilation_w=dilation,
    )  # fmt: skip
    np.testing.assert_array_equal(out, expected)


# --- the lowering, end to end -------------------------------------------------------------


def quantized_model(rng: np.random.Generator) -> ImportedModel:
    """An `nn` module built by hand as the quantize pass would write one: quantize, a
    qconv2d with a fused relu (odd channel count, padding), a max pool and a reshape on
    int8, a hardtanh-clamped qlinear with zero points at the extremes, a qlinear without
    bias, dequantize. Weights int8 (int32 biases, float32 scales) in the weight file."""
    weights = WeightFile(name=WEIGHTS_FILE)
    block = Block(arg_types=[nn.tensor((1, 2, 12, 12))])
    ops: list = []

    def add(op):
        ops.append(op)
        return op.results[0]

    def layer(key: str, shape: tuple[int, ...]):
        channels = shape[0]
        return (
            add(weight_op(weights, f"{key}.weight", random_int8(rng, shape))),
            add(weight_op(weights, f"{key}.scale", rng.uniform(0.002, 0.02, channels).astype(np.float32))),
            add(weight_op(weights, f"{key}.bias", rng.integers(-3000, 3000, channels).astype(np.int32))),
        )

    x = add(nn.QuantizeOp(block.args[0], 0.02, -3))
    conv = layer("conv", (7, 2, 3, 3))
    x = add(nn.QConv2DOp(x, *conv, (0.02, -3), (0.03, -128), padding=(1, 1), activation=nn.Activation("relu")))
    x = add(nn.MaxPool2DOp(x, (2, 2), (2, 2)))
    x = add(nn.ReshapeOp(x, (1, 7 * 6 * 6)))
    fc1 = layer("fc1", (19, 7 * 6 * 6))
    x = add(nn.QLinearOp(x, *fc1, (0.03, -128), (0.05, 127), nn.Activation("hardtanh", (-3.0, 2.0))))
    fc2_weight, fc2_scale, _ = layer("fc2", (10, 19))
    x = add(nn.QLinearOp(x, fc2_weight, fc2_scale, None, (0.05, 127), (0.1, 5)))
    x = add(nn.DequantizeOp(x, 0.1, 5))
    block.add_ops([*ops, func.ReturnOp(x)])
    function = func.FuncOp("forward", ([block.args[0].type], [x.type]), Region(block))
    module = set_weights_name(ModuleOp([function]), WEIGHTS_FILE)
    module.verify()
    return ImportedModel(module, weights)


@pytest.fixture(scope="module")
def quantized_library(tmp_path_factory, session_kernels):
    """The hand-built model compiled as a library, and the reference interpreter's
    results on the same inputs."""
    rng = np.random.default_rng(13)
    model = quantized_model(rng)
    inputs = (rng.standard_normal((5, 2, 12, 12)) * 2).astype(np.float32)
    inputs[0, 0, 0, :3] = [np.nan, np.inf, -np.inf]  # NaN quantizes to the zero point
    expected = np.concatenate([run_function(model.module, x[None], model.weights) for x in inputs])
    compilation = Compilation.from_imported(model)
    library = tmp_path_factory.mktemp("quantized") / "libquantized.so"
    compile_model(compilation, library, CompileOptions(shared=True))
    return compilation, CompiledModel(library), inputs, expected


def test_lowered_model_matches_the_interpreter(quantized_library):
    _, model, inputs, expected = quantized_library
    out = model(inputs)
    np.testing.assert_array_equal(out, expected)  # int8 all the way: bit-exact
    assert len(np.unique(out)) > 10  # not all saturated


def test_lowered_ir_is_int8(quantized_library):
    """The int8 values travel as int8 buffers through the arena, the constants are typed
    weights, and the C++ declares them so."""
    compilation, _, _, _ = quantized_library
    loops, cpp = compilation.stages["loops"], compilation.stages["cpp"]
    for kernel in ("quantize", "qconv2d", "max_pool2d_i8", "qlinear", "dequantize"):
        assert f"cpu.call @{kernel}(" in loops
    assert re.search(r"cpu.weight \"conv.weight\|packed_int8\" offset \d+ : memref<320xi8>", loops)
    assert "memref<7xi32>" in loops and "memref<7xf32>" in loops
    assert "int8_t* conv_weight_packed_int8 = reinterpret_cast<const int8_t*>" in cpp
    assert "const int32_t* conv_weight_bias_int32" in cpp
    assert re.search(r"\bint8_t\* \w+ = reinterpret_cast<int8_t\*>\(arena \+ \d+\);", cpp)


def test_int8_scratch_is_planned(quantized_library):
    """The int8 kernels' scratch is in the model's plan, so in its peak memory: on one
    thread they ask exactly the planned floats of each slot."""
    compilation, model, inputs, _ = quantized_library
    plan = planned_scratch(_entry(compilation.module))
    assert all(plan), plan  # slot 0: qconv2d's input, slot 1: its panels
    model.set_num_threads(1)
    high_water(model._lib, reset=True)
    model(inputs[:1])
    assert high_water(model._lib) == plan
    assert model.planned_memory().scratch >= 4 * sum(plan)
