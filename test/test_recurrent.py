"""LSTM and GRU (issue 12): `nn.lstm` / `nn.gru`, kernels/recurrent.cpp and the three
front ends.

Three levels, cheapest first: the kernels through ctypes against one PyTorch layer (odd
hidden sizes, both directions, given or zero states, weights packed or as stored, large
and NaN inputs); the front ends into the reference interpreter against PyTorch for every
variant people use (layers, directions, batch_first, initial states, the outputs they
index); compiled executables of the two test models (test/models.py) from torch.export
and ONNX at batches 1 and 3 (from TorchScript in test_pipeline.py, as every test model).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import assert_matches_torch, save_scripted
from models import build
from test_kernels import call, kernels  # noqa: F401 (kernels is a fixture)
from test_nan_propagation import assert_propagates
from test_pipeline import code_of
from torch import nn

from mnistc.driver import Compilation, CompileOptions, compile_model
from mnistc.importers import import_model
from mnistc.importers.common import ImportError_
from mnistc.importers.torch_export import import_exported
from mnistc.importers.torchscript import forward_graph, freeze, import_graph
from mnistc.interpreters.nn import run_batch
from mnistc.transforms.packing import pack_recurrent_hidden_weight, pack_recurrent_input_weight
from mnistc.verify import run_executable


def random(*shape: int, seed: int = 5, scale: float = 1.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


# Kernels (kernels/recurrent.cpp) ----------------------------------------------------

KERNEL_CASES = {
    # name: (kind, T, F, H, bidirectional, bias, initial states)
    "lstm-h5": ("lstm", 7, 3, 5, False, True, False),
    "lstm-bi-h16-states": ("lstm", 6, 10, 16, True, True, True),
    "lstm-bi-nobias-h19": ("lstm", 21, 4, 19, True, False, True),
    "gru-h5": ("gru", 7, 3, 5, False, True, False),
    "gru-bi-h24-states": ("gru", 9, 8, 24, True, True, True),
    "gru-one-step-nobias-h3": ("gru", 1, 2, 3, False, False, True),
}


def torch_layer(kind: str, features: int, hidden: int, bidirectional: bool, bias: bool, seed: int = 0):
    torch.manual_seed(seed)
    layer = (nn.LSTM if kind == "lstm" else nn.GRU)(
        features, hidden, bias=bias, bidirectional=bidirectional, batch_first=True
    )
    return layer.eval()


def stacked(layer: nn.Module, name: str) -> np.ndarray | None:
    """The layer's weight `name` of both directions, as the kernel takes it."""
    if not hasattr(layer, f"{name}_l0"):
        return None
    parts = [getattr(layer, f"{name}_l0")]
    if layer.bidirectional:
        parts.append(getattr(layer, f"{name}_l0_reverse"))
    return torch.cat(parts).detach().numpy().copy()


def run_kernel(kernels, kind, layer, x, states, packed: bool):  # noqa: F811
    """The kernel on one sample x [T, F] with states [D, H] (or None): every step's h
    [T, D*H], and an LSTM's final c [D, H]."""
    d, hidden = 2 if layer.bidirectional else 1, layer.hidden_size
    weight_ih, weight_hh = stacked(layer, "weight_ih"), stacked(layer, "weight_hh")
    if packed:
        weight_ih = pack_recurrent_input_weight(weight_ih, d)
        weight_hh = pack_recurrent_hidden_weight(weight_hh, d)
    out = np.full((x.shape[0] + (kind == "lstm"), d * hidden), np.nan, dtype=np.float32)
    params = dict(T=x.shape[0], F=x.shape[1], H=hidden, directions=d, packed=int(packed))
    buffers = [x, weight_ih, weight_hh, stacked(layer, "bias_ih"), stacked(layer, "bias_hh"), *states, out]
    call(kernels, kind, buffers, **params)
    return (out[:-1], out[-1].reshape(d, hidden)) if kind == "lstm" else (out, None)


