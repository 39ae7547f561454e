"""Mobile networks' element-wise chains (issue 11): hardsigmoid through the three front
ends, NaN and infinity included; ONNX HardSigmoid's own alpha and beta against ONNX
Runtime; and a MobileNetV3-like model (test/models.py) whose activations all fuse, whose
squeeze-excite convolutions run on the GEMV and whose channel scale is one pass of rows,
compiled from TorchScript, torch.export and ONNX."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import assert_matches_torch
from models import build
from test_nan_propagation import assert_propagates
from test_onnx_importer import export_onnx

from mnistc.driver import Compilation, CompileOptions, compile_model
from mnistc.verify import run_executable

onnx = pytest.importorskip("onnx")

FRONT_ENDS = ("torchscript", "export", "onnx")


def save(model: torch.nn.Module, shape: tuple[int, ...], front_end: str, directory) -> str:
    """The model file that each front end reads, with the batch dimension dynamic."""
    example = torch.zeros(2, *shape)
    if front_end == "torchscript":
        path = directory / "model.pt"
        from mnistc.importers.torchscript import save_with_shape

        with torch.no_grad():
            save_with_shape(torch.jit.trace(model, (example,)), path, shape)
    elif front_end == "export":
        path = directory / "model.pt2"
        batch = torch.export.Dim("batch", min=1)
        program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
        torch.export.save(program, str(path))
    else:
        path = export_onnx(model, shape, directory / "model.onnx", batch=2)
    return path


def compiled(model, shape, front_end, directory):
    """The executable and the optimised `nn` and `loops` IR of `model` through `front_end`."""
    compilation = Compilation.import_file(save(model, shape, front_end, directory))
    compile_model(compilation, directory / "model", CompileOptions())
    return directory / "model", compilation.stages["nn-optimised"], compilation.stages["loops"]


# hardsigmoid, standalone and fused, with NaN and infinities


class Hardsigmoids(torch.nn.Module):
    """hardsigmoid standalone (of the input: each special value reaches it) and fused
    into a convolution's epilogue."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 1)

    def forward(self, x):
        return F.hardsigmoid(x) + F.hardsigmoid(self.conv(x))


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_hardsigmoid_matches_torch_with_special_values(front_end, tmp_path):
    torch.manual_seed(0)
    model = Hardsigmoids().eval()
    shape = (3, 4, 5)
    executable, nn_ir, _ = compiled(model, shape, front_end, tmp_path)
    assert "nn.hardsigmoid" in nn_ir and 'activation "hardsigmoid"' in nn_ir
    inputs = np.random.default_rng(0).standard_normal((4, *shape), dtype=np.float32) * 4
    inputs[1, 0, 1, 2], inputs[1, 1, 2, 3], inputs[2, 2, 0, 0] = np.nan, np.inf, -np.inf
    inputs[3] = np.array([np.nan, np.inf, -np.inf, 3.0, -3.0], dtype=np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(inputs)).numpy()
    assert_propagates(run_executable(executable, inputs).reshape(expected.shape), expected)


def hardsigmoid_graph(path, alpha: float, beta: float, conv_alpha: float, conv_beta: float):
    """x -> HardSigmoid(alpha, beta) -> Conv 1x1 -> HardSigmoid(conv_alpha, conv_beta),
    written with onnx.helper (PyTorch exports only its own 1/6, 1/2)."""
    from onnx import TensorProto, helper, numpy_helper

    weight = np.random.default_rng(1).standard_normal((2, 3, 1, 1)).astype(np.float32)
    nodes = [
        helper.make_node("HardSigmoid", ["x"], ["h"], alpha=alpha, beta=beta),
        helper.make_node("Conv", ["h", "w"], ["c"]),
        helper.make_node("HardSigmoid", ["c"], ["y"], alpha=conv_alpha, beta=conv_beta),
    ]
    graph = helper.make_graph(
        nodes, "hardsigmoid",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 4, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2, 4, 5])],
        [numpy_helper.from_array(weight, "w")],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize(
    "alpha,beta,conv_alpha,conv_beta",
    [(0.3, 0.4, 0.7, 0.1), (0.2, 0.5, -0.5, 0.9)],  # the second: ONNX's defaults, then a negative slope
)
def test_onnx_hardsigmoid_alpha_beta_match_onnxruntime(alpha, beta, conv_alpha, conv_beta, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    path = hardsigmoid_graph(tmp_path / "h.onnx", alpha, beta, conv_alpha, conv_beta)
    compile_model(path, tmp_path / "h", CompileOptions())
    inputs = np.random.default_rng(0).standard_normal((3, 3, 4, 5), dtype=np.float32) * 4
    inputs[0, 0, 0, :2] = np.inf, -np.inf
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (expected,) = session.run(None, {"x": inputs})
    assert_matches_torch(run_executable(tmp_path / "h", inputs), expected)


# A MobileNetV3-like network through the three front ends


@pytest.fixture(scope="module", params=FRONT_ENDS)
def mobile(request, tmp_path_factory):
    model, shape = build("mobile_v3_like")
    directory = tmp_path_factory.mktemp(request.param)
    return model, shape, *compiled(model, shape, request.param, directory)


@pytest.mark.parametrize("batch", [1, 3])
def test_mobile_v3_like_matches_torch(mobile, batch):
    model, shape, executable, _, _ = mobile
    inputs = np.random.default_rng(batch).standard_normal((batch, *shape), dtype=np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(inputs)).numpy()
    assert_matches_torch(run_executable(executable, inputs), expected)


def test_mobile_v3_like_activations_all_fuse(mobile):
    """hardswish, hardsigmoid, relu, sigmoid and SiLU (x * sigmoid(x) from ONNX and
    TorchScript alike) all live in a convolution or linear epilogue: no activation op and
    no `activation` kernel call is left."""
    _, _, _, nn_ir, loops = mobile
    standalone = re.findall(r"= nn\.(relu|sigmoid|silu|hardswish|hardsigmoid|hardtanh)\b", nn_ir)
    assert standalone == []
    fused = re.findall(r'activation "(\w+)"', nn_ir)
    assert sorted(set(fused)) == ["hardsigmoid", "hardswish", "relu", "sigmoid", "silu"]
    assert "@activation(" not in loops


def test_mobile_v3_like_squeeze_excite_runs_on_the_gemv_and_vector_rows(mobile):
    """The four squeeze-excite 1x1 convolutions on 1x1 maps are GEMV calls (plus the two
    linear layers); each channel scale is one binary call over [C, H*W] rows."""
    _, _, _, _, loops = mobile
    gemvs = re.findall(r"cpu\.call @linear\(.*params\(M = 1, IN = (\d+), OUT = (\d+)", loops)
    assert sorted(gemvs) == sorted([("13", "5"), ("5", "13"), ("24", "6"), ("6", "24"), ("32", "20"), ("20", "10")])
    scales = re.findall(r"cpu\.call @binary\(.*params\(op = 1, (.*?)\)", loops)
    assert scales == [
        "d0 = 1, d1 = 1, d2 = 13, d3 = 72, l0 = 0, l1 = 0, l2 = 1, l3 = 0, r0 = 0, r1 = 0, r2 = 72, r3 = 1, activation = 0, alpha = 0.0, beta = 0.0",
        "d0 = 1, d1 = 1, d2 = 24, d3 = 20, l0 = 0, l1 = 0, l2 = 1, l3 = 0, r0 = 0, r1 = 0, r2 = 20, r3 = 1, activation = 0, alpha = 0.0, beta = 0.0",
    ]
