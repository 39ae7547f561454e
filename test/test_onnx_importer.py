"""The ONNX front end: same IR as TorchScript for the same model, and clear refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import assert_matches_torch
from models import build

from mnistc.driver import Compilation, CompileOptions, compile_model
from mnistc.importers.common import ImportError_
from mnistc.models.mnist_cnn import BUNDLED_MODEL, MnistCNN
from mnistc.verify import run_executable

pytest.importorskip("onnx")


def export_onnx(module, shape, path, batch=1):
    torch.onnx.export(
        module.eval(), (torch.zeros(batch, *shape),), str(path), dynamo=False,
        input_names=["input"], output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
    )  # fmt: skip
    return path


def op_signature(module):
    return [
        (op.name, tuple(str(r.type) for r in op.results))
        for op in module.walk()
        if op.name.startswith("nn.") and op.name != "nn.weight"
    ]


def test_same_ir_as_torchscript(tmp_path):
    """The default model through TorchScript and through ONNX: the same optimised nn IR."""
    model = MnistCNN()
    model.load_state_dict(torch.jit.load(str(BUNDLED_MODEL)).state_dict())
    path = export_onnx(model, (1, 28, 28), tmp_path / "mnist.onnx")
    via_onnx = Compilation.import_file(path)
    via_torchscript = Compilation.import_file(BUNDLED_MODEL)
    via_onnx.run_to("nn")
    via_torchscript.run_to("nn")
    assert op_signature(via_onnx.module) == op_signature(via_torchscript.module)


@pytest.mark.parametrize("name", ["residual", "conv_bn", "depthwise_separable", "lenet"])
def test_onnx_models_match_torch(name, tmp_path):
    model, shape = build(name)
    path = export_onnx(model, shape, tmp_path / f"{name}.onnx", batch=2)
    exe = tmp_path / "model"
    compile_model(path, exe, CompileOptions())
    inputs = np.random.default_rng(0).standard_normal((5, *shape), dtype=np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(inputs)).numpy()
    assert_matches_torch(run_executable(exe, inputs), expected)


def test_unsupported_onnx_ops_are_listed(tmp_path):
    class Odd(torch.nn.Module):
        def forward(self, x):
            return torch.cos(x) + torch.sin(x) * torch.cos(x)

    path = export_onnx(Odd(), (3, 4, 4), tmp_path / "odd.onnx")
    with pytest.raises(ImportError_) as error:
        Compilation.import_file(path)
    message = str(error.value)
    assert message.startswith("unsupported ONNX operators:")
    assert message.count("Cos at") == 1 and message.count("Sin at") == 1
    assert "Mul at" not in message and "Add at" not in message


@pytest.mark.parametrize("content", [b"", b"\x08\x07garbage"])
def test_corrupt_onnx(tmp_path, content):
    (tmp_path / "bad.onnx").write_bytes(content)
    with pytest.raises(ImportError_, match="not a valid ONNX model"):
        Compilation.import_file(tmp_path / "bad.onnx")


def test_verify_an_onnx_model(tmp_path):
    from mnistc.verify import verify_model

    model, shape = build("lenet")
    path = export_onnx(model, shape, tmp_path / "m.onnx", batch=2)
    report = verify_model(path, batches=2)
    assert report.passed and [c.samples for c in report.comparisons] == [1, 7]


def test_verify_an_onnx_model_with_a_fixed_batch(tmp_path):
    """Exported with batch 2 baked in: reshapes carry the 2, the reference runs per sample."""
    from mnistc.verify import verify_model

    model, shape = build("lenet")
    torch.onnx.export(model, (torch.zeros(2, *shape),), str(tmp_path / "m.onnx"), dynamo=False)
    report = verify_model(tmp_path / "m.onnx", batches=2)
    assert report.passed, report.summary()


@pytest.mark.parametrize("size", [3, 5])
def test_onnx_lrn_matches_the_reference(tmp_path, size):
    """LRN comes from ONNX only (PyTorch's is not one aten op): a small graph through the
    whole pipeline, so that the default run covers nn.lrn end to end without the slow
    whole-network conformance cases (AlexNet, ZFNet)."""
    import onnx
    from onnx import TensorProto, helper

    from mnistc.verify import onnx_reference

    graph = helper.make_graph(
        [helper.make_node("LRN", ["x"], ["y"], size=size, alpha=1e-2, beta=0.75, bias=2.0)],
        "lrn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 7, 5, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 7, 5, 4])],
    )
    path = tmp_path / "lrn.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    compile_model(path, tmp_path / "lrn", CompileOptions())
    inputs = 3 * np.random.default_rng(size).standard_normal((3, 7, 5, 4), dtype=np.float32)
    reference, _ = onnx_reference(path)
    assert_matches_torch(run_executable(tmp_path / "lrn", inputs), reference(inputs))


def test_a_product_summing_over_the_batch_is_refused_naming_it(tmp_path):
    """x[:, :1] @ x contracts x's first dimension, the batch (a valid graph at batch 1
    only): one sample's product [1, 1] @ [1, 4] would look per sample, so it is refused
    at the MatMul rather than compiled to sum nothing."""
    import onnx
    from onnx import TensorProto, helper

    constant = lambda name, values: helper.make_tensor(name, TensorProto.INT64, [1], values)  # noqa: E731
    graph = helper.make_graph(
        [helper.make_node("Slice", ["x", "zero", "one", "one"], ["first"]),
         helper.make_node("MatMul", ["first", "x"], ["y"])],
        "gram",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])],
        [constant("zero", [0]), constant("one", [1])],
    )  # fmt: skip
    path = tmp_path / "contracted.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    with pytest.raises(ImportError_, match=r"MatMul .*\(MatMul along dimension 0, the batch"):
        Compilation.import_file(path)
