"""The torch.export front end: files (.pt2), the mnistc.compile API, same IR as the others."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import assert_matches_torch
from models import MODELS, build
from test_pipeline import code_of

import mnistc
from mnistc.driver import Compilation, CompileOptions, compile_model
from mnistc.importers import import_model
from mnistc.importers.common import ImportError_
from mnistc.importers.torch_export import import_exported
from mnistc.models.mnist_cnn import BUNDLED_MODEL, MnistCNN
from mnistc.verify import run_executable


def trained_mnist() -> MnistCNN:
    model = MnistCNN()
    model.load_state_dict(torch.jit.load(str(BUNDLED_MODEL)).state_dict())
    return model.eval()


EXPORT_DIFFERS = {"activation_zoo", "math", "mlp_mixer", "tiny_vit"}
"""The models whose exported program imports to other `nn` IR than their scripted one
(other forms of an activation or a broadcast, attention converted whole); every other
model exports to the same IR and weights, byte for byte (checked below), so its scripted
compile in test_pipeline is also its exported one."""


@pytest.mark.parametrize("name", sorted(EXPORT_DIFFERS))
def test_exported_models_match_torch(name, tmp_path):
    model, shape = build(name)
    program = torch.export.export(model, (torch.rand(1, *shape),))
    exe = tmp_path / "model"
    compile_model(Compilation.from_imported(import_exported(program)), exe, CompileOptions())
    for batch in (7, 3, 1):
        inputs = np.random.default_rng(batch).standard_normal((batch, *shape), dtype=np.float32)
        with torch.no_grad():
            expected = model(torch.from_numpy(inputs)).numpy()
        assert_matches_torch(run_executable(exe, inputs), expected)


def test_exported_models_import_as_scripted(saved_model):
    """torch.export instead of TorchScript changes no model's `nn` IR (but for its source
    locations) or weights, except in EXPORT_DIFFERS, which are compiled exported above."""
    for name in sorted(MODELS):
        model, shape = build(name)
        scripted = import_model(*saved_model(name))
        exported = import_exported(torch.export.export(model, (torch.rand(1, *shape),)))
        same = code_of(scripted.module) == code_of(exported.module)
        same = same and scripted.weights.data() == exported.weights.data()
        if name in EXPORT_DIFFERS:
            assert not same, f"{name} no longer differs"
        else:
            assert same, f"{name}: the exported import differs from the scripted one"


def test_saved_program_and_compile_api(tmp_path):
    model = trained_mnist()
    torch.export.save(torch.export.export(model, (torch.rand(1, 1, 28, 28),)), str(tmp_path / "m.pt2"))
    compile_model(tmp_path / "m.pt2", tmp_path / "exe", CompileOptions())
    inputs = np.random.default_rng(1).random((4, 1, 28, 28), dtype=np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(inputs)).numpy()
    assert_matches_torch(run_executable(tmp_path / "exe", inputs), expected)
    compiled = mnistc.compile(model, torch.from_numpy(inputs))
    assert_matches_torch(compiled(inputs), expected)


def test_three_front_ends_give_the_same_ir(tmp_path):
    """TorchScript, torch.export and ONNX: the same optimised nn IR for the default model."""
    onnx = pytest.importorskip("onnx")
    del onnx
    model = trained_mnist()
    torch.onnx.export(
        model, (torch.zeros(1, 1, 28, 28),), str(tmp_path / "m.onnx"), dynamo=False,
        input_names=["input"], output_names=["output"], dynamic_axes={"input": {0: "n"}},
    )  # fmt: skip
    program = torch.export.export(model, (torch.rand(1, 1, 28, 28),))
    compilations = [
        Compilation.import_file(BUNDLED_MODEL),
        Compilation.import_file(tmp_path / "m.onnx"),
        Compilation.from_imported(import_exported(program)),
    ]
    signatures = []
    for compilation in compilations:
        compilation.run_to("nn")
        signatures.append([
            (op.name, tuple(str(r.type) for r in op.results), tuple(sorted(op.properties)))
            for op in compilation.module.walk() if op.name.startswith("nn.") and op.name != "nn.weight"
        ])  # fmt: skip
    assert signatures[0] == signatures[1] == signatures[2]
    assert [name for name, *_ in signatures[0]] == [
        "nn.conv2d", "nn.conv2d", "nn.max_pool2d", "nn.reshape", "nn.linear", "nn.linear",
        "nn.log_softmax",
    ]  # fmt: skip


def test_not_an_exported_program(tmp_path):
    (tmp_path / "bad.pt2").write_bytes(b"nope")
    with pytest.raises(ImportError_, match="not a torch.export file"):
        Compilation.import_file(tmp_path / "bad.pt2")


def test_unsupported_aten_ops_are_listed(tmp_path):
    class Odd(torch.nn.Module):
        def forward(self, x):
            return torch.cos(x).flatten(1)

    program = torch.export.export(Odd(), (torch.rand(1, 2, 3, 3),))
    with pytest.raises(ImportError_, match="aten::cos at .*test_torch_export.py"):
        import_exported(program)


def test_verify_an_exported_program(tmp_path):
    from mnistc.verify import verify_model

    model, shape = build("residual")
    torch.export.save(torch.export.export(model, (torch.rand(1, *shape),)), str(tmp_path / "r.pt2"))
    report = verify_model(tmp_path / "r.pt2", batches=2)
    assert report.passed and [c.samples for c in report.comparisons] == [1, 7]
