"""The shape ops of every front end against their framework: each PyTorch op through
TorchScript and torch.export, each ONNX op against ONNX Runtime, run by the reference
interpreter at batches 1 and 3 (fast, no g++); one model of them all compiled per front
end; the refusal of ops that mix the samples of a batch. The kernel itself is checked
against the reference interpreter in test_kernels.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import assert_matches_torch, run_executable

from mnistc.driver import Compilation, CompileOptions, compile_model
from mnistc.importers.common import ImportError_
from mnistc.importers.torch_export import import_exported
from mnistc.importers.torchscript import import_torchscript
from mnistc.interpreters.nn import run_batch

TORCH_CASES = {
    "transpose": (lambda x: x.transpose(1, -1) * 2, (3, 4, 5)),
    "t_of_weight": (lambda x: x @ torch.arange(12.0).reshape(3, 4).t(), (4,)),
    "permute": (lambda x: x.permute(0, 3, 1, 2).contiguous(), (3, 4, 5)),
    "channel_shuffle_view": (
        lambda x: x.view(x.size(0), 3, 2, 3, 5).transpose(1, 2).reshape(x.size(0), 6, 3, 5),
        (6, 3, 5),
    ),
    "channel_shuffle": (torch.nn.ChannelShuffle(3), (6, 3, 5)),
    "pixel_shuffle": (lambda x: F.pixel_shuffle(x, 2), (8, 3, 5)),
    "pixel_unshuffle": (lambda x: F.pixel_unshuffle(x, 2), (3, 6, 4)),
    "slice_steps": (lambda x: x[:, 1:, ::2, -3:], (5, 7, 6)),
    "flip": (lambda x: x.flip(-1, 1) + x, (3, 1, 5)),
    "movedim": (lambda x: x.movedim((1, -1), (-1, 2)).contiguous(), (3, 4, 5)),
    "narrow_negative": (lambda x: x.narrow(2, -4, 3), (3, 7, 5)),
    "select": (lambda x: x[:, 2] + x.select(-1, -2)[:, 1].unsqueeze(-1), (3, 7, 5)),
    "chunk": (lambda x: torch.cat(x.chunk(3, dim=-2)[::-1], -2), (3, 8, 5)),
    "split_size": (lambda x: torch.cat(x.split(2, dim=1)[::-1], 1), (5, 4, 3)),
    "split_sizes": (lambda x: torch.cat(x.split([1, 3, 1], dim=1)[::-1], 1), (5, 4, 3)),
    "unbind_stack": (lambda x: torch.stack(x.unbind(2)[::-1], dim=-1), (3, 4, 2)),
    "expand": (lambda x: x[:, :1].expand(-1, 4, -1, -1) + x, (4, 3, 5)),
    "expand_as": (lambda x: x + x[:, :, 1:2].expand_as(x), (4, 3, 5)),
    "repeat": (lambda x: x.repeat(1, 2, 1, 3), (3, 4, 5)),
    "unflatten": (lambda x: x.unflatten(1, (2, -1)).transpose(1, 2).flatten(1, 2), (6, 5)),
    "flatten_inner": (lambda x: x.flatten(-2).transpose(1, 2), (3, 4, 5)),
    "squeeze_unsqueeze": (lambda x: x.unsqueeze(-1).transpose(1, 4).squeeze(1), (3, 4, 5)),
    "cat_last": (lambda x: torch.cat([x, x * 2], -1), (3, 4, 5)),
    "stack_middle": (lambda x: torch.stack([x, x * -1, x * 3], 2), (3, 5)),
    "constants": (
        lambda x: (x + torch.zeros(5) + torch.arange(5.0)) * torch.full((4, 1), 2.0) - torch.ones_like(x),
        (3, 4, 5),
    ),
}


class Constants(torch.nn.Module):
    """Constant tensors created in the model, of static sizes (scripted: dtype codes)."""

    def forward(self, x):
        z = torch.zeros(x.size(1), 5) + torch.arange(5, dtype=torch.float32)
        return x * torch.full((1, 5), 2.0) + z - torch.ones_like(x) + x.new_ones(5) * torch.arange(1, 3.5, 0.5)


class IndexSelect(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("index", torch.tensor([3, 0, 1, 2, 4, 4]))

    def forward(self, x):
        return x.index_select(-1, self.index)


TORCH_CASES["index_select"] = (IndexSelect(), (2, 3, 5))
"""name → (the op applied to the batch, one sample's shape): odd sizes, negative dims."""


class Apply(torch.nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def _inputs(shape, batch: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((batch, *shape), dtype=np.float32)


def _import_torch(fn, shape, front_end: str, tmp_path):
    model = Apply(fn).eval()
    example = torch.from_numpy(_inputs(shape, 1, seed=9))
    if front_end == "torchscript":
        path = tmp_path / "m.pt"
        torch.jit.save(torch.jit.trace(model, example), str(path))
        return import_torchscript(path, shape)
    return import_exported(torch.export.export(model, (example,)))


@pytest.mark.parametrize("front_end", ["torchscript", "torch.export"])
@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_torch_op_matches_pytorch(name, front_end, tmp_path):
    fn, shape = TORCH_CASES[name]
    imported = _import_torch(fn, shape, front_end, tmp_path)
    for batch in (1, 3):
        inputs = _inputs(shape, batch)
        with torch.no_grad():
            expected = fn(torch.from_numpy(inputs)).numpy()
        actual = run_batch(imported.module, inputs, imported.weights)
        assert actual.size == expected.size
        assert_matches_torch(actual, expected)


def test_scripted_constant_creation_matches_pytorch(tmp_path):
    model, shape = Constants().eval(), (4, 5)
    path = tmp_path / "constants.pt"
    torch.jit.save(torch.jit.script(model), str(path))
    imported = import_torchscript(path, shape)
    inputs = _inputs(shape, 3)
    with torch.no_grad():
        expected = model(torch.from_numpy(inputs)).numpy()
    assert_matches_torch(run_batch(imported.module, inputs, imported.weights), expected)


@pytest.mark.parametrize(
    "fn, message",
    [
        (lambda x: x.transpose(0, 1), "transposition along dimension 0, the batch"),
        (lambda x: x[1:], "slicing along dimension 0"),
        (lambda x: x[:1], "slicing along dimension 0"),
        (lambda x: x.narrow(0, 0, 1), "slicing along dimension 0"),
        (lambda x: torch.cat([x, x]), "concatenation along dimension 0"),
        (lambda x: x.unsqueeze(0), "unsqueeze along dimension 0"),
        (lambda x: x.repeat(2, 1, 1), "repetition along dimension 0"),
        (lambda x: x.flip(0), "flip along dimension 0"),
        (lambda x: x.movedim(0, -1), "movedim along dimension 0"),
    ],
)
def test_ops_mixing_samples_are_refused(fn, message, tmp_path):
    with pytest.raises(ImportError_, match=message):
        _import_torch(fn, (3, 4), "torchscript", tmp_path)


class ShapeZoo(torch.nn.Module):
    """Most shape ops in one model, compiled (so run on the kernels) per front end."""

    def forward(self, x):
        a, b, c = x.chunk(3, dim=1)
        y = torch.cat([c, F.pixel_shuffle(torch.cat([a, b, a, b], 1), 2)[:, :, ::2, ::2]], 1)
        y = y.view(y.size(0), 2, 3, 5, 4).transpose(1, 2).reshape(y.size(0), 6, 5, 4)
        y = y + y[:, :, 1:2].expand_as(y) + y.narrow(3, 1, 1)
        y = torch.stack(y.unbind(1)[::-1], dim=-1).permute(0, 3, 1, 2)
        return y.repeat(1, 1, 2, 1)[:, 1:, -7:, :]


@pytest.mark.parametrize("front_end", ["torchscript", "torch.export"])
def test_compiled_shape_zoo_matches_pytorch(front_end, tmp_path):
    shape = (9, 5, 4)
    imported = _import_torch(ShapeZoo(), shape, front_end, tmp_path)
    executable = tmp_path / "zoo"
    compile_model(Compilation.from_imported(imported), executable, CompileOptions())
    for batch in (1, 3):
        inputs = _inputs(shape, batch)
        with torch.no_grad():
            expected = ShapeZoo()(torch.from_numpy(inputs)).numpy()
        assert_matches_torch(run_executable(executable, inputs), expected)


# ONNX: each op in a graph of its own, against ONNX Runtime.


def _onnx_model(shape, nodes, output_rank, initializers=(), opset: int = 17):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        nodes,
        "shape_op",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *shape])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None] * output_rank)],
        list(initializers),
    )
    return helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])


