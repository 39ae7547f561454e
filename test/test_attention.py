"""Attention and transformers (issue 12): matrix products of two run-time tensors,
linear layers on token matrices, scaled_dot_product_attention, nn.MultiheadAttention, a
tiny ViT and an MLP-Mixer.

Three levels, cheapest first: the kernels (matmul, attention, linear_gemm: the GEMM
core with A packed at run time) through ctypes against PyTorch on odd shapes; each op
through every front end into the reference interpreter, against PyTorch; compiled
executables of an attention model (TorchScript) and of the ViT and the Mixer through
ONNX at batches 1 and 3 (TorchScript and torch.export compile them, as every model of
test/models.py, in test_pipeline.py and test_torch_export.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import assert_matches_torch, save_traced
from test_decoders import FRONT_ENDS, check_through_onnx, export_onnx, import_via, random
from test_kernels import call, kernels  # noqa: F401 (kernels is a fixture)
from test_nan_propagation import assert_propagates
from torch import nn

from mnistc.errors import MnistcError
from mnistc.driver import Compilation, CompileOptions, compile_model
from mnistc.importers.torch_export import import_exported
from mnistc.interpreters.nn import run_batch
from mnistc.kernels import abi
from mnistc.transforms.packing import pack_gemm_b
from mnistc.verify import run_executable

# Kernels (kernels/matmul.cpp, linear_gemm in kernels/linear.cpp)


def run_matmul(kernels, lhs, rhs, dims, left, right):  # noqa: F811
    """The matmul kernel on dense operands read through batch strides (0 broadcasts)."""
    m, k = lhs.shape[-2:]
    n = rhs.shape[-1]
    out = np.full((*dims, m, n), np.nan, dtype=np.float32)
    params = {"M": m, "K": k, "N": n}
    for i in range(3):
        params |= {f"d{i}": dims[i], f"l{i}": left[i], f"r{i}": right[i]}
    call(kernels, "matmul", [lhs, rhs, out], **params)
    return out


@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (7, 13, 19), (25, 300, 33), (6, 16, 16)])
def test_matmul_kernel_broadcasts_batch(kernels, m, k, n):  # noqa: F811
    """[2, 3, 1] batches: lhs broadcast along the second, rhs along the first and third
    (K = 300 spans two KC blocks; odd M and N leave partial register tiles)."""
    lhs, rhs = random(2, 1, 1, m, k, seed=1), random(1, 3, 1, k, n, seed=2)
    out = run_matmul(kernels, lhs, rhs, (2, 3, 1), (m * k, 0, 0), (0, k * n, 0))
    expected = torch.from_numpy(lhs) @ torch.from_numpy(rhs)
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-4, atol=1e-4)


def test_matmul_kernel_propagates_nan(kernels):  # noqa: F811
    lhs, rhs = random(1, 5, 9, seed=1), random(1, 9, 11, seed=2)
    lhs[0, 2, 4] = np.nan
    rhs[0, 3, 7] = np.inf
    out = run_matmul(kernels, lhs, rhs, (1, 1, 1), (0, 0, 0), (0, 0, 0))
    assert_propagates(out.reshape(1, 5, 11), torch.from_numpy(lhs) @ torch.from_numpy(rhs))


def run_attention(kernels, q, k, v, mask=None, mask_strides=(0, 0), causal=False, scale=None):  # noqa: F811
    batch, length, e = q.shape
    keys, ev = v.shape[1:]
    out = np.full((batch, length, ev), np.nan, dtype=np.float32)
    call(
        kernels, "attention", [q, k, v, mask, out], batch=batch, L=length, S=keys, E=e, EV=ev,
        mask_batch_stride=mask_strides[0], mask_row_stride=mask_strides[1], causal=int(causal),
        scale=1 / np.sqrt(e) if scale is None else scale,
    )  # fmt: skip
    return out


def torch_attention(q, k, v, mask=None, **options):
    tensors = [torch.from_numpy(a) for a in (q, k, v)]
    mask = None if mask is None else torch.from_numpy(mask)
    return F.scaled_dot_product_attention(*tensors, attn_mask=mask, **options).numpy()


ATTENTION_SHAPES = {
    # name: (batch, L, S, E, EV)
    "one-query": (2, 1, 5, 8, 8),
    "two-query-blocks": (3, 53, 37, 12, 20),
    "vit-like": (4, 17, 17, 16, 16),
    "long-keys": (1, 7, 300, 5, 3),
}


@pytest.mark.parametrize("shape", ATTENTION_SHAPES.values(), ids=ATTENTION_SHAPES)
def test_attention_kernel(kernels, shape):  # noqa: F811
    batch, length, keys, e, ev = shape
    q, k, v = random(batch, length, e, seed=1), random(batch, keys, e, seed=2), random(batch, keys, ev, seed=3)
    np.testing.assert_allclose(run_attention(kernels, q, k, v), torch_attention(q, k, v), rtol=1e-4, atol=1e-4)
    causal = run_attention(kernels, q, k, v, causal=True, scale=0.3)
    np.testing.assert_allclose(causal, torch_attention(q, k, v, is_causal=True, scale=0.3), rtol=1e-4, atol=1e-4)


def test_attention_kernel_masks(kernels):  # noqa: F811
    """A full mask per batch index, one shared by all (stride 0), and a key mask shared by
    every query (row stride 0) with -inf entries, which must weigh exactly nothing."""
    batch, length, keys, e = 3, 9, 11, 8
    q, k, v = random(batch, length, e, seed=1), random(batch, keys, e, seed=2), random(batch, keys, e, seed=3)
    full = random(batch, length, keys, seed=4)
    out = run_attention(kernels, q, k, v, full, (length * keys, keys))
    np.testing.assert_allclose(out, torch_attention(q, k, v, full), rtol=1e-4, atol=1e-4)
    shared = random(length, keys, seed=5)
    out = run_attention(kernels, q, k, v, shared, (0, keys))
    np.testing.assert_allclose(out, torch_attention(q, k, v, shared), rtol=1e-4, atol=1e-4)
    key_mask = np.where(np.arange(keys) % 3 == 0, -np.inf, 0.0).astype(np.float32)
    out = run_attention(kernels, q, k, v, key_mask, (0, 0))
    np.testing.assert_allclose(out, torch_attention(q, k, v, key_mask), rtol=1e-4, atol=1e-4)
    v_hidden = v.copy()
    v_hidden[:, ::3] = 1e30  # the hidden keys' values must not leak in
    assert np.array_equal(run_attention(kernels, q, k, v_hidden, key_mask, (0, 0)), out)


def test_attention_kernel_propagates_nan(kernels):  # noqa: F811
    """A NaN in one query row makes that row NaN only; one in a key, every row."""
    q, k, v = random(2, 6, 8, seed=1), random(2, 7, 8, seed=2), random(2, 7, 8, seed=3)
    q[0, 2, 3] = np.nan
    k[1, 4, 0] = np.nan
    assert_propagates(run_attention(kernels, q, k, v), torch_attention(q, k, v))


@pytest.mark.parametrize("m, n_in, n_out", [(4, 3, 1), (17, 45, 37), (64, 256 + 7, 50), (197, 32, 96)])
@pytest.mark.parametrize("activation", ["none", "gelu", "gelu_tanh"])
def test_linear_gemm_kernel(kernels, m, n_in, n_out, activation):  # noqa: F811
    """Odd rows, inputs and outputs (partial tiles; IN over KC), with and without bias,
    the activation fused in the epilogue."""
    x, weight, bias = random(m, n_in, seed=1), random(n_out, n_in, seed=2), random(n_out, seed=3)
    packed = pack_gemm_b(weight)
    assert packed.shape == (-(-n_out // abi.GEMM_NR), n_in, abi.GEMM_NR)
    code = abi.ACTIVATION_CODES[activation]
    approximate = "tanh" if activation == "gelu_tanh" else "none"
    for b in (bias, None):
        out = np.full((m, n_out), np.nan, dtype=np.float32)
        call(kernels, "linear_gemm", [x, packed, b, out], M=m, IN=n_in, OUT=n_out, activation=code, alpha=0.0, beta=0.0)
        expected = F.linear(torch.from_numpy(x), torch.from_numpy(weight), None if b is None else torch.from_numpy(b))
        if activation != "none":
            expected = F.gelu(expected, approximate=approximate)
        np.testing.assert_allclose(out, expected.numpy(), rtol=1e-4, atol=1e-4)


# Each op through every front end, into the reference interpreter


class Attention(nn.Module):
    """q, k and v from one projection of the [N, 6, 16] input, two heads of 8."""

    def __init__(self, attend) -> None:
        super().__init__()
        self.qkv = nn.Linear(16, 48)
        self.attend = attend
        self.register_buffer("bool_mask", torch.rand(6, 6) > 0.3)
        self.bool_mask[:, 0] = True  # no row masked whole
        self.register_buffer("float_mask", torch.randn(1, 2, 6, 6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        q, k, v = (t.view(n, 6, 2, 8).transpose(1, 2) for t in self.qkv(x).chunk(3, dim=-1))
        return self.attend(self, q, k, v).transpose(1, 2).reshape(n, 6, 16)


def sdpa(**options):
    return lambda self, q, k, v: F.scaled_dot_product_attention(q, k, v, **options)


OP_CASES = {
    "sdpa": sdpa(),
    "sdpa-causal": sdpa(is_causal=True),
    "sdpa-scale": sdpa(scale=0.2),
    "sdpa-bool-mask": lambda self, q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=self.bool_mask),
    "sdpa-float-mask": lambda self, q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=self.float_mask),
    "sdpa-run-time-mask": lambda self, q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=q[:, :1, :, :1] * 2),
    "matmul-softmax": lambda self, q, k, v: torch.softmax(q @ k.transpose(-2, -1) * 0.3, dim=-1) @ v,
    "matmul-broadcast": lambda self, q, k, v: q @ (k[:, :1].transpose(-2, -1) @ v[:, :1]),
    "bmm": lambda self, q, k, v: torch.bmm(
        torch.bmm(q[:, 0], k[:, 0].transpose(1, 2)).softmax(-1), v[:, 1]
    ).unsqueeze(1).expand(-1, 2, -1, -1),
}
"""Ways attention is written, each giving [N, 2, 6, 8 or 6] from q, k and v [N, 2, 6, 8]."""

NOT_IN_ONNX = {"sdpa-bool-mask"}
"""The ONNX exporter writes a boolean mask as IsNaN and Where over the scores, boolean
ops outside the ONNX importer: refused (test_boolean_mask_in_onnx_is_refused)."""


def import_traced(front_end: str, module: nn.Module, shape, tmp_path) -> Compilation:
    """As test_decoders.import_via, TorchScript by tracing (the attention variants are
    lambdas, and nn.MultiheadAttention traces to its fused inference op)."""
    if front_end != "torchscript":
        return import_via(front_end, module, shape, tmp_path)
    with torch.no_grad():
        path = save_traced(module, torch.rand(1, *shape), tmp_path / "m.pt")
    return Compilation.import_file(path, shape)


def assert_imported_matches_torch(front_end: str, module: nn.Module, tmp_path, shape=(5, 16)) -> None:
    """The module imported through `front_end` and optimised, in the reference
    interpreter at batch 3, against PyTorch."""
    compilation = import_traced(front_end, module, shape, tmp_path)
    compilation.run_to("nn")
    x = random(3, *shape)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    assert_matches_torch(run_batch(compilation.module, x, compilation.weights), expected)


OP_FRONT_ENDS = [(n, f) for n in OP_CASES for f in FRONT_ENDS if (n, f) not in {(c, "onnx") for c in NOT_IN_ONNX}]


@pytest.mark.parametrize("name, front_end", OP_FRONT_ENDS, ids=[f"{n}-{f}" for n, f in OP_FRONT_ENDS])
def test_attention_through_front_end(name, front_end, tmp_path):
    """The imported `nn` IR in the reference interpreter at batch 3, against PyTorch; a
    NaN in sample 1 stays in sample 1."""
    torch.manual_seed(0)
    module = Attention(OP_CASES[name]).eval()
    compilation = import_traced(front_end, module, (6, 16), tmp_path)
    compilation.run_to("nn")
    x = random(3, 6, 16)
    x[1, 2, 3] = np.nan
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    assert np.isnan(expected[1]).any() and not np.isnan(expected[[0, 2]]).any()
    assert_propagates(run_batch(compilation.module, x, compilation.weights), expected)


def test_boolean_mask_in_onnx_is_refused(tmp_path):
    torch.manual_seed(0)
    module = Attention(OP_CASES["sdpa-bool-mask"]).eval()
    with pytest.raises(MnistcError, match=r"unsupported ONNX operators:\n  IsNaN .*\n  Where"):
        import_via("onnx", module, (6, 16), tmp_path)


class SelfAttentionMHA(nn.Module):
    """nn.MultiheadAttention (batch_first) on [N, T, 16] tokens; the attention weights,
    when asked for, concatenated after the output."""

    def __init__(self, need_weights: bool, average: bool = True) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(16, 4, batch_first=True)
        self.need_weights, self.average = need_weights, average
        with torch.no_grad():
            self.attention.in_proj_bias.normal_()
            self.attention.out_proj.bias.normal_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, weights = self.attention(x, x, x, need_weights=self.need_weights, average_attn_weights=self.average)
        return y.flatten(1) if weights is None else torch.cat([y.flatten(1), weights.flatten(1)], dim=1)


MHA_CASES = {
    "no-weights": dict(need_weights=False),
    "averaged-weights": dict(need_weights=True),
    "per-head-weights": dict(need_weights=True, average=False),
}


@pytest.mark.parametrize("front_end", ["torchscript", "torch.export"])
@pytest.mark.parametrize("case", MHA_CASES.values(), ids=MHA_CASES)
def test_multi_head_attention(case, front_end, tmp_path):
    """Traced in inference, nn.MultiheadAttention is one fused op
    (aten::_native_multi_head_attention); torch.export records it decomposed, and its
    nodes are converted together as that op: its projections, attention per head and
    output projection; the weights it returns as softmax(q k^T / sqrt(d))."""
    torch.manual_seed(0)
    module = SelfAttentionMHA(**case).eval()
    assert_imported_matches_torch(front_end, module, tmp_path)


# Compiled executables


class AttentionZoo(nn.Module):
    """Every attention form at once on [N, 6, 16]: masked and causal attention, a product
    of two run-time tensors, multi-head attention, linear layers on the tokens."""

    def __init__(self) -> None:
        super().__init__()
        self.causal = Attention(sdpa(is_causal=True))
        self.masked = Attention(OP_CASES["sdpa-float-mask"])
        self.products = Attention(OP_CASES["matmul-softmax"])
        self.mha = SelfAttentionMHA(need_weights=False)
        self.head = nn.Linear(16, 7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.causal(x) + self.masked(x) + self.products(x)
        x = x + self.mha(x).view(x.shape)
        return self.head(F.gelu(x)).flatten(1)


@pytest.fixture(scope="module")
def zoo_executable(tmp_path_factory):
    torch.manual_seed(3)
    model = AttentionZoo().eval()
    directory = tmp_path_factory.mktemp("attention")
    with torch.no_grad():
        path = save_traced(model, torch.rand(1, 6, 16), directory / "zoo.pt")
    compile_model(path, directory / "zoo", CompileOptions(sample_shape=(6, 16)))
    return model, directory / "zoo"


@pytest.mark.parametrize("batch", [1, 3])
def test_attention_zoo_compiled_matches_torch(zoo_executable, batch):
    model, executable = zoo_executable
    x = random(batch, 6, 16)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    assert_matches_torch(run_executable(executable, x), expected)


def test_attention_zoo_compiled_propagates_nan(zoo_executable):
    model, executable = zoo_executable
    x = random(2, 6, 16)
    x[1, 4, 2] = np.nan
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    assert np.isnan(expected[1]).any() and not np.isnan(expected[0]).any()
    assert_propagates(run_executable(executable, x), expected)


@pytest.mark.parametrize("name", ["tiny_vit", "mlp_mixer"])
def test_transformer_through_onnx(name, tmp_path):
    check_through_onnx(name, tmp_path)


class Encoder(nn.Module):
    """nn.TransformerEncoder (batch_first): two layers, relu or GELU, norm before or after."""

    def __init__(self, activation: str, norm_first: bool) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(16, 4, 24, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.add_(torch.randn_like(parameter) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)


@pytest.mark.parametrize("front_end", ["torchscript", "torch.export"])
@pytest.mark.parametrize("activation, norm_first", [("relu", False), ("gelu", True)])
def test_transformer_encoder(activation, norm_first, front_end, tmp_path):
    """Traced in inference, each layer is one fused op (aten::_transformer_encoder_layer_fwd);
    exported, its self-attention is (the rest is op by op)."""
    torch.manual_seed(0)
    module = Encoder(activation, norm_first).eval()
    assert_imported_matches_torch(front_end, module, tmp_path)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_vector_gelu_is_accurate(kernels, approximate):  # noqa: F811
    """GELU in vectors (a polynomial erf, or tanh as a sigmoid) against float64 PyTorch
    from -30 to 30 (both tails, where the erf tail underflows), within 2e-6 + 2e-6|b|:
    fifty times inside the contract; inf, -inf and NaN as PyTorch's scalar loop."""
    x = np.concatenate([np.linspace(-30, 30, 20011), [0.0, -0.0, 1e-30, -1e-30]]).astype(np.float32)
    out = np.full_like(x, np.nan)
    code = abi.ACTIVATION_CODES["gelu" if approximate == "none" else "gelu_tanh"]
    call(kernels, "activation", [x, out], count=x.size, activation=code, alpha=0.0, beta=0.0)
    expected = F.gelu(torch.from_numpy(x).double(), approximate=approximate).numpy()
    np.testing.assert_allclose(out, expected, rtol=2e-6, atol=2e-6)
    special = np.array([np.inf, -np.inf, np.nan, 1.0, -np.inf, 2.0, np.nan, 3.0], dtype=np.float32)
    out = np.zeros_like(special)
    call(kernels, "activation", [special, out], count=8, activation=code, alpha=0.0, beta=0.0)
    scalar = np.array([F.gelu(torch.tensor([v]), approximate=approximate).item() for v in special], dtype=np.float32)
    finite = np.isfinite(special)
    np.testing.assert_array_equal(out[~finite], scalar[~finite])
    np.testing.assert_allclose(out[finite], scalar[finite], rtol=2e-6)



