"""ONNX `ConstantOfShape` fills stay splats (`nn.splat`, `cpu.splat`): no expanded tensor
in the import cache, the weight file or the executable, and the same outputs as ONNX
Runtime."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_matches_torch

from mnistc.driver import CompileOptions, compile_model, compile_to_stage
from mnistc.importers.cache import imports_dir
from mnistc.verify import run_executable

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

SAMPLE = (16, 32, 32)
FEATURES = 1024
FILL_BYTES = 4 * FEATURES * int(np.prod(SAMPLE))  # the Gemm's weight: 64 MiB of one value


def _fill(name: str, shape, value: float) -> list:
    """A ConstantOfShape node and the initializer holding its shape."""
    from onnx import TensorProto, helper, numpy_helper

    dims = numpy_helper.from_array(np.array(shape, dtype=np.int64), f"{name}_shape")
    node = helper.make_node(
        "ConstantOfShape", [f"{name}_shape"], [name],
        value=helper.make_tensor("v", TensorProto.FLOAT, [1], [value]),
    )  # fmt: skip
    return [node], [dims]


@pytest.fixture(scope="module")
def splat_model(tmp_path_factory):
    """relu(gemm(flatten(x + 0.5), W = 0.01, C = 0.1)) * scale: 64 MiB of weight as one
    fill, and a random scale per feature so that the outputs differ."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    for name, shape, value in (
        ("offset", (1, *SAMPLE), 0.5),
        ("w", (FEATURES, int(np.prod(SAMPLE))), 0.01),
        ("c", (FEATURES,), 0.1),
    ):
        n, i = _fill(name, shape, value)
        nodes, inits = nodes + n, inits + i
    nodes += [
        helper.make_node("Add", ["x", "offset"], ["shifted"]),
        helper.make_node("Flatten", ["shifted"], ["flat"]),
        helper.make_node("Gemm", ["flat", "w", "c"], ["linear"], transB=1),
        helper.make_node("Relu", ["linear"], ["positive"]),
        helper.make_node("Mul", ["positive", "scale"], ["y"]),
    ]
    scale = np.random.default_rng(1).standard_normal(FEATURES).astype(np.float32)
    inits.append(numpy_helper.from_array(scale, "scale"))
    graph = helper.make_graph(
        nodes, "splats",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", *SAMPLE])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", FEATURES])],
        inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path_factory.mktemp("splats") / "splats.onnx"
    onnx.save(model, str(path))
    return path


def test_fills_stay_splats_in_the_ir_and_the_weight_file(splat_model, tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTC_CACHE_DIR", str(tmp_path))  # an import cache of this model only
    text, weights = compile_to_stage(splat_model, "loops")
    assert text.count("cpu.splat") == 3
    assert len(weights) < 4 * FEATURES + 4096, "an expanded fill reached the weight file"
    nn_text, _ = compile_to_stage(splat_model, "nn", CompileOptions(optimise=False))
    assert "nn.splat 0.01" in nn_text.replace("0.009999999776482582", "0.01")
    entry_weights = [p.stat().st_size for p in imports_dir().rglob("weights.bin")]
    mlir = [p.stat().st_size for p in imports_dir().rglob("nn.mlir")]
    assert entry_weights and max(entry_weights) < 4 * FEATURES + 4096 and max(mlir) < 65536


def test_a_splat_model_is_small_and_matches_onnx_runtime(splat_model, tmp_path):
    executable = tmp_path / "splats"
    compile_model(splat_model, executable)
    assert executable.stat().st_size < FILL_BYTES / 8, "the executable holds the fill"
    inputs = np.random.default_rng(0).standard_normal((3, *SAMPLE), dtype=np.float32)
    session = ort.InferenceSession(str(splat_model), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"x": inputs})[0]
    assert_matches_torch(run_executable(executable, inputs), expected)
