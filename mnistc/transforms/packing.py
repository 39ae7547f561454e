"""Weight layouts that the fast kernels read, computed at compile time.

Each function produces a layout documented in kernels/abi.py, with the tile sizes
declared there; the kernel tests pack with these same functions.
"""

from __future__ import annotations

import numpy as np

from mnistc.kernels.abi import (
    CHANNEL_BLOCK,
    CONV_MR,
    GEMM_MR,
    GEMM_NR,
    QUANT_KR,
    QUANT_MR,
    RECURRENT_ROWS,
    WINOGRAD_NR,
)


def _pack_panels(weight: np.ndarray, groups: int, mr: int) -> np.ndarray:
    """[K, C/g, KH, KW] → [g][ceil(K/g / mr)][C/g * KH * KW][mr], zero-filled: panels of
    `mr` output channels, their weights interleaved tap by tap."""
    k, cg, kh, kw = weight.shape
    kg = k // groups
    panels = -(-kg // mr)
    flat = weight.reshape(groups, kg, cg * kh * kw)
    padded = np.zeros((groups, panels * mr, cg * kh * kw), dtype=np.float32)
    padded[:, :kg] = flat
    return np.ascontiguousarray(padded.reshape(groups, panels, mr, cg * kh * kw).transpose(0, 1, 3, 2))


def pack_conv_weight(weight: np.ndarray, groups: int) -> np.ndarray:
    """conv2d_packed's layout: panels of CONV_MR output channels."""
    return _pack_panels(weight, groups, CONV_MR)


def pack_gemm_weight(weight: np.ndarray, groups: int) -> np.ndarray:
    """conv2d_gemm's layout, the GEMM core's A per group: panels of GEMM_MR output
    channels, rows ordered (c, kh, kw) as the im2col panels are."""
    return _pack_panels(weight, groups, GEMM_MR)


WINOGRAD_G = np.array(
    [
        [1 / 4, 0, 0],
        [-1 / 6, -1 / 6, -1 / 6],
        [-1 / 6, 1 / 6, -1 / 6],
        [1 / 24, 1 / 12, 1 / 6],
        [1 / 24, -1 / 12, 1 / 6],
        [0, 0, 1],
    ]
)
"""G of Winograd F(4x4, 3x3): the weight transform U = G g G^T."""


def pack_winograd_weight(weight: np.ndarray) -> np.ndarray:
    """[K, C, 3, 3] → U = G g G^T as [36][ceil(K/NR)][ceil(C/8)*8][NR], zero-filled
    (NR = WINOGRAD_NR, 8 = CHANNEL_BLOCK).

    The transform runs in float64 so that the only rounding is the final one.
    """
    k, c = weight.shape[:2]
    u = np.einsum("ai,kcij,bj->abkc", WINOGRAD_G, weight.astype(np.float64), WINOGRAD_G)
    kp, cp = -(-k // WINOGRAD_NR) * WINOGRAD_NR, -(-c // CHANNEL_BLOCK) * CHANNEL_BLOCK
    padded = np.zeros((36, kp, cp))
    padded[:, :k, :c] = u.reshape(36, k, c)
    packed = padded.reshape(36, kp // WINOGRAD_NR, WINOGRAD_NR, cp).transpose(0, 1, 3, 2)
    return np.ascontiguousarray(packed, dtype=np.float32)


def pack_winograd_raw_weight(weight: np.ndarray) -> np.ndarray:
    """[K, C, 3, 3] → [ceil(K/NR)][ceil(C/8)*8][9][NR], zero-filled: the untransformed
    weight in the panels of output channels that conv2d_winograd_raw transforms at run
    time (NR = WINOGRAD_NR, 8 = CHANNEL_BLOCK)."""
    k, c = weight.shape[:2]
    kp, cp = -(-k // WINOGRAD_NR) * WINOGRAD_NR, -(-c // CHANNEL_BLOCK) * CHANNEL_BLOCK
    padded = np.zeros((kp, cp, 9), dtype=np.float32)
    padded[:k, :c] = weight.reshape(k, c, 9)
    packed = padded.reshape(kp // WINOGRAD_NR, WINOGRAD_NR, cp, 9).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(packed)


# --- int8 (issue 13): the layouts of kernels/quant.cpp ---
def pack_quant_weight(weight: np.ndarray, groups: int = 1) -> np.ndarray:
    """An int8 weight [K, C/g, KH, KW] (or a linear layer's [OUT, IN]) → per group
    [ceil(K/g / QUANT_MR)][ceil(R / QUANT_KR)][QUANT_MR][QUANT_KR], zero-filled, R = C/g *
    KH * KW in (c, kh, kw) order, the groups one after another: 16 channels x 4 reduction
    elements per 64-byte step, what qlinear's and qconv2d's micro-kernels load (or
    broadcast 4 bytes of) on every ISA path."""
    k = weight.shape[0]
    kg = k // groups
    flat = weight.reshape(groups, kg, -1)
    r = flat.shape[2]
    panels, steps = -(-kg // QUANT_MR), -(-r // QUANT_KR)
    padded = np.zeros((groups, panels * QUANT_MR, steps * QUANT_KR), dtype=np.int8)
    padded[:, :kg, :r] = flat
    packed = padded.reshape(groups, panels, QUANT_MR, steps, QUANT_KR).transpose(0, 1, 3, 2, 4)
    return np.ascontiguousarray(packed).reshape(-1)


def quant_kernel_bias(weight: np.ndarray, bias: np.ndarray | None, input_zero_point: int) -> np.ndarray:
    """The int32 bias that qlinear and qconv2d add: the model's bias less (128 +
    input_zero_point) times each output channel's weight sum. The kernels multiply u =
    input + 128 (unsigned, as vpdpbusd wants), and sum(u * w) - (128 + zp) * sum(w) =
    sum((input - zp) * w). Kept modulo 2^32, as the kernels' int32 sums are."""
    sums = weight.reshape(weight.shape[0], -1).astype(np.int64).sum(axis=1)
    total = (0 if bias is None else bias.astype(np.int64)) - (128 + int(input_zero_point)) * sums
    return (np.asarray(total, dtype=np.int64) & 0xFFFFFFFF).astype(np.uint32).view(np.int32)


# linear layers on token matrices (linear_gemm)
def pack_gemm_b(weight: np.ndarray) -> np.ndarray:
    """A linear weight [OUT, IN] as the GEMM core's B = W^T, pre-packed:
    [ceil(OUT / GEMM_NR)][IN][GEMM_NR], zero-filled past the last output, so that the
    kernel reads its panels in place."""
    out_features, in_features = weight.shape
    panels = -(-out_features // GEMM_NR)
    padded = np.zeros((panels * GEMM_NR, in_features), dtype=np.float32)
    padded[:out_features] = weight
    return np.ascontiguousarray(padded.reshape(panels, GEMM_NR, in_features).transpose(0, 2, 1))


# LSTM and GRU (kernels/recurrent.cpp) ---------------------------------------


def pack_recurrent_input_weight(weight: np.ndarray, directions: int) -> np.ndarray:
    """weight_ih [D * rows, F] as the GEMM core's A per direction: [D][ceil(rows /
    GEMM_MR)][F][GEMM_MR], zero-filled."""
    return _pack_panels(weight[:, :, None, None], directions, GEMM_MR)


def pack_recurrent_hidden_weight(weight: np.ndarray, directions: int) -> np.ndarray:
    """weight_hh [D * rows, H] in panels of RECURRENT_ROWS gate rows per direction:
    [D][ceil(rows / RECURRENT_ROWS)][H][RECURRENT_ROWS], zero-filled (one vector per
    panel and step of the GEMV)."""
    return _pack_panels(weight[:, :, None, None], directions, RECURRENT_ROWS)