def _ints(name: str, values):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def _floats(name: str, values):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(values, dtype=np.float32), name)


def _node(op, inputs, outputs=("y",), **attrs):
    from onnx import helper

    return helper.make_node(op, list(inputs), list(outputs), **attrs)


def onnx_cases():
    """name → (sample shape, nodes, output rank, initializers, opset)."""
    return {
        "Transpose": ((3, 4, 5), [_node("Transpose", ["x"], perm=[0, 3, 1, 2])], 4, [], 17),
        "Slice": (
            (5, 7, 6),
            [_node("Slice", ["x", "s", "e", "a", "t"])],
            4,
            [_ints("s", [1, -1, 0]), _ints("e", [100, -8, -1]), _ints("a", [1, 2, -1]), _ints("t", [2, -2, 2])],
            17,
        ),
        "Slice_opset9": ((5, 7), [_node("Slice", ["x"], starts=[1], ends=[-1], axes=[2])], 3, [], 9),
        "Slice_whole_batch": (
            (5, 7),
            [_node("Slice", ["x", "s", "e", "a"])],
            3,
            [_ints("s", [0, 2]), _ints("e", [2**63 - 1, 4]), _ints("a", [0, 1])],
            17,
        ),
        "Split_sizes": (
            (5, 4),
            [_node("Split", ["x", "sizes"], ["p", "q"], axis=-2), _node("Concat", ["q", "p"], axis=1)],
            3,
            [_ints("sizes", [2, 3])],
            17,
        ),
        "Split_equal": (
            (4, 6),
            [_node("Split", ["x"], ["p", "q", "r"], axis=2), _node("Concat", ["r", "p", "q"], axis=-1)],
            3,
            [],
            17,
        ),
        "Split_num_outputs": (
            (7, 3),
            [_node("Split", ["x"], ["p", "q"], axis=1, num_outputs=2), _node("Concat", ["q", "p"], axis=1)],
            3,
            [],
            18,
        ),
        "Squeeze_Unsqueeze": (
            (1, 4, 1),
            [_node("Squeeze", ["x", "a"], ["s"]), _node("Unsqueeze", ["s", "b"], axes=None)],
            4,
            [_ints("a", [1, -1]), _ints("b", [-1, 2])],
            17,
        ),
        "Squeeze_attribute": ((1, 4, 1), [_node("Squeeze", ["x"], axes=[3])], 3, [], 11),
        "Gather_scalar": ((4, 5), [_node("Gather", ["x", "i"], axis=-1)], 2, [_ints("i", -2)], 17),
        "Gather_indices": ((4, 5), [_node("Gather", ["x", "i"], axis=1)], 4, [_ints("i", [[3, 1], [0, 0]])], 17),
        "Concat": ((2, 3), [_node("Concat", ["x", "x"], axis=-1)], 3, [], 17),
        "Expand": ((4, 1), [_node("Expand", ["x", "shape"])], 3, [_ints("shape", [4, 6])], 17),
        "Tile": ((2, 3), [_node("Tile", ["x", "r"])], 3, [_ints("r", [1, 3, 2])], 17),
        "DepthToSpace_DCR": ((8, 3, 2), [_node("DepthToSpace", ["x"], blocksize=2)], 4, [], 17),
        "DepthToSpace_CRD": ((8, 3, 2), [_node("DepthToSpace", ["x"], blocksize=2, mode="CRD")], 4, [], 17),
        "SpaceToDepth": ((2, 4, 6), [_node("SpaceToDepth", ["x"], blocksize=2)], 4, [], 17),
        "Range_ConstantOfShape": (
            (3, 5),
            [
                _node("Range", ["start", "limit", "delta"], ["r"]),
                _node("ConstantOfShape", ["n"], ["c"], value=_floats("v", [2.5])),
                _node("Add", ["x", "r"], ["s"]),
                _node("Mul", ["s", "c"]),
            ],
            3,
            [_floats("start", 1.0), _floats("limit", 3.5), _floats("delta", 0.5), _ints("n", [3, 1])],
            17,
        ),
    }


