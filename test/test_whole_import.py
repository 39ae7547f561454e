"""Models that work across dimension 0 of a fixed input shape are imported whole
(`mnistc.importers.common.import_following_the_batch`): the `nn` IR's one sample is the
entire input, and the compiled model runs exactly that shape. Models that follow the
batch still import per sample; a dynamic batch that is crossed stays refused."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_matches_torch

from mnistc.dialects.shapes import shape_of
from mnistc.driver import Compilation, CompileOptions, compile_model
from mnistc.errors import MnistcError
from mnistc.importers.common import ImportError_
from mnistc.importers.signature import fixed_inputs
from mnistc.importers.torch_export import import_exported
from mnistc.importers.torchscript import import_torchscript, save_with_shape
from mnistc.interpreters.nn import run_function
from mnistc.transforms.quantize import entry_function

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from mnistc.importers.onnx import import_onnx  # noqa: E402

ACROSS_SHAPE = (3, 4)


def _onnx_file(path, nodes, input_dims, initializers=(), output_rank=2):
    graph = helper.make_graph(
        nodes, "whole",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_dims))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None] * output_rank)],
        [numpy_helper.from_array(np.asarray(v), name) for name, v in initializers],
    )  # fmt: skip
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _across_dim0(path, dims=ACROSS_SHAPE):
    """Reads across dimension 0: a reduction over it, a slice of it, a reversal of it
    (Slice with step -1), a constant as big as it, and a flatten of the whole tensor."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("ReduceSum", ["x", "axis0"], ["s"], keepdims=1),
        helper.make_node("Slice", ["x", "start", "end", "axis0"], ["first_rows"]),
        helper.make_node("Slice", ["x", "last", "before_first", "axis0", "back"], ["reversed"]),
        helper.make_node("Mul", ["reversed", "s"], ["m"]),
        helper.make_node("Add", ["m", "w"], ["a"]),
        helper.make_node("Concat", ["a", "first_rows"], ["c"], axis=0),
        helper.make_node("Tanh", ["c"], ["t"]),
        helper.make_node("Reshape", ["t", "flat"], ["y"]),
    ]
    initializers = [
        ("axis0", np.int64([0])), ("start", np.int64([0])), ("end", np.int64([2])),
        ("last", np.int64([-1])), ("before_first", np.int64([-(2**63)])), ("back", np.int64([-1])),
        ("w", rng.standard_normal(ACROSS_SHAPE).astype(np.float32)), ("flat", np.int64([1, -1])),
    ]  # fmt: skip
    return _onnx_file(path, nodes, dims, initializers)


