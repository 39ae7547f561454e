"""Weight layouts that the fast kernels read, computed at compile time.

Each function produces a layout documented in kernels/abi.py, with the tile sizes
declared there; the kernel tests pack with these same functions.
"""

from __future__ import annotations

import numpy as np

from mnistc.kernels.abi import CHANNEL_BLOCK, CONV_MR, GEMM_MR, RECURRENT_ROWS, WINOGRAD_NR


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


# issue 12: LSTM and GRU (kernels/recurrent.cpp) ---------------------------------------


def pack_recurrent_input_weight(weight: np.ndarray, directions: int) -> np.ndarray:
    """weight_ih [D * rows, F] as the GEMM core's A per direction: [D][ceil(rows /
    GEMM_MR)][F][GEMM_MR], zero-filled."""
    return _pack_panels(weight[:, :, None, None], directions, GEMM_MR)


def pack_recurrent_hidden_weight(weight: np.ndarray, directions: int) -> np.ndarray:
    """weight_hh [D * rows, H] in panels of RECURRENT_ROWS gate rows per direction:
    [D][ceil(rows / RECURRENT_ROWS)][H][RECURRENT_ROWS], zero-filled (one vector per
    panel and step of the GEMV)."""
    return _pack_panels(weight[:, :, None, None], directions, RECURRENT_ROWS)
