"""Declared preprocessing (mnistc/preprocessing.py): its arithmetic, its JSON, its sidecar."""

from __future__ import annotations

import numpy as np
import pytest

from mnistc.errors import MnistcError
from mnistc.models import BUNDLED_MODEL
from mnistc.preprocessing import Preprocessing, declared_beside


def test_per_channel_mean_std_and_bgr_order():
    pixels = np.arange(2 * 3 * 2 * 2, dtype=np.uint8).reshape(2, 3, 2, 2)
    prep = Preprocessing(scale=0.5, mean=(1.0, 2.0, 3.0), std=(2.0, 4.0, 8.0), channel_order="bgr")
    out = prep.apply(pixels)
    flipped = pixels[:, ::-1].astype(np.float32) * np.float32(0.5)
    mean = np.array([1.0, 2.0, 3.0], np.float32).reshape(1, 3, 1, 1)
    std = np.array([2.0, 4.0, 8.0], np.float32).reshape(1, 3, 1, 1)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, (flipped - mean) / std)


def test_json_round_trip_and_the_bundled_models_declaration():
    prep = Preprocessing(scale=0.25, mean=(0.5,), std=(2.0,))
    assert Preprocessing.from_json(prep.to_json()) == prep
    assert declared_beside(BUNDLED_MODEL) == Preprocessing(scale=1 / 255)


@pytest.mark.parametrize("text, fragment", [
    ("not json", "not a valid preprocessing declaration"),
    ('{"scale": 1, "gamma": 2}', "expected an object with scale"),
    ('{"std": [0]}', "std no zero"),
    ('{"scale": "big"}', "must be finite numbers"),
    ('{"channel_order": "grb"}', "rgb or bgr"),
])  # fmt: skip
def test_bad_declarations_are_one_clear_error(tmp_path, text, fragment):
    (tmp_path / "m.pt").write_bytes(b"")
    (tmp_path / "m.preprocessing.json").write_text(text)
    with pytest.raises(MnistcError, match=fragment):
        declared_beside(tmp_path / "m.pt")


def test_channel_counts_must_match():
    with pytest.raises(MnistcError, match="2 mean values; the model has 3 channels"):
        Preprocessing(mean=(0.1, 0.2)).apply(np.zeros((1, 3, 2, 2), np.uint8))