def _onnx_runtime(path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def _input(shape, seed=1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _interpreted(imported, x: np.ndarray) -> np.ndarray:
    """The imported IR on the whole input, its one sample, without g++."""
    return run_function(imported.module, x[None], imported.weights)[0]


def _interpreted_n(imported, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """The imported IR of several inputs on each whole input: every output, [1, ...]."""
    from xdsl.interpreters.func import FuncFunctions
    from xdsl.interpreter import Interpreter

    from mnistc.interpreters.nn import NNFunctions

    interpreter = Interpreter(imported.module)
    interpreter.register_implementations(FuncFunctions())
    interpreter.register_implementations(NNFunctions(imported.weights))
    return interpreter.call_op("forward", tuple(np.asarray(a[None], np.float32) for a in arrays))


# ONNX


@pytest.fixture(scope="module")
def across_onnx(tmp_path_factory):
    return _across_dim0(tmp_path_factory.mktemp("onnx") / "across.onnx")


def test_fixed_onnx_model_across_dim0_is_imported_whole(across_onnx):
    imported = import_onnx(across_onnx)
    assert "ReduceSum" in imported.whole and "the batch" in imported.whole
    function = entry_function(imported.module)
    assert shape_of(function.body.block.args[0]) == (1, *ACROSS_SHAPE)
    x = _input(ACROSS_SHAPE)
    expected = _onnx_runtime(across_onnx, x)
    actual = _interpreted(imported, x)
    assert actual.shape == expected.shape == (1, 20)  # the model's exact output shape
    assert_matches_torch(actual, expected)


@pytest.fixture(scope="module")
def across_library(across_onnx, tmp_path_factory, session_kernels):
    from mnistc.runtime import CompiledModel

    library = tmp_path_factory.mktemp("lib") / "libacross.so"
    compile_model(across_onnx, library, CompileOptions(shared=True))
    return CompiledModel(library)


def test_compiled_whole_model_matches_onnx_runtime_and_refuses_other_shapes(across_onnx, across_library):
    assert across_library.input_shape == ACROSS_SHAPE
    assert "ReduceSum" in across_library.imported_whole
    x = _input(ACROSS_SHAPE, seed=2)
    assert_matches_torch(across_library(x), _onnx_runtime(across_onnx, x))
    assert_matches_torch(across_library(x[None]), _onnx_runtime(across_onnx, x))
    for shape in ((2, *ACROSS_SHAPE), ACROSS_SHAPE[::-1], ACROSS_SHAPE[1:]):
        with pytest.raises(MnistcError, match=r"takes exactly one \[3, 4\] tensor, its fixed input shape"):
            across_library(np.zeros(shape, np.float32))


def test_whole_executable_runs_exactly_its_input_shape(across_onnx, tmp_path, session_kernels):
    """The executable reads one whole input; two, or a part of one, is one clear error."""
    exe = tmp_path / "across"
    assert "ReduceSum" in compile_model(across_onnx, exe, CompileOptions()).imported_whole
    info = subprocess.run([str(exe), "--info"], capture_output=True, text=True, check=True).stdout
    assert '"input_shape": [3,4]' in info and '"imported_whole": true' in info
    x = _input(ACROSS_SHAPE, seed=3)
    x.tofile(tmp_path / "in.bin")
    subprocess.run([str(exe), tmp_path / "in.bin", tmp_path / "out.bin"], check=True)
    assert_matches_torch(np.fromfile(tmp_path / "out.bin", np.float32)[None], _onnx_runtime(across_onnx, x))
    for floats in (24, 6):
        np.zeros(floats, np.float32).tofile(tmp_path / "bad.bin")
        (tmp_path / "out.bin").write_bytes(b"kept")
        run = subprocess.run([str(exe), tmp_path / "bad.bin", tmp_path / "out.bin"], capture_output=True, text=True)
        assert run.returncode == 1
        assert run.stderr.count("\n") == 1 and "takes exactly one 3x4 tensor" in run.stderr, run.stderr
        assert (tmp_path / "out.bin").read_bytes() == b"kept"


def test_rank_1_onnx_input_is_imported_whole(tmp_path):
    path = _onnx_file(
        tmp_path / "rank1.onnx",
        [helper.make_node("Reshape", ["x", "shape"], ["r"]), helper.make_node("Softmax", ["r"], ["y"], axis=0)],
        [6], [("shape", np.int64([2, 3]))],
    )  # fmt: skip
    imported = import_onnx(path)
    assert "rank-1 input" in imported.whole
    x = _input((6,))
    assert_matches_torch(_interpreted(imported, x), _onnx_runtime(path, x))


def test_dynamic_batch_across_dim0_stays_refused_naming_the_op(tmp_path):
    path = _across_dim0(tmp_path / "dynamic.onnx", ("N", 4))
    with pytest.raises(ImportError_, match=r"ReduceSum at .*reduction over the batch") as refusal:
        import_onnx(path)
    assert "Slice at" in str(refusal.value) and "imported whole" not in str(refusal.value)


def test_fixed_output_without_its_batch_is_imported_whole(tmp_path):
    """`x.view(-1)` of a fixed shape: one sample's output would not be [1, ...]."""
    path = _onnx_file(
        tmp_path / "flat.onnx", [helper.make_node("Reshape", ["x", "flat"], ["y"])], [2, 4],
        [("flat", np.int64([-1]))], output_rank=1,
    )  # fmt: skip
    imported = import_onnx(path)
    assert "the output of one sample is [4], not [1, ...]" in imported.whole
    x = _input((2, 4))
    np.testing.assert_array_equal(_interpreted(imported, x), _onnx_runtime(path, x))


def test_batch_followable_fixed_models_still_import_per_sample(tmp_path):
    """A fixed batch of 2 that the graph follows (an export's `Reshape` to [2, -1]): per
    sample, any batch at run time."""
    path = _onnx_file(
        tmp_path / "follows.onnx",
        [helper.make_node("Reshape", ["x", "shape"], ["r"]), helper.make_node("Relu", ["r"], ["y"])],
        [2, 3, 4], [("shape", np.int64([2, -1]))],
    )  # fmt: skip
    imported = import_onnx(path)
    assert imported.whole is None
    assert shape_of(entry_function(imported.module).body.block.args[0]) == (1, 3, 4)


def test_whole_conv_over_several_images_is_refused(tmp_path):
    """A kernel that computes one image is not given two in a model imported whole."""
    weight = np.ones((2, 1, 3, 3), np.float32)
    path = _onnx_file(
        tmp_path / "conv.onnx",
        [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("ReduceSum", ["c", "axis0"], ["y"])],
        [2, 1, 5, 5], [("w", weight), ("axis0", np.int64([0]))], output_rank=4,
    )  # fmt: skip
    with pytest.raises(ImportError_, match=r"imported whole .* conv2d of a tensor \[2, 1, 5, 5\]"):
        import_onnx(path)


# torch.export and TorchScript


class AcrossDim0(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(4, 5))

    def forward(self, x):
        total = x.sum(0, keepdim=True)
        mixed = torch.cat([x[1:] - x[:1], total], 0) @ self.weight
        return torch.sigmoid(mixed).flatten()


class Rank1(torch.nn.Module):
    def forward(self, x):
        return torch.relu(x.view(2, -1) - x[0])


@pytest.mark.parametrize("make, shape", [(AcrossDim0, (3, 4)), (Rank1, (6,))])
def test_static_torch_export_across_dim0_is_imported_whole(make, shape):
    torch.manual_seed(0)
    model, x = make().eval(), torch.from_numpy(_input(shape))
    imported = import_exported(torch.export.export(model, (x,)))
    assert imported.whole is not None
    with torch.no_grad():
        expected = model(x).numpy()
    actual = _interpreted(imported, x.numpy())
    assert actual.shape == expected.shape
    assert_matches_torch(actual[None], expected[None])


def test_traced_torchscript_with_fixed_batch_is_imported_whole(tmp_path):
    torch.manual_seed(1)
    model, x = AcrossDim0().eval(), torch.from_numpy(_input((3, 4)))
    save_with_shape(torch.jit.trace(model, x), tmp_path / "fixed.pt", (4,), batch=3)
    imported = import_torchscript(tmp_path / "fixed.pt")
    assert "aten::sum over the batch dimension" in imported.whole
    with torch.no_grad():
        expected = model(x).numpy()
    assert_matches_torch(_interpreted(imported, x.numpy())[None], expected[None])


def test_torchscript_without_fixed_batch_stays_refused(tmp_path):
    save_with_shape(torch.jit.script(AcrossDim0().eval()), tmp_path / "dynamic.pt", (4,))
    with pytest.raises(ImportError_, match="aten::sum over the batch dimension"):
        import_torchscript(tmp_path / "dynamic.pt")


def test_torch_export_that_follows_its_batch_still_imports_per_sample():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()).eval()
    imported = import_exported(torch.export.export(model, (torch.rand(2, 4),)))
    assert imported.whole is None
    assert shape_of(entry_function(imported.module).body.block.args[0]) == (1, 4)


def test_whole_import_survives_the_import_cache(across_onnx, tmp_path, monkeypatch):
    """The mode is in the IR: a cached import is whole too."""
    monkeypatch.setenv("MNISTC_CACHE_DIR", str(tmp_path))
    first, second = (Compilation.import_file(across_onnx) for _ in range(2))
    assert "mnistc.imported_whole" in first.stages["nn"] and first.stages["nn"] == second.stages["nn"]


def test_verify_runs_a_whole_torchscript_model_on_its_input_shape(tmp_path, session_kernels):
    """A rank-1 traced model saved with its fixed batch: `mnistc verify` compares whole
    inputs with PyTorch."""
    from mnistc.verify import verify_model

    save_with_shape(torch.jit.trace(Rank1().eval(), torch.rand(6)), tmp_path / "rank1.pt", (), batch=6)
    report = verify_model(tmp_path / "rank1.pt", batches=2)
    assert report.passed and [c.samples for c in report.comparisons] == [1, 1]


def test_bench_refuses_a_whole_model_saying_why(across_onnx):
    from mnistc.bench import run_bench

    with pytest.raises(MnistcError, match=r"imported whole .*ReduceSum.*bench measures batches"):
        run_bench(across_onnx, configs="b1-t1", log=lambda *_: None)


def test_fixed_shape_onnx_attention_with_its_sequence_first_is_imported_whole(tmp_path):
    """nn.MultiheadAttention with batch_first=False exported at a fixed shape: its batch
    transposes cannot be followed per sample, and the whole input matches ONNX Runtime."""
    from test_attention import CrossAttention
    from test_decoders import export_onnx

    torch.manual_seed(0)
    path = export_onnx(CrossAttention(batch_first=False).eval(), (5, 16), tmp_path / "mha.onnx")
    imported = import_onnx(path)
    assert "the model's output 'output': Reshape along dimension 0, the batch" in imported.whole
    x = _input((1, 5, 16))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"input": x})[0]
    actual = _interpreted(imported, x)
    assert actual.shape == expected.shape == (5, 1, 16)
    assert_matches_torch(actual, expected)


