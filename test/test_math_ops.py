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
from test_kernels import ACTIVATIONS, activation_args, call, kernels  # noqa: F401 (a fixture)
from test_nan_propagation import assert_propagates

from mnistc.dialects import nn
from mnistc.driver import Compilation, CompileOptions, compile_model
from mnistc.importers.common import ImportError_
from mnistc.interpreters.nn import run_batch
from mnistc.kernels import abi
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


# pow with a run-time exponent: nn.powf, the `binary` kernel's powf, against PyTorch.

SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -8.0, 1e-30, 30.0]
EXPONENTS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 2.0, 3.0, 0.5, -0.5, 1 / 3, 2.5, -3.0]
POWF_CASES = [  # (base shape, exponent shape): each broadcasts over the other's values
    ((13, 1), (1, 14)),  # both broadcast
    ((13, 14), (13, 14)),  # dense: the vector loops' shape (powf has none)
    ((1, 13, 1, 1, 1), (14, 1, 2)),  # rank 5, merged to the kernel's 4
    ((), (14,)),  # a number base: 2 ** x
]


def powf_operands(base_shape, exponent_shape) -> tuple[np.ndarray, np.ndarray]:
    """Every special base to every special exponent (each cycled to its shape), with random
    values where a shape holds more."""
    rng = np.random.default_rng(7)

    def filled(values, shape):
        array = rng.standard_normal(shape).astype(np.float32) * 3
        flat = array.reshape(-1)
        flat[: min(flat.size, len(values))] = values[: flat.size]
        return array

    if base_shape == (13, 14):  # the dense case pairs every base with every exponent
        return np.repeat(np.float32(SPECIALS)[:, None], 14, 1), np.tile(np.float32(EXPONENTS), (13, 1))
    if base_shape == ():  # a negative number base: NaN but to integer powers
        return np.array(-2.0, dtype=np.float32), filled(EXPONENTS, exponent_shape)
    return filled(SPECIALS, base_shape), filled(EXPONENTS, exponent_shape)


@pytest.mark.parametrize("base_shape,exponent_shape", POWF_CASES, ids=str)
def test_powf_kernel_matches_torch(kernels, base_shape, exponent_shape):
    """The kernel as the lowering calls it (dims merged to rank 4, broadcast strides), with
    and without a fused activation: NaN, infinities and finite values where torch.pow of
    two tensors has them (negative bases to non-integer powers, 0^0, 1^NaN, (-1)^inf)."""
    from mnistc.lowering.nn_to_cpu.elementwise import BINARY_OPS, _as_rank4, _broadcast_strides

    base, exponent = powf_operands(base_shape, exponent_shape)
    expected = torch.pow(torch.from_numpy(base), torch.from_numpy(exponent))
    shape, ls, rs = _as_rank4(
        expected.shape, _broadcast_strides(base_shape, expected.shape), _broadcast_strides(exponent_shape, expected.shape)
    )  # fmt: skip
    dims = {f"{p}{i}": v for p, values in (("d", shape), ("l", ls), ("r", rs)) for i, v in enumerate(values)}
    for kind, params in ((None, ()), ("relu", ()), ("sigmoid", ())):
        out = np.full(expected.shape, 7.0, dtype=np.float32)
        code = abi.BINARY_CODES[BINARY_OPS[nn.PowfOp]]
        call(kernels, "binary", [base, exponent, out], op=code, **dims, **activation_args(kind, params))
        assert_propagates(out, ACTIVATIONS[(kind, params)](expected))


