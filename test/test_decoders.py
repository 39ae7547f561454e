"""1-D layers and decoders (issue 12): conv1d, the 1-D pools and batch_norm1d (imported as
2-D ops on [N, C, 1, L]), conv_transpose1d/2d, upsample/interpolate, reflection and
replication padding.

Three levels, cheapest first: each kernel through ctypes against PyTorch (odd shapes,
NaN); each op through every front end into the reference interpreter, against PyTorch
(ONNX against ONNX Runtime); compiled executables of a model of every decoder op and of
the target models (keyword spotter, autoencoder, U-Net of test/models.py) through ONNX
(TorchScript and torch.export compile them in test_pipeline.py and test_torch_export.py).
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import assert_matches_torch, save_scripted
from models import build, randomise_batch_norm
from test_kernels import call, kernels  # noqa: F401 (kernels is a fixture)
from test_nan_propagation import assert_propagates
from torch import nn

from mnistc.dialects import nn as nn_dialect
from mnistc.driver import Compilation, CompileOptions, compile_model
from mnistc.importers.aten.resample import pytorch_scale
from mnistc.importers.torch_export import import_exported
from mnistc.interpreters.nn import run_batch
from mnistc.kernels import abi
from mnistc.verify import run_executable

def random(*shape: int, seed: int = 12) -> np.ndarray:
    """Normal values, the same for a test whichever tests ran before it."""
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


def with_nan(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    x[(0,) * (x.ndim - 2) + (x.shape[-2] // 2, x.shape[-1] // 2)] = np.nan
    return x


# Kernels (kernels/conv/transpose.cpp, kernels/resample.cpp, pad2d_edge in kernels/shape.cpp)

TRANSPOSE_CASES = {
    # name: (C, K, H, W, (KH, KW), stride, padding, output_padding, dilation, groups)
    "stride3-outpad1": (3, 5, 4, 6, (3, 3), (3, 3), (1, 1), (1, 1), (1, 1), 1),
    "groups2-odd": (6, 4, 5, 7, (3, 2), (2, 1), (1, 0), (1, 0), (1, 1), 2),
    "dilated": (3, 2, 5, 5, (3, 3), (2, 2), (2, 1), (0, 1), (2, 2), 1),
    "depthwise": (4, 4, 9, 10, (4, 4), (2, 2), (1, 1), (0, 0), (1, 1), 4),
    "one-pixel": (5, 3, 1, 1, (2, 2), (2, 2), (0, 0), (0, 0), (1, 1), 1),
    "wide-rows": (8, 16, 3, 19, (3, 3), (1, 1), (1, 1), (0, 0), (1, 1), 1),
    # On the GEMM core: 300 channels are two KC blocks of the reduction, 20 x 21 inputs
    # two NC blocks of columns, 26 x 2 x 3 = 156 rows two MC blocks and a partial panel.
    "gemm-blocks": (300, 26, 20, 21, (2, 3), (2, 3), (0, 1), (1, 2), (1, 1), 1),
    "pad-past-kernel": (4, 6, 6, 7, (2, 2), (2, 2), (2, 3), (0, 0), (1, 1), 1),
}


def transpose_problem(case):
    c, k, h, w, kernel, stride, padding, output_padding, dilation, groups = case
    x, weight, bias = random(c, h, w, seed=1), random(c, k // groups, *kernel, seed=2), random(k, seed=3)
    params = dict(stride=stride, padding=padding, output_padding=output_padding, dilation=dilation, groups=groups)
    return x, weight, bias, params


def run_transpose_kernel(kernels, x, weight, bias, p, activation=0):  # noqa: F811
    c, h, w = x.shape
    k = weight.shape[1] * p["groups"]
    kh, kw = weight.shape[2:]
    _, _, oh, ow = nn_dialect.conv_transpose2d_output_shape(
        (1, *x.shape), weight.shape, p["groups"], p["stride"], p["padding"], p["output_padding"], p["dilation"]
    )
    out = np.full((k, oh, ow), np.nan, dtype=np.float32)
    call(
        kernels, "conv_transpose2d", [x, weight, bias, out], C=c, H=h, W=w, K=k, OH=oh, OW=ow,
        KH=kh, KW=kw, stride_h=p["stride"][0], stride_w=p["stride"][1], pad_h=p["padding"][0],
        pad_w=p["padding"][1], dilation_h=p["dilation"][0], dilation_w=p["dilation"][1],
        groups=p["groups"], activation=activation, alpha=0.0, beta=0.0,
    )  # fmt: skip
    return out


@pytest.mark.parametrize("case", TRANSPOSE_CASES.values(), ids=TRANSPOSE_CASES)
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no-bias"])
def test_conv_transpose2d_kernel(kernels, case, with_bias):  # noqa: F811
    x, weight, bias, params = transpose_problem(case)
    bias = bias if with_bias else None
    expected = F.conv_transpose2d(
        torch.from_numpy(x[None]), torch.from_numpy(weight), None if bias is None else torch.from_numpy(bias), **params
    )[0]
    actual = run_transpose_kernel(kernels, x, weight, bias, params)
    np.testing.assert_allclose(actual, expected.numpy(), rtol=1e-4, atol=1e-4)


def test_conv_transpose2d_kernel_same_bits_at_one_and_two_threads(kernels):  # noqa: F811
    """The GEMM core shares out columns or weight panels and col2im output channels,
    never a sum: two threads give the bits of one."""
    x, weight, bias, params = transpose_problem(TRANSPOSE_CASES["gemm-blocks"])
    openmp = ctypes.CDLL("libgomp.so.1")
    before = openmp.omp_get_max_threads()
    try:
        outputs = []
        for threads in (1, 2):
            openmp.omp_set_num_threads(threads)
            outputs.append(run_transpose_kernel(kernels, x, weight, bias, params))
    finally:
        openmp.omp_set_num_threads(before)
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_conv_transpose2d_kernel_fuses_relu(kernels):  # noqa: F811
    x, weight, bias, params = transpose_problem(TRANSPOSE_CASES["groups2-odd"])
    expected = F.relu(F.conv_transpose2d(torch.from_numpy(x[None]), torch.from_numpy(weight), torch.from_numpy(bias), **params))[0]
    actual = run_transpose_kernel(kernels, x, weight, bias, params, abi.ACTIVATION_CODES["relu"])
    np.testing.assert_allclose(actual, expected.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", ["stride3-outpad1", "groups2-odd"])
def test_conv_transpose2d_kernel_propagates_nan(kernels, case):  # noqa: F811
    x, weight, bias, params = transpose_problem(TRANSPOSE_CASES[case])
    x = with_nan(x)
    expected = F.conv_transpose2d(torch.from_numpy(x[None]), torch.from_numpy(weight), torch.from_numpy(bias), **params)[0]
    assert np.isnan(expected.numpy()).any()
    assert_propagates(run_transpose_kernel(kernels, x, weight, bias, params), expected)


def torch_resize(x: np.ndarray, **options) -> torch.Tensor:
    return F.interpolate(torch.from_numpy(x[None]), **options)[0]


RESIZE_CASES = {
    # name: (input C, H, W, F.interpolate options)
    "nearest-x2": ((3, 5, 7), dict(scale_factor=2.0, mode="nearest")),
    "nearest-size": ((2, 6, 9), dict(size=(13, 4), mode="nearest")),
    "nearest-x1.7": ((2, 6, 9), dict(scale_factor=(1.7, 0.6), mode="nearest")),
    "nearest-exact": ((2, 5, 6), dict(size=(9, 17), mode="nearest-exact")),
    "bilinear-x2": ((3, 5, 7), dict(scale_factor=2.0, mode="bilinear", align_corners=False)),
    "bilinear-size": ((2, 9, 4), dict(size=(5, 11), mode="bilinear", align_corners=False)),
    "bilinear-corners": ((2, 5, 6), dict(size=(11, 3), mode="bilinear", align_corners=True)),
    "bilinear-to-one": ((2, 4, 5), dict(size=(1, 1), mode="bilinear", align_corners=True)),
    "from-one-pixel": ((3, 1, 1), dict(size=(3, 5), mode="bilinear", align_corners=False)),
}


def resize_params(shape, expected_shape, options) -> dict:
    """The kernel's parameters for F.interpolate's options, as the aten importer derives them."""
    (c, h, w), (oh, ow) = shape, expected_shape[1:]
    mode = options["mode"]
    factors = options.get("scale_factor")
    factors = (factors, factors) if isinstance(factors, float) else factors or (None, None)
    corners = options.get("align_corners") or False
    scale = [pytorch_scale(i, o, f, corners) for i, o, f in zip((h, w), (oh, ow), factors)]
    half = 0.5 if mode == "nearest-exact" or (mode == "bilinear" and not corners) else 0.0
    offset = -0.5 if mode == "bilinear" and not corners else 0.0
    return dict(
        C=c, H=h, W=w, OH=oh, OW=ow, mode=abi.RESIZE_CODES["linear" if mode == "bilinear" else "nearest_floor"], divide=0,
        scale_h=scale[0], scale_w=scale[1], shift_h=half, shift_w=half, offset_h=offset, offset_w=offset,
    )  # fmt: skip


@pytest.mark.parametrize("case", RESIZE_CASES.values(), ids=RESIZE_CASES)
@pytest.mark.parametrize("nan", [False, True], ids=["finite", "nan"])
def test_resize2d_kernel(kernels, case, nan):  # noqa: F811
    shape, options = case
    x = random(*shape)
    x = with_nan(x) if nan else x
    expected = torch_resize(x, **options)
    out = np.full(expected.shape, np.inf, dtype=np.float32)
    call(kernels, "resize2d", [x, out], **resize_params(shape, expected.shape, options))
    assert_propagates(out, expected)


PAD_CASES = [
    ((2, 4, 5), (1, 2, 3, 0)), ((3, 3, 3), (2, 2, 2, 2)), ((1, 1, 6), (0, 5, 0, 1)),
    ((2, 7, 9), (0, 0, 0, 0)),
]  # fmt: skip


@pytest.mark.parametrize("shape, pads", PAD_CASES)
@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize("nan", [False, True], ids=["finite", "nan"])
def test_pad2d_edge_kernel(kernels, shape, pads, mode, nan):  # noqa: F811
    top, left, bottom, right = pads
    if mode == "reflect" and (max(top, bottom) >= shape[1] or max(left, right) >= shape[2]):
        pads = top, left, bottom, right = (min(top, shape[1] - 1), min(left, shape[2] - 1),
                                           min(bottom, shape[1] - 1), min(right, shape[2] - 1))  # fmt: skip
    x = random(*shape)
    x = with_nan(x) if nan else x
    expected = F.pad(torch.from_numpy(x[None]), (left, right, top, bottom), mode=mode)[0]
    out = np.full(expected.shape, np.inf, dtype=np.float32)
    call(kernels, "pad2d_edge", [x, out], C=shape[0], H=shape[1], W=shape[2], top=top, left=left,
         bottom=bottom, right=right, reflect=int(mode == "reflect"))  # fmt: skip
    np.testing.assert_array_equal(out, expected.numpy())


# Each op through TorchScript, torch.export and ONNX into the reference interpreter


class Lambda(nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


class MaxPool1d(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool1d(x, 3, 2, 1, dilation=2, ceil_mode=True)


class AvgPool1d(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)


class AdaptiveAvgPool1d(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool1d(x, 4)


class Interpolate(nn.Module):
    def __init__(self, **options) -> None:
        super().__init__()
        self.options = options

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, **self.options)


class InterpolateBilinear(nn.Module):
    """TorchScript needs the options as constants of the code (not a dict) for bilinear."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=1.5, mode="bilinear", align_corners=False)


