"""Every form of attention people export (issue 12): nn.MultiheadAttention with masks,
separate q/k/v projections and cross-attention, both of its traced forms, the
Transformer encoder and decoder layers with masks, timm's attention; through
TorchScript, torch.export and ONNX into the reference interpreter at batch 3 against
PyTorch, and the decomposed attention fused into `nn.attention` (`fuse-attention`).
"""

from __future__ import annotations

import collections
from typing import Optional

import numpy as np
import pytest
import torch
from conftest import assert_matches_torch
from test_attention import import_traced
from test_decoders import import_via, random
from torch import nn

E, T, HEADS = 16, 5, 4
"""Embedding, tokens and heads of the models here (inputs [N, T, E])."""


def randomise(module: nn.Module) -> nn.Module:
    """Biases that are not zero, so that a dropped bias shows."""
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    return module


def causal_mask(size: int) -> torch.Tensor:
    return nn.Transformer.generate_square_subsequent_mask(size)


class MaskedMHA(nn.Module):
    """Self-attention with a constant mask: float (-inf above the diagonal, the
    generate_square_subsequent_mask buffer), boolean (True: hidden), a key padding mask,
    or is_causal with its mask; batch first or sequence first (the model then transposes
    its input and output)."""

    def __init__(self, mask: str, batch_first: bool = True) -> None:
        super().__init__()
        self.attention = randomise(nn.MultiheadAttention(E, HEADS, batch_first=batch_first))
        self.mask, self.batch_first = mask, batch_first
        self.register_buffer("float_mask", causal_mask(T))
        self.register_buffer("bool_mask", torch.rand(T, T) > 0.6)
        self.bool_mask[:, 0] = False  # no query hides every key
        self.register_buffer("padding", torch.tensor([False, False, True, False, True]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.batch_first:
            x = x.transpose(0, 1)
        attn_mask: Optional[torch.Tensor] = None
        padding: Optional[torch.Tensor] = None
        if self.mask == "float" or self.mask == "causal":
            attn_mask = self.float_mask
        elif self.mask == "bool":
            attn_mask = self.bool_mask
        elif self.mask == "key-padding":
            padding = self.padding.expand(x.shape[0] if self.batch_first else x.shape[1], -1)
        y = self.attention(
            x, x, x, key_padding_mask=padding, need_weights=False, attn_mask=attn_mask,
            is_causal=self.mask == "causal",
        )[0]  # fmt: skip
        return y if self.batch_first else y.transpose(0, 1)


class ProjectedMHA(nn.Module):
    """Cross-attention from [N, T, E] tokens to a memory the model computes from them
    ([N, T - 2, 12], other widths for keys and values: kdim and vdim, so separate q, k and
    v projection weights)."""

    def __init__(self) -> None:
        super().__init__()
        self.memory = nn.Linear(E, 12)
        self.values = nn.Linear(E, 10)
        self.attention = randomise(nn.MultiheadAttention(E, HEADS, kdim=12, vdim=10, batch_first=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        key, value = self.memory(x[:, 2:]), self.values(x[:, 2:])
        return self.attention(x, key, value, need_weights=False)[0]


class WeightedMHA(nn.Module):
    """nn.MultiheadAttention called as written in most code: need_weights left True, the
    weights dropped (TorchScript then records the slow path, its weights dead)."""

    def __init__(self) -> None:
        super().__init__()
        self.attention = randomise(nn.MultiheadAttention(E, HEADS, batch_first=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.attention(x, torch.tanh(x), torch.tanh(x))
        return y


class MaskedEncoder(nn.Module):
    """nn.TransformerEncoder with a causal src mask (is_causal or not)."""

    def __init__(self, is_causal: bool) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(E, HEADS, 24, dropout=0.0, batch_first=True)
        self.encoder = randomise(nn.TransformerEncoder(layer, 2, enable_nested_tensor=False))
        self.register_buffer("mask", causal_mask(T))
        self.is_causal = is_causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x, mask=self.mask, is_causal=self.is_causal)


class Decoder(nn.Module):
    """nn.TransformerDecoderLayer on an encoder's output of the same model: causal
    self-attention, cross-attention to the memory."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = randomise(nn.TransformerEncoderLayer(E, HEADS, 24, dropout=0.0, batch_first=True))
        self.decoder = randomise(nn.TransformerDecoderLayer(E, HEADS, 24, dropout=0.0, batch_first=True))
        self.register_buffer("mask", causal_mask(T))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(x, self.encoder(x), tgt_mask=self.mask)


class TimmAttention(nn.Module):
    """timm's Attention: one qkv projection reshaped [B, N, 3, H, D] and permuted
    (2, 0, 3, 1, 4), so that q, k and v are unbound from dimension 0."""

    def __init__(self, fused: bool) -> None:
        super().__init__()
        self.qkv, self.proj, self.fused = nn.Linear(E, 3 * E), nn.Linear(E, E), fused
        self.heads = HEADS
        self.scale = (E // HEADS) ** -0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if self.fused:
            x = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        else:
            x = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1) @ v
        return self.proj(x.transpose(1, 2).reshape(b, n, c))


CASES = {
    "mha-float-mask": lambda: MaskedMHA("float"),
    "mha-bool-mask": lambda: MaskedMHA("bool"),
    "mha-causal": lambda: MaskedMHA("causal"),
    "mha-key-padding": lambda: MaskedMHA("key-padding"),
    "mha-sequence-first-mask": lambda: MaskedMHA("float", batch_first=False),
    "mha-kdim-vdim": ProjectedMHA,
    "mha-need-weights": WeightedMHA,
    "encoder-mask": lambda: MaskedEncoder(False),
    "encoder-causal": lambda: MaskedEncoder(True),
    "decoder": Decoder,
    "timm": lambda: TimmAttention(False),
    "timm-sdpa": lambda: TimmAttention(True),
}


def attention_ops(module) -> collections.Counter:
    return collections.Counter(op.name for op in module.walk() if op.name in ("nn.attention", "nn.softmax"))


FORMS_FRONT_ENDS = ["traced", "scripted", "torch.export", "onnx"]
"""TorchScript both ways: tracing records nn.MultiheadAttention's fast path or its slow
path op by op, with sizes as traced values; scripting records the whole forward, its
checks on masks and inputs included."""

SKIPPED = {
    ("mha-bool-mask", "traced"), ("mha-bool-mask", "scripted"), ("mha-causal", "onnx"),
    ("mha-causal", "scripted"), ("mha-key-padding", "scripted"), ("mha-need-weights", "onnx"),
    ("mha-sequence-first-mask", "scripted"), ("encoder-mask", "torch.export"),
    ("encoder-mask", "scripted"), ("encoder-causal", "traced"), ("encoder-causal", "onnx"),
    ("timm", "torch.export"), ("timm", "scripted"), ("timm-sdpa", "traced"),
}  # fmt: skip
"""Pairs whose path another pair takes already (the suite's time): the boolean mask and
is_causal become the same constant mask; the compiled test exports the causal encoder
to ONNX; timm's two forms share their permute and unbind."""

DYNAMIC_ONNX = ["mha-sequence-first-mask", "mha-kdim-vdim", "timm"]
"""Cases also exported with a dynamic batch, whose reshapes then compute sizes from the
batch (`Shape`), which say where the batch goes."""

CASE_FRONT_ENDS = [(c, f) for c in CASES for f in FORMS_FRONT_ENDS if (c, f) not in SKIPPED]
CASE_FRONT_ENDS += [(c, "onnx-dynamic") for c in DYNAMIC_ONNX]


def import_form(front_end: str, module: nn.Module, tmp_path):
    if front_end == "scripted":
        return import_via("torchscript", module, (T, E), tmp_path)
    if front_end == "onnx-dynamic":
        from mnistc.driver import Compilation
        from test_decoders import export_onnx

        return Compilation.import_file(export_onnx(module, (T, E), tmp_path / "m.onnx", dynamic_batch=True))
    return import_traced("torchscript" if front_end == "traced" else front_end, module, (T, E), tmp_path)


@pytest.mark.parametrize("case, front_end", CASE_FRONT_ENDS, ids=[f"{c}-{f}" for c, f in CASE_FRONT_ENDS])
def test_attention_form(case, front_end, tmp_path):
    """Imported, optimised (attention fused), run by the reference interpreter at batch
    3 against PyTorch; every softmax of attention is gone into `nn.attention`."""
    torch.manual_seed(0)
    module = CASES[case]().eval()
    compilation = import_form(front_end, module, tmp_path)
    compilation.run_to("nn")
    ops = attention_ops(compilation.module)
    assert ops["nn.attention"] >= 1 and ops["nn.softmax"] == 0, ops
    x = random(3, T, E)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    assert_matches_torch(run_batch_of(compilation, x), expected)


def run_batch_of(compilation, x: np.ndarray) -> np.ndarray:
    from mnistc.interpreters.nn import run_batch

    return run_batch(compilation.module, x, compilation.weights)


# The batch's place through reshapes (shape_ops.batch_after_reshape)

RESHAPES = {
    # name: (sample shape, batch dim, outer elements, target, hint, expected place)
    "heads-merged-with-batch": ((5, 1, 16), 1, 1, (5, 4, 4), None, (1, 1)),
    "tokens-merged-with-batch": ((5, 1, 4, 4), 1, 1, (5, 16), None, (0, 5)),
    "batch-split-out-again": ((5, 16), 0, 5, (5, 1, 16), None, (1, 1)),
    "heads-split-at-batch-0": ((4, 5, 4), 0, 1, (1, 4, 5, 4), None, (0, 1)),
    "the-model-says-where": ((5, 1, 16), 1, 1, (5, 4, 4), 0, (0, 5)),
    "interleaves-samples": ((1, 2, 6, 6), 0, 1, (3, 1, 24), 1, None),
}


@pytest.mark.parametrize("case", RESHAPES.values(), ids=RESHAPES)
def test_batch_after_reshape(case):
    """The batch keeps its place in memory: after as many of a sample's elements; a size
    computed from the batch (the hint) decides between equal places, and a place no
    dimension can hold is refused (None)."""
    from mnistc.importers.shape_ops import batch_after_reshape

    source, dim, outer, target, hint, expected = case
    assert batch_after_reshape(source, dim, outer, target, hint) == expected


# Compiled: the ONNX forms with a dynamic batch, at batches 1 and 3


class Forms(nn.Module):
    """Sequence-first masked attention, kdim/vdim cross-attention, a causal encoder and
    timm's attention, in one model."""

    def __init__(self) -> None:
        super().__init__()
        self.masked, self.projected = MaskedMHA("float", batch_first=False), ProjectedMHA()
        self.encoder, self.timm = MaskedEncoder(True), TimmAttention(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.masked(x) + self.projected(x)
        return self.timm(self.encoder(x))


@pytest.fixture(scope="module")
def compiled_forms(tmp_path_factory):
    from mnistc.driver import Compilation, CompileOptions, compile_model
    from test_decoders import export_onnx

    pytest.importorskip("onnx")
    torch.manual_seed(0)
    model = Forms().eval()
    directory = tmp_path_factory.mktemp("forms")
    path = export_onnx(model, (T, E), directory / "forms.onnx", dynamic_batch=True)
    imported = Compilation.import_file(path)
    imported.run_to("nn")
    compile_model(path, directory / "forms", CompileOptions())
    return model, imported.module, directory / "forms"


@pytest.mark.slow  # a compile of its own (test_attention's zoo compiles attention by default)
def test_compiled_forms_run_on_the_fused_kernel(compiled_forms):
    """Every attention of the ONNX export (five: the encoder has two layers) fused; no
    softmax left."""
    _, module, _ = compiled_forms
    assert attention_ops(module) == {"nn.attention": 5}


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 3])
def test_compiled_forms_match_torch(compiled_forms, batch):
    from mnistc.verify import run_executable

    model, _, executable = compiled_forms
    x = random(batch, T, E)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    assert_matches_torch(run_executable(executable, x), expected)