def kernel_problem(case, scale: float = 1.0):
    kind, steps, features, hidden, bidirectional, bias, given = case
    layer = torch_layer(kind, features, hidden, bidirectional, bias)
    d = 2 if bidirectional else 1
    x = random(steps, features, scale=scale)
    count = 2 if kind == "lstm" else 1
    states = [random(d, hidden, seed=7 + i) if given else None for i in range(count)]
    torch_states = [torch.from_numpy(s[:, None]) if s is not None else torch.zeros(d, 1, hidden) for s in states]
    with torch.no_grad():
        out, final = layer(torch.from_numpy(x)[None], tuple(torch_states) if kind == "lstm" else torch_states[0])
    return layer, x, states, out[0], final


@pytest.mark.parametrize("packed", [False, True], ids=["as-stored", "packed"])
@pytest.mark.parametrize("case", KERNEL_CASES.values(), ids=KERNEL_CASES)
def test_recurrent_kernel_matches_pytorch(kernels, case, packed):  # noqa: F811
    layer, x, states, expected, final = kernel_problem(case)
    actual, cell = run_kernel(kernels, case[0], layer, x, states, packed)
    np.testing.assert_allclose(actual, expected.numpy(), rtol=1e-4, atol=1e-5)
    if case[0] == "lstm":
        np.testing.assert_allclose(cell, final[1][:, 0].numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_recurrent_kernel_saturates_and_propagates_nan(kernels, kind):  # noqa: F811
    """Gate inputs far beyond exp8's range of 88 saturate sigmoid and tanh as PyTorch
    does; a NaN in one step reaches that step and every later one, as in PyTorch."""
    case = (kind, 9, 6, 11, True, True, True)
    layer, x, states, expected, _ = kernel_problem(case, scale=300.0)
    assert np.abs(x).max() > 88
    np.testing.assert_allclose(run_kernel(kernels, kind, layer, x, states, True)[0], expected.numpy(), rtol=1e-4, atol=1e-5)
    x[4, 2] = np.nan
    with torch.no_grad():
        torch_states = [torch.from_numpy(s[:, None]) for s in states]
        expected = layer(torch.from_numpy(x)[None], tuple(torch_states) if kind == "lstm" else torch_states[0])[0][0]
    actual = run_kernel(kernels, kind, layer, x, states, True)[0]
    assert np.isnan(actual).any()
    assert_propagates(actual, expected)


# Front ends into the reference interpreter --------------------------------------------

STEPS, FEATURES, HIDDEN = 6, 5, 7


class Recurrent(nn.Module):
    """One recurrent module, its input [N, T, F] batch first whatever `batch_first`
    (else transposed to [T, N, F] first), its initial state zero, a learned constant or
    computed from the input, and one of the outputs people read."""

    def __init__(self, kind: str, batch_first: bool, layers: int, bidirectional: bool, initial: str, output: str):
        super().__init__()
        self.lstm = kind == "lstm"
        self.batch_first, self.initial, self.output = batch_first, initial, output
        self.rnn = (nn.LSTM if self.lstm else nn.GRU)(
            FEATURES, HIDDEN, num_layers=layers, batch_first=batch_first, bidirectional=bidirectional, dropout=0.2
        )  # fmt: skip
        self.states = layers * (2 if bidirectional else 1)
        self.h0 = nn.Parameter(torch.randn(self.states, 1, HIDDEN))
        self.c0 = nn.Parameter(torch.randn(self.states, 1, HIDDEN))
        self.init = nn.Linear(FEATURES, HIDDEN)

    def initial_state(self, x: torch.Tensor):
        if self.initial == "constant":
            h0 = self.h0.expand(-1, x.size(0), -1).contiguous()
            c0 = self.c0.expand(-1, x.size(0), -1).contiguous()
        else:  # from the input: each state its own function of the first step
            h = torch.tanh(self.init(x[:, 0]))
            h0 = torch.cat([(h * (i + 1)).unsqueeze(0) for i in range(self.states)], dim=0)
            c0 = torch.cat([(h - i).unsqueeze(0) for i in range(self.states)], dim=0)
        return (h0, c0) if self.lstm else h0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq = x if self.batch_first else x.transpose(0, 1)
        if self.initial == "zero":
            out, state = self.rnn(seq)
        else:
            out, state = self.rnn(seq, self.initial_state(x))
        h_n, c_n = state if self.lstm else (state, state)
        if self.output == "last":
            return out[:, -1] if self.batch_first else out[-1]
        if self.output == "all":
            return (out if self.batch_first else out.transpose(0, 1)).flatten(1)
        if self.output == "h_n":
            return h_n.transpose(0, 1).reshape(x.size(0), -1)
        return c_n[-1] + h_n[0]


VARIANTS = {
    # name: (front end, (kind, batch_first, layers, bidirectional, initial, output))
    "lstm-last": ("traced", ("lstm", True, 1, False, "zero", "last")),
    "lstm-2layer-bi-all": ("torch.export", ("lstm", True, 2, True, "zero", "all")),
    "lstm-time-major-constant-h_n": ("traced", ("lstm", False, 2, False, "constant", "h_n")),
    "lstm-bi-input-state-c_n": ("torch.export", ("lstm", True, 1, True, "input", "c_n")),
    "lstm-time-major-bi-last": ("torch.export", ("lstm", False, 1, True, "input", "last")),
    "gru-last": ("torch.export", ("gru", True, 1, False, "zero", "last")),
    "gru-time-major-2layer-bi-all": ("traced", ("gru", False, 2, True, "constant", "all")),
    "gru-input-state-h_n": ("traced", ("gru", True, 3, False, "input", "h_n")),
    "lstm-2layer-bi-constant-fixed-batch": ("torch.export-fixed", ("lstm", True, 2, True, "constant", "c_n")),
}
"""Each variant through one of the aten front ends, the two taking turns: they share the
converter, and each graph form (TorchScript's `aten::lstm` with its list of states,
torch.export's `lstm.input` and `getitem`) is met by several variants. A program exported
with a fixed batch of 2 expands its learned states over 2 samples: the same for each, so
one sample's."""


def expected_outputs(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.eval()(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("front_end, variant", VARIANTS.values(), ids=VARIANTS)
def test_front_ends_match_pytorch(front_end, variant):
    """At batch 3, through the reference interpreter. TorchScript by tracing (the
    scripted test models are compiled in test_pipeline.py)."""
    torch.manual_seed(1)
    model = Recurrent(*variant).eval()
    x = random(3, STEPS, FEATURES, seed=2)
    if front_end == "traced":
        traced = torch.jit.trace(model, torch.from_numpy(random(2, STEPS, FEATURES)))
        imported = import_graph(forward_graph(freeze(traced)), (STEPS, FEATURES))
    elif front_end == "torch.export":
        dynamic = {"x": {0: torch.export.Dim("batch")}}
        imported = import_exported(torch.export.export(model, (torch.from_numpy(x),), dynamic_shapes=dynamic))
    else:
        imported = import_exported(torch.export.export(model, (torch.from_numpy(x[:2]),)))
    assert_matches_torch(run_batch(imported.module, x, imported.weights), expected_outputs(model, x))


class MixesSamples(nn.Module):
    def __init__(self, how: str):
        super().__init__()
        self.how, self.rnn = how, nn.GRU(FEATURES, HIDDEN)

    def forward(self, x):
        out, h_n = self.rnn(x.transpose(0, 1))
        if self.how == "output":
            return out
        if self.how == "batch-select":
            return h_n[:, 0]
        return torch.cat([h_n, h_n], dim=1).sum(0)


@pytest.mark.parametrize(
    "how, message",
    [
        ("output", "the model's output: gru along dimension 0, the batch"),
        ("batch-select", "select along dimension 1, the batch"),
        ("batch-cat", "concatenation along dimension 1, the batch"),
    ],
)
def test_ops_on_the_batch_of_a_state_are_refused(how, message):
    """h_n and time-major sequences hold the batch at dimension 1: indexing or joining
    along it, or returning such a tensor, would mix samples."""
    with pytest.raises(ImportError_, match=message):
        import_graph(forward_graph(freeze(torch.jit.script(MixesSamples(how).eval()))), (STEPS, FEATURES))


class Projected(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(FEATURES, HIDDEN, proj_size=3, batch_first=True)

    def forward(self, x):
        return self.rnn(x)[0][:, -1]


def test_projections_are_refused():
    model = Projected().eval()
    with pytest.raises(ImportError_, match="proj_size"):
        import_graph(forward_graph(freeze(torch.jit.script(model))), (STEPS, FEATURES))


# Compiled test models -----------------------------------------------------------------
# TorchScript compiles them (scripted, batches 7 and 1) in test_pipeline.py, as every model
# of test/models.py; here the two other front ends, each with a dynamic batch.


def export_onnx(model: nn.Module, shape, path):
    pytest.importorskip("onnx")
    torch.onnx.export(
        model, (torch.zeros(2, *shape),), str(path), dynamo=False, input_names=["input"],
        output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
    )  # fmt: skip
    return path


def model_file(model: nn.Module, shape, front_end: str, folder):
    if front_end == "torch.export":
        path = folder / "model.pt2"
        dynamic = {"x": {0: torch.export.Dim("batch")}}
        torch.export.save(torch.export.export(model, (torch.zeros(2, *shape),), dynamic_shapes=dynamic), str(path))
        return path
    return export_onnx(model, shape, folder / "model.onnx")


@pytest.fixture(scope="module", params=["lstm_classifier", "gru_classifier"])
def classifier(request):
    model, shape = build(request.param)
    return model.eval(), shape


@pytest.mark.parametrize("front_end", ["onnx"])
def test_compiled_models_match_pytorch(classifier, front_end, tmp_path):
    model, shape = classifier
    path = model_file(model, shape, front_end, tmp_path)
    executable = tmp_path / "model"
    compile_model(path, executable, CompileOptions())
    for batch in (1, 3):
        x = random(batch, *shape, seed=batch)
        assert_matches_torch(run_executable(executable, x), expected_outputs(model, x))


def test_exported_models_import_as_scripted(classifier, tmp_path):
    """torch.export with a dynamic batch gives the scripted import's `nn` IR and weights,
    whose compile test_pipeline checks against PyTorch: compiling it again checks nothing."""
    model, shape = classifier
    scripted = import_model(save_scripted(model, tmp_path / "m.pt"), shape)
    exported = import_model(model_file(model, shape, "torch.export", tmp_path))
    assert code_of(exported.module) == code_of(scripted.module)
    assert exported.weights.data() == scripted.weights.data()


@pytest.mark.parametrize(
    "attributes, message",
    [
        ({"linear_before_reset": 0}, "linear_before_reset=0"),
        ({"linear_before_reset": 1, "direction": "reverse"}, "direction 'reverse'"),
        ({"linear_before_reset": 1, "clip": 3.0}, "clip"),
    ],
)
def test_onnx_variants_pytorch_does_not_compute_are_refused(attributes, message, tmp_path):
    """ONNX's GRU without PyTorch's reset order, a reverse-only layer, clipping."""
    from mnistc.importers.onnx import import_onnx

    with pytest.raises(ImportError_, match=message):
        import_onnx(onnx_gru(tmp_path, attributes))


def test_onnx_gru_as_pytorch_computes_it_matches_onnx_runtime(tmp_path):
    """The graph of the refusals above, with PyTorch's semantics: h_n of a GRU whose
    input was transposed to time-major, squeezed back to [N, H]."""
    ort = pytest.importorskip("onnxruntime")
    from mnistc.importers.onnx import import_onnx

    path = onnx_gru(tmp_path, {"linear_before_reset": 1})
    x = random(3, STEPS, FEATURES, seed=4)
    expected = ort.InferenceSession(str(path)).run(None, {"x": x})[0]
    imported = import_onnx(path)
    assert_matches_torch(run_batch(imported.module, x, imported.weights), expected)


def onnx_gru(folder, attributes: dict):
    """A batch-first input transposed to time-major, one GRU layer, its h_n squeezed."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    hidden = 4
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[1, 0, 2]),
        helper.make_node("GRU", ["t", "w", "r"], ["y", "h"], hidden_size=hidden, **attributes),
        helper.make_node("Squeeze", ["h", "axes"], ["out"]),
    ]
    weights = [
        numpy_helper.from_array(random(1, 3 * hidden, FEATURES, seed=8), "w"),
        numpy_helper.from_array(random(1, 3 * hidden, hidden, seed=9), "r"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "axes"),
    ]
    graph = helper.make_graph(
        nodes, "gru", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", STEPS, FEATURES])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", hidden])], weights,
    )  # fmt: skip
    path = folder / "gru.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path