class CrossAttention(nn.Module):
    """nn.MultiheadAttention with query, key and value from three projections of the
    input; and one whose inputs are sequence first (batch_first=False)."""

    def __init__(self, batch_first: bool = True) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(16, 2, batch_first=batch_first)
        self.q, self.k, self.v = nn.Linear(16, 16), nn.Linear(16, 16), nn.Linear(16, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.q(x), self.k(x), self.v(x)
        if not self.attention.batch_first:
            q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
        return self.attention(q, k, v, need_weights=False)[0]


def test_multi_head_cross_attention_exported(tmp_path):
    torch.manual_seed(0)
    module = CrossAttention().eval()
    assert_imported_matches_torch("torch.export", module, tmp_path)


@pytest.mark.parametrize("front_end", ["torch.export", "onnx"])
def test_sequence_first_output_is_refused(front_end, tmp_path):
    """batch_first=False and no transpose back: the model's output holds the batch at
    dimension 1, which an executable writing one sample at a time cannot give: refused
    at the output, not compiled wrong (the attention itself follows the batch:
    test_attention_forms)."""
    module = CrossAttention(batch_first=False).eval()
    # A dynamic batch: with a fixed shape it is imported whole (test_whole_import.py).
    with pytest.raises(MnistcError, match="the model's output.*: .*the batch"):
        if front_end == "onnx":
            Compilation.import_file(export_onnx(module, (5, 16), tmp_path / "m.onnx", dynamic_batch=True))
        else:
            dynamic = ({0: torch.export.Dim("batch")},)
            program = torch.export.export(module, (torch.rand(2, 5, 16),), dynamic_shapes=dynamic)
            Compilation.from_imported(import_exported(program))


def test_report_counts_the_products_of_attention():
    """The FLOPs the new kernels declare (kernels/abi.py; the profile and `mnistc report`
    divide by them): 2 M K N per batch index for matmul, 2 L S (E + EV) per batch index
    for attention (its two products)."""
    from mnistc.context import MnistcContext
    from mnistc.dialects import cpu
    from mnistc.ir import parse_ir
    from mnistc.lowering.convert_nn_to_cpu import ConvertNnToCpuPass
    from mnistc.kernels import abi

    module = parse_ir(
        """
        func.func @forward(%q: tensor<1x2x5x8xf32>) -> tensor<1x2x5x8xf32> {
          %t = nn.transpose %q permutation [0, 1, 3, 2] : tensor<1x2x5x8xf32> -> tensor<1x2x8x5xf32>
          %s = nn.matmul %q, %t : tensor<1x2x5x8xf32>, tensor<1x2x8x5xf32> -> tensor<1x2x5x5xf32>
          %a = nn.attention %q, %q, %q scale 1.0 causal 0 : tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32> -> tensor<1x2x5x8xf32>
          func.return %a : tensor<1x2x5x8xf32>
        }
        """
    )
    ConvertNnToCpuPass().apply(MnistcContext(), module)
    gflop = {
        op.callee.string_value(): abi.kernel(op.callee.string_value()).flop_count(op.param_values()) / 1e9
        for op in module.walk()
        if isinstance(op, cpu.CallOp)
    }
    assert gflop["matmul"] == pytest.approx(2 * 2 * 5 * 8 * 5 / 1e9)
    assert gflop["attention"] == pytest.approx(2 * 2 * 5 * 5 * (8 + 8) / 1e9)