def _run_onnx_runtime(model, inputs: np.ndarray) -> np.ndarray:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": inputs})[0]


def _save_onnx(model, tmp_path):
    import onnx

    for node in model.graph.node:  # an attribute left None means "not given"
        kept = [a for a in node.attribute if a.type != onnx.AttributeProto.UNDEFINED]
        del node.attribute[:]
        node.attribute.extend(kept)
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("name", sorted(onnx_cases()))
def test_onnx_op_matches_onnx_runtime(name, tmp_path):
    from mnistc.importers.onnx import import_onnx

    shape, nodes, rank, initializers, opset = onnx_cases()[name]
    model = _onnx_model(shape, nodes, rank, initializers, opset)
    path = _save_onnx(model, tmp_path)
    imported = import_onnx(path)
    for batch in (1, 3):
        inputs = _inputs(shape, batch)
        expected = _run_onnx_runtime(model, inputs)
        actual = run_batch(imported.module, inputs, imported.weights)
        assert actual.size == expected.size
        assert_matches_torch(actual, expected)


@pytest.mark.parametrize(
    "nodes, initializers, message",
    [
        ([_node("Transpose", ["x"], perm=[1, 0, 2])], [], "Transpose along dimension 0, the batch"),
        ([_node("Slice", ["x", "s", "e", "a"])], [_ints("s", [0]), _ints("e", [1]), _ints("a", [0])], "Slice along dimension 0"),
        ([_node("Gather", ["x", "i"])], [_ints("i", 0)], "Gather along dimension 0"),
    ],
)
def test_onnx_ops_on_the_batch_are_refused(nodes, initializers, message, tmp_path):
    from mnistc.importers.onnx import import_onnx

    model = _onnx_model((3, 4), nodes, 3, initializers)
    with pytest.raises(ImportError_, match=message):
        import_onnx(_save_onnx(model, tmp_path))


