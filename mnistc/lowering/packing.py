"""Weight layouts that the fast kernels read, computed at compile time.

Each function mirrors a layout documented in kernels/kernels.hpp; the kernel tests pack
with these same functions.
"""

from __future__ import annotations

import numpy as np

CONV_MR = 4
"""Output channels per register tile of mnistc_conv2d_packed (MNISTC_CONV_MR)."""


def pack_conv_weight(weight: np.ndarray, groups: int) -> np.ndarray:
    """[K, C/g, KH, KW] → [g][ceil(K/g / MR)][C/g * KH * KW][MR], zero-filled."""
    k, cg, kh, kw = weight.shape
    kg = k // groups
    panels = -(-kg // CONV_MR)
    flat = weight.reshape(groups, kg, cg * kh * kw)
    padded = np.zeros((groups, panels * CONV_MR, cg * kh * kw), dtype=np.float32)
    padded[:, :kg] = flat
    return np.ascontiguousarray(
        padded.reshape(groups, panels, CONV_MR, cg * kh * kw).transpose(0, 1, 3, 2)
    )
