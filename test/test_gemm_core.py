"""The GEMM core's edge cases that the speed work on transformers introduced, on both
vector paths (the host's, and x86-64 without AVX: slow, a kernel build of its own): the
last panel of rows run by a narrower micro-kernel, A packed eight columns at a time,
attention's keys and values packed once per thread; and the token-mixing rewrite
(transposed-linear-to-conv) on MLP-Mixer's IR."""

from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_decoders import random
from test_kernels import call, kernels  # noqa: F401 (kernels is a fixture)
from test_nan_propagation import assert_propagates

from mnistc.kernels import abi
from mnistc.toolchain import BuildConfig
from mnistc.transforms.packing import pack_gemm_b

KERNEL_DIR = Path(__file__).resolve().parents[1] / "kernels"
GEMM_SOURCES = ("gemm.cpp", "linear.cpp", "matmul.cpp", "scratch.cpp")


@pytest.fixture(scope="module")
def portable_kernels(tmp_path_factory) -> ctypes.CDLL:
    """The GEMM core's kernels built for x86-64 (`--target-cpu x86-64`: no AVX, so the
    generic vector code without the AVX-512 shortcuts)."""
    library = tmp_path_factory.mktemp("portable") / "libgemm-x86-64.so"
    sources = [str(KERNEL_DIR / name) for name in GEMM_SOURCES]
    subprocess.run(["g++", *BuildConfig(target_cpu="x86-64").flags(), "-shared", *sources, "-o", str(library)], check=True)
    return ctypes.CDLL(str(library))


@pytest.fixture(params=["native", pytest.param("x86-64", marks=pytest.mark.slow)])
def gemm_kernels(request, kernels):  # noqa: F811
    """Both vector paths of the kernels."""
    return kernels if request.param == "native" else request.getfixturevalue("portable_kernels")


# Every height of a last panel (M % MR = 0 ... MR - 1) and of the columns around whole
# groups of eight in A's packing (IN = 8: none packed in vectors, the last group of a
# panel is packed one by one), with a whole, a one-vector and a partial last column panel.
ROWS = [abi.GEMM_MR * 2 + r for r in range(abi.GEMM_MR)] + [1, 3]
INPUTS = [8, 9, 17, 40]
OUTPUTS = [abi.GEMM_NR, 8, abi.GEMM_NR + 5]


@pytest.mark.parametrize("m", ROWS)
def test_linear_gemm_every_last_panel(gemm_kernels, m):
    for n_in in INPUTS:
        for n_out in OUTPUTS:
            x, weight, bias = random(m, n_in, seed=m), random(n_out, n_in, seed=n_in), random(n_out, seed=n_out)
            out = np.full((m, n_out), np.nan, dtype=np.float32)
            call(
                gemm_kernels, "linear_gemm", [x, pack_gemm_b(weight), bias, out], M=m, IN=n_in, OUT=n_out,
                activation=abi.ACTIVATION_CODES["gelu"], alpha=0.0, beta=0.0,
            )  # fmt: skip
            expected = F.gelu(F.linear(*map(torch.from_numpy, (x, weight, bias))))
            np.testing.assert_allclose(out, expected.numpy(), rtol=1e-4, atol=1e-4, err_msg=f"IN={n_in} OUT={n_out}")


def run_attention(library, q, k, v):
    batch, length, e = q.shape
    keys, ev = v.shape[1:]
    out = np.full((batch, length, ev), np.nan, dtype=np.float32)
    call(
        library, "attention", [q, k, v, None, out], batch=batch, L=length, S=keys, E=e, EV=ev,
        mask_batch_stride=0, mask_row_stride=0, causal=0, scale=1 / np.sqrt(e),
    )  # fmt: skip
    return out


@pytest.fixture
def two_threads():
    """OpenMP's thread count at 2 for the test, then back."""
    gomp = ctypes.CDLL("libgomp.so.1")
    before = gomp.omp_get_max_threads()
    gomp.omp_set_num_threads(2)
    yield
    gomp.omp_set_num_threads(before)


def test_attention_threads_pack_each_batch_index_they_meet(gemm_kernels, two_threads):
    """Three heads of three query blocks (100 rows) on two threads: a thread's run of
    blocks crosses a head, where it packs the next keys and values; the result is
    PyTorch's and the same bits as on one thread. A NaN in one head's keys and an inf in
    another's come out as in PyTorch, and stay in their head."""
    length, keys = 100, 2 * abi.ATTENTION_QUERY_BLOCK + 5
    q, k, v = random(3, length, 16, seed=1), random(3, keys, 16, seed=2), random(3, keys, 24, seed=3)
    k[0, 7, 3] = np.nan
    k[2, 11, 0] = np.inf
    expected = F.scaled_dot_product_attention(*map(torch.from_numpy, (q, k, v)))
    two = run_attention(gemm_kernels, q, k, v)
    assert_propagates(two, expected)
    assert np.isfinite(two[1]).all()
    ctypes.CDLL("libgomp.so.1").omp_set_num_threads(1)
    np.testing.assert_array_equal(run_attention(gemm_kernels, q, k, v), two)


def test_mixer_token_mixing_keeps_no_transpose():
    """MLP-Mixer's optimised IR: each token MLP is two 1x1 convolutions with the GELU
    fused into the first; the only transpose left is the stem's (its patches become
    tokens), and the model still computes what PyTorch does (checked per pass by
    test_per_pass on the same model)."""
    from mnistc.driver import Compilation
    from mnistc.importers.torch_export import import_exported
    from mnistc.models.transformers import MLPMixer

    torch.manual_seed(0)
    depth = 2
    model = MLPMixer(size=16, dim=8, depth=depth, patch=4).eval()
    program = torch.export.export(model, (torch.zeros(1, 3, 16, 16),))
    text = Compilation.from_imported(import_exported(program)).run_to("nn")
    assert text.count("nn.transpose") == 1
    convolutions = [line for line in text.splitlines() if "nn.conv2d" in line]
    assert len(convolutions) == 1 + 2 * depth
    assert sum('activation "gelu_tanh"' in line for line in convolutions) == depth
