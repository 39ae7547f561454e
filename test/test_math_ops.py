"""Issue 12's ops end to end: the activations and element-wise math, sub/div/max/min with
broadcasting, the reductions, layer norm and group norm, through TorchScript, torch.export
and ONNX (against ONNX Runtime), at batch 1 and 3, with NaN and infinities.

Each model is compiled once per front end into a library (module-scoped fixtures); the
kernels themselves are checked shape by shape in test_kernels.py and test_nan_propagation.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import assert_matches_torch, save_scripted
from models import MathNet, build
from test_nan_propagation import assert_propagates

from mnistc.driver import Compilation, CompileOptions, compile_model
from mnistc.importers.common import ImportError_
from mnistc.runtime import CompiledModel

SHAPE = (3, 4, 5)
BATCHES = (1, 3)


def compiled(path, directory, sample_shape=SHAPE) -> CompiledModel:
    library = directory / "libmodel.so"
    compile_model(path, library, CompileOptions(shared=True, sample_shape=sample_shape))
    return CompiledModel(library)


def inputs(batch: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((batch, *SHAPE), dtype=np.float32)


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    model, _ = build("math")
    directory = tmp_path_factory.mktemp("math-scripted")
    return model, compiled(save_scripted(model, directory / "m.pt"), directory)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model, _ = build("math", seed=1)
    directory = tmp_path_factory.mktemp("math-exported")
    path = directory / "m.pt2"
    torch.export.save(torch.export.export(model, (torch.rand(1, *SHAPE),)), str(path))
    return model, compiled(path, directory)


@pytest.mark.parametrize("batch", BATCHES)
def test_torchscript_matches_torch(scripted, batch):
    model, library = scripted
    x = inputs(batch)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    assert_matches_torch(library(x), expected)


@pytest.mark.parametrize("batch", BATCHES)
def test_torch_export_matches_torch(exported, batch):
    model, library = exported
    x = inputs(batch, seed=1)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    assert_matches_torch(library(x), expected)


def test_imported_ops(tmp_path):
    """The scripted model imports to the new ops (nothing decomposed or refused)."""
    model, _ = build("math")
    compilation = Compilation.import_file(save_scripted(model, tmp_path / "m.pt"), SHAPE)
    names = {op.name for op in compilation.module.walk()}
    expected = {
        "nn.sub", "nn.div", "nn.max", "nn.min", "nn.reduce_max", "nn.reduce_min", "nn.reduce_mean",
        "nn.reduce_sum", "nn.layer_norm", "nn.group_norm", "nn.glu", "nn.mish", "nn.softplus",
        "nn.selu", "nn.celu", "nn.exp", "nn.log", "nn.sqrt", "nn.rsqrt", "nn.neg", "nn.abs",
        "nn.pow", "nn.reciprocal", "nn.batch_norm",
    }  # fmt: skip
    assert expected <= names, expected - names


@pytest.mark.parametrize("poison", [np.nan, np.inf, -np.inf])
def test_poison_propagates_as_in_torch(scripted, poison):
    """One poisoned sample beside a clean one: NaN and infinities where PyTorch has them."""
    model, library = scripted
    x = inputs(2, seed=2)
    x[1, 1, 2, 3] = poison
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    actual = library(x)
    assert np.isfinite(actual[0]).all()
    assert_propagates(actual, expected)


class Unary(torch.nn.Module):
    """One element-wise function of an odd-sized input (so every vector loop has a tail)."""

    def __init__(self, function) -> None:
        super().__init__()
        self.function = function

    def forward(self, x):
        return self.function(x)


UNARY = {
    "mish": F.mish,
    "softplus": lambda x: F.softplus(x, 0.5, 4.0),
    "softsign": F.softsign,
    "selu": F.selu,
    "celu": lambda x: F.celu(x, 1.3),
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "rsqrt": torch.rsqrt,
    "neg": torch.neg,
    "abs": torch.abs,
    "pow": lambda x: x.pow(2.5),
    "reciprocal": torch.reciprocal,
}


@pytest.fixture(scope="module")
def unary_onnx(tmp_path_factory):
    """Every function of UNARY on the same odd-sized input, concatenated: one ONNX model
    (each function its own ONNX op), compiled, and ONNX Runtime's answer. The input holds
    NaN, infinities, signed zeros, tiny, large and ordinary values."""
    onnxruntime = pytest.importorskip("onnxruntime")
    specials = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 30.0, -30.0, 1e-30]
    values = np.concatenate([specials, np.linspace(-5, 5, 27)]).astype(np.float32)
    x = np.stack([values, values[::-1]]).reshape(2, 1, 37)
    model = Unary(lambda t: torch.cat([UNARY[name](t) for name in sorted(UNARY)], dim=1))
    path = tmp_path_factory.mktemp("unary-onnx") / "unary.onnx"
    torch.onnx.export(
        model.eval(), (torch.zeros(1, 1, 37),), str(path), dynamo=False, opset_version=18,
        input_names=["input"], output_names=["output"], dynamic_axes={"input": {0: "batch"}},
    )  # fmt: skip
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (expected,) = session.run(None, {"input": x})
    actual = compiled(path, path.parent, (1, 37))(x)
    return actual.reshape(expected.shape), expected


@pytest.mark.parametrize("index,name", list(enumerate(sorted(UNARY))))
def test_unary_onnx_matches_onnx_runtime(unary_onnx, index, name):
    actual, expected = unary_onnx
    assert_propagates(actual[:, index], expected[:, index])


@pytest.fixture(scope="module")
def math_onnx(tmp_path_factory):
    """MathNet without glu and group norm, exported to ONNX (opset 17: the axes of
    ReduceMean and ReduceMax as attributes, ReduceSum's as an input), compiled, and ONNX
    Runtime's session."""
    onnxruntime = pytest.importorskip("onnxruntime")
    torch.manual_seed(2)
    path = tmp_path_factory.mktemp("math-onnx") / "math.onnx"
    torch.onnx.export(
        MathNet(for_onnx=True).eval(), (torch.zeros(1, *SHAPE),), str(path), dynamo=False,
        opset_version=17, input_names=["input"], output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
    )  # fmt: skip
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session, compiled(path, path.parent)


@pytest.mark.parametrize("batch", BATCHES)
def test_onnx_matches_onnx_runtime(math_onnx, batch):
    session, library = math_onnx
    x = inputs(batch, seed=3)
    (expected,) = session.run(None, {"input": x})
    assert_matches_torch(library(x), expected)


def onnx_graph(nodes, initializers, output_shape, opset: int):
    """A one-input model [N, 3, 4, 5] → [N, *output_shape] from hand-made nodes."""
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *SHAPE])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", *output_shape])],
        [numpy_helper.from_array(np.asarray(v, dtype=np.int64 if k.startswith("axes") else np.float32), k)
         for k, v in initializers.items()],
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.fixture(scope="module")
def hand_made_onnx(tmp_path_factory):
    """GroupNormalization (opset 21: per-channel scale), Max and Min of three inputs,
    ReduceSum and ReduceMin with their axes as an input (negative, and not neighbours), Sub and Div with constants
    broadcasting from the left, Pow by a constant: compiled, and ONNX Runtime's session."""
    onnx = pytest.importorskip("onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    from onnx import helper

    rng = np.random.default_rng(4)
    nodes = [
        helper.make_node("GroupNormalization", ["input", "scale", "bias"], ["g"], num_groups=3, epsilon=1e-3),
        helper.make_node("Sub", ["row", "g"], ["s"]),
        helper.make_node("Div", ["s", "column"], ["d"]),
        helper.make_node("Max", ["d", "input", "row"], ["mx"]),
        helper.make_node("Min", ["mx", "g", "column"], ["mn"]),
        helper.make_node("Pow", ["mn", "two"], ["p"]),
        helper.make_node("ReduceSum", ["p", "axes"], ["r"], keepdims=0),
        helper.make_node("ReduceMin", ["mn", "axes2"], ["q"], keepdims=0),
        helper.make_node("Add", ["r", "q"], ["output"]),
    ]
    initializers = {
        "scale": rng.random(3) + 0.5, "bias": rng.standard_normal(3),
        "row": rng.standard_normal((1, 5)), "column": rng.random((4, 1)) + 0.5,
        "two": 2.0, "axes": [1, -1], "axes2": [1, 3],
    }  # fmt: skip
    model = onnx_graph(nodes, initializers, (4,), opset=21)
    path = tmp_path_factory.mktemp("hand-onnx") / "hand.onnx"
    onnx.save(model, str(path))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session, compiled(path, path.parent)


@pytest.mark.parametrize("batch", BATCHES)
def test_hand_made_onnx_matches_onnx_runtime(hand_made_onnx, batch):
    session, library = hand_made_onnx
    x = inputs(batch, seed=5)
    (expected,) = session.run(None, {"input": x})
    assert_matches_torch(library(x), expected)


def test_reduction_over_the_batch_is_refused(tmp_path):
    """The model runs sample by sample: a reduction that mixes samples cannot be compiled."""

    class Total(torch.nn.Module):
        def forward(self, x):
            return x - x.mean(dim=0, keepdim=True)

    path = save_scripted(Total(), tmp_path / "total.pt")
    with pytest.raises(ImportError_, match="aten::mean over the batch dimension"):
        Compilation.import_file(path, SHAPE)


class Normalised(torch.nn.Module):
    """LayerNorm over the trailing two dims, then over the last one without affine."""

    def __init__(self) -> None:
        super().__init__()
        self.ln = torch.nn.LayerNorm([4, 5], eps=1e-4)

    def forward(self, x):
        return F.layer_norm(self.ln(x), (5,)).flatten(1)


@pytest.mark.parametrize("opset", [13, 17])
def test_decomposed_layer_norm_is_folded(opset, tmp_path):
    """Before opset 17 ONNX has no LayerNormalization: the exporter writes ReduceMean, Sub,
    Pow, ReduceMean, Add, Sqrt, Div (then Mul, Add), and a mean over H, W imports as a
    global average pool. fold-layer-norm makes each one nn.layer_norm again, and the
    result matches ONNX Runtime."""
    onnxruntime = pytest.importorskip("onnxruntime")
    torch.manual_seed(3)
    model = Normalised().eval()
    with torch.no_grad():
        model.ln.weight.normal_()
        model.ln.bias.normal_()
    path = tmp_path / "ln.onnx"
    torch.onnx.export(
        model, (torch.zeros(1, *SHAPE),), str(path), dynamo=False, opset_version=opset,
        input_names=["input"], output_names=["output"], dynamic_axes={"input": {0: "batch"}},
    )  # fmt: skip
    compilation = Compilation.import_file(path)
    compilation.run_to("nn")
    names = [op.name for op in compilation.module.walk()]
    assert names.count("nn.layer_norm") == 2
    assert not {"nn.sqrt", "nn.reduce_mean", "nn.adaptive_avg_pool2d"} & set(names)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = inputs(3, seed=6) * 4 + 10
    (expected,) = session.run(None, {"input": x})
    assert_matches_torch(compiled(path, tmp_path)(x), expected)