class InterpolateCorners(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=(11, 4), mode="bilinear", align_corners=True)


class InterpolateNearest(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=3.0, mode="nearest")


class InterpolateNearestSize(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=(7, 13), mode="nearest")


class InterpolateNearestExact(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=(9, 4), mode="nearest-exact")


class Interpolate1d(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2.0, mode="nearest") + F.interpolate(
            x, scale_factor=2.0, mode="linear", align_corners=False
        )


class Interpolate1dSize(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=13, mode="linear", align_corners=True)


class PadReflect(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, (2, 0, 1, 3), mode="reflect")


class BatchNorm1dFlat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x.flatten(1))


OP_CASES = {
    # name: (module, sample shape)
    "conv1d-stride3": (lambda: nn.Conv1d(4, 6, 3, stride=3, padding=1), (4, 17)),
    "conv1d-same-dilated-groups": (lambda: nn.Conv1d(4, 6, 3, padding="same", dilation=2, groups=2), (4, 13)),
    "conv1d-1x1-no-bias": (lambda: nn.Conv1d(3, 5, 1, bias=False), (3, 1)),
    "max_pool1d": (MaxPool1d, (3, 11)),
    "avg_pool1d": (AvgPool1d, (3, 10)),
    "adaptive_avg_pool1d": (AdaptiveAvgPool1d, (3, 12)),
    "batch_norm1d": (lambda: nn.BatchNorm1d(3), (3, 7)),
    "batch_norm1d-flat": (BatchNorm1dFlat, (2, 3)),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(6, 4, 3, stride=3, padding=1, output_padding=1, groups=2), (6, 5, 7)),
    "conv_transpose2d-dilated": (
        lambda: nn.ConvTranspose2d(3, 5, (2, 3), stride=(2, 1), padding=(0, 1), output_padding=(1, 0), dilation=2),
        (3, 4, 6),
    ),
    "conv_transpose2d-1x1-map": (lambda: nn.ConvTranspose2d(4, 3, 2, stride=2, bias=False), (4, 1, 1)),
    "conv_transpose1d": (lambda: nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2), (4, 9)),
    "upsample-nearest": (lambda: nn.Upsample(scale_factor=2, mode="nearest"), (2, 3, 5)),
    "interpolate-nearest-x3": (InterpolateNearest, (2, 3, 5)),
    "interpolate-nearest-size": (InterpolateNearestSize, (2, 3, 5)),
    "interpolate-nearest-exact": (InterpolateNearestExact, (2, 5, 6)),
    "interpolate-bilinear-x1.5": (InterpolateBilinear, (2, 5, 6)),
    "interpolate-bilinear-corners": (InterpolateCorners, (2, 5, 6)),
    "upsample-bilinear-corners": (lambda: nn.UpsamplingBilinear2d(scale_factor=2), (2, 3, 4)),
    "interpolate-1d": (Interpolate1d, (3, 7)),
    "interpolate-1d-size": (Interpolate1dSize, (3, 7)),
    "reflection_pad1d": (lambda: nn.ReflectionPad1d((2, 3)), (3, 5)),
    "reflection_pad2d": (lambda: nn.ReflectionPad2d((1, 2, 0, 3)), (2, 4, 5)),
    "replication_pad1d": (lambda: nn.ReplicationPad1d((4, 1)), (3, 2)),
    "replication_pad2d": (lambda: nn.ReplicationPad2d((0, 3, 2, 1)), (2, 3, 3)),
    "pad-reflect": (PadReflect, (2, 4, 5)),
}


