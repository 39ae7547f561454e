"""Calibration for the `quantize` pass: the ranges of a network's activations over
sample inputs, and the int8 scale and zero point that cover them.

The samples come from a file or directory as `mnistc run` reads them (`.npy`, raw
float32, idx files, images; pixel data through the model's declared preprocessing), or
from the MNIST directory, where the images file's training slice (0-7999) is used, so
that calibration never sees the held-out images 8000-9999. The statistics come from the
NumPy reference interpreter run on the float32 `nn` IR, a batch at a time.

Methods (`METHODS`), each a [low, high] range per tensor:
- `minmax`: the extreme values seen;
- `percentile`: the `percentile`-th and (100 - `percentile`)-th percentiles, which
  ignore rare outliers at the price of clipping them;
- `mse`: the range, shrunk from min-max by a common factor, whose quantize-dequantize
  round trip has the least mean squared error on the values seen.
The default is `minmax`. Measured on the bundled MNIST model (held-out images 8000-9999,
calibrated on training images 0-499 / 0-999; accuracy, argmax agreement with float32):
minmax 0.9895, 100% / 0.9900, 99.85%; percentile 99.99: 0.9905, 99.90% / 0.9905, 99.90%;
mse: 0.9900, 99.95% / 0.9905, 99.90% (float32: 0.9895). The methods differ by at most two
images of 2000, so accuracy does not decide; minmax clips nothing (an input beyond the
calibration samples saturates later), needs no subsample of the values (the fastest), and
is what the issue's ONNX Runtime baseline uses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import SSAValue

from mnistc import samples as inputs
from mnistc.dialects import nn
from mnistc.errors import MnistcError
from mnistc.interpreters.nn import evaluate_batch
from mnistc.models import mnist_data
from mnistc.preprocessing import ATTRIBUTE as PREPROCESSING
from mnistc.preprocessing import Preprocessing
from mnistc.weights import WeightFile

METHODS = ("minmax", "percentile", "mse")
DEFAULT_METHOD = "minmax"
DEFAULT_PERCENTILE = 99.99
DEFAULT_SAMPLES = 1000
"""At most this many samples are run (the issue's ONNX Runtime baseline uses 1000)."""
KEPT_VALUES = 1 << 18
"""Values kept per tensor for the percentile and MSE methods (a strided subsample)."""
BATCH = 256
MSE_FACTORS = np.linspace(0.2, 1.0, 81)
"""The shrink factors of the min-max range that `mse` tries."""


class CalibrationError(MnistcError):
    pass


# The samples ---------------------------------------------------------------------------


def _mnist_images(directory: Path) -> Path | None:
    for name in (mnist_data.IMAGES, mnist_data.IMAGES + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def load_samples(
    path: str | Path,
    sample_shape: Sequence[int],
    preprocessing: Preprocessing | None = None,
    limit: int = DEFAULT_SAMPLES,
) -> np.ndarray:
    """Up to `limit` float32 samples [N, *sample_shape] from `path` (see the module's
    docstring); any problem with the data is one CalibrationError naming it."""
    path, shape = Path(path), tuple(sample_shape)
    if not path.exists():
        raise CalibrationError(f"calibration data {path}: no such file or directory")
    images = _mnist_images(path) if path.is_dir() else None
    try:
        if images is not None:
            read = inputs.read_idx(images, shape)
            batches = [(read.data[mnist_data.TRAIN_SLICE], read.pixels)]
        else:
            batches = [(s.data, s.pixels) for s in inputs.read_inputs(inputs.input_files([path]), shape)]
    except MnistcError as e:
        raise CalibrationError(f"calibration data: {e}") from None
    samples, count = [], 0
    for data, pixels in batches:
        if count >= limit:
            break
        chunk = inputs.prepared(np.asarray(data[: limit - count]), pixels, None, preprocessing)
        samples.append(chunk)
        count += len(chunk)
    return _checked(np.concatenate(samples), str(path))


def samples_from_array(
    array: np.ndarray,
    sample_shape: Sequence[int],
    preprocessing: Preprocessing | None = None,
    limit: int = DEFAULT_SAMPLES,
) -> np.ndarray:
    """Up to `limit` samples from an array, as `load_samples` reads a `.npy` file."""
    array = np.asarray(array)
    if array.dtype.kind not in "fiub":
        raise CalibrationError(f"calibration samples: dtype {array.dtype} is not numeric")
    try:
        batch = inputs.as_batch(array, tuple(sample_shape), "calibration samples")
    except MnistcError as e:
        raise CalibrationError(str(e)) from None
    prepared = inputs.prepared(batch[:limit], array.dtype.kind in "iub", None, preprocessing)
    return _checked(prepared, "calibration samples")


def _checked(samples: np.ndarray, source: str) -> np.ndarray:
    if len(samples) == 0:
        raise CalibrationError(f"{source}: no samples")
    if not np.isfinite(samples).all():
        raise CalibrationError(f"{source}: holds NaN or infinite values")
    return samples


def declared_preprocessing(module: ModuleOp) -> Preprocessing | None:
    """The preprocessing the module declares (`mnistc.preprocessing`), for pixel data."""
    attr = module.attributes.get(PREPROCESSING)
    return Preprocessing.from_json(attr.data) if isinstance(attr, StringAttr) else None


# The statistics ------------------------------------------------------------------------


@dataclass
class TensorStatistics:
    """The extremes of a tensor over every sample, and a strided subsample of its values
    for the methods that look at the distribution."""

    low: float = math.inf
    high: float = -math.inf
    kept: list[np.ndarray] = field(default_factory=list)

    def add(self, values: np.ndarray, total_samples: int) -> None:
        flat = np.asarray(values, dtype=np.float32).reshape(-1)
        finite = flat[np.isfinite(flat)]
        if finite.size:
            self.low = min(self.low, float(finite.min()))
            self.high = max(self.high, float(finite.max()))
        per_sample = max(1, values.size // max(1, len(values)))
        stride = max(1, -(-per_sample * total_samples // KEPT_VALUES))
        self.kept.append(finite[::stride])

    def values(self) -> np.ndarray:
        return np.concatenate(self.kept) if self.kept else np.zeros(1, np.float32)


def collect_statistics(
    module: ModuleOp, weights: WeightFile, samples: np.ndarray, values: Iterable[SSAValue]
) -> dict[SSAValue, TensorStatistics]:
    """Run the float32 `nn` IR on the samples, a batch at a time, and gather the
    statistics of `values`."""
    wanted = list(dict.fromkeys(values))
    statistics = {value: TensorStatistics() for value in wanted}
    for start in range(0, len(samples), BATCH):
        results = evaluate_batch(module, samples[start : start + BATCH], weights)
        for value in wanted:
            statistics[value].add(results[value], len(samples))
    return statistics


# Ranges and parameters -----------------------------------------------------------------


def quantization_parameters(low: float, high: float) -> tuple[float, int]:
    """The int8 scale and zero point of a range, widened to hold 0 exactly (padding and
    ReLU need a real zero); a range of one point gets scale 1."""
    low, high = min(low, 0.0), max(high, 0.0)
    span = high - low
    scale = float(np.float32(span / 255.0)) if span > 0 else 1.0
    if scale == 0.0:  # a span below float32's smallest step
        scale = float(np.finfo(np.float32).tiny)
    zero_point = int(np.clip(np.rint(nn.INT8_MIN - low / scale), nn.INT8_MIN, nn.INT8_MAX))
    return scale, zero_point


def _round_trip_error(values: np.ndarray, low: float, high: float) -> float:
    from mnistc.interpreters.nn.quant import dequantize, quantize

    scale, zero_point = quantization_parameters(low, high)
    restored = dequantize(quantize(values, scale, zero_point), scale, zero_point)
    return float(np.mean((restored.astype(np.float64) - values) ** 2))


def calibrated_range(
    statistics: TensorStatistics, method: str = DEFAULT_METHOD, percentile: float = DEFAULT_PERCENTILE
) -> tuple[float, float]:
    """The [low, high] range that `method` chooses for one tensor."""
    if not math.isfinite(statistics.low):  # no finite value seen
        return 0.0, 0.0
    if method == "minmax":
        return statistics.low, statistics.high
    values = statistics.values()
    if method == "percentile":
        low, high = np.percentile(values, [100.0 - percentile, percentile])
        return float(low), float(high)
    if method == "mse":
        candidates = [(f * statistics.low, f * statistics.high) for f in MSE_FACTORS]
        return min(candidates, key=lambda r: _round_trip_error(values, *r))
    raise CalibrationError(f"unknown calibration method '{method}' (one of {', '.join(METHODS)})")


def check_method(method: str, percentile: float) -> None:
    if method not in METHODS:
        raise CalibrationError(f"unknown calibration method '{method}' (one of {', '.join(METHODS)})")
    if not 50.0 < percentile <= 100.0:
        raise CalibrationError(f"calibration percentile must be in (50, 100], got {percentile}")
