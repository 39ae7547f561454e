"""A tiny model in each front end's format, and the ways a file of it gets damaged."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

SAMPLE_SHAPE = (1, 6, 6)


class TinyNet(nn.Module):
    """conv → relu → flatten → linear: one weight and one bias in each of two layers."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))


def tiny_net() -> TinyNet:
    torch.manual_seed(0)
    return TinyNet().eval()


def save_torchscript(path: Path) -> Path:
    torch.jit.save(torch.jit.script(tiny_net()), str(path))
    return path


def save_exported(path: Path) -> Path:
    program = torch.export.export(tiny_net(), (torch.zeros(1, *SAMPLE_SHAPE),))
    torch.export.save(program, str(path))
    return path


def tiny_onnx():
    """The same network as an ONNX ModelProto, built directly (no exporter)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = tiny_net()
    weights = {
        name: numpy_helper.from_array(p.detach().numpy(), name)
        for name, p in model.state_dict().items()
    }
    nodes = [
        helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["c"], name="conv",
                         strides=[1, 1], dilations=[1, 1], pads=[0, 0, 0, 0], group=1,
                         kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Flatten", ["r"], ["f"], name="flatten", axis=1),
        helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["output"], name="fc", transB=1),
    ]  # fmt: skip
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, *SAMPLE_SHAPE])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3])],
        initializer=list(weights.values()),
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def save_onnx(path: Path, model=None) -> Path:
    import onnx

    onnx.save(model if model is not None else tiny_onnx(), str(path))
    return path


def rewrite_zip(
    source: Path, target: Path, change: Callable[[str, bytes], bytes | None]
) -> Path:
    """Copy a zip archive, passing each entry (name inside the archive's top folder,
    content) through `change`; None drops the entry."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = change(info.filename.split("/", 1)[-1], old.read(info.filename))
            if data is not None:
                new.writestr(info, data)
    return target


def replace_entry(source: Path, target: Path, entry: str, data: bytes) -> Path:
    """A copy of the archive with one entry's content replaced."""
    return rewrite_zip(source, target, lambda name, old: data if name == entry else old)


def entry_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return [n.split("/", 1)[-1] for n in archive.namelist()]


def flip_bytes(data: bytes, rng: np.random.Generator, count: int) -> bytes:
    damaged = bytearray(data)
    for _ in range(count):
        if damaged:
            damaged[int(rng.integers(len(damaged)))] ^= int(rng.integers(1, 256))
    return bytes(damaged)
