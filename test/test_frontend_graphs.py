"""What the front ends accept and how they refuse: every unsupported op listed at once
with its place, never an internal error, torch.export graphs as they come, and shape
computations of a dynamic batch folded per sample (TorchScript, torch.export, ONNX)."""

from __future__ import annotations

import inspect
import subprocess
import sys
from typing import Optional

import numpy as np
import pytest
import torch
from conftest import assert_matches_torch
from torch import nn

from mnistc.driver import Compilation, CompileOptions, compile_model
from mnistc.importers import aten
from mnistc.importers.aten.graph import NodeError
from mnistc.importers.common import ImportError_
from mnistc.importers.torch_export import import_exported
from mnistc.interpreters.nn import run_batch
from mnistc.importers.torchscript import import_script_module, save_with_shape
from mnistc.verify import run_executable

SAMPLE = (2, 6, 6)
"""One sample of the test models: C, H, W."""


def line_of(method, text: str) -> int:
    """The source line of `method` that contains `text`, as a refusal names it."""
    lines, first = inspect.getsourcelines(method)
    return first + next(i for i, line in enumerate(lines) if text in line)


def listed(message: str) -> list[str]:
    """The refusal's list: the lines between its title and its `supported:` line."""
    lines = message.splitlines()
    assert lines[-1].startswith("supported: "), message
    return lines[1:-1]


class Chain(nn.Module):
    """Three unsupported ops in a chain, the last inside a list (`cat`)."""

    def forward(self, x):
        a = torch.sin(x)
        b = torch.relu(torch.cos(a))
        c = torch.cat([torch.atan(b), x], 1)
        return c.flatten(1)


class Sines(nn.Module):
    """One unsupported op, five times."""

    def forward(self, x):
        x = torch.sin(x)
        x = torch.sin(x)
        x = torch.sin(x)
        x = torch.sin(x)
        x = torch.sin(x)
        return x.flatten(1)


def chain_places() -> list[tuple[str, int]]:
    return [
        (op, line_of(Chain.forward, f"torch.{op}("))
        for op in ("sin", "cos", "atan")
    ]  # fmt: skip


def import_scripted(model: nn.Module):
    return import_script_module(torch.jit.script(model.eval()), SAMPLE)


def import_traced(model: nn.Module):
    return import_script_module(torch.jit.trace(model.eval(), torch.rand(2, *SAMPLE)), SAMPLE)


def export(model: nn.Module, batch: int = 2, dynamic: bool = True) -> torch.export.ExportedProgram:
    shapes = {"x": {0: torch.export.Dim("batch")}} if dynamic else None
    return torch.export.export(model.eval(), (torch.rand(batch, *SAMPLE),), dynamic_shapes=shapes)


def export_onnx(model: nn.Module, path):
    pytest.importorskip("onnx")
    torch.onnx.export(
        model.eval(), (torch.rand(2, *SAMPLE),), str(path), dynamo=False,
        input_names=["x"], dynamic_axes={"x": {0: "batch"}},
    )  # fmt: skip
    return path


ATEN_FRONT_ENDS = {
    "scripted": import_scripted,
    "traced": import_traced,
    "exported": lambda model: import_exported(export(model)),
}


@pytest.mark.parametrize("front_end", sorted(ATEN_FRONT_ENDS))
def test_every_unsupported_op_of_a_chain_is_listed(front_end):
    """sin -> cos -> atan inside a cat: all three with their lines (torch.export used to
    end in an internal error on the list), none of the supported ops after them."""
    with pytest.raises(ImportError_) as error:
        ATEN_FRONT_ENDS[front_end](Chain())
    message = str(error.value)
    assert message.startswith("unsupported operators:\n")
    assert listed(message) == [f"  aten::{op} at {__file__}:{line}" for op, line in chain_places()]


def test_every_unsupported_onnx_op_of_a_chain_is_listed(tmp_path):
    with pytest.raises(ImportError_) as error:
        Compilation.import_file(export_onnx(Chain(), tmp_path / "chain.onnx"))
    message = str(error.value)
    assert message.startswith("unsupported ONNX operators:\n")
    assert listed(message) == ["  Sin at node '/Sin'", "  Cos at node '/Cos'", "  Atan at node '/Atan'"]