def test_compiled_onnx_shape_ops_match_onnx_runtime(tmp_path):
    shape = (8, 3, 4)
    nodes = [
        _node("Transpose", ["x"], ["x_t"], perm=[0, 1, 3, 2]),
        _node("Split", ["x_t"], ["p", "q"], axis=1),
        _node("DepthToSpace", ["p"], ["d"], blocksize=2),
        _node("Slice", ["d", "s", "e", "a", "t"], ["sl"]),
        _node("Expand", ["sl", "shape"], ["ex"]),
        _node("Tile", ["q", "r"], ["tl"]),
        _node("Gather", ["tl", "i"], ["g"], axis=2),
        _node("Concat", ["ex", "g"], ["y"], axis=1),
    ]
    initializers = [
        _ints("s", [1, 5]), _ints("e", [7, -100]), _ints("a", [2, 3]), _ints("t", [1, -2]),
        _ints("shape", [1, 3, 6, 3]), _ints("r", [1, 1, 2, 1]), _ints("i", [7, 0, 1, 2, 5, 6]),
    ]  # fmt: skip
    model = _onnx_model(shape, nodes, 4, initializers)
    path = _save_onnx(model, tmp_path)
    executable = tmp_path / "onnx_zoo"
    compile_model(path, executable, CompileOptions())
    for batch in (1, 3):
        inputs = _inputs(shape, batch)
        assert_matches_torch(run_executable(executable, inputs), _run_onnx_runtime(model, inputs))


# ShuffleNetV2 (torchvision, an optional test dependency): channel split, concatenation
# and channel shuffle on run-time tensors in every unit.


def _shufflenet():
    from importlib.util import find_spec

    from mnistc.bench_networks import import_torchvision_models

    if find_spec("torchvision") is None:  # importing it may fail, see the function below
        pytest.skip("torchvision is not installed (the bench extra)")

    torch.manual_seed(0)
    return import_torchvision_models().shufflenet_v2_x0_5().eval()


@pytest.mark.slow  # a torchvision network compiled twice
@pytest.mark.parametrize("front_end", ["torchscript", "torch.export"])
def test_shufflenet_v2_matches_pytorch(front_end, tmp_path):
    model, shape = _shufflenet(), (3, 32, 32)
    example = torch.from_numpy(_inputs(shape, 1, seed=9))
    if front_end == "torchscript":
        path = tmp_path / "shufflenet.pt"
        torch.jit.save(torch.jit.script(model), str(path))
        imported = import_torchscript(path, shape)
    else:
        imported = import_exported(torch.export.export(model, (example,)))
    executable = tmp_path / "shufflenet"
    compile_model(Compilation.from_imported(imported), executable, CompileOptions())
    for batch in (1, 3):
        inputs = _inputs(shape, batch)
        with torch.no_grad():
            expected = model(torch.from_numpy(inputs)).numpy()
        assert_matches_torch(run_executable(executable, inputs), expected)