NOT_IN_ONNX = {
    "interpolate-nearest-exact", "interpolate-nearest-size", "interpolate-bilinear-corners",
    "interpolate-1d-size",
}  # fmt: skip
"""PyTorch exports no ONNX for nearest-exact resizing; resizing to a `size` it exports
through a Shape of the run-time input, which the front ends are to fold (until then, the
ONNX graphs below give Resize its sizes as a constant)."""
ONNX_RUNTIME_REFUSES = {"conv1d-same-dilated-groups"}
"""ONNX Runtime runs no Conv with auto_pad SAME and a dilation: compared with PyTorch."""


class Net(nn.Module):
    """The layer under test as a submodule: a scripted nn.ConvTranspose2d's own forward
    takes a second, optional output_size input."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


def op_module(name: str) -> tuple[nn.Module, tuple[int, ...]]:
    torch.manual_seed(0)
    constructor, shape = OP_CASES[name]
    module = Net(constructor()).eval()
    with torch.no_grad():
        randomise_batch_norm(module)
    return module, shape


def export_onnx(module: nn.Module, shape, path, dynamic_batch: bool = False):
    """Exported at batch 1, or with a dynamic batch dimension. (Resizing to a `size` with
    a dynamic batch exports a Shape of the run-time input: the front ends' work.)"""
    dynamic = {"input": {0: "batch"}, "output": {0: "batch"}} if dynamic_batch else None
    torch.onnx.export(
        module, (torch.zeros(1, *shape),), str(path), dynamo=False, input_names=["input"],
        output_names=["output"], dynamic_axes=dynamic,
    )  # fmt: skip
    return path


def onnx_runtime_outputs(path, x: np.ndarray) -> np.ndarray:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path))
    return np.concatenate([session.run(None, {"input": sample[None]})[0] for sample in x])


