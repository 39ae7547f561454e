"""What the families' reference functions share: float32 results, padding and the
windows of a sliding kernel."""

from __future__ import annotations

import numpy as np


def patches(x: np.ndarray, kernel, stride, dilation, out_hw):
    """Yield (i, j, view [n, c, OH, OW]) for each kernel offset of a padded input."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    for i in range(kh):
        for j in range(kw):
            yield i, j, x[:, :, i * dh : i * dh + sh * (oh - 1) + 1 : sh, j * dw : j * dw + sw * (ow - 1) + 1 : sw]


def pad(x: np.ndarray, padding, extra=(0, 0), value: float = 0.0) -> np.ndarray:
    (ph, pw), (eh, ew) = padding, extra
    return np.pad(x, ((0, 0), (0, 0), (ph, ph + eh), (pw, pw + ew)), constant_values=value)


def as_f32(value: np.ndarray) -> tuple[np.ndarray]:
    return (np.asarray(value, dtype=np.float32),)
