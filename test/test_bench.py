"""`mnistc bench MODEL` on any model file: what it checks against and what it leaves out.

It times nothing that is asserted: performance is measured by running the benchmark by
hand, never by a timed test.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from mnistc.bench import CONFIGS, Engines, _latency_table, onnx_for_ort, source_model
from mnistc.driver import CompileOptions, compile_model
from mnistc.errors import MnistcError
from mnistc.runtime import CompiledModel

pytest.importorskip("onnxruntime")

SHAPE = (3, 6, 6)


class Small(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 5, 3)
        self.fc = torch.nn.Linear(5 * 4 * 4, 7)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


@pytest.fixture(scope="module")
def fixed_batch_onnx(tmp_path_factory):
    """An ONNX file exported with a fixed batch of 1, and mnistc's library of it."""
    directory = tmp_path_factory.mktemp("bench")
    torch.manual_seed(0)
    path = directory / "small.onnx"
    torch.onnx.export(Small().eval(), (torch.zeros(1, *SHAPE),), str(path), dynamo=False)
    compile_model(path, directory / "libsmall.so", CompileOptions(shared=True))
    return path, CompiledModel(directory / "libsmall.so")


def test_an_onnx_file_is_its_own_reference_run_by_onnx_runtime(fixed_batch_onnx, tmp_path):
    path, compiled = fixed_batch_onnx
    torch_model, label = source_model(path)
    assert torch_model is None
    assert onnx_for_ort(path, torch_model, SHAPE, tmp_path, print) == path
    engines = Engines(compiled, path, torch_model, label)
    assert engines.reference == "onnxruntime"


def test_a_fixed_batch_export_is_checked_sample_by_sample_and_left_out_of_the_timing(
    fixed_batch_onnx,
):
    path, compiled = fixed_batch_onnx
    engines = Engines(compiled, path, None, "")
    inputs = np.random.default_rng(0).random((3, *SHAPE), dtype=np.float32)
    expected = engines.expected(inputs)
    assert expected.shape == (3, 7)
    np.testing.assert_allclose(compiled(inputs), expected, rtol=1e-4, atol=1e-4)

    lines: list[str] = []
    _latency_table(engines, SHAPE, [CONFIGS["b1-t1"], (3, 1)], 1, lines.append)
    text = "\n".join(lines)
    assert re.search(r"^ +1 +1 +[\d.]+ +[\d.]+ +[\d.]+ ", text, re.M), text
    assert "onnxruntime fails at batch 3" in text
    assert re.search(r"^ +3 +1 +[\d.]+ +n/a", text, re.M), text


def test_a_model_that_disagrees_with_its_reference_is_not_benchmarked(fixed_batch_onnx):
    path, compiled = fixed_batch_onnx

    class Wrong:
        """The compiled model with every output shifted."""

        input_shape = compiled.input_shape

        def set_num_threads(self, n):
            compiled.set_num_threads(n)

        def __call__(self, inputs):
            return compiled(inputs) + 1.0

    engines = Engines(Wrong(), path, None, "")
    with pytest.raises(MnistcError, match="disagrees with onnxruntime"):
        _latency_table(engines, SHAPE, [CONFIGS["b1-t1"]], 1, print)