def import_via(front_end: str, module: nn.Module, shape, tmp_path) -> Compilation:
    if front_end == "torchscript":
        return Compilation.import_file(save_scripted(module, tmp_path / "m.pt"), shape)
    if front_end == "torch.export":
        return Compilation.from_imported(import_exported(torch.export.export(module, (torch.rand(1, *shape),))))
    return Compilation.import_file(export_onnx(module, shape, tmp_path / "m.onnx"))


FRONT_ENDS = ["torchscript", "torch.export", "onnx"]


OP_FRONT_ENDS = [(n, f) for n in OP_CASES for f in FRONT_ENDS if (n, f) not in {(c, "onnx") for c in NOT_IN_ONNX}]


@pytest.mark.parametrize("name, front_end", OP_FRONT_ENDS, ids=[f"{n}-{f}" for n, f in OP_FRONT_ENDS])
def test_op_through_front_end(name, front_end, tmp_path):
    """The imported and optimised `nn` IR in the reference interpreter, at batch 3, against
    PyTorch (ONNX: against ONNX Runtime); a NaN in sample 1 gives NaN where PyTorch's does
    (ONNX Runtime's MaxPool drops NaN, so the NaN sample is PyTorch's for ONNX too)."""
    module, shape = op_module(name)
    compilation = import_via(front_end, module, shape, tmp_path)
    compilation.run_to("nn")
    x = random(3, *shape)
    x[1] = with_nan(x[1])
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    if front_end == "onnx" and name not in ONNX_RUNTIME_REFUSES:
        finite = [0, 2]
        expected[finite] = onnx_runtime_outputs(tmp_path / "m.onnx", x[finite])
    actual = run_batch(compilation.module, x, compilation.weights)
    assert actual.shape == expected.shape
    assert_propagates(actual, expected)