# several inputs: imported whole when every input's shape is fixed and they share no batch


def _several_onnx(path, inputs: dict[str, list[int]], nodes, outputs: dict[str, int]):
    graph = helper.make_graph(
        nodes, "whole_several",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, dims) for name, dims in inputs.items()],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, [None] * rank) for name, rank in outputs.items()],
    )  # fmt: skip
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


SEVERAL = {
    # different first dimensions, ONNX's `mm`: [2, 3] @ [3, 4], and b alone
    "mm": (
        {"a": [2, 3], "b": [3, 4]},
        [helper.make_node("MatMul", ["a", "b"], ["y"]), helper.make_node("Tanh", ["b"], ["t"])],
        {"y": 2, "t": 2},
        "the inputs' first dimensions differ ('a': 2, 'b': 3)",
    ),
    # a rank-1 input: a bias added to every row
    "bias": (
        {"x": [2, 4], "bias": [4]},
        [helper.make_node("Add", ["x", "bias"], ["s"]), helper.make_node("Relu", ["s"], ["y"])],
        {"y": 2},
        "a rank-1 input ('bias')",
    ),
}


@pytest.fixture(scope="module", params=sorted(SEVERAL))
def several(request, tmp_path_factory, session_kernels):
    """A fixed-shape ONNX model of several inputs, its random inputs and ONNX Runtime's
    outputs, compiled as a library and as an executable."""
    from mnistc.runtime import CompiledModel

    inputs, nodes, outputs, reason = SEVERAL[request.param]
    directory = tmp_path_factory.mktemp(request.param)
    path = _several_onnx(directory / "m.onnx", inputs, nodes, outputs)
    arrays = {name: _input(dims, seed=i) for i, (name, dims) in enumerate(inputs.items())}
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, arrays)
    compile_model(path, directory / "libm.so", CompileOptions(shared=True))
    compile_model(path, directory / "m", CompileOptions())
    return path, arrays, expected, reason, CompiledModel(directory / "libm.so"), directory / "m"