class PowNet(torch.nn.Module):
    """pow in every form that imports to nn.powf: a run-time exponent broadcasting, a
    number to a tensor power (pow.Scalar), a constant tensor exponent of several values;
    and by a number (nn.pow, its fast path)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("exponents", torch.tensor([0.5, 2.0, -1.0, 3.0, 1 / 3]))

    def forward(self, x):
        return torch.cat([x ** x[:, :1, :, :1], 2 ** x, x.abs() ** -x, x ** self.exponents, x**2], dim=1)


def pow_inputs(batch: int) -> np.ndarray:
    """Random values, a third of them special (NaN, infinities, signed zeros, +-1...)."""
    x = inputs(batch, seed=8)
    rng = np.random.default_rng(8)
    where = rng.random(x.shape) < 1 / 3
    x[where] = rng.choice(np.float32(SPECIALS), where.sum())
    return x


@pytest.fixture(scope="module")
def pow_libraries(tmp_path_factory):
    """PowNet compiled from TorchScript, torch.export and ONNX (with ONNX Runtime's
    session), and the TorchScript import for the reference interpreter."""
    onnxruntime = pytest.importorskip("onnxruntime")
    directory = tmp_path_factory.mktemp("pow")
    model = PowNet().eval()
    scripted = save_scripted(model, directory / "pow.pt")
    exported = directory / "pow.pt2"
    torch.export.save(torch.export.export(model, (torch.rand(1, *SHAPE),)), str(exported))
    onnx_path = directory / "pow.onnx"
    torch.onnx.export(
        model, (torch.zeros(1, *SHAPE),), str(onnx_path), dynamo=False, opset_version=17,
        input_names=["input"], output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
    )  # fmt: skip
    libraries = {}
    for name, path in (("torchscript", scripted), ("torch.export", exported), ("onnx", onnx_path)):
        (directory / name).mkdir()
        libraries[name] = compiled(path, directory / name)
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    return model, libraries, session, Compilation.import_file(scripted, SHAPE)


@pytest.mark.parametrize("front_end", ["torchscript", "torch.export", "onnx"])
def test_pow_front_ends_match(pow_libraries, front_end):
    """Batches 1 and 3 of special and random values: as PyTorch (the torch front ends) and
    as ONNX Runtime (ONNX), NaN and infinities included."""
    model, libraries, session, _ = pow_libraries
    for batch in BATCHES:
        x = pow_inputs(batch)
        if front_end == "onnx":
            (expected,) = session.run(None, {"input": x})
        else:
            with torch.no_grad():
                expected = model(torch.from_numpy(x)).numpy()
        assert_propagates(libraries[front_end](x).reshape(expected.shape), expected)


def test_pow_imports_and_interprets_as_torch(pow_libraries):
    """The run-time and tensor exponents import to nn.powf, the number exponent to nn.pow;
    the reference interpreter matches PyTorch on the special values."""
    model, _, _, imported = pow_libraries
    names = [op.name for op in imported.module.walk()]
    assert names.count("nn.powf") == 4 and names.count("nn.pow") == 1, names
    x = pow_inputs(3)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    assert_propagates(run_batch(imported.module, x, imported.weights).reshape(expected.shape), expected)


def test_onnx_pow_of_two_inputs_broadcasting(tmp_path):
    """ONNX Pow whose exponent is a second input of higher rank: [N, 3, 4, 5] ** [N, 2, 1,
    3, 4, 1] broadcasts both ways; and Pow by the constants 0.5 and -0.5, powf in ONNX
    Runtime (pow(-inf, 0.5) is inf, not sqrt's NaN): as ONNX Runtime, specials included."""
    onnxruntime = pytest.importorskip("onnxruntime")
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def value(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", *shape])

    graph = helper.make_graph(
        [helper.make_node("Pow", ["x", "e"], ["y"]), helper.make_node("Pow", ["x", "half"], ["root"]),
         helper.make_node("Pow", ["x", "minus_half"], ["inverse_root"])], "g",
        [value("x", SHAPE), value("e", (2, 1, 3, 4, 1))],
        [value("y", (2, 1, *SHAPE)), value("root", SHAPE), value("inverse_root", SHAPE)],
        [numpy_helper.from_array(np.float32(0.5), "half"), numpy_helper.from_array(np.float32(-0.5), "minus_half")],
    )  # fmt: skip
    path = tmp_path / "pow2.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)]), str(path))
    x = pow_inputs(1)
    e = np.random.default_rng(9).choice(np.float32(EXPONENTS), (1, 2, 1, 3, 4, 1))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"x": x, "e": e})
    actual = compiled(path, tmp_path, None)(x, e)
    assert np.isneginf(x).any() and len(actual) == len(expected) == 3
    for a, b in zip(actual, expected):
        assert_propagates(a.reshape(b.shape), b)