@pytest.mark.parametrize("front_end", sorted(ATEN_FRONT_ENDS))
def test_a_long_list_names_the_first_places_and_counts(front_end):
    with pytest.raises(ImportError_) as error:
        ATEN_FRONT_ENDS[front_end](Sines())
    first = line_of(Sines.forward, "torch.sin(")
    places = "; ".join(f"{__file__}:{first + i}" for i in range(3))
    assert listed(str(error.value)) == [f"  aten::sin at {places}; and 2 more (5 in all)"]


def test_a_long_onnx_list_names_the_first_places_and_counts(tmp_path):
    with pytest.raises(ImportError_) as error:
        Compilation.import_file(export_onnx(Sines(), tmp_path / "sines.onnx"))
    assert listed(str(error.value)) == [
        "  Sin at node '/Sin'; node '/Sin_1'; node '/Sin_2'; and 2 more (5 in all)"
    ]


def test_the_cli_refuses_with_the_list_and_exit_1(tmp_path):
    torch.export.save(export(Chain()), str(tmp_path / "chain.pt2"))
    result = subprocess.run(
        [sys.executable, "-m", "mnistc.tools.mnistc", "compile", str(tmp_path / "chain.pt2"),
         "-q", "-o", str(tmp_path / "out")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("mnistc: error: unsupported operators:\n")
    for op, line in chain_places():
        assert f"\n  aten::{op} at {__file__}:{line}\n" in result.stderr
    assert not (tmp_path / "out").exists()


def test_onnx_shape_with_start_folds_per_sample(tmp_path):
    """Opset 15's `Shape(start=2)` of the input, its product, `Concat` with -1 and
    `Reshape`: the reshape takes the folded [-1, 36] (without `start`, [-1, 72])."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Shape", ["x"], ["s"], start=2),
        helper.make_node("ReduceProd", ["s"], ["p"], keepdims=1),
        helper.make_node("Constant", [], ["m"], value=helper.make_tensor("m", TensorProto.INT64, [1], [-1])),
        helper.make_node("Concat", ["m", "p"], ["t"], axis=0),
        helper.make_node("Reshape", ["x", "t"], ["r"]),
        helper.make_node("Relu", ["r"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", *SAMPLE])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n2", 36])],
    )  # fmt: skip
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), tmp_path / "s.onnx")
    imported = Compilation.import_file(tmp_path / "s.onnx")
    reshapes = [op for op in imported.module.walk() if op.name == "nn.reshape"]
    assert [str(op.results[0].type) for op in reshapes] == ["tensor<2x36xf32>"]


class Relu(nn.Module):
    def forward(self, x):
        y = torch.relu(x)
        return torch.relu(y).flatten(1)


def test_a_converter_refusing_its_arguments_is_listed_and_the_walk_goes_on(monkeypatch):
    """A converter's NodeError (arguments it does not handle) is one item of the list,
    with its reason, and the ops after it are still checked."""

    def refuse(ctx, node):
        raise NodeError("a variant the converter does not handle")

    monkeypatch.setitem(aten.TENSOR_CONVERTERS, "aten::relu", refuse)
    with pytest.raises(ImportError_) as error:
        import_exported(export(Relu()))
    line = line_of(Relu.forward, "y = torch.relu")
    assert listed(str(error.value)) == [
        f"  aten::relu at {__file__}:{line} (a variant the converter does not handle)"
    ]  # the second relu, on the first's placeholder, is skipped like any supported op


@pytest.mark.parametrize("front_end", sorted(ATEN_FRONT_ENDS))
def test_an_unexpected_exception_is_one_refusal_naming_the_op(front_end, monkeypatch):
    def broken(ctx, node):
        raise RuntimeError("converter bug")

    monkeypatch.setitem(aten.TENSOR_CONVERTERS, "aten::relu", broken)
    with pytest.raises(ImportError_) as error:
        ATEN_FRONT_ENDS[front_end](Relu())
    line = line_of(Relu.forward, "y = torch.relu")
    assert str(error.value) == f"aten::relu at {__file__}:{line}: RuntimeError: converter bug"


def test_an_unexpected_exception_in_an_onnx_converter_names_the_node(tmp_path, monkeypatch):
    from mnistc.importers import onnx as onnx_importer

    def broken(g, node, attrs):
        raise RuntimeError("converter bug")

    path = export_onnx(Relu(), tmp_path / "relu.onnx")
    monkeypatch.setitem(onnx_importer.CONVERTERS, "Relu", broken)
    with pytest.raises(ImportError_) as error:
        Compilation.import_file(path)
    assert str(error.value) == "Relu at node '/Relu': RuntimeError: converter bug"


class BatchTimes(nn.Module):
    def forward(self, x):
        return (x * x.size(0)).flatten(1)


class BatchInside(nn.Module):
    """The batch as a later size of a shape interleaves the samples."""

    def forward(self, x):
        return x.reshape(3, x.size(0), -1).flatten(1)


BATCH_VALUES = {"times": (BatchTimes, "mul", "Mul"), "inside": (BatchInside, "reshape", "Reshape")}
REASON = "computes with the batch size, which is compiled only as the first size of a shape"


@pytest.mark.parametrize(
    "front_end,model",
    [
        (f, m) for f in sorted(ATEN_FRONT_ENDS) for m in sorted(BATCH_VALUES)
        if (f, m) != ("exported", "inside")
    ],
)  # torch.export itself refuses `inside` with a dynamic batch (it cannot prove its guards)
def test_the_batch_size_as_a_value_is_refused(front_end, model):
    """The IR is per sample: folding `x.size(0)` to 1 here would compute a wrong model."""
    module, op, _ = BATCH_VALUES[model]
    with pytest.raises(ImportError_) as error:
        ATEN_FRONT_ENDS[front_end](module())
    line = line_of(module.forward, "x.size(0)")
    assert listed(str(error.value)) == [f"  aten::{op} at {__file__}:{line} ({REASON})"]


@pytest.mark.parametrize("model", sorted(BATCH_VALUES))
def test_the_batch_size_as_a_value_is_refused_through_onnx(model, tmp_path):
    """ONNX: `Shape` -> `Gather` -> ... -> `Mul` or `Reshape`, as the exporter writes it."""
    module, _, op = BATCH_VALUES[model]
    with pytest.raises(ImportError_) as error:
        Compilation.import_file(export_onnx(module(), tmp_path / "batch.onnx"))
    assert listed(str(error.value)) == [f"  {op} at node '/{op}' ({REASON})"]


class Split(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3)

    def forward(self, x):
        a, b = torch.split(self.conv(x), 2, 1)
        return (a * b).flatten(1)


def test_getitem_of_a_multi_output_op_is_plumbing_not_an_op():
    """torch.export's `getitem` on `split`: never listed itself."""
    program = export(Split())
    assert any(str(n.target) == "<built-in function getitem>" for n in program.graph.nodes)
    if "aten::split" in aten.TENSOR_CONVERTERS:
        import_exported(program)
        return
    with pytest.raises(ImportError_) as error:
        import_exported(program)
    line = line_of(Split.forward, "torch.split(")
    assert listed(str(error.value)) == [f"  aten::split at {__file__}:{line}"]


class ShapeComputations(nn.Module):
    """What models compute from their input's shape: `x.size(1)`, `x.shape[-2:]`,
    `view(x.size(0), -1)`, `reshape(x.shape[0], C, -1)`, products and quotients of sizes
    (ONNX `Mul` and `Div` on shape scalars), a buffer, a constant tensor attribute and a
    `torch.tensor` (lifted constants in torch.export), conversions to float32 and to the
    input's own dtype and device, `clone` and `detach`."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 6 * 6, 5)
        self.register_buffer("shift", torch.randn(1, 4, 1, 1))
        self.scale = torch.randn(1, 4, 1, 1)

    def forward(self, x):
        weights = torch.tensor([0.5, 1.5, -1.0, 2.0]).reshape(1, 4, 1, 1)
        x = x.to(x.dtype).to(x.device)
        y = (self.conv(x.float().clone().detach()) * self.scale + self.shift).type_as(x) * weights
        channels = y.size(1)
        h, w = y.shape[-2:]
        y = torch.relu(y.reshape(y.shape[0], channels, h * w))
        z = y.reshape(x.shape[0], channels // 2, -1).view(x.size(0), -1)
        return self.fc(z) + self.fc(y.flatten(1))


_MODEL = {}


def shape_model() -> nn.Module:
    """One instance (random weights, fixed seed) for every front end."""
    if not _MODEL:
        torch.manual_seed(0)
        _MODEL["model"] = ShapeComputations().eval()
    return _MODEL["model"]


def test_exported_graphs_are_taken_as_they_come():
    """The nodes torch.export writes for the shape model (a dynamic batch): size reads,
    metadata checks, lifted constants; all accepted, none listed."""
    program = export(shape_model())
    kinds = {n.target._schema.name for n in program.graph.nodes if hasattr(n.target, "_schema")}
    assert {"aten::sym_size", "aten::_assert_tensor_metadata", "aten::lift_fresh_copy"} <= kinds
    signature = program.graph_signature
    assert signature.inputs_to_buffers and signature.inputs_to_lifted_tensor_constants
    import_exported(program)


def save_torchscript(tmp_path, traced: bool):
    model = shape_model()
    path = tmp_path / "model.pt"
    module = torch.jit.trace(model, torch.rand(2, *SAMPLE)) if traced else torch.jit.script(model)
    save_with_shape(module, path, SAMPLE)
    return path


def save_exported(tmp_path, dynamic: bool):
    path = tmp_path / "model.pt2"
    torch.export.save(export(shape_model(), dynamic=dynamic), str(path))
    return path


SHAPE_FRONT_ENDS = {
    "scripted": lambda tmp: save_torchscript(tmp, traced=False),
    "traced": lambda tmp: save_torchscript(tmp, traced=True),
    "exported dynamic batch": lambda tmp: save_exported(tmp, dynamic=True),
    "exported batch 2": lambda tmp: save_exported(tmp, dynamic=False),
    "onnx dynamic batch": lambda tmp: export_onnx(shape_model(), tmp / "model.onnx"),
}


@pytest.fixture(scope="module", params=sorted(SHAPE_FRONT_ENDS))
def shape_executable(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shapes")
    executable = tmp / "model"
    compile_model(SHAPE_FRONT_ENDS[request.param](tmp), executable, CompileOptions())
    return executable


@pytest.mark.parametrize("batch", [1, 3])
def test_shape_computations_fold_and_the_batch_stays_dynamic(shape_executable, batch):
    inputs = np.random.default_rng(batch).standard_normal((batch, *SAMPLE), dtype=np.float32)
    with torch.no_grad():
        expected = shape_model()(torch.from_numpy(inputs)).numpy()
    assert_matches_torch(run_executable(shape_executable, inputs), expected)


# Scripted library code (issue 12): what torch.jit.script makes of modules such as
# nn.TransformerEncoder, whose forward reads attributes of submodules, takes optional
# arguments and branches on flags that are constant for an inference compile.


class RunningNorm(nn.Module):
    """An instance norm on running statistics: freezing keeps them as attributes (a
    training branch would update them), read through a chain of `prim::GetAttr`."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(SAMPLE[0], track_running_stats=True)
        self.conv = nn.Conv2d(SAMPLE[0], 3, 3)
        with torch.no_grad():
            self.norm.running_mean.copy_(torch.randn(SAMPLE[0]))
            self.norm.running_var.copy_(torch.rand(SAMPLE[0]) + 0.5)

    def forward(self, x):
        return self.conv(self.norm(x))


class ScriptedControlFlow(nn.Module):
    """Optional arguments left at their defaults, and `prim::If`s on them, on autocast,
    gradients, nesting and devices, as nn.TransformerEncoderLayer's fast-path checks have:
    each folds, and a wrong branch would change the result or refuse."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = RunningNorm()

    def forward(self, x, mask: Optional[torch.Tensor] = None, is_causal: Optional[bool] = None):
        y = self.inner(x)
        if mask is not None:
            y = y + mask
        if is_causal is None:
            is_causal = False
        if is_causal or x.is_nested or torch.is_autocast_enabled():
            y = y * 0.0
        elif torch.is_grad_enabled() and any([p.requires_grad for p in [self.inner.conv.weight]]):
            y = y * 0.0
        elif x.device.type not in ["cpu", "cuda"]:
            y = torch.sin(y)
        return y.flatten(1)


def test_scripted_control_flow_folds_and_matches_torch():
    """The `prim::GetAttr` chains, optional arguments and constant `prim::If`s of a
    scripted module fold at import; batches 1 and 3 match PyTorch (reference interpreter)."""
    torch.manual_seed(3)
    model = ScriptedControlFlow().eval()
    imported = import_script_module(torch.jit.script(model), SAMPLE)
    names = {op.name for op in imported.module.walk()}
    assert {"nn.batch_norm", "nn.conv2d"} <= names and "nn.mul" not in names, names
    for batch in (1, 3):
        x = np.random.default_rng(batch).standard_normal((batch, *SAMPLE), dtype=np.float32)
        with torch.no_grad():
            expected = model(torch.from_numpy(x)).numpy()
        assert_matches_torch(run_batch(imported.module, x, imported.weights), expected)


class DataDependentBranch(nn.Module):
    """A branch and a loop on the input's values: nothing to fold."""

    def forward(self, x):
        if bool((x.amax(dim=(1, 2, 3)) > 0.5).all()):
            x = x * 2.0
        while bool((x.amax(dim=(1, 2, 3)) > 100.0).all()):
            x = x * 0.5
        return x.flatten(1)


def test_a_condition_on_the_inputs_values_is_refused_naming_its_op():
    """The comparison that makes the condition is named, with its line; the loop that
    depends on it is listed as not folding (it was an internal error before)."""
    with pytest.raises(ImportError_) as refusal:
        import_scripted(DataDependentBranch())
    lines = [line.strip() for line in listed(str(refusal.value))]
    branch = f"py:{line_of(DataDependentBranch.forward, '> 0.5')} (on tensors)"
    assert any(line.startswith("aten::gt at ") and branch in line for line in lines), lines
    loop = "a loop that does not fold at import"
    assert any(line.startswith("prim::Loop at ") and loop in line for line in lines), lines


def test_scripted_transformer_encoder_compiles_and_matches_torch():
    """nn.TransformerEncoder scripted: its arguments, flags and fast-path checks fold, its
    layers become attention, and batches 1 and 3 match PyTorch (reference interpreter)."""
    torch.manual_seed(4)
    layer = nn.TransformerEncoderLayer(6, 2, 12, dropout=0.0, batch_first=True)
    model = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()
    imported = import_script_module(torch.jit.script(model), (5, 6))
    assert "nn.attention" in {op.name for op in imported.module.walk()}
    for batch in (1, 3):
        x = np.random.default_rng(batch).standard_normal((batch, 5, 6), dtype=np.float32)
        with torch.no_grad():
            expected = model(torch.from_numpy(x)).numpy()
        assert_matches_torch(run_batch(imported.module, x, imported.weights), expected)


# Issue 12's torchvision networks through the three front ends (torchvision is in the
# `bench` extra): random weights and measured batch-norm statistics, at 3x64x64.

NETWORKS = ("shufflenet_v2_x0_5", "mobilenet_v3_small", "efficientnet_b0")
NETWORK_SHAPE = (3, 64, 64)


@pytest.fixture(scope="module", params=NETWORKS)
def network(request):
    from importlib.util import find_spec

    from mnistc.bench_networks import build_network

    if find_spec("torchvision") is None or find_spec("onnxruntime") is None:
        pytest.skip("torchvision and onnxruntime are not installed (the bench extra)")
    return build_network(request.param)


@pytest.mark.slow  # nine torchvision networks compiled
@pytest.mark.parametrize("front_end", ["torchscript", "export", "onnx"])
def test_torchvision_network_matches_torch(network, front_end, tmp_path):
    """ShuffleNetV2, MobileNetV3 and EfficientNet-B0 traced, exported and through ONNX,
    compiled, at batches 1 and 3 against PyTorch."""
    from mnistc.bench_networks import export_for_mnistc

    path = export_for_mnistc(network, NETWORK_SHAPE, front_end, tmp_path)
    compile_model(path, tmp_path / "network", CompileOptions())
    for batch in (1, 3):
        x = np.random.default_rng(batch).standard_normal((batch, *NETWORK_SHAPE), dtype=np.float32)
        with torch.no_grad():
            expected = network(torch.from_numpy(x)).numpy()
        assert_matches_torch(run_executable(tmp_path / "network", x), expected)