# ONNX graphs written directly: every coordinate transform, nearest mode, sizes or
# scales, ConvTranspose's padding forms, legacy Upsample, Pad modes


def onnx_graph_matches_runtime(tmp_path, node, x_shape, initializers=(), opset=13):
    """A one-node graph ([1, ...] input x, output y) in the reference interpreter against
    ONNX Runtime on three samples."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, *x_shape])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [f"d{i}" for i in range(len(x_shape) + 1)])],
        [numpy_helper.from_array(np.asarray(v), name) for name, v in initializers],
    )  # fmt: skip
    path = tmp_path / "g.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path))
    compilation = Compilation.import_file(path)
    compilation.run_to("nn")
    x = random(3, *x_shape)
    expected = np.concatenate([session.run(None, {"x": sample[None]})[0] for sample in x])
    actual = run_batch(compilation.module, x, compilation.weights)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)


RESIZES = [
    # (mode, coordinate_transformation_mode, nearest_mode, scales or None, sizes or None)
    ("nearest", "asymmetric", "floor", [1, 1, 2.0, 3.0], None),
    ("nearest", "half_pixel", "round_prefer_floor", None, [1, 2, 9, 4]),
    ("nearest", "half_pixel", "round_prefer_ceil", None, [1, 2, 7, 13]),
    ("nearest", "align_corners", "round_prefer_floor", None, [1, 2, 8, 3]),
    ("nearest", "asymmetric", "ceil", [1, 1, 0.5, 1.5], None),
    ("nearest", "tf_half_pixel_for_nn", "round_prefer_floor", [1, 1, 2.0, 2.0], None),
    ("linear", "half_pixel", "round_prefer_floor", [1, 1, 1.5, 2.0], None),
    ("linear", "pytorch_half_pixel", "round_prefer_floor", None, [1, 2, 1, 11]),
    ("linear", "align_corners", "round_prefer_floor", None, [1, 2, 11, 4]),
    ("linear", "asymmetric", "round_prefer_floor", [1, 1, 2.0, 0.5], None),
]


@pytest.mark.parametrize("mode, transform, nearest, scales, sizes", RESIZES)
def test_onnx_resize(tmp_path, mode, transform, nearest, scales, sizes):
    from onnx import helper

    inputs, initializers = ["x", "", "scales"], [("scales", np.float32(scales or []))]
    if sizes is not None:
        inputs, initializers = ["x", "", "", "sizes"], [("sizes", np.int64(sizes))]
    node = helper.make_node(
        "Resize", inputs, ["y"], mode=mode, coordinate_transformation_mode=transform, nearest_mode=nearest
    )
    onnx_graph_matches_runtime(tmp_path, node, (2, 5, 6), initializers)


@pytest.mark.parametrize("mode, scales", [("nearest", [1, 1, 2.0, 3.0]), ("linear", [1, 1, 2.0, 2.0])])
def test_onnx_legacy_upsample_and_resize(tmp_path, mode, scales):
    from onnx import helper

    onnx_graph_matches_runtime(
        tmp_path, helper.make_node("Upsample", ["x", "s"], ["y"], mode=mode), (2, 3, 4),
        [("s", np.float32(scales))], opset=9,
    )  # fmt: skip
    onnx_graph_matches_runtime(
        tmp_path, helper.make_node("Resize", ["x", "s"], ["y"], mode=mode), (2, 3, 4),
        [("s", np.float32(scales))], opset=10,
    )  # fmt: skip


CONV_TRANSPOSES = [
    # attributes of ConvTranspose on a [1, 4, 5, 6] input, weight [4, 3, 3, 3] (group 1)
    dict(strides=[2, 2], pads=[1, 0, 0, 1]),
    dict(strides=[3, 2], pads=[1, 1, 1, 1], output_padding=[2, 1]),
    dict(strides=[2, 2], output_shape=[10, 12]),
    dict(strides=[2, 3], output_shape=[11, 16], auto_pad="SAME_UPPER"),
    dict(strides=[2, 2], auto_pad="SAME_LOWER"),
    dict(strides=[1, 2], dilations=[2, 1], pads=[2, 1, 2, 1], group=2),
]


@pytest.mark.parametrize("attributes", CONV_TRANSPOSES)
def test_onnx_conv_transpose(tmp_path, attributes):
    from onnx import helper

    group = attributes.get("group", 1)
    weight, bias = random(4, 6 // group, 3, 3, seed=2), random(6, seed=3)
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], **attributes)
    onnx_graph_matches_runtime(tmp_path, node, (4, 5, 6), [("w", weight), ("b", bias)])


@pytest.mark.parametrize("mode", ["reflect", "edge"])
@pytest.mark.parametrize("rank", [3, 4])
def test_onnx_pad_modes(tmp_path, mode, rank):
    from onnx import helper

    pads = [0, 0, 2, 0, 0, 3] if rank == 3 else [0, 0, 1, 2, 0, 0, 3, 1]
    node = helper.make_node("Pad", ["x", "pads"], ["y"], mode=mode)
    onnx_graph_matches_runtime(tmp_path, node, (2, 5, 6)[: rank - 1], [("pads", np.int64(pads))])


def test_one_d_layers_reuse_the_2d_ops():
    """conv1d + batch_norm1d + relu + max_pool1d: the batch norm folded and the relu fused
    into the 2-D convolution, with no view left between it and the pool."""
    model, shape = build("keyword_spotter")
    program = torch.export.export(model, (torch.rand(1, *shape),))
    compilation = Compilation.from_imported(import_exported(program))
    compilation.run_to("nn")
    ops = [op for op in compilation.module.walk() if op.name.startswith("nn.") and op.name != "nn.weight"]
    names = [op.name for op in ops]
    assert "nn.batch_norm" not in names and "nn.relu" not in names
    assert names[:3] == ["nn.reshape", "nn.conv2d", "nn.max_pool2d"]
    assert ops[1].activation.data == "relu"


def test_unsupported_forms_are_refused_cleanly(tmp_path):
    """Bicubic resizing and circular padding are named in the refusal, with every op."""
    from mnistc.importers.common import ImportError_

    class Unsupported(nn.Module):
        def forward(self, x):
            return F.pad(F.interpolate(x, scale_factor=2.0, mode="bicubic"), (1, 1, 1, 1), mode="circular")

    with pytest.raises(ImportError_, match="upsample_bicubic2d") as refusal:
        import_via("torchscript", Unsupported().eval(), (2, 4, 4), tmp_path)
    assert "circular" in str(refusal.value) or "aten::pad" in str(refusal.value)


# Compiled executables


class DecoderZoo(nn.Module):
    """Every decoder kernel in one executable: 1-D layers, both transposed convolutions,
    nearest, nearest-exact and bilinear resizing, both edge paddings."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1d = nn.Conv1d(3, 4, 3, stride=2, padding=1)
        self.bn1d = nn.BatchNorm1d(4)
        self.up1d = nn.ConvTranspose1d(4, 4, 3, stride=2, padding=1, output_padding=1, groups=2)
        self.up2d = nn.ConvTranspose2d(4, 3, 3, stride=3, padding=1, output_padding=1)
        self.reflect = nn.ReflectionPad2d((1, 2, 0, 1))
        self.replicate = nn.ReplicationPad1d((2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [N, 3, 11]
        y = torch.relu(self.bn1d(self.conv1d(self.replicate(x))))  # [N, 4, 7]
        y = F.max_pool1d(self.up1d(y), 2, 1)  # [N, 4, 13]
        image = torch.sigmoid(self.up2d(y.unsqueeze(2)))  # [N, 3, 2, 38]
        image = F.interpolate(self.reflect(image), scale_factor=2.0, mode="bilinear", align_corners=False)
        return F.interpolate(image, size=(5, 17), mode="nearest-exact").flatten(1)


@pytest.fixture(scope="module")
def zoo_executable(tmp_path_factory):
    torch.manual_seed(3)
    model = DecoderZoo().eval()
    with torch.no_grad():
        randomise_batch_norm(model)
    directory = tmp_path_factory.mktemp("zoo")
    path = save_scripted(model, directory / "zoo.pt")
    compile_model(path, directory / "zoo", CompileOptions(sample_shape=(3, 11)))
    return model, directory / "zoo"


@pytest.mark.parametrize("batch", [1, 3])
def test_decoder_zoo_compiled_matches_torch(zoo_executable, batch):
    """Within |a-b| <= 1e-4 + 1e-4|b| everywhere (no argmax: resizing repeats values, so
    the largest output is a tie)."""
    model, executable = zoo_executable
    x = random(batch, 3, 11)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(run_executable(executable, x), expected, rtol=1e-4, atol=1e-4)


def test_decoder_zoo_compiled_propagates_nan(zoo_executable):
    model, executable = zoo_executable
    x = with_nan(random(2, 3, 11))
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    assert np.isnan(expected).any() and not np.isnan(expected).all()
    assert_propagates(run_executable(executable, x), expected)


@pytest.mark.parametrize("name", ["keyword_spotter", "conv_autoencoder", "small_unet", "shuffle_block"])
def test_target_model_through_onnx(name, tmp_path):
    check_through_onnx(name, tmp_path)


def check_through_onnx(name: str, tmp_path) -> None:
    """A test model exported to ONNX (dynamic batch), compiled, at batch 1 and 3, against
    PyTorch (the contract's tolerance and argmax per sample)."""
    pytest.importorskip("onnx")
    model, shape = build(name)
    path = export_onnx(model, shape, tmp_path / f"{name}.onnx", dynamic_batch=True)
    compile_model(path, tmp_path / "model", CompileOptions())
    for batch in (1, 3):
        x = random(batch, *shape)
        with torch.no_grad():
            expected = model(torch.from_numpy(x)).numpy()
        assert_matches_torch(run_executable(tmp_path / "model", x), expected)