def test_several_fixed_onnx_inputs_without_a_shared_batch_are_imported_whole(several):
    path, arrays, expected, reason, _, _ = several
    imported = import_onnx(path)
    assert imported.whole.startswith(reason)
    arguments = entry_function(imported.module).body.block.args
    assert [shape_of(a) for a in arguments] == [(1, *a.shape) for a in arrays.values()]
    actual = _interpreted_n(imported, *arrays.values())
    for ours, theirs in zip(actual, expected, strict=True):
        assert ours.shape == (1, *theirs.shape)
        assert_matches_torch(ours[0], theirs)


def test_several_whole_inputs_through_the_library(several):
    """Each input exactly its fixed shape (or [1, *shape]), by position or by name; a
    batch of two of any input is refused, naming it."""
    _, arrays, expected, reason, model, _ = several
    assert model.imported_whole.startswith(reason)
    assert model.input_shapes == [a.shape for a in arrays.values()]
    by_position = model(*arrays.values())
    by_name = model(**{name: a[None] for name, a in reversed(arrays.items())})
    for outputs in (by_position, by_name):  # one output: its [1, outputs] array
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        for ours, theirs in zip(outputs, expected, strict=True):
            assert ours.shape[0] == 1 and ours.size == theirs.size
            assert_matches_torch(ours.reshape(theirs.shape), theirs)
    # the C ABI itself runs one whole input of each, and fails for a batch of two
    twice = [np.ascontiguousarray(np.stack([a, a])) for a in arrays.values()]
    buffers = [np.zeros((2, *shape), np.float32) for shape in model.output_shapes]
    assert model._run(twice, buffers, 2) == 1 and model._run(twice, buffers, 1) == 0
    name, last = list(arrays.items())[-1]
    doubled = [*list(arrays.values())[:-1], np.stack([last, last])]
    with pytest.raises(MnistcError, match=rf"input '{name}' of shape .* takes exactly one \[{', '.join(map(str, last.shape))}\]"):
        model(*doubled)


