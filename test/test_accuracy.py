"""The shipped model, compiled: held-out MNIST accuracy and agreement with PyTorch."""

from __future__ import annotations

import pytest
from conftest import MNIST_DIR

from mnistc.driver import CompileOptions
from mnistc.models.mnist_cnn import BUNDLED_MODEL
from mnistc.verify import verify_model

pytestmark = pytest.mark.skipif(
    not MNIST_DIR.is_dir(), reason=f"MNIST data not found at {MNIST_DIR} (../shared/data/mnist)"
)


@pytest.mark.parametrize("optimise", [True, False], ids=["O3", "O0"])
def test_held_out_accuracy_and_agreement(optimise):
    report = verify_model(BUNDLED_MODEL, CompileOptions(optimise=optimise), data_dir=MNIST_DIR, batches=2)
    held_out = report.comparisons[-1]
    assert held_out.samples == 2000
    assert held_out.argmax_agree == 2000, report.summary()
    assert held_out.violations == 0, report.summary()
    assert held_out.accuracy >= 0.97, report.summary()
    assert report.passed, report.summary()
