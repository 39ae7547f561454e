"""Each kernel of kernels/ against PyTorch, on random shapes and parameters.

The kernels have a C ABI, so the test builds them into a shared library and calls them
through ctypes: no model, importer or code generator is involved. After the shared
harness, one section per op family, in the order and with the names of kernels/abi.py.
"""

from __future__ import annotations

import ctypes
import functools
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mnistc.dialects import nn as nn_dialect
from mnistc.dialects.nn import pool2d_output_shape
from mnistc.toolchain import BuildConfig

from mnistc.kernels import abi
from mnistc.lowering.nn_to_cpu.activation import activation_params

RNG_SEED = 1234
I64 = ctypes.c_int64


@functools.cache
def kernel_library(session_dir: Path, objects: tuple[Path, ...]) -> ctypes.CDLL:
    """The session's kernel objects (compiled once, as for an optimised compile) linked
    into one library, which the test modules that call kernels share."""
    library = session_dir / "kernel-library" / "libkernels.so"
    library.parent.mkdir()
    subprocess.run(
        ["g++", *BuildConfig().flags(), "-shared", *map(str, objects), "-o", str(library)],
        check=True,
    )
    return ctypes.CDLL(str(library))


@pytest.fixture(scope="module")
def kernels(tmp_path_factory, session_kernels):
    return kernel_library(tmp_path_factory.getbasetemp(), tuple(session_kernels))


def ptr(array: np.ndarray | None):
    if array is None:
        return None
    assert array.dtype == np.float32 and array.flags.c_contiguous
    return array.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def call(kernels, name: str, buffers: list, **params: int | float) -> None:
    """Calls kernel `name` of kernels/abi.py with its parameters by name."""
    kernel = abi.kernel(name)
    assert len(buffers) == len(kernel.inputs) + len(kernel.outputs)
    assert set(params) == {*kernel.params, *kernel.fparams}, sorted(params)
    values = kernel.arguments(params)
    ints, floats = values[: len(kernel.params)], values[len(kernel.params) :]
    getattr(kernels, kernel.symbol)(
        *map(ptr, buffers), *(I64(p) for p in ints), *(ctypes.c_float(f) for f in floats)
    )


def only(kernel: str, params: dict) -> dict:
    """The entries of `params` that `kernel` takes (one geometry serves every conv kernel)."""
    k = abi.kernel(kernel)
    return {name: params[name] for name in (*k.params, *k.fparams) if name in params}


def assert_close(actual: np.ndarray, expected: torch.Tensor) -> None:
    np.testing.assert_allclose(actual, expected.numpy(), rtol=1e-4, atol=1e-4)


# (kind, params) → the PyTorch function it must match.
ACTIVATIONS = {
    (None, ()): lambda t: t,
    ("relu", ()): F.relu,
    ("hardtanh", (-0.5, 1.5)): lambda t: F.hardtanh(t, -0.5, 1.5),
    ("hardtanh", (0.0, 6.0)): F.relu6,
    ("leaky_relu", (0.1,)): lambda t: F.leaky_relu(t, 0.1),
    ("elu", (0.7,)): lambda t: F.elu(t, 0.7),
    ("sigmoid", ()): torch.sigmoid,
    ("tanh", ()): torch.tanh,
    ("hardswish", ()): F.hardswish,
    ("gelu", ()): F.gelu,
    ("gelu_tanh", ()): lambda t: F.gelu(t, approximate="tanh"),
    ("silu", ()): F.silu,
    ("hardsigmoid", (1 / 6, 0.5)): F.hardsigmoid,
    ("hardsigmoid", (0.2, 0.5)): lambda t: torch.clamp(0.2 * t + 0.5, 0, 1),  # ONNX's default
    ("mish", ()): F.mish,
    ("softplus", (1.0, 20.0)): F.softplus,
    ("softplus", (2.0, 3.0)): lambda t: F.softplus(t, 2.0, 3.0),
    ("softsign", ()): F.softsign,
    ("selu", ()): F.selu,
    ("celu", (0.5,)): lambda t: F.celu(t, 0.5),
    ("exp", ()): torch.exp,
    ("log", ()): torch.log,
    ("sqrt", ()): torch.sqrt,
    ("rsqrt", ()): torch.rsqrt,
    ("neg", ()): torch.neg,
    ("abs", ()): torch.abs,
    ("pow", (3.0,)): lambda t: torch.pow(t, 3.0),
    ("pow", (0.5,)): lambda t: torch.pow(t, 0.5),
    ("reciprocal", ()): torch.reciprocal,
}


ILL_CONDITIONED = {"exp", "log", "sqrt", "rsqrt", "pow", "reciprocal"}
"""Functions that magnify a relative error of their input (exp(x) by |x|, pow(x, 3)
threefold, 1/x and log near their poles): through them, a convolution's float32 rounding,
about 1e-5 relative, exceeds the 1e-4 tolerance. The conv and linear epilogue tests
against PyTorch leave them out; test_activation checks their formula on the element-wise
kernel, and test_nan_propagation.py runs them through every epilogue."""
EPILOGUE_ACTIVATIONS = {key: f for key, f in ACTIVATIONS.items() if key[0] not in ILL_CONDITIONED}


def activation_args(kind, params) -> dict:
    return activation_params(None if kind is None else nn_dialect.Activation(kind, tuple(params)))


# conv (kernels/conv/)

def conv_cases():
    rng = np.random.default_rng(RNG_SEED)
    yield dict(c=1, h=28, w=28, k=32, kh=3, kw=3, stride=(1, 1), pad=(0, 0), dil=(1, 1), groups=1)
    yield dict(c=3, h=7, w=5, k=4, kh=3, kw=2, stride=(2, 1), pad=(1, 2), dil=(1, 1), groups=1)
    yield dict(c=6, h=9, w=11, k=4, kh=3, kw=3, stride=(1, 1), pad=(1, 1), dil=(2, 1), groups=2)
    yield dict(c=8, h=10, w=10, k=8, kh=3, kw=3, stride=(2, 2), pad=(1, 1), dil=(1, 1), groups=8)
    yield dict(c=2, h=1, w=1, k=3, kh=1, kw=1, stride=(1, 1), pad=(0, 0), dil=(1, 1), groups=1)
    for _ in range(6):
        groups = int(rng.choice([1, 1, 2, 3]))
        kh, kw = (int(v) for v in rng.integers(1, 6, 2))
        dil = tuple(int(v) for v in rng.integers(1, 3, 2))
        pad = (int(rng.integers(0, kh)), int(rng.integers(0, kw)))
        yield dict(
            c=groups * int(rng.integers(1, 5)), k=groups * int(rng.integers(1, 5)),
            h=int(rng.integers(dil[0] * (kh - 1) + 1, 20)), w=int(rng.integers(dil[1] * (kw - 1) + 1, 20)),
            kh=kh, kw=kw, stride=tuple(int(v) for v in rng.integers(1, 4, 2)), pad=pad, dil=dil,
            groups=groups,
        )  # fmt: skip


