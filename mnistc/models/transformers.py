"""Transformers for the tests and the network benchmark (issue 12): a ViT written as
people write them by hand (scaled_dot_product_attention, layer norm, GELU) and an
MLP-Mixer. Built with any image size; `vit_tiny` and `mlp_mixer` are the benchmark's
(ViT-Ti/16's shape; a Mixer of 16x16 patches)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class SelfAttention(nn.Module):
    """Multi-head self-attention as ViTs write it by hand: one qkv projection split in
    three, heads by view + transpose, scaled_dot_product_attention (or, `fused` False,
    softmax(q k^T) v written out with the scale left to the q projection), the heads
    merged."""

    def __init__(self, dim: int, heads: int, fused: bool = True) -> None:
        super().__init__()
        self.heads, self.fused = heads, fused
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q, k, v = self.split(q), self.split(k), self.split(v)
        if self.fused:
            y = F.scaled_dot_product_attention(q, k, v)
        else:
            # the 1 / sqrt(d) scale as a trained model may hold it: in the q projection
            y = torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(n, t, d))

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """[N, T, D] → [N, heads, T, D / heads]."""
        n, t, d = x.shape
        return x.view(n, t, self.heads, d // self.heads).transpose(1, 2)


class TransformerBlock(nn.Module):
    """Pre-norm: x + attention(layer_norm(x)), then x + MLP(layer_norm(x)) with GELU."""

    def __init__(self, dim: int, heads: int, hidden: int, gelu: str = "none", fused: bool = True) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attention = SelfAttention(dim, heads, fused)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate=gelu), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    """A vision transformer on 3 x size x size images: patches embedded by a strided
    conv, a class token, learned position embeddings, pre-norm blocks (exact GELU and
    the tanh form in turn; with `written_out`, every other block's attention as matmul
    and softmax), the class token's final norm into the head."""

    def __init__(
        self, size: int = 32, dim: int = 64, depth: int = 2, heads: int = 4, patch: int = 8,
        classes: int = 10, mlp_ratio: int = 2, written_out: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        tokens = (size // patch) ** 2 + 1
        self.patch_embed = nn.Conv2d(3, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.5)
        self.pos_embed = nn.Parameter(torch.randn(1, tokens, dim) * 0.5)
        gelus = ["none", "tanh"]
        self.blocks = nn.Sequential(
            *(
                TransformerBlock(dim, heads, mlp_ratio * dim, gelus[i % 2], not (written_out and i % 2))
                for i in range(depth)
            )
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


class MixerBlock(nn.Module):
    """Token mixing (an MLP across the patches, on the transposed tokens), then channel
    mixing (an MLP per patch), each pre-norm with a residual."""

    def __init__(self, tokens: int, dim: int, token_hidden: int, channel_hidden: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.token_mlp = nn.Sequential(nn.Linear(tokens, token_hidden), nn.GELU(approximate="tanh"), nn.Linear(token_hidden, tokens))
        self.norm2 = nn.LayerNorm(dim)
        self.channel_mlp = nn.Sequential(nn.Linear(dim, channel_hidden), nn.GELU(), nn.Linear(channel_hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.token_mlp(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channel_mlp(self.norm2(x))


class MLPMixer(nn.Module):
    """MLP-Mixer on 3 x size x size images: patches embedded by a strided conv, mixer
    blocks, global average over the tokens, head."""

    def __init__(
        self, size: int = 32, dim: int = 64, depth: int = 2, patch: int = 4, classes: int = 10,
        channel_ratio: int = 2,
    ) -> None:  # fmt: skip
        super().__init__()
        tokens = (size // patch) ** 2
        self.stem = nn.Conv2d(3, dim, patch, stride=patch)
        self.blocks = nn.Sequential(
            *(MixerBlock(tokens, dim, max(tokens // 2, 1), channel_ratio * dim) for _ in range(depth))
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x).flatten(2).transpose(1, 2))
        return self.head(self.norm(x).mean(dim=1))


def vit_tiny(size: int = 224) -> TinyViT:
    """ViT-Ti/16's shape: 16x16 patches, 192 channels, 12 blocks of 3 heads, MLP 768."""
    return TinyViT(size, dim=192, depth=12, heads=3, patch=16, classes=1000, mlp_ratio=4, written_out=False)


def mlp_mixer(size: int = 224) -> MLPMixer:
    """16x16 patches, 256 channels, 8 blocks, channel MLP 1024 (between Mixer-S/16 and
    a tiny one)."""
    return MLPMixer(size, dim=256, depth=8, patch=16, classes=1000, channel_ratio=4)


BENCHMARK_MODELS = {"vit_tiny": vit_tiny, "mlp_mixer": mlp_mixer}
"""The builders `mnistc bench --networks` takes besides torchvision's, by name."""
