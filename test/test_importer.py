"""The TorchScript importer: IR structure, shape folding, and refusals with clear messages."""

from __future__ import annotations

import pytest
import torch
from conftest import save_scripted, save_traced
from mnistc.dialects import nn as nn_dialect
from models import build
from torch import nn

from mnistc.importers.torchscript import ImportError_, import_torchscript


def op_names(module) -> list[str]:
    return [op.name for op in module.walk() if op.name.startswith("nn.") and op.name != "nn.weight"]


@pytest.mark.parametrize("form", ["scripted", "traced"])
def test_mnist_cnn_imports_faithfully(form, tmp_path):
    model, shape = build("mnist_cnn")
    path = tmp_path / "m.pt"
    if form == "scripted":
        save_scripted(model, path)
    else:
        save_traced(model, torch.rand(1, *shape), path)
    imported = import_torchscript(path, shape)
    assert op_names(imported.module) == [
        "nn.conv2d", "nn.relu", "nn.conv2d", "nn.relu", "nn.max_pool2d",
        "nn.dropout", "nn.reshape", "nn.linear", "nn.relu", "nn.dropout",
        "nn.linear", "nn.log_softmax",
    ]  # fmt: skip
    weights = [op for op in imported.module.walk() if isinstance(op, nn_dialect.WeightOp)]
    assert {w.key.data for w in weights} == {
        f"{layer}.{kind}" for layer in ("conv1", "conv2", "fc1", "fc2") for kind in ("weight", "bias")
    }
    # Every weight lies inside the side file, which holds exactly the parameters.
    parameters = sum(p.numel() for p in model.parameters())
    assert len(imported.weights) >= 4 * parameters
    for w in weights:
        size = 4 * w.result.type.element_count()
        assert w.offset.value.data + size <= len(imported.weights)
    assert "dense" not in str(imported.module)


def test_weights_bytes_are_the_parameters(tmp_path):
    model, shape = build("mnist_cnn")
    imported = import_torchscript(save_scripted(model, tmp_path / "m.pt"), shape)
    import numpy as np

    by_key = {op.key.data: op for op in imported.module.walk() if isinstance(op, nn_dialect.WeightOp)}
    for name, parameter in model.named_parameters():
        op = by_key[name]
        stored = imported.weights.read(op.offset.value.data, tuple(parameter.shape))
        np.testing.assert_array_equal(stored, parameter.detach().numpy())


class ShapeArithmetic(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 3)

    def forward(self, x):
        n = x.size(0)
        c, h, w = x.shape[1], x.shape[2], x.shape[3]
        x = x.view(n, c * h * w // 2, -1).reshape(-1, 12)
        return self.fc(x.view(x.size(0), -1))


@pytest.mark.parametrize("form", ["scripted", "traced"])
def test_shape_arithmetic_is_folded(form, tmp_path):
    model = ShapeArithmetic().eval()
    path = tmp_path / "s.pt"
    if form == "scripted":
        save_scripted(model, path)
    else:
        save_traced(model, torch.rand(1, 3, 2, 2), path)
    module = import_torchscript(path, (3, 2, 2)).module
    # view(1, 6, -1), then reshape(-1, 12); the last view is the identity and vanishes.
    reshapes = [op for op in module.walk() if isinstance(op, nn_dialect.ReshapeOp)]
    assert [nn_dialect.shape_of(r.output) for r in reshapes] == [(1, 6, 2), (1, 12)]
    assert op_names(module) == ["nn.reshape", "nn.reshape", "nn.linear"]
    assert "aten" not in str(module)


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.norm = nn.LogSigmoid()

    def forward(self, x):
        x = torch.cos(self.norm(self.conv(x)))
        return torch.sin(x) * torch.sin(x) + torch.relu(x)


@pytest.mark.parametrize("form", ["scripted", "traced"])
def test_unsupported_ops_listed_once_with_location(form, tmp_path):
    path = tmp_path / "u.pt"
    if form == "scripted":
        save_scripted(Unsupported(), path)
    else:
        save_traced(Unsupported(), torch.rand(1, 1, 8, 8), path)
    with pytest.raises(ImportError_) as error:
        import_torchscript(path, (1, 8, 8))
    message = str(error.value)
    for op in ("aten::log_sigmoid", "aten::cos", "aten::sin"):
        assert message.count(op + " at") == 1, message
    assert "aten::mul at" not in message and "aten::relu at" not in message
    assert "module norm (LogSigmoid)" in message
    assert "test_importer.py:" in message
    assert "supported: " in message and "aten::conv2d" in message


def test_training_mode_is_refused(tmp_path):
    model = Unsupported().train()
    path = tmp_path / "t.pt"
    torch.jit.save(torch.jit.script(model), str(path))
    with pytest.raises(ImportError_, match="training mode"):
        import_torchscript(path)


@pytest.mark.parametrize(
    "content,expected",
    [
        (b"", "not a readable TorchScript file"),
        (b"not a model at all", "not a readable TorchScript file"),
        (None, "not a readable TorchScript file"),  # truncated archive
    ],
)
def test_corrupt_files_are_refused(content, expected, tmp_path):
    path = tmp_path / "bad.pt"
    if content is None:
        model, _ = build("mnist_cnn")
        save_scripted(model, tmp_path / "good.pt")
        content = (tmp_path / "good.pt").read_bytes()[:5000]
    path.write_bytes(content)
    with pytest.raises(ImportError_, match=expected):
        import_torchscript(path)


def test_state_dict_is_not_torchscript(tmp_path):
    model, _ = build("mnist_cnn")
    torch.save(model.state_dict(), tmp_path / "state.pt")
    with pytest.raises(ImportError_, match="not a readable TorchScript file"):
        import_torchscript(tmp_path / "state.pt")


def test_missing_file(tmp_path):
    with pytest.raises(ImportError_, match="no such file"):
        import_torchscript(tmp_path / "absent.pt")


def test_wrong_input_shape_names_the_flag(tmp_path):
    model, _ = build("mnist_cnn")
    path = save_scripted(model, tmp_path / "m.pt")
    with pytest.raises(ImportError_, match="input-shape") as error:
        import_torchscript(path, (3, 28, 28))
    assert "weight expects 1 input channels, input has 3" in str(error.value)