def conv_problem(case: dict, with_bias: bool, with_residual: bool, weight_scale: float = 1.0):
    """Random input, weight (standard normal times `weight_scale`), optional bias and
    residual, and PyTorch's result."""
    rng = np.random.default_rng(RNG_SEED)
    c, h, w, k, groups = case["c"], case["h"], case["w"], case["k"], case["groups"]
    x = rng.standard_normal((1, c, h, w), dtype=np.float32)
    weight = rng.standard_normal((k, c // groups, case["kh"], case["kw"]), dtype=np.float32)
    weight *= np.float32(weight_scale)
    bias = rng.standard_normal(k, dtype=np.float32) if with_bias else None
    expected = F.conv2d(
        torch.from_numpy(x), torch.from_numpy(weight),
        None if bias is None else torch.from_numpy(bias),
        case.get("stride", 1), case["pad"], case["dil"], groups,
    )  # fmt: skip
    residual = None
    if with_residual:
        residual = rng.standard_normal(expected.shape, dtype=np.float32)
        expected = expected + torch.from_numpy(residual)
    return x, weight, bias, residual, expected


def conv_geometry(case: dict, expected: torch.Tensor) -> dict:
    """The convolution parameters of a case, by the names of kernels/abi.py."""
    _, _, oh, ow = expected.shape
    return {
        "C": case["c"], "H": case["h"], "W": case["w"], "K": case["k"], "OH": oh, "OW": ow,
        "KH": case["kh"], "KW": case["kw"], "groups": case["groups"],
        **dict(zip(("stride_h", "stride_w"), case.get("stride", (1, 1)))),
        **dict(zip(("pad_h", "pad_w"), case["pad"])),
        **dict(zip(("dilation_h", "dilation_w"), case["dil"])),
    }  # fmt: skip


def assert_conv_kernel(kernels, kernel: str, inputs: list, params: dict, expected: torch.Tensor, then=lambda t: t):
    """`kernel`(inputs, out, params, activation) = then(activation(expected)) for every
    activation; `out` starts as NaN so that unwritten elements show."""
    for (kind, parameters), reference in EPILOGUE_ACTIVATIONS.items():
        wanted = then(reference(expected))
        out = np.full(wanted.shape, np.nan, dtype=np.float32)
        call(kernels, kernel, [*inputs, out], **only(kernel, params | activation_args(kind, parameters)))
        assert_close(out, wanted)


@pytest.mark.parametrize("case", list(conv_cases()), ids=str)
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("with_residual", [False, True])
def test_conv2d(kernels, case, with_bias, with_residual):
    x, weight, bias, residual, expected = conv_problem(case, with_bias, with_residual)
    assert_conv_kernel(
        kernels, "conv2d", [x, weight, bias, residual], conv_geometry(case, expected), expected
    )


def stride_one_cases():
    yield dict(c=32, h=26, w=26, k=64, kh=3, kw=3, pad=(0, 0), dil=(1, 1), groups=1)
    yield dict(c=1, h=28, w=28, k=32, kh=3, kw=3, pad=(0, 0), dil=(1, 1), groups=1)
    yield dict(c=3, h=7, w=5, k=7, kh=3, kw=2, pad=(1, 2), dil=(1, 1), groups=1)
    yield dict(c=6, h=9, w=40, k=4, kh=3, kw=3, pad=(2, 1), dil=(2, 1), groups=2)
    yield dict(c=8, h=10, w=10, k=8, kh=3, kw=3, pad=(1, 1), dil=(1, 1), groups=8)
    yield dict(c=5, h=3, w=17, k=13, kh=1, kw=1, pad=(0, 0), dil=(1, 1), groups=1)
    yield dict(c=2, h=1, w=1, k=3, kh=1, kw=1, pad=(0, 0), dil=(1, 1), groups=1)


@pytest.mark.parametrize("case", list(stride_one_cases()), ids=str)
@pytest.mark.parametrize("with_bias,with_residual", [(True, False), (False, True)])
def test_conv2d_packed(kernels, case, with_bias, with_residual):
    """The stride-1 fast path, with weights packed as the compiler packs them."""
    from mnistc.transforms.packing import pack_conv_weight

    x, weight, bias, residual, expected = conv_problem(case, with_bias, with_residual)
    assert_conv_kernel(
        kernels, "conv2d_packed", [x, pack_conv_weight(weight, case["groups"]), bias, residual],
        conv_geometry(case, expected), expected,
    )  # fmt: skip


def gemm_cases():
    yield dict(c=3, h=32, w=32, k=16, kh=7, kw=7, stride=(2, 2), pad=(3, 3), dil=(1, 1), groups=1)  # a stem
    yield dict(c=16, h=8, w=8, k=24, kh=3, kw=3, stride=(2, 2), pad=(1, 1), dil=(1, 1), groups=1)
    yield dict(c=8, h=9, w=7, k=5, kh=1, kw=1, stride=(2, 2), pad=(0, 0), dil=(1, 1), groups=1)  # downsample
    yield dict(c=3, h=11, w=13, k=4, kh=3, kw=2, stride=(3, 1), pad=(1, 2), dil=(2, 1), groups=1)
    yield dict(c=4, h=5, w=5, k=3, kh=3, kw=3, stride=(1, 2), pad=(0, 1), dil=(1, 1), groups=1)
    # 1x1 stride 1 (B read as a matrix): M over several MC blocks, 7x7 = 3 x 16 + 1 columns.
    yield dict(c=13, h=7, w=7, k=150, kh=1, kw=1, stride=(1, 1), pad=(0, 0), dil=(1, 1), groups=1)
    # A reduction of two KC blocks (40 * 9 = 360 rows), N over two NC blocks (576 columns).
    yield dict(c=40, h=24, w=24, k=70, kh=3, kw=3, stride=(1, 1), pad=(1, 1), dil=(1, 1), groups=1)
    yield dict(c=5, h=1, w=1, k=7, kh=3, kw=3, stride=(1, 1), pad=(1, 1), dil=(1, 1), groups=1)  # 1x1 map
    yield dict(c=3, h=4, w=4, k=5, kh=2, kw=2, stride=(3, 3), pad=(3, 3), dil=(1, 1), groups=1)  # pad > kernel
    yield dict(c=6, h=12, w=12, k=9, kh=3, kw=3, stride=(1, 1), pad=(2, 2), dil=(2, 2), groups=1)
    yield dict(c=6, h=9, w=11, k=4, kh=3, kw=3, stride=(2, 2), pad=(1, 1), dil=(1, 1), groups=2)
    yield dict(c=9, h=10, w=10, k=15, kh=3, kw=3, stride=(1, 1), pad=(1, 1), dil=(1, 1), groups=3)
    yield dict(c=12, h=5, w=6, k=9, kh=1, kw=1, stride=(1, 1), pad=(0, 0), dil=(1, 1), groups=3)


@pytest.mark.parametrize("case", list(gemm_cases()), ids=str)
@pytest.mark.parametrize("with_bias,with_residual", [(True, False), (False, True)])
def test_conv2d_gemm(kernels, case, with_bias, with_residual):
    """The GEMM core's convolution, with weights packed as the compiler packs them."""
    from mnistc.transforms.packing import pack_gemm_weight

    x, weight, bias, residual, expected = conv_problem(case, with_bias, with_residual)
    assert_conv_kernel(
        kernels, "conv2d_gemm", [x, pack_gemm_weight(weight, case["groups"]), bias, residual],
        conv_geometry(case, expected), expected,
    )  # fmt: skip


@pytest.mark.parametrize(
    "case",
    [
        # Columns split between the threads (576 columns, two KC blocks).
        dict(c=40, h=24, w=24, k=70, kh=3, kw=3, stride=(1, 1), pad=(1, 1), dil=(1, 1), groups=1),
        # One panel of 16 columns: the threads split the weight panels instead.
        dict(c=128, h=4, w=4, k=150, kh=1, kw=1, stride=(1, 1), pad=(0, 0), dil=(1, 1), groups=1),
    ],
    ids=str,
)
def test_conv2d_gemm_same_bits_at_one_and_two_threads(kernels, case):
    """Threads share out columns or weight panels, never a sum: the bits do not change."""
    from mnistc.transforms.packing import pack_gemm_weight

    x, weight, bias, _, expected = conv_problem(case, True, False)
    inputs = [x, pack_gemm_weight(weight, case["groups"]), bias, None]
    params = only("conv2d_gemm", conv_geometry(case, expected) | activation_args(None, ()))
    openmp = ctypes.CDLL("libgomp.so.1")
    outputs = []
    before = openmp.omp_get_max_threads()
    try:
        for threads in (1, 2):
            openmp.omp_set_num_threads(threads)
            out = np.empty(expected.shape, dtype=np.float32)
            call(kernels, "conv2d_gemm", [*inputs, out], **params)
            outputs.append(out)
    finally:
        openmp.omp_set_num_threads(before)
    assert_close(outputs[0], expected)
    np.testing.assert_array_equal(outputs[0], outputs[1])


def depthwise_cases():
    """Depthwise convolutions of every shape conv2d_depthwise takes: widths below, at and
    past a vector of 8, 1x1 and 2x2 maps, odd and even sizes, paddings 0 to 3 (also past
    the window's half), unequal paddings, and row counts that leave partial row tiles."""
    for kh, stride, c, h, w, pad in [
        (3, 1, 5, 13, 19, (1, 1)),
        (3, 1, 4, 6, 5, (0, 0)),
        (3, 1, 3, 1, 1, (1, 1)),
        (3, 1, 9, 23, 40, (2, 2)),
        (3, 1, 2, 7, 16, (3, 0)),
        (3, 2, 3, 2, 2, (1, 1)),
        (3, 2, 6, 17, 24, (1, 1)),
        (3, 2, 4, 10, 11, (0, 0)),
        (3, 2, 3, 8, 9, (3, 3)),
        (3, 2, 5, 12, 35, (0, 2)),
        (5, 1, 3, 9, 7, (2, 2)),
        (5, 1, 2, 4, 3, (3, 3)),
        (5, 1, 4, 14, 26, (1, 2)),
        (5, 2, 5, 15, 33, (2, 2)),
        (5, 2, 2, 2, 2, (2, 2)),
        (5, 2, 3, 1, 1, (2, 3)),
        (5, 2, 4, 20, 18, (0, 1)),
    ]:
        yield dict(c=c, h=h, w=w, k=c, kh=kh, kw=kh, stride=(stride, stride), pad=pad, dil=(1, 1), groups=c)


@pytest.mark.parametrize("case", list(depthwise_cases()), ids=str)
@pytest.mark.parametrize("with_bias,with_residual", [(False, False), (True, True)])
def test_conv2d_depthwise(kernels, case, with_bias, with_residual):
    """The depthwise fast path, on the weight as the model has it."""
    x, weight, bias, residual, expected = conv_problem(case, with_bias, with_residual)
    assert_conv_kernel(
        kernels, "conv2d_depthwise", [x, weight, bias, residual], conv_geometry(case, expected), expected
    )


def winograd_cases():
    yield dict(c=32, h=26, w=26, k=64, pad=(0, 0))
    yield dict(c=9, h=13, w=11, k=20, pad=(1, 1))  # partial tiles and channel blocks
    yield dict(c=64, h=8, w=8, k=64, pad=(1, 1))
    yield dict(c=8, h=6, w=6, k=8, pad=(0, 0))  # one tile
    yield dict(c=16, h=5, w=37, k=24, pad=(0, 1))


@pytest.mark.parametrize("case", list(winograd_cases()), ids=str)
@pytest.mark.parametrize("with_bias,with_residual", [(True, False), (False, True)])
def test_conv2d_winograd(kernels, case, with_bias, with_residual):
    """The 3x3 fast path, with weights transformed as the compiler transforms them.

    Winograd's rounding error grows with the magnitude of the products it sums, so the
    weights have the scale that initialisation and training give, 1/sqrt(fan-in): outputs
    of unit scale, as in a trained network.
    """
    from mnistc.transforms.packing import pack_winograd_weight

    case = dict(case, kh=3, kw=3, dil=(1, 1), groups=1)
    fan_in = case["c"] * 9
    x, weight, bias, residual, expected = conv_problem(case, with_bias, with_residual, fan_in**-0.5)
    assert_conv_kernel(
        kernels, "conv2d_winograd", [x, pack_winograd_weight(weight), bias, residual],
        conv_geometry(case, expected) | {"pool": 0}, expected,
    )  # fmt: skip


@pytest.mark.parametrize("case", list(winograd_cases()), ids=str)
def test_conv2d_winograd_with_max_pool(kernels, case):
    """pool = 2: the activated result max-pooled 2x2 with stride 2, odd sizes floored."""
    from mnistc.transforms.packing import pack_winograd_weight

    case = dict(case, kh=3, kw=3, dil=(1, 1), groups=1)
    x, weight, bias, _, expected = conv_problem(case, True, False, (case["c"] * 9) ** -0.5)
    assert_conv_kernel(
        kernels, "conv2d_winograd", [x, pack_winograd_weight(weight), bias, None],
        conv_geometry(case, expected) | {"pool": 2}, expected, then=lambda t: F.max_pool2d(t, 2),
    )  # fmt: skip


def gemv_cases():
    yield dict(c=13, h=1, w=1, k=7, kh=1, kw=1)  # a squeeze-excite 1x1 convolution
    yield dict(c=5, h=3, w=2, k=9, kh=3, kw=2)  # a window over the whole input
    yield dict(c=1, h=1, w=1, k=1, kh=1, kw=1)
    yield dict(c=37, h=1, w=1, k=18, kh=1, kw=1)


@pytest.mark.parametrize("case", list(gemv_cases()), ids=str)
@pytest.mark.parametrize("with_bias", [True, False])
def test_one_pixel_conv2d_on_the_gemv(kernels, case, with_bias):
    """The fast path of convolutions with one output pixel: `linear` on the weight as
    stored, with the params that pack-weights gives it."""
    from mnistc.transforms.pack_weights import FAST_CONV_PATHS, GEMV_ONE_PIXEL

    case = dict(case, pad=(0, 0), dil=(1, 1), groups=1)
    x, weight, bias, _, expected = conv_problem(case, with_bias, False)
    params = conv_geometry(case, expected) | {"has_residual": False, "pool": 0}
    assert next(p for p in FAST_CONV_PATHS if p.applies(params)) is GEMV_ONE_PIXEL
    params |= GEMV_ONE_PIXEL.extra_params(params)
    assert_conv_kernel(kernels, "linear", [x, weight, bias], params, expected)


def winograd_raw_cases():
    yield dict(c=136, h=7, w=7, k=40, pad=(1, 1))  # resnet's 7x7 maps; 3 channel chunks
    yield dict(c=64, h=4, w=4, k=64, pad=(1, 1))  # one tile
    yield dict(c=9, h=13, w=11, k=20, pad=(1, 1))  # partial tiles and channel blocks
    yield dict(c=16, h=10, w=9, k=16, pad=(0, 1))


@pytest.mark.parametrize("case", list(winograd_raw_cases()), ids=str)
@pytest.mark.parametrize("with_bias,with_residual,pool", [(True, False, 0), (False, True, 0), (True, False, 2)])
def test_conv2d_winograd_raw(kernels, case, with_bias, with_residual, pool):
    """The Winograd kernel that transforms the weight at run time, as conv2d_winograd."""
    from mnistc.transforms.packing import pack_winograd_raw_weight

    case = dict(case, kh=3, kw=3, dil=(1, 1), groups=1)
    x, weight, bias, residual, expected = conv_problem(case, with_bias, with_residual, (case["c"] * 9) ** -0.5)
    assert_conv_kernel(
        kernels, "conv2d_winograd_raw", [x, pack_winograd_raw_weight(weight), bias, residual],
        conv_geometry(case, expected) | {"pool": pool}, expected,
        then=(lambda t: F.max_pool2d(t, 2)) if pool else (lambda t: t),
    )  # fmt: skip


# linear (kernels/linear.cpp)

@pytest.mark.parametrize("m,n_in,n_out", [(1, 9216, 128), (1, 128, 10), (1, 37, 13), (3, 7, 5), (1, 1, 1), (2, 33, 65)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear(kernels, m, n_in, n_out, with_bias):
    rng = np.random.default_rng(RNG_SEED)
    x = rng.standard_normal((m, n_in), dtype=np.float32)
    weight = rng.standard_normal((n_out, n_in), dtype=np.float32)
    bias = rng.standard_normal(n_out, dtype=np.float32) if with_bias else None
    expected = F.linear(
        torch.from_numpy(x), torch.from_numpy(weight), None if bias is None else torch.from_numpy(bias)
    )
    for (kind, params), reference in EPILOGUE_ACTIVATIONS.items():
        out = np.full((m, n_out), np.nan, dtype=np.float32)
        call(kernels, "linear", [x, weight, bias, out], M=m, IN=n_in, OUT=n_out, **activation_args(kind, params))
        assert_close(out, reference(expected))


# pool (kernels/pool.cpp)

def pairs(prefix: str, values) -> dict:
    return {f"{prefix}_h": values[0], f"{prefix}_w": values[1]}


def pool_params(x: np.ndarray, expected: torch.Tensor, kernel, stride, padding) -> dict:
    _, c, h, w = x.shape
    _, _, oh, ow = expected.shape
    return {
        "C": c, "H": h, "W": w, "OH": oh, "OW": ow, "KH": kernel[0], "KW": kernel[1],
        **pairs("stride", stride), **pairs("pad", padding),
    }  # fmt: skip


POOL_CASES = [
    # c, h, w, kernel, stride, padding, dilation, ceil_mode
    (64, 24, 24, (2, 2), (2, 2), (0, 0), (1, 1), False),
    (3, 7, 9, (3, 3), (2, 2), (1, 1), (1, 1), False),
    (3, 7, 9, (3, 3), (2, 2), (1, 1), (1, 1), True),
    (2, 10, 6, (2, 3), (3, 1), (1, 0), (2, 1), True),
    (1, 5, 5, (5, 5), (1, 1), (2, 2), (1, 1), False),
    (4, 13, 13, (2, 2), (2, 2), (0, 0), (1, 1), True),
]


@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_max_pool2d(kernels, case):
    c, h, w, kernel, stride, padding, dilation, ceil_mode = case
    x = np.random.default_rng(RNG_SEED).standard_normal((1, c, h, w), dtype=np.float32)
    expected = F.max_pool2d(torch.from_numpy(x), kernel, stride, padding, dilation, ceil_mode)
    assert tuple(expected.shape) == pool2d_output_shape(x.shape, kernel, stride, padding, dilation, ceil_mode)
    out = np.full(expected.shape, np.nan, dtype=np.float32)
    call(kernels, "max_pool2d", [x, out], **pool_params(x, expected, kernel, stride, padding), **pairs("dilation", dilation))
    assert_close(out, expected)


@pytest.mark.parametrize("case", [POOL_CASES[0], (2, 6, 38, (2, 2), (2, 2), (0, 0), (1, 1), False)], ids=str)
def test_max_pool2d_propagates_nan(kernels, case):
    """NaN wins a window, as in PyTorch, on the vectorised 2x2 path and its scalar tail."""
    c, h, w, kernel, stride, padding, dilation, ceil_mode = case
    x = np.random.default_rng(RNG_SEED).standard_normal((1, c, h, w), dtype=np.float32)
    x[0, 0, 0, ::5] = np.nan
    x[0, -1, -1, -1] = np.nan
    expected = F.max_pool2d(torch.from_numpy(x), kernel, stride, padding, dilation, ceil_mode)
    out = np.zeros(expected.shape, dtype=np.float32)
    call(kernels, "max_pool2d", [x, out], **pool_params(x, expected, kernel, stride, padding), **pairs("dilation", dilation))
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected.numpy()))
    assert_close(out, expected)


AVG_POOL_CASES = [
    # c, h, w, kernel, stride, padding, ceil_mode, count_include_pad, divisor
    (3, 8, 8, (2, 2), (2, 2), (0, 0), False, True, 0),
    (2, 7, 9, (3, 3), (2, 2), (1, 1), False, True, 0),
    (2, 7, 9, (3, 3), (2, 2), (1, 1), True, False, 0),
    (2, 5, 6, (2, 3), (3, 1), (1, 1), True, True, 0),
    (1, 6, 6, (3, 2), (1, 2), (1, 0), False, False, 5),
    (4, 13, 13, (2, 2), (2, 2), (1, 1), True, False, 0),
]


@pytest.mark.parametrize("case", AVG_POOL_CASES, ids=str)
def test_avg_pool2d(kernels, case):
    c, h, w, kernel, stride, padding, ceil_mode, include_pad, divisor = case
    x = np.random.default_rng(RNG_SEED).standard_normal((1, c, h, w), dtype=np.float32)
    expected = F.avg_pool2d(
        torch.from_numpy(x), kernel, stride, padding, ceil_mode, include_pad, divisor or None
    )
    out = np.full(expected.shape, np.nan, dtype=np.float32)
    call(kernels, "avg_pool2d", [x, out], **pool_params(x, expected, kernel, stride, padding),
         count_include_pad=int(include_pad), divisor=divisor)  # fmt: skip
    assert_close(out, expected)


def window_sweep(kernel: int, stride: int):
    """Every padding PyTorch allows, with and without ceil_mode, on widths below one
    vector (5), around a few (19, 24) and the resnet stem's odd-sized neighbour (37): the
    vector interior, its overlapping last group and the checked borders."""
    for pad in range(kernel // 2 + 1):
        for ceil_mode in (False, True):
            for h, w in ((kernel + 1, 5), (9, 19), (7, 24), (11, 37)):
                if w + 2 * pad >= kernel and h + 2 * pad >= kernel:
                    yield h, w, pad, ceil_mode


@pytest.mark.parametrize("kernel", [2, 3, 5])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_max_pool2d_window_sweep(kernels, kernel, stride):
    rng = np.random.default_rng(RNG_SEED)
    for h, w, pad, ceil_mode in window_sweep(kernel, stride):
        for dilation in (1, 2) if kernel < 5 else (1,):
            if w + 2 * pad < dilation * (kernel - 1) + 1 or h + 2 * pad < dilation * (kernel - 1) + 1:
                continue
            x = rng.standard_normal((1, 3, h, w), dtype=np.float32)
            expected = F.max_pool2d(torch.from_numpy(x), kernel, stride, pad, dilation, ceil_mode)
            out = np.full(expected.shape, np.nan, dtype=np.float32)
            call(kernels, "max_pool2d", [x, out], **pool_params(x, expected, (kernel,) * 2, (stride,) * 2, (pad,) * 2),
                 dilation_h=dilation, dilation_w=dilation)  # fmt: skip
            np.testing.assert_array_equal(out, expected.numpy(), err_msg=str((h, w, pad, ceil_mode, dilation)))


@pytest.mark.parametrize("kernel", [2, 3, 5])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_avg_pool2d_window_sweep(kernels, kernel, stride):
    rng = np.random.default_rng(RNG_SEED)
    for h, w, pad, ceil_mode in window_sweep(kernel, stride):
        for include_pad, divisor in ((True, None), (False, None), (False, 7)):
            x = rng.standard_normal((1, 3, h, w), dtype=np.float32)
            expected = F.avg_pool2d(torch.from_numpy(x), kernel, stride, pad, ceil_mode, include_pad, divisor)
            out = np.full(expected.shape, np.nan, dtype=np.float32)
            call(kernels, "avg_pool2d", [x, out], **pool_params(x, expected, (kernel,) * 2, (stride,) * 2, (pad,) * 2),
                 count_include_pad=int(include_pad), divisor=divisor or 0)  # fmt: skip
            np.testing.assert_allclose(out, expected.numpy(), rtol=1e-5, atol=1e-6,
                                       err_msg=str((h, w, pad, ceil_mode, include_pad, divisor)))  # fmt: skip


def test_pool2d_asymmetric_window(kernels):
    """Different kernel, stride and padding across than down: the interior's bounds come
    from the column parameters, its rows from the row parameters."""
    x = np.random.default_rng(RNG_SEED).standard_normal((1, 2, 13, 40), dtype=np.float32)
    for kernel, stride, padding in (((3, 2), (1, 2), (1, 1)), ((2, 5), (3, 1), (0, 2)), ((5, 3), (2, 3), (2, 0))):
        window = pool_params(x, F.max_pool2d(torch.from_numpy(x), kernel, stride, padding), kernel, stride, padding)
        expected = F.max_pool2d(torch.from_numpy(x), kernel, stride, padding)
        out = np.full(expected.shape, np.nan, dtype=np.float32)
        call(kernels, "max_pool2d", [x, out], **window, dilation_h=1, dilation_w=1)
        np.testing.assert_array_equal(out, expected.numpy(), err_msg=str(kernel))
        expected = F.avg_pool2d(torch.from_numpy(x), kernel, stride, padding, count_include_pad=False)
        out = np.full(expected.shape, np.nan, dtype=np.float32)
        call(kernels, "avg_pool2d", [x, out], **window, count_include_pad=0, divisor=0)
        assert_close(out, expected)


@pytest.mark.parametrize("h,w,oh,ow", [(7, 7, 1, 1), (10, 9, 3, 4), (5, 5, 5, 5), (3, 8, 2, 3), (1, 1, 1, 1), (13, 11, 1, 1), (112, 112, 1, 1)])
def test_adaptive_avg_pool2d(kernels, h, w, oh, ow):
    x = np.random.default_rng(RNG_SEED).standard_normal((1, 3, h, w), dtype=np.float32)
    expected = F.adaptive_avg_pool2d(torch.from_numpy(x), (oh, ow))
    out = np.full(expected.shape, np.nan, dtype=np.float32)
    call(kernels, "adaptive_avg_pool2d", [x, out], C=3, H=h, W=w, OH=oh, OW=ow)
    assert_close(out, expected)


# activation (kernels/activation.cpp)

@pytest.mark.parametrize("count", [1, 10, 1001, 100_003])
@pytest.mark.parametrize("activation", list(ACTIVATIONS), ids=str)
def test_activation(kernels, count, activation):
    x = np.random.default_rng(RNG_SEED).standard_normal(count, dtype=np.float32) * 4
    out = np.full(count, np.nan, dtype=np.float32)
    call(kernels, "activation", [x, out], count=count, **activation_args(*activation))
    assert_close(out, ACTIVATIONS[activation](torch.from_numpy(x)))


@pytest.mark.parametrize("activation", list(ACTIVATIONS), ids=str)
def test_activation_wide_range(kernels, activation):
    """Every float32 magnitude that the vector exponential treats apart: near 0, the
    polynomial's whole range, the ends of the float range near +-88.7, and overflow
    (FLT_MAX: test_nan_propagation)."""
    edges = [0.0, 1e-30, 1e-8, 0.3466, 0.3467, 20.0, 86.9, 87.1, 87.9, 88.1, 88.8, 1e5, 1e30]
    x = np.array(edges + [-e for e in edges], dtype=np.float32)
    x = np.concatenate([x, np.linspace(-120, 120, 2401, dtype=np.float32)])
    out = np.full(x.size, np.nan, dtype=np.float32)
    call(kernels, "activation", [x, out], count=x.size, **activation_args(*activation))
    assert_close(out, ACTIVATIONS[activation](torch.from_numpy(x)))


EXP_BASED = ["exp", "sigmoid", "silu", "elu", "selu", "celu", "softplus", "mish", "gelu", "gelu_tanh"]
"""The activations computed from e^x (in vector lanes through exp8, or through std::exp,
expm1 and erf), checked at the ends of float32's exponential."""


@pytest.mark.parametrize("activation", [a for a in ACTIVATIONS if a[0] in EXP_BASED], ids=str)
def test_activation_exponential_tails(kernels, activation):
    """Large |x|, NaN and +-inf against PyTorch, in float32 or in float64 rounded to
    float32 (its float32 loops round a few tails differently: silu(-88.8) is -0 there,
    gelu(inf) NaN in the vector loop): the same NaN and infinities as one of them, and
    within 1e-5 relative of it wherever the answer is a normal float, within FLT_MIN
    below. The 1e-4 absolute tolerance of the other tests hides the tails (e^88.5 is
    2.7e38, silu(-88.5) is -3.3e-37, not -0)."""
    from test_nan_propagation import kinds

    tails = np.concatenate([np.linspace(80, 89, 181), np.linspace(89, 110, 43), [1e5, 1e30, 3.4e38]])
    x = np.concatenate([tails, -tails, [np.nan, np.inf, -np.inf, 0.0]]).astype(np.float32)
    out = np.full(x.size, np.nan, dtype=np.float32)
    call(kernels, "activation", [x, out], count=x.size, **activation_args(*activation))
    function = ACTIVATIONS[activation]
    references = [function(torch.from_numpy(x)).numpy(), function(torch.from_numpy(x).double()).float().numpy()]
    tiny = float(np.finfo(np.float32).tiny)
    with np.errstate(invalid="ignore"):
        agrees = [
            (kinds(out) == kinds(r)) & (~np.isfinite(r) | (np.abs(out - r) <= tiny + 1e-5 * np.abs(r)))
            for r in references
        ]
    wrong = ~(agrees[0] | agrees[1])
    assert not wrong.any(), list(zip(x[wrong], out[wrong], references[0][wrong]))[:5]


@pytest.mark.parametrize("shape,dim", [((1, 6, 5), 1), ((1, 3, 2, 22), 3), ((4, 18), 1)])
def test_glu(kernels, shape, dim):
    x = np.random.default_rng(RNG_SEED).standard_normal(shape, dtype=np.float32) * 3
    expected = F.glu(torch.from_numpy(x), dim)
    out = np.full(expected.shape, np.nan, dtype=np.float32)
    outer = int(np.prod(shape[:dim]))
    call(kernels, "glu", [x, out], outer=outer, half=x.size // outer // 2)
    assert_close(out, expected)


# norm (kernels/norm.cpp)

@pytest.mark.parametrize("shape", [(1, 5, 4, 3), (1, 7), (1, 2, 33)])
def test_batch_norm(kernels, shape):
    rng = np.random.default_rng(RNG_SEED)
    c = shape[1]
    x = rng.standard_normal(shape, dtype=np.float32)
    mean, beta = rng.standard_normal((2, c), dtype=np.float32)
    var, gamma = rng.random((2, c), dtype=np.float32) + 0.5
    expected = F.batch_norm(torch.from_numpy(x), *map(torch.from_numpy, (mean, var, gamma, beta)), eps=1e-3)
    out = np.full(shape, np.nan, dtype=np.float32)
    call(kernels, "batch_norm", [x, mean, var, gamma, beta, out], C=c, inner=int(np.prod(shape[2:])), eps=1e-3)
    assert_close(out, expected)


@pytest.mark.parametrize("size", [1, 3, 5])
def test_lrn(kernels, size):
    """Odd window sizes, where PyTorch's and ONNX's LRN windows agree."""
    x = np.random.default_rng(RNG_SEED).standard_normal((1, 7, 3, 4), dtype=np.float32)
    expected = F.local_response_norm(torch.from_numpy(x), size, alpha=1e-2, beta=0.75, k=2.0)
    out = np.full(x.shape, np.nan, dtype=np.float32)
    call(kernels, "lrn", [x, out], C=7, inner=12, size=size, alpha=1e-2, beta=0.75, bias=2.0)
    assert_close(out, expected)


@pytest.mark.parametrize("shape,axis", [((1, 7), 1), ((1, 3, 5, 11), 2), ((1, 2, 33), 1), ((1, 4, 9, 17), 3)])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm(kernels, shape, axis, affine):
    """Rows not a multiple of 8 long, a mean far from 0 (two-pass variance)."""
    rng = np.random.default_rng(RNG_SEED)
    x = rng.standard_normal(shape, dtype=np.float32) * 3 + 50
    weight, bias = (rng.standard_normal(shape[axis:], dtype=np.float32) if affine else None for _ in range(2))
    expected = F.layer_norm(
        torch.from_numpy(x), shape[axis:], *(None if v is None else torch.from_numpy(v) for v in (weight, bias))
    )
    out = np.full(shape, np.nan, dtype=np.float32)
    inner = int(np.prod(shape[axis:]))
    call(kernels, "layer_norm", [x, weight, bias, out], outer=x.size // inner, inner=inner, eps=1e-5)
    assert_close(out, expected)


@pytest.mark.parametrize("shape,groups", [((1, 6, 5, 3), 3), ((1, 4, 9), 1), ((1, 8, 2, 2), 8)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm(kernels, shape, groups, affine):
    rng = np.random.default_rng(RNG_SEED)
    x = rng.standard_normal(shape, dtype=np.float32) * 2 - 7
    weight, bias = (rng.standard_normal(shape[1], dtype=np.float32) if affine else None for _ in range(2))
    expected = F.group_norm(
        torch.from_numpy(x), groups, *(None if v is None else torch.from_numpy(v) for v in (weight, bias))
    )
    out = np.full(shape, np.nan, dtype=np.float32)
    call(kernels, "group_norm", [x, weight, bias, out], C=shape[1], groups=groups,
         inner=int(np.prod(shape[2:])), eps=1e-5)  # fmt: skip
    assert_close(out, expected)


# elementwise (kernels/elementwise.cpp)

BINARY_CASES = [
    ((1, 4, 3, 3), (1, 4, 3, 3)),
    ((1, 4, 3, 3), (4, 1, 1)),
    ((1, 4, 3, 3), (1, 1, 1, 3)),
    ((1, 4, 1, 3), (1, 1, 5, 1)),
    ((1, 6), ()),
    ((1, 2, 3, 4, 5), (2, 1, 4, 1)),
    ((1, 13, 5, 5), (1, 13, 1, 1)),  # a squeeze-excite channel scale: vector rows of 25
    ((1, 3, 1, 1), (1, 3, 7, 9)),  # the scale on the left, as torchvision writes it
    ((1, 5, 4, 3), (1, 5, 4, 3)),  # dense: one row of 60
    # odd sizes, broadcasting on both sides, rank 6 merged to 4
    ((3, 1, 5), (4, 1)),
    ((1, 1, 19), (1, 3, 1)),
    ((2, 3, 1, 4, 5, 1), (1, 1, 2, 4, 5, 3)),
]


@pytest.mark.parametrize("lhs_shape,rhs_shape", BINARY_CASES, ids=str)
@pytest.mark.parametrize("op", [
    nn_dialect.AddOp, nn_dialect.MulOp, nn_dialect.PReluOp,
    nn_dialect.SubOp, nn_dialect.DivOp, nn_dialect.MaxOp, nn_dialect.MinOp,
])  # fmt: skip
def test_binary_broadcasting(kernels, lhs_shape, rhs_shape, op):
    from mnistc.lowering.nn_to_cpu.elementwise import BINARY_OPS, _as_rank4, _broadcast_strides

    rng = np.random.default_rng(RNG_SEED)
    lhs = rng.standard_normal(lhs_shape, dtype=np.float32)
    rhs = rng.standard_normal(rhs_shape, dtype=np.float32)
    expected = {
        nn_dialect.AddOp: lambda: lhs + rhs,
        nn_dialect.MulOp: lambda: lhs * rhs,
        nn_dialect.PReluOp: lambda: F.prelu(torch.from_numpy(lhs), torch.from_numpy(rhs).reshape(-1)).numpy()
        if rhs.size > 1 and lhs.ndim > 1 and rhs.size == lhs.shape[1] else np.where(lhs >= 0, lhs, lhs * rhs),
        nn_dialect.SubOp: lambda: lhs - rhs,
        nn_dialect.DivOp: lambda: lhs / rhs,
        nn_dialect.MaxOp: lambda: np.maximum(lhs, rhs),
        nn_dialect.MinOp: lambda: np.minimum(lhs, rhs),
    }[op]()
    shape, ls, rs = _as_rank4(
        expected.shape,
        _broadcast_strides(lhs_shape, expected.shape),
        _broadcast_strides(rhs_shape, expected.shape),
    )
    dims = {f"{p}{i}": v for p, values in (("d", shape), ("l", ls), ("r", rs)) for i, v in enumerate(values)}
    for (kind, params), reference in ACTIVATIONS.items():  # the fused activation
        out = np.full(expected.shape, np.nan, dtype=np.float32)
        code = abi.BINARY_CODES[BINARY_OPS[op]]
        call(kernels, "binary", [lhs, rhs, out], op=code, **dims, **activation_args(kind, params))
        assert_close(out, reference(torch.from_numpy(expected)))


# reduce (kernels/reduce.cpp)

REDUCE_CASES = [
    ((1, 7), (1,)),
    ((1, 3, 4, 5), (1, 3)),
    ((1, 3, 4, 5), (2,)),
    ((1, 5, 37), (2,)),
    ((1, 5, 37), (1,)),
    ((1, 2, 3, 4, 5), (1, 3)),
    ((1, 2, 3, 4, 5), (2, 4)),
    ((1, 6, 1, 9), (1, 2, 3)),
]


@pytest.mark.parametrize("shape,dims", REDUCE_CASES, ids=str)
@pytest.mark.parametrize("op", ["mean", "sum", "max", "min"])
def test_reduce(kernels, shape, dims, op):
    """Any rank and set of dims, through the lowering's merge of dims to the kernel's 4."""
    from mnistc.lowering.nn_to_cpu.reduce import runs

    x = np.random.default_rng(RNG_SEED).standard_normal(shape, dtype=np.float32)
    reference = {"mean": torch.mean, "sum": torch.sum, "max": torch.amax, "min": torch.amin}[op]
    expected = reference(torch.from_numpy(x), dims)
    out = np.full(expected.shape, np.nan, dtype=np.float32)
    params = {f"{p}{i}": v for i, run in enumerate(runs(shape, dims)) for p, v in zip("dr", run)}
    call(kernels, "reduce", [x, out], op=abi.REDUCE_CODES[op], **{k: int(v) for k, v in params.items()})
    assert_close(out, expected)


# shape (kernels/shape.cpp)

@pytest.mark.parametrize("pads,value", [((0, 0, 0, 0), 0.0), ((1, 2, 0, 3), 0.0), ((2, 0, 1, 1), -1.5)])
def test_pad2d(kernels, pads, value):
    x = np.random.default_rng(RNG_SEED).standard_normal((1, 3, 4, 5), dtype=np.float32)
    top, left, bottom, right = pads
    expected = F.pad(torch.from_numpy(x), (left, right, top, bottom), value=value)
    out = np.full(expected.shape, np.nan, dtype=np.float32)
    call(kernels, "pad2d", [x, out], C=3, H=4, W=5, **dict(zip(("top", "left", "bottom", "right"), pads)), value=value)
    np.testing.assert_array_equal(out, expected.numpy())


def test_copy_block_concatenates(kernels):
    rng = np.random.default_rng(RNG_SEED)
    parts = [rng.standard_normal((1, c, 3, 2), dtype=np.float32) for c in (2, 5, 1)]
    out = np.full((1, 8, 3, 2), np.nan, dtype=np.float32)
    offset = 0
    for part in parts:
        inner = part.shape[1] * 6
        call(kernels, "copy_block", [part, out], outer=1, inner=inner, out_stride=8 * 6, offset=offset)
        offset += inner
    np.testing.assert_array_equal(out, np.concatenate(parts, axis=1))


@pytest.mark.parametrize("count", [1, 1001])
def test_copy(kernels, count):
    x = np.random.default_rng(RNG_SEED).standard_normal(count, dtype=np.float32)
    out = np.full(count, np.nan, dtype=np.float32)
    call(kernels, "copy", [x, out], count=count)
    np.testing.assert_array_equal(out, x)


def strided_op_cases():
    """(input shape, op builder): transposes (with a contiguous inner run or a tiled 2-D
    one, rank 6, rank 7 after merging: two calls), slices (steps, negative steps,
    offsets), expansions (inner and outer)."""
    return [
        ((1, 3, 4, 5), lambda x: nn_dialect.TransposeOp(x, [0, 3, 1, 2])),
        ((1, 37, 300), lambda x: nn_dialect.TransposeOp(x, [0, 2, 1])),
        ((1, 2, 3, 4, 5, 3), lambda x: nn_dialect.TransposeOp(x, [0, 4, 2, 5, 1, 3])),
        ((1, 2, 6, 7, 5), lambda x: nn_dialect.TransposeOp(x, [0, 2, 1, 3, 4])),
        ((1, 2, 3, 2, 3, 2, 3, 2), lambda x: nn_dialect.TransposeOp(x, [0, 7, 6, 5, 4, 3, 2, 1])),
        ((1, 5, 7, 6), lambda x: nn_dialect.SliceOp(x, [0, 1, 6, 1], [1, 2, 3, 3], [1, 3, -2, 2])),
        ((1, 9, 4), lambda x: nn_dialect.SliceOp(x, [0, 4, 0], [1, 5, 4], [1, 1, 1])),
        ((1, 4, 1, 1), lambda x: nn_dialect.ExpandOp(x, (1, 4, 3, 5))),
        ((1, 1, 6, 1), lambda x: nn_dialect.ExpandOp(x, (1, 3, 6, 70))),
    ]


def reference_and_call(op_builder, shape):
    """The op on a [shape] input, its result by the reference interpreter, and the kernel
    calls its lowering makes."""
    from xdsl.builder import Builder
    from xdsl.dialects import func
    from xdsl.dialects.builtin import ModuleOp
    from xdsl.ir import Block, Region
    from xdsl.rewriter import InsertPoint

    from mnistc.interpreters.nn import run_function
    from mnistc.lowering.nn_to_cpu import KERNEL_LOWERINGS
    from mnistc.weights import WeightFile

    block = Block(arg_types=[nn_dialect.tensor(shape)])
    op = Builder(InsertPoint.at_end(block)).insert(op_builder(block.args[0]))
    block.add_op(func.ReturnOp(op.results[0]))
    function = func.FuncOp("forward", ((block.args[0].type,), (op.results[0].type,)), Region(block))
    ModuleOp([function]).verify()
    x = np.random.default_rng(RNG_SEED).standard_normal(shape, dtype=np.float32)
    expected = run_function(ModuleOp([function.clone()]), x, WeightFile())
    return x, expected, KERNEL_LOWERINGS[type(op)](op)


@pytest.mark.parametrize("case", range(len(strided_op_cases())))
def test_copy_strided_matches_the_reference(kernels, case):
    shape, builder = strided_op_cases()[case]
    x, expected, calls = reference_and_call(builder, shape)
    assert len(calls) == (2 if len(shape) == 8 else 1)
    out = np.full(expected.shape, np.nan, dtype=np.float32)
    for kernel_call in calls:
        call(kernels, kernel_call.kernel, [x, out], **kernel_call.params)
    np.testing.assert_array_equal(out, expected)


# softmax (kernels/softmax.cpp)

@pytest.mark.parametrize("shape,dim", [((1, 10), 1), ((2, 3, 4), 1), ((5, 7), 0), ((1, 3, 2, 2), 3)])
@pytest.mark.parametrize("log", [False, True])
def test_softmax(kernels, shape, dim, log):
    x = np.random.default_rng(RNG_SEED).standard_normal(shape, dtype=np.float32) * 20
    outer = int(np.prod(shape[:dim]))
    inner = int(np.prod(shape[dim + 1 :]))
    out = np.full(shape, np.nan, dtype=np.float32)
    call(kernels, "log_softmax" if log else "softmax", [x, out], outer=outer, axis=shape[dim], inner=inner)
    fn = F.log_softmax if log else F.softmax
    assert_close(out, fn(torch.from_numpy(x), dim))
