"""Calibration: reading the samples, the statistics, and the ranges each method picks."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import MNIST_DIR

from mnistc.calibration import (
    KEPT_VALUES,
    CalibrationError,
    TensorStatistics,
    calibrated_range,
    load_samples,
    quantization_parameters,
    samples_from_array,
)
from mnistc.interpreters.nn.quant import dequantize, quantize
from mnistc.preprocessing import Preprocessing

SHAPE = (1, 4, 4)


def test_float_npy_is_taken_as_prepared_and_limited(tmp_path):
    data = np.random.default_rng(0).normal(size=(10, *SHAPE)).astype(np.float32)
    np.save(tmp_path / "x.npy", data)
    samples = load_samples(tmp_path / "x.npy", SHAPE, limit=7)
    assert samples.dtype == np.float32 and np.array_equal(samples, data[:7])


def test_pixels_go_through_the_declared_preprocessing(tmp_path):
    pixels = np.arange(32, dtype=np.uint8).reshape(2, *SHAPE)
    np.save(tmp_path / "p.npy", pixels)
    declared = Preprocessing(scale=0.5, mean=(1.0,))
    samples = load_samples(tmp_path / "p.npy", SHAPE, declared)
    assert np.array_equal(samples, pixels.astype(np.float32) * 0.5 - 1.0)


def test_raw_float32_file(tmp_path):
    data = np.random.default_rng(1).random((3, *SHAPE)).astype(np.float32)
    data.tofile(tmp_path / "x.bin")
    assert np.array_equal(load_samples(tmp_path / "x.bin", SHAPE), data)


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason=f"MNIST data not found at {MNIST_DIR}")
def test_mnist_directory_gives_the_training_images_only():
    from mnistc.models.mnist_data import load_mnist

    samples = load_samples(MNIST_DIR, (1, 28, 28), limit=50)
    images, _ = load_mnist(MNIST_DIR)
    assert samples.shape == (50, 1, 28, 28)
    assert np.allclose(samples, images[:50], atol=1e-7)


def test_array_of_the_wrong_shape_is_refused():
    with pytest.raises(CalibrationError, match="an array of shape \\[2, 3\\]"):
        samples_from_array(np.zeros((2, 3), np.float32), SHAPE)


def statistics_of(values: np.ndarray) -> TensorStatistics:
    statistics = TensorStatistics()
    for chunk in np.array_split(values, 4):
        statistics.add(chunk.reshape(len(chunk), -1), len(values))
    return statistics


def test_minmax_is_the_extremes_and_percentile_drops_an_outlier():
    values = np.concatenate([np.linspace(-1, 1, 100_001), [50.0]]).astype(np.float32)[:, None]
    statistics = statistics_of(values)
    assert calibrated_range(statistics, "minmax") == (-1.0, 50.0)
    low, high = calibrated_range(statistics, "percentile", 99.9)
    assert -1.0 < low < -0.99 and 0.99 < high < 1.0


def test_mse_shrinks_a_heavy_tail_and_lowers_the_round_trip_error():
    values = np.random.default_rng(2).standard_t(2, size=(200_000, 1)).astype(np.float32)
    statistics = statistics_of(values)
    minmax = calibrated_range(statistics, "minmax")
    mse = calibrated_range(statistics, "mse")
    assert mse[1] < minmax[1]

    def error(low, high):
        scale, zero_point = quantization_parameters(low, high)
        return np.mean((dequantize(quantize(values, scale, zero_point), scale, zero_point) - values) ** 2)

    assert error(*mse) < error(*minmax)


def test_statistics_keep_a_bounded_subsample():
    statistics = statistics_of(np.ones((8 * KEPT_VALUES, 1), np.float32))
    assert len(statistics.values()) <= KEPT_VALUES + 4


@pytest.mark.parametrize("low, high", [(0.0, 6.0), (-1.0, 3.0), (2.0, 5.0), (-4.0, -1.0), (0.0, 0.0)])
def test_parameters_represent_zero_exactly_and_cover_the_range(low, high):
    scale, zero_point = quantization_parameters(low, high)
    assert -128 <= zero_point <= 127 and scale > 0
    assert dequantize(quantize(np.zeros(1, np.float32), scale, zero_point), scale, zero_point)[0] == 0.0
    ends = dequantize(quantize(np.array([low, high], np.float32), scale, zero_point), scale, zero_point)
    assert np.allclose(ends, [low, high], atol=scale)  # inside the range widened to hold 0
    if low == 0.0 and high > 0:
        assert zero_point == -128