def test_several_whole_inputs_through_the_executable(several, tmp_path):
    """One file per input, each exactly its fixed shape; a wrong size of the last input
    is one error naming that input's own shape, and no output is written."""
    _, arrays, expected, _, _, exe = several
    info = json.loads(subprocess.run([str(exe), "--info"], capture_output=True, text=True, check=True).stdout)
    assert info["imported_whole"] is True
    assert [tuple(i["shape"]) for i in info["inputs"]] == [a.shape for a in arrays.values()]
    files = []
    for name, array in arrays.items():
        array.tofile(tmp_path / f"{name}.bin")
        files.append(str(tmp_path / f"{name}.bin"))
    outputs = [str(tmp_path / f"out{j}.bin") for j in range(len(expected))]
    subprocess.run([str(exe), *files, *outputs], check=True, capture_output=True)
    for out, theirs in zip(outputs, expected, strict=True):
        assert_matches_torch(np.fromfile(out, np.float32).reshape(theirs.shape), theirs)
    name, last = list(arrays.items())[-1]
    np.concatenate([last.ravel(), last.ravel()]).tofile(files[-1])
    for out in outputs:
        Path(out).unlink()
    run = subprocess.run([str(exe), *files, *outputs], capture_output=True, text=True)
    shape = "x".join(map(str, last.shape))
    assert run.returncode == 1 and run.stderr.count("\n") == 1, run.stderr
    assert f"input '{name}'" in run.stderr and f"takes exactly one {shape} tensor (float32 = {last.nbytes} bytes)" in run.stderr
    assert not any(Path(out).exists() for out in outputs)


class MatmulAndBias(torch.nn.Module):
    """[2, 3] @ [3, 4] + a rank-1 bias, and a sum over the rows of the second input."""

    def forward(self, a, b, bias):
        return a @ b + bias, b.sum(0)


def test_several_fixed_inputs_through_torch_export(tmp_path, session_kernels):
    """The same through torch.export: imported whole, compiled as a library against
    PyTorch, and `mnistc verify` on the saved program (whole inputs of each shape)."""
    from mnistc.runtime import CompiledModel
    from mnistc.verify import verify_model

    model = MatmulAndBias().eval()
    example = tuple(torch.from_numpy(_input(s, seed=i)) for i, s in enumerate([(2, 3), (3, 4), (4,)]))
    program = torch.export.export(model, example)
    assert import_exported(program).whole.startswith("a rank-1 input ('bias')")
    torch.export.save(program, str(tmp_path / "m.pt2"))
    compile_model(tmp_path / "m.pt2", tmp_path / "libm.so", CompileOptions(shared=True))
    with torch.no_grad():
        expected = [o.numpy() for o in model(*example)]
    actual = CompiledModel(tmp_path / "libm.so")(*(x.numpy() for x in example))
    for ours, theirs in zip(actual, expected, strict=True):
        assert_matches_torch(ours[0], theirs)
    report = verify_model(tmp_path / "m.pt2", batches=2)
    assert report.passed and [c.samples for c in report.comparisons] == [1, 1, 1, 1]
    assert all(c.name.startswith(("random input 1 (whole)", "random input 2 (whole)")) for c in report.comparisons)


def test_several_torchscript_inputs_with_a_fixed_batch_are_imported_whole(tmp_path):
    """`save_with_shape(..., batch=3)` of two inputs, one of rank 1: imported whole."""
    model = torch.jit.trace(_SumAndAdd().eval(), (torch.rand(3, 4), torch.rand(3)))
    save_with_shape(model, tmp_path / "m.pt", [(4,), ()], batch=3)
    imported = import_torchscript(tmp_path / "m.pt")
    assert imported.whole.startswith("a rank-1 input ('v')")
    x, v = _input((3, 4)), _input((3,), seed=2)
    (actual,) = _interpreted_n(imported, x, v)
    with torch.no_grad():
        expected = model(torch.from_numpy(x), torch.from_numpy(v)).numpy()
    assert_matches_torch(actual[0], expected)


class _SumAndAdd(torch.nn.Module):
    def forward(self, x, v):
        return x.sum(1) * v


def test_fixed_inputs_only_where_every_shape_is_fixed_and_no_other_sample_was_asked():
    names, dims = ["a", "b"], [[2, 3], [3, 4]]
    assert fixed_inputs(names, dims, None) == [(2, 3), (3, 4)]
    assert fixed_inputs(names, dims, {"b": (4,)}) == [(2, 3), (3, 4)]
    assert fixed_inputs(names, dims, [(3,), (4,)]) == [(2, 3), (3, 4)]
    assert fixed_inputs(names, dims, [(3,), (5,)]) is None  # another sample: per sample
    assert fixed_inputs(names, [[None, 3], [3, 4]], None) is None  # a dynamic batch
    assert fixed_inputs(names, dims, (3,)) is None  # one shape for two inputs: refused per sample
