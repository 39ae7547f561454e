"""NaN and infinity through every kernel the optimised pipeline can pick, against PyTorch.

Each input carries one poison (NaN, +inf, -inf or FLT_MAX) at one element or at every
element. Outputs must be NaN, +inf, -inf or finite exactly where PyTorch's are, the
finite ones within the usual tolerance. The Winograd kernel may spread a poison to the
rest of its 4x4 output tile (README, Known limits), never further, and never turn a
non-finite result into a number.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_kernels import (  # noqa: F401 (kernels is a fixture)
    ACTIVATIONS,
    activation_args,
    call,
    conv_geometry,
    conv_problem,
    kernels,
    only,
    pool_params,
)

from mnistc.interpreters.nn.norm import group_norm
from mnistc.kernels import abi
from mnistc.lowering.nn_to_cpu.reduce import runs

from mnistc.driver import CompileOptions, compile_model
from mnistc.models.mnist_cnn import BUNDLED_MODEL
from mnistc.runtime import CompiledModel

FLT_MAX = float(np.finfo(np.float32).max)
POISONS = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "max": FLT_MAX}
POISONINGS = [(name, everywhere) for name in POISONS for everywhere in (False, True)]
POISONING_IDS = [f"{'all' if everywhere else 'one'}-{name}" for name, everywhere in POISONINGS]


def poisoned(x: np.ndarray, name: str, everywhere: bool) -> np.ndarray:
    """A copy of `x` with the poison at every element, or at one inside element."""
    x = x.copy()
    if everywhere:
        x[...] = POISONS[name]
    else:
        x[tuple(d // 2 for d in x.shape)] = POISONS[name]
    return x


def kinds(values: np.ndarray) -> np.ndarray:
    """0 finite, 1 NaN, 2 +inf, 3 -inf, element by element."""
    return np.select([np.isnan(values), values == np.inf, values == -np.inf], [1, 2, 3], 0)


def assert_propagates(actual: np.ndarray, expected: torch.Tensor | np.ndarray, also=None) -> None:
    """NaN, +inf and -inf exactly where PyTorch has them; finite values close.

    `also` is a second PyTorch answer accepted element by element: its loops disagree on
    a few special values (float32 gelu(inf) is NaN in its vector loop, inf in the scalar
    one and in float64).
    """
    expected = np.asarray(expected)
    allowed = kinds(actual) == kinds(expected)
    if also is not None:
        also = np.asarray(also)
        matches_also = kinds(actual) == kinds(also)
        expected = np.where(allowed, expected, also)
        allowed |= matches_also
    assert allowed.all(), (
        f"{(~allowed).sum()} of {allowed.size} outputs differ in kind from PyTorch: "
        f"first at {np.argwhere(~allowed)[0]}: {actual[~allowed][0]} vs {expected[~allowed][0]}"
    )
    finite = np.isfinite(expected)
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=1e-4, atol=1e-4)


def with_activations(kernel_call, pre_activation: torch.Tensor, then=lambda t: t, exact=None, every=True):
    """Runs `kernel_call(activation params)` for each activation and checks its output against
    then(activation(pre_activation)), in float32 or in float64 (`exact`, by default
    pre_activation in float64): PyTorch's float32 loops disagree on a few special values.

    Each activation, or with `every` false only the identity and ReLU (the vector
    epilogue): enough for an all-poisoned input, whose special values meet every
    activation in test_activation.
    """
    exact = pre_activation.double() if exact is None else exact
    for (kind, params), reference in ACTIVATIONS.items():
        if not every and kind not in (None, "relu"):
            continue
        expected = then(reference(pre_activation))
        exact_expected = then(reference(exact)).float()
        assert_propagates(kernel_call(activation_args(kind, params)), expected, also=exact_expected)


@pytest.mark.parametrize("activation", list(ACTIVATIONS), ids=str)
def test_activation(kernels, activation):
    """The element-wise kernel, on every special value and some ordinary ones."""
    specials = [np.nan, np.inf, -np.inf, FLT_MAX, -FLT_MAX, 0.0, -0.0, 1.0, -1.0, 3.0, -3.0]
    x = np.array(specials * 3, dtype=np.float32)
    out = np.zeros_like(x)
    call(kernels, "activation", [x, out], count=x.size, **activation_args(*activation))
    reference = ACTIVATIONS[activation]
    t = torch.from_numpy(x)
    assert_propagates(out, reference(t), also=reference(t.double()).float())


def conv_outputs(kernels, kernel: str, inputs: list, params: dict, shape):
    def run(activation: dict):
        out = np.zeros(shape, dtype=np.float32)
        call(kernels, kernel, [*inputs, out], **only(kernel, params | activation))
        return out

    return run


# The MNIST model's first convolution (one input channel: the packed kernel), and one
# with padding, groups and partial column blocks.
PACKED_CASES = [
    dict(c=1, h=28, w=28, k=8, kh=3, kw=3, pad=(0, 0), dil=(1, 1), groups=1),
    dict(c=6, h=9, w=30, k=4, kh=3, kw=3, pad=(2, 1), dil=(2, 1), groups=2),
]


@pytest.mark.parametrize("case", PACKED_CASES, ids=str)
@pytest.mark.parametrize("poison,everywhere", POISONINGS, ids=POISONING_IDS)
def test_conv2d_packed(kernels, case, poison, everywhere):
    from mnistc.transforms.packing import pack_conv_weight

    x, weight, bias, _, _ = conv_problem(case, True, False)
    x = poisoned(x, poison, everywhere)
    tensors = map(torch.from_numpy, (x, weight, bias))
    expected = F.conv2d(*tensors, 1, case["pad"], case["dil"], case["groups"])
    run = conv_outputs(
        kernels, "conv2d_packed", [x, pack_conv_weight(weight, case["groups"]), bias, None],
        conv_geometry(case, expected), expected.shape,
    )  # fmt: skip
    with_activations(run, expected, every=not everywhere)


@pytest.mark.parametrize("poison,everywhere", POISONINGS, ids=POISONING_IDS)
def test_strided_conv2d(kernels, poison, everywhere):
    """The general kernel (strided depthwise convolutions, and every convolution at -O0)."""
    case = GEMM_CASES[0]
    x, weight, bias, _, _ = conv_problem(case, True, False)
    x = poisoned(x, poison, everywhere)
    expected = F.conv2d(*map(torch.from_numpy, (x, weight, bias)), case["stride"], case["pad"], case["dil"])
    run = conv_outputs(
        kernels, "conv2d", [x, weight, bias, None], conv_geometry(case, expected), expected.shape
    )
    with_activations(run, expected, every=not everywhere)


# The GEMM core through conv2d_gemm: B gathered as im2col panels (strided), read as a
# matrix (1x1, with groups), and a reduction of two KC blocks (30 * 9 = 270 rows) with
# column tails. FLT_MAX everywhere overflows that long a sum to +inf, -inf or NaN by the
# order of its terms (PyTorch's own float64 result is finite; the packed kernel, summing
# in the GEMM's order, gets the same kinds as it), so the long reduction takes NaN and
# the infinities only: their kinds do not depend on the order.
GEMM_CASES = [
    dict(c=3, h=9, w=11, k=4, kh=3, kw=2, stride=(2, 1), pad=(1, 1), dil=(1, 1), groups=1),
    dict(c=12, h=5, w=7, k=9, kh=1, kw=1, stride=(1, 1), pad=(0, 0), dil=(1, 1), groups=3),
]
LONG_REDUCTION = dict(c=30, h=6, w=6, k=7, kh=3, kw=3, stride=(1, 1), pad=(1, 1), dil=(1, 1), groups=1)
GEMM_POISONINGS = [
    *((case, *poisoning) for case in GEMM_CASES for poisoning in POISONINGS),
    *((LONG_REDUCTION, *poisoning) for poisoning in POISONINGS if poisoning != ("max", True)),
]


@pytest.mark.parametrize(
    "case,poison,everywhere", GEMM_POISONINGS,
    ids=[f"{case['c']}x{case['kh']}x{case['kw']}-{'all' if e else 'one'}-{p}" for case, p, e in GEMM_POISONINGS],
)  # fmt: skip
def test_conv2d_gemm(kernels, case, poison, everywhere):
    from mnistc.transforms.packing import pack_gemm_weight

    x, weight, bias, _, _ = conv_problem(case, True, False)
    x = poisoned(x, poison, everywhere)
    tensors = map(torch.from_numpy, (x, weight, bias))
    expected = F.conv2d(*tensors, case["stride"], case["pad"], case["dil"], case["groups"])
    run = conv_outputs(
        kernels, "conv2d_gemm", [x, pack_gemm_weight(weight, case["groups"]), bias, None],
        conv_geometry(case, expected), expected.shape,
    )  # fmt: skip
    # FLT_MAX everywhere: whether a float32 sum overflows depends on the order of its terms
    # (PyTorch's: inf where the exact sum is 1.9e37); the exact sum is the other answer.
    exact = F.conv2d(*(torch.from_numpy(a).double() for a in (x, weight, bias)),
                     case["stride"], case["pad"], case["dil"], case["groups"])  # fmt: skip
    with_activations(run, expected, every=not everywhere, exact=exact)


# Both strides and windows, with partial row tiles and column vectors, padding past the
# window's half.
DEPTHWISE_CASES = [
    dict(c=3, h=9, w=11, k=3, kh=3, kw=3, stride=(1, 1), pad=(1, 1), dil=(1, 1), groups=3),
    dict(c=2, h=10, w=13, k=2, kh=3, kw=3, stride=(2, 2), pad=(2, 1), dil=(1, 1), groups=2),
    dict(c=2, h=7, w=12, k=2, kh=5, kw=5, stride=(1, 1), pad=(2, 3), dil=(1, 1), groups=2),
    dict(c=3, h=11, w=9, k=3, kh=5, kw=5, stride=(2, 2), pad=(2, 2), dil=(1, 1), groups=3),
]


@pytest.mark.parametrize("case", DEPTHWISE_CASES, ids=str)
@pytest.mark.parametrize("poison,everywhere", POISONINGS, ids=POISONING_IDS)
def test_conv2d_depthwise(kernels, case, poison, everywhere):
    x, weight, bias, _, _ = conv_problem(case, True, False)
    x = poisoned(x, poison, everywhere)
    tensors = map(torch.from_numpy, (x, weight, bias))
    expected = F.conv2d(*tensors, case["stride"], case["pad"], case["dil"], case["groups"])
    run = conv_outputs(
        kernels, "conv2d_depthwise", [x, weight, bias, None], conv_geometry(case, expected), expected.shape
    )
    with_activations(run, expected, every=not everywhere)


def winograd_spread(poisoned_input: np.ndarray, out_shape, pad) -> np.ndarray:
    """The outputs a poison may reach in the Winograd kernel: the 4x4 output tiles whose 6x6
    input patch (padded rows and columns 4t .. 4t + 5) holds a poisoned element."""
    hit = np.argwhere(poisoned_input.reshape(-1, *poisoned_input.shape[-2:]).any(axis=0))
    reach = np.zeros(out_shape[-2:], dtype=bool)
    for y, x in hit + np.array(pad):
        for ty in range(max(0, (y - 2) // 4), y // 4 + 1):
            for tx in range(max(0, (x - 2) // 4), x // 4 + 1):
                reach[4 * ty : 4 * ty + 4, 4 * tx : 4 * tx + 4] = True
    return np.broadcast_to(reach, out_shape)


WINOGRAD_CASES = [
    dict(c=32, h=14, w=14, k=16, pad=(0, 0)),  # the MNIST model's second convolution, smaller
    dict(c=9, h=13, w=11, k=20, pad=(1, 1)),  # partial tiles and channel blocks
]


@pytest.mark.parametrize("kernel", ["conv2d_winograd", "conv2d_winograd_raw"])
@pytest.mark.parametrize("case", WINOGRAD_CASES, ids=str)
@pytest.mark.parametrize("poison,everywhere", POISONINGS, ids=POISONING_IDS)
def test_conv2d_winograd(kernels, kernel, case, poison, everywhere):
    """Before the activation, outputs outside the poisoned tiles match PyTorch exactly, and
    inside them each of PyTorch's non-finite outputs is non-finite. Every epilogue, with
    and without the fused 2x2 max pool, is then PyTorch's activation (and pool) of that
    result. Both Winograd kernels: U transformed at compile time, and at run time."""
    from mnistc.transforms.packing import pack_winograd_raw_weight, pack_winograd_weight

    pack = pack_winograd_raw_weight if kernel == "conv2d_winograd_raw" else pack_winograd_weight
    case = dict(case, kh=3, kw=3, dil=(1, 1), groups=1)
    clean, weight, bias, _, _ = conv_problem(case, True, False, (case["c"] * 9) ** -0.5)
    x = poisoned(clean, poison, everywhere)
    expected = F.conv2d(*map(torch.from_numpy, (x, weight, bias)), 1, case["pad"]).numpy()
    shape = expected.shape
    params = conv_geometry(case, torch.from_numpy(expected))
    inputs = [x, pack(weight), bias, None]
    unpooled = conv_outputs(kernels, kernel, inputs, params | {"pool": 0}, shape)
    pre_activation = unpooled(activation_args(None, ()))

    spread = winograd_spread(x != clean, shape, case["pad"])
    assert_propagates(pre_activation[~spread], expected[~spread])
    assert not np.isfinite(pre_activation[~np.isfinite(expected)]).any()
    finite = np.isfinite(pre_activation)
    np.testing.assert_allclose(pre_activation[finite], expected[finite], rtol=1e-4, atol=1e-4)

    ours = torch.from_numpy(pre_activation)
    with_activations(unpooled, ours, every=not everywhere)
    pooled_shape = (*shape[:2], shape[2] // 2, shape[3] // 2)
    pooled = conv_outputs(kernels, kernel, inputs, params | {"pool": 2}, pooled_shape)
    with_activations(pooled, ours, then=lambda t: F.max_pool2d(t, 2), every=not everywhere)


@pytest.mark.parametrize("m,n_in,n_out", [(1, 9216, 16), (1, 128, 10), (3, 37, 5)])
@pytest.mark.parametrize("poison,everywhere", POISONINGS, ids=POISONING_IDS)
def test_linear(kernels, m, n_in, n_out, poison, everywhere):
    """The GEMV (m = 1) and GEMM forms. With FLT_MAX everywhere, whether a sum overflows
    depends on the order of its terms where their signs differ: there the weights of a row
    have one sign, and rows sum to 0.5 (a finite result) or 2 (infinite)."""
    rng = np.random.default_rng(0)
    x = poisoned(rng.standard_normal((m, n_in), dtype=np.float32), poison, everywhere)
    weight = rng.standard_normal((n_out, n_in), dtype=np.float32) * np.float32(n_in**-0.5)
    if poison == "max" and everywhere:
        row_sums = np.where(np.arange(n_out) % 2, 2.0, -0.5)[:, None]
        weight = np.abs(weight) * (row_sums / np.abs(weight).sum(1, keepdims=True))
        weight = weight.astype(np.float32)
    bias = rng.standard_normal(n_out, dtype=np.float32)
    expected = F.linear(*map(torch.from_numpy, (x, weight, bias)))
    exact = F.linear(*(torch.from_numpy(a).double() for a in (x, weight, bias)))
    run = conv_outputs(kernels, "linear", [x, weight, bias], {"M": m, "IN": n_in, "OUT": n_out}, expected.shape)
    with_activations(run, expected, exact=exact, every=not everywhere)


# c, h, w, kernel, stride, padding: the vector 2x2 path and its scalar tail, windows
# inside the input, windows over padding, and the vector interior between padded borders
# at strides 2 (the resnet stem's window), 1 and 3.
MAX_POOL_CASES = [
    (4, 6, 38, 2, 2, 0), (3, 9, 9, 3, 2, 0), (2, 7, 9, 3, 2, 1),
    (2, 9, 37, 3, 2, 1), (2, 5, 21, 3, 1, 1), (2, 7, 40, 5, 3, 2),
]  # fmt: skip


@pytest.mark.parametrize("case", MAX_POOL_CASES, ids=str)
@pytest.mark.parametrize("poison,everywhere", POISONINGS, ids=POISONING_IDS)
def test_max_pool2d(kernels, case, poison, everywhere):
    c, h, w, k, stride, pad = case
    x = np.random.default_rng(0).standard_normal((1, c, h, w), dtype=np.float32)
    x = poisoned(x, poison, everywhere)
    expected = F.max_pool2d(torch.from_numpy(x), k, stride, pad)
    out = np.zeros(expected.shape, dtype=np.float32)
    window = pool_params(x, expected, (k, k), (stride, stride), (pad, pad))
    call(kernels, "max_pool2d", [x, out], **window, dilation_h=1, dilation_w=1)
    assert_propagates(out, expected)


@pytest.mark.parametrize("poison,everywhere", POISONINGS, ids=POISONING_IDS)
def test_avg_pools(kernels, poison, everywhere):
    x = np.random.default_rng(0).standard_normal((1, 2, 7, 9), dtype=np.float32)
    x = poisoned(x, poison, everywhere)
    expected = F.avg_pool2d(torch.from_numpy(x), 3, 2, 1)
    out = np.zeros(expected.shape, dtype=np.float32)
    window = pool_params(x, expected, (3, 3), (2, 2), (1, 1))
    call(kernels, "avg_pool2d", [x, out], **window, count_include_pad=1, divisor=0)
    assert_propagates(out, expected)
    expected = F.adaptive_avg_pool2d(torch.from_numpy(x), (3, 4))
    out = np.zeros(expected.shape, dtype=np.float32)
    call(kernels, "adaptive_avg_pool2d", [x, out], C=2, H=7, W=9, OH=3, OW=4)
    assert_propagates(out, expected)
    mean = np.zeros((1, 2, 1, 1), dtype=np.float32)  # global: the vector sum
    call(kernels, "adaptive_avg_pool2d", [x, mean], C=2, H=7, W=9, OH=1, OW=1)
    assert_propagates(mean, F.adaptive_avg_pool2d(torch.from_numpy(x), 1))


@pytest.mark.parametrize("log", [False, True])
def test_softmax(kernels, log):
    """Rows holding NaN, +inf, -inf (some, all) and FLT_MAX, over the last axis and over a
    middle one."""
    nan, inf = np.nan, np.inf
    rows = np.array([
        [1, 2, 3, 4], [1, nan, 3, 4], [nan] * 4, [1, inf, 3, 4], [inf, inf, 1, 2], [inf] * 4,
        [1, -inf, 3, 4], [-inf] * 4, [-inf, inf, 1, 2], [FLT_MAX, 1, 2, 3], [FLT_MAX] * 4,
        [FLT_MAX, -FLT_MAX, 0, 1],
    ], dtype=np.float32)  # fmt: skip
    fn = F.log_softmax if log else F.softmax
    kernel = "log_softmax" if log else "softmax"
    for x, dim in ((rows, 1), (np.ascontiguousarray(rows.T[None]), 1)):
        outer, axis = int(np.prod(x.shape[:dim])), x.shape[dim]
        out = np.zeros_like(x)
        call(kernels, kernel, [x, out], outer=outer, axis=axis, inner=x.size // (outer * axis))
        assert_propagates(out, fn(torch.from_numpy(x), dim))


@pytest.mark.parametrize("poison,everywhere", POISONINGS, ids=POISONING_IDS)
def test_element_wise_kernels(kernels, poison, everywhere):
    """batch norm, add, mul and PReLU (poison on either side), pad, concatenation, LRN,
    strided copies."""

    rng = np.random.default_rng(0)
    clean = rng.standard_normal((1, 4, 3, 5), dtype=np.float32)
    x = poisoned(clean, poison, everywhere)
    t = torch.from_numpy(x)
    mean, beta, slope = rng.standard_normal((3, 4), dtype=np.float32)
    var, gamma = rng.random((2, 4), dtype=np.float32) + 0.5
    out = np.zeros_like(x)
    call(kernels, "batch_norm", [x, mean, var, gamma, beta, out], C=4, inner=15, eps=1e-5)
    statistics = map(torch.from_numpy, (mean, var, gamma, beta))
    assert_propagates(out, F.batch_norm(t, *statistics, eps=1e-5))

    def strides(prefix: str, values) -> dict:
        return {f"{prefix}{i}": v for i, v in enumerate(values)}

    dims, same = strides("d", (1, 4, 3, 5)) | activation_args(None, ()), (4 * 15, 15, 5, 1)
    for op, reference in (("add", torch.add), ("mul", torch.mul)):
        for lhs, rhs in ((x, clean), (clean, x)):
            code = abi.BINARY_CODES[op]
            call(kernels, "binary", [lhs, rhs, out], op=code, **dims, **strides("l", same), **strides("r", same))
            assert_propagates(out, reference(torch.from_numpy(lhs), torch.from_numpy(rhs)))
    per_channel = strides("r", (0, 1, 0, 0))
    call(kernels, "binary", [x, slope, out], op=abi.BINARY_CODES["prelu"], **dims, **strides("l", same), **per_channel)
    assert_propagates(out, F.prelu(t, torch.from_numpy(slope)))
    # The same per-channel operand as the lowering merges it (rows of 15: a vector and a
    # tail): a squeeze-excite scale, and prelu.
    rows = strides("d", (1, 1, 4, 15)) | strides("l", (0, 0, 15, 1)) | strides("r", (0, 0, 1, 0))
    rows |= activation_args(None, ())
    per_channel_slope = torch.from_numpy(slope).reshape(1, 4, 1, 1)
    for op, reference in (("mul", torch.mul(t, per_channel_slope)), ("prelu", F.prelu(t, torch.from_numpy(slope)))):
        call(kernels, "binary", [x, slope, out], op=abi.BINARY_CODES[op], **rows)
        assert_propagates(out, reference)

    padded = np.zeros((1, 4, 6, 7), dtype=np.float32)
    call(kernels, "pad2d", [x, padded], C=4, H=3, W=5, top=1, left=0, bottom=2, right=2, value=0.0)
    assert_propagates(padded, F.pad(t, (0, 2, 1, 2)))
    joined = np.zeros((1, 8, 3, 5), dtype=np.float32)
    for offset, part in ((0, clean), (60, x)):
        call(kernels, "copy_block", [part, joined], outer=1, inner=60, out_stride=120, offset=offset)
    assert_propagates(joined, torch.cat([torch.from_numpy(clean), t], 1))

    call(kernels, "lrn", [x, out], C=4, inner=15, size=3, alpha=1e-2, beta=0.75, bias=2.0)
    assert_propagates(out, F.local_response_norm(t, 3, alpha=1e-2, beta=0.75, k=2.0))

    # copy_strided: a transpose (tiled), then channel 1 broadcast four times
    moved = np.zeros((1, 4, 5, 3), dtype=np.float32)
    call(kernels, "copy_strided", [x, moved], **strides("d", (1, 1, 1, 4, 5, 3)), **strides("s", (0, 0, 0, 15, 1, 5)), offset=0, out_offset=0)
    assert_propagates(moved, t.transpose(2, 3))
    call(kernels, "copy_strided", [x, out], **strides("d", (1, 1, 1, 4, 3, 5)), **strides("s", (0, 0, 0, 0, 5, 1)), offset=15, out_offset=0)
    assert_propagates(out, t[:, 1:2].expand(1, 4, 3, 5))


@pytest.mark.parametrize("poison,everywhere", POISONINGS, ids=POISONING_IDS)
def test_issue_12_kernels(kernels, poison, everywhere):
    """sub, div, max and min (poison on either side, and broadcast), the reductions, layer
    norm, group norm and GLU."""
    rng = np.random.default_rng(0)
    clean = rng.standard_normal((1, 4, 3, 5), dtype=np.float32)
    x = poisoned(clean, poison, everywhere)
    t = torch.from_numpy(x)
    out = np.zeros_like(x)

    def strides(prefix: str, values) -> dict:
        return {f"{prefix}{i}": v for i, v in enumerate(values)}

    dims, same = strides("d", (1, 4, 3, 5)), (4 * 15, 15, 5, 1)
    ops = {"sub": torch.sub, "div": torch.div, "max": torch.maximum, "min": torch.minimum}
    dims |= {"activation": 0, "alpha": 0.0, "beta": 0.0}
    for op, reference in ops.items():
        for lhs, rhs in ((x, clean), (clean, x)):
            call(kernels, "binary", [lhs, rhs, out], op=abi.BINARY_CODES[op], **dims, **strides("l", same), **strides("r", same))
            assert_propagates(out, reference(torch.from_numpy(lhs), torch.from_numpy(rhs)))
        row = np.ascontiguousarray(x[:, :1, :1, :])  # broadcast along C and H
        call(kernels, "binary", [clean, row, out], op=abi.BINARY_CODES[op], **dims, **strides("l", same), **strides("r", (0, 0, 0, 1)))
        assert_propagates(out, reference(torch.from_numpy(clean), torch.from_numpy(row)))

    reductions = {"mean": torch.mean, "sum": torch.sum, "max": torch.amax, "min": torch.amin}
    for op, reference in reductions.items():
        for reduced in ((3,), (1, 2)):
            expected = reference(t, reduced)
            result = np.zeros(expected.shape, dtype=np.float32)
            sizes, flags = zip(*runs(x.shape, reduced))
            call(kernels, "reduce", [x, result], op=abi.REDUCE_CODES[op], **strides("d", sizes), **strides("r", map(int, flags)))
            assert_propagates(result, expected)

    weight, bias = rng.standard_normal((2, 15), dtype=np.float32)
    call(kernels, "layer_norm", [x, weight, bias, out], outer=4, inner=15, eps=1e-5)
    assert_propagates(out, F.layer_norm(t, (3, 5), torch.from_numpy(weight.reshape(3, 5)), torch.from_numpy(bias.reshape(3, 5))))
    scale, shift = torch.from_numpy(weight[:4].copy()), torch.from_numpy(bias[:4].copy())
    call(kernels, "group_norm", [x, scale.numpy(), shift.numpy(), out], C=4, groups=2, inner=15, eps=1e-5)
    # PyTorch's group_norm folds the mean into a shift, mean * rstd * weight, which
    # overflows when every value is FLT_MAX (inf in float32, -5e24 in float64, where the
    # exact answer is the bias): the two-pass reference of the interpreter is accepted too.
    exact = group_norm(x, 2, 1e-5, scale.numpy(), shift.numpy()).astype(np.float32)
    assert_propagates(out, F.group_norm(t, 2, scale, shift), also=exact)
    halves = np.zeros((1, 2, 3, 5), dtype=np.float32)
    call(kernels, "glu", [x, halves], outer=1, half=30)
    assert_propagates(halves, F.glu(t, 1))


@pytest.fixture(scope="module")
def mnist_library(tmp_path_factory):
    path = tmp_path_factory.mktemp("nan-model") / "libmnist.so"
    compile_model(BUNDLED_MODEL, path, CompileOptions(shared=True))
    return CompiledModel(path)


def test_bundled_model_propagates_nan(mnist_library):
    """The optimised bundled model (packed conv, Winograd conv with fused ReLU and max pool,
    linear, log_softmax): one NaN or infinite pixel, or every pixel NaN or FLT_MAX, gives
    PyTorch's NaN pattern; a clean sample in the same batch stays finite and right."""
    clean = np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32)
    poisonings = [("nan", False), ("inf", False), ("-inf", False), ("nan", True), ("max", True)]
    samples = [clean] + [poisoned(clean, name, everywhere) for name, everywhere in poisonings]
    inputs = np.concatenate(samples * 2)  # a batch large enough to run samples in parallel
    with torch.no_grad():
        expected = torch.jit.load(str(BUNDLED_MODEL))(torch.from_numpy(inputs)).numpy()
    assert np.isfinite(expected[0]).all() and not np.isfinite(expected[1:6]).any()
    assert_propagates(mnist_library(inputs), expected)
