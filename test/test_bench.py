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


class NoCompiledModel:
    """Stands for mnistc's model where only the references are asked."""

    def set_num_threads(self, n):
        pass

    def __call__(self, inputs):
        raise AssertionError("the references alone are asked for")


def _export_small(path, batch_dim):
    """Small as a torch.export program of batch 2, its batch dynamic or fixed."""
    torch.manual_seed(0)
    shapes = ({0: torch.export.Dim("batch")},) if batch_dim else None
    program = torch.export.export(Small().eval(), (torch.randn(2, *SHAPE),), dynamic_shapes=shapes)
    torch.export.save(program, str(path))
    return path


def test_a_torch_export_program_gets_an_onnx_runtime_column(tmp_path):
    path = _export_small(tmp_path / "small.pt2", batch_dim=True)
    torch_model, label = source_model(path)
    assert label == "torch.export"
    onnx_path = onnx_for_ort(path, torch_model, SHAPE, tmp_path, print)
    assert onnx_path is not None
    engines = Engines(NoCompiledModel(), onnx_path, None, "")
    inputs = np.random.default_rng(1).random((3, *SHAPE), dtype=np.float32)
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(inputs)).numpy()
    np.testing.assert_allclose(engines.expected(inputs), expected, rtol=1e-4, atol=1e-5)


def test_a_source_model_that_runs_only_its_exported_batch_is_refused_in_one_message(tmp_path):
    path = _export_small(tmp_path / "fixed.pt2", batch_dim=False)
    torch_model, label = source_model(path)

    engines = Engines(NoCompiledModel(), None, torch_model, label)
    inputs = np.zeros((3, *SHAPE), dtype=np.float32)
    with pytest.raises(MnistcError, match="cannot run the model at batch 3 or 1 .*dynamic batch"):
        engines.expected(inputs)


# --- int8 rows (issue 13) ---------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["bench", "--calibration", "data.npy"], "--calibration is for --quantize int8"),
        (["bench", "--quantize", "int8"], "--quantize int8 needs --calibration DATA"),
        (["bench", "--networks", "resnet18", "--quantize", "int8", "--calibration", "d.npy"],
         "--quantize and --calibration go with a model file, not --networks"),
    ],
)
def test_bench_int8_options_are_checked_before_any_work(argv, message, capsys):
    from mnistc.tools.mnistc import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 1
    assert f"mnistc: error: {message}" in capsys.readouterr().err


def test_onnx_runtime_int8_model_is_quantize_static_qdq(fixed_batch_onnx, tmp_path):
    """The engine the int8 rows compare with: ONNX Runtime's own QDQ model of the same
    network, calibrated on the samples given, which it runs."""
    import onnx

    from mnistc.bench import ort_int8_model, ort_session

    path, _ = fixed_batch_onnx
    samples = np.random.default_rng(1).random((20, *SHAPE), dtype=np.float32)
    int8_path = ort_int8_model(path, samples, tmp_path)
    ops = {node.op_type for node in onnx.load(str(int8_path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv", "Gemm"} <= ops
    session = ort_session(int8_path, 1)
    out = session.run(None, {session.get_inputs()[0].name: samples[:1]})[0]
    expected = ort_session(path, 1).run(None, {session.get_inputs()[0].name: samples[:1]})[0]
    assert out.shape == expected.shape and not np.array_equal(out, expected)  # quantized
    np.testing.assert_allclose(out, expected, atol=0.1 * np.abs(expected).max())
