"""int8: the reference semantics of the quant ops against independent integer arithmetic,
the quantize pass (weights, biases and the scale-overflow fix, cancelled round trips),
and `mnistc compile --quantize` errors."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, i8
from xdsl.ir import Block, Region

from mnistc import weights as weight_files
from mnistc.dialects import nn
from mnistc.interpreters.nn import evaluate_batch
from mnistc.interpreters.nn.quant import (
    dequantize,
    qconv2d_accumulator,
    qlinear_accumulator,
    quantize,
    requantize,
)
from mnistc.models.mnist_cnn import BUNDLED_MODEL
from mnistc.tools.mnistc import main
from mnistc.transforms.fold_qdq import INT32_MAX
from mnistc.transforms.quantize import QuantizePass, fit_bias, weight_scales


# Reference semantics -----------------------------------------------------------------


def test_quantize_rounds_half_to_even_saturates_and_maps_nan_to_the_zero_point():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 1000.0, -1000.0, np.inf, -np.inf, np.nan], np.float32)
    q = quantize(x, 1.0, 3)
    assert q.dtype == np.int8
    assert q.tolist() == [3, 5, 5, 3, 1, 127, -128, 127, -128, 3]


def test_dequantize_is_the_affine_map():
    q = np.array([-128, -1, 0, 127], np.int8)
    assert dequantize(q, 0.5, -2).tolist() == [-63.0, 0.5, 1.0, 64.5]


def naive_qlinear(x, w, bias, in_zp):
    """Integer loops, no float: the accumulator as the kernels define it."""
    acc = np.zeros((x.shape[0], w.shape[0]), np.int64)
    for n in range(x.shape[0]):
        for o in range(w.shape[0]):
            acc[n, o] = sum((int(a) - in_zp) * int(b) for a, b in zip(x[n], w[o])) + int(bias[o])
    return acc


def test_qlinear_accumulator_is_the_exact_integer_sum():
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (3, 37)).astype(np.int8)
    w = rng.integers(-127, 128, (5, 37)).astype(np.int8)
    bias = rng.integers(-(2**20), 2**20, 5).astype(np.int32)
    for in_zp in (-128, 0, 127):
        assert np.array_equal(qlinear_accumulator(x, w, bias, in_zp), naive_qlinear(x, w, bias, in_zp))


def test_qconv2d_accumulator_pads_with_the_zero_point():
    rng = np.random.default_rng(2)
    x = rng.integers(-128, 128, (1, 3, 5, 5)).astype(np.int8)
    w = rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8)
    in_zp = -128
    acc = qconv2d_accumulator(x, w, None, in_zp, (1, 1), (1, 1))
    padded = np.pad(x.astype(np.int64) - in_zp, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for k, i, j in [(0, 0, 0), (3, 4, 4), (2, 2, 1)]:
        assert acc[0, k, i, j] == int((padded[0, :, i : i + 3, j : j + 3] * w[k]).sum())


def test_requantize_rounds_in_float32_and_clamps_to_the_bounds():
    acc = np.array([[5, 15, 25, -1000, 1000]], np.int32)
    multipliers = np.full(5, 0.1, np.float32)
    # float32(5) * float32(0.1) = 0.5 exactly after rounding: ties go to even.
    out = requantize(acc, multipliers, 0, (-128, 127), axis=1)
    assert out.tolist() == [[0, 2, 2, -100, 100]]
    assert requantize(acc, multipliers, -10, (-10, 127), axis=1).tolist() == [[-10, -8, -8, -10, 90]]


def test_bounds_of_the_fused_clamps():
    """relu clamps at the output's zero point; hardtanh(0, 6) at 0 and 6 quantized."""
    block = Block(arg_types=[nn.tensor((1, 4), i8)])
    weight = nn.WeightOp("w", 0, (2, 4), i8)
    scale = nn.WeightOp("s", 64, (2,))
    block.add_ops([weight, scale])

    def layer(activation):
        return nn.QLinearOp(block.args[0], weight.result, scale.result, None, (0.5, 0), (0.1, -20), activation)

    assert layer(None).bounds() == (-128, 127)
    assert layer(nn.Activation("relu")).bounds() == (-20, 127)
    assert layer(nn.Activation("hardtanh", (0.0, 6.0))).bounds() == (-20, 40)


# The pass: weights and biases --------------------------------------------------------


def test_weight_scales_are_per_channel_and_symmetric():
    w = np.array([[0.5, -1.27], [0.0, 0.0], [2.54, 1.0]])
    assert np.allclose(weight_scales(w), [0.01, 1.0, 0.02])


def test_bias_that_overflows_int32_raises_the_weight_scale_of_its_channel():
    """ONNX Runtime's PR #25278: with a tiny input scale, bias / (input_scale *
    weight_scale) exceeds int32; the channel's weight scale grows until the bias fits."""
    scales = np.array([0.01, 0.01], np.float32)
    bias = np.array([1.0, 1e-9])
    input_scale = 1e-10
    quantized, raised = fit_bias(bias, scales, input_scale, reduction=16)
    assert raised[0] > scales[0] and raised[1] == scales[1]
    limit = INT32_MAX - 16 * 255 * 127
    assert abs(int(quantized[0])) <= limit
    unit = np.float32(input_scale) * raised
    assert np.allclose(quantized * unit.astype(np.float64), bias, rtol=1e-6, atol=unit[1])


def linear_module(weights: weight_files.WeightFile, w: np.ndarray, b: np.ndarray) -> ModuleOp:
    block = Block(arg_types=[nn.tensor((1, w.shape[1]))])
    weight = weight_files.weight_op(weights, "fc.weight", w)
    bias = weight_files.weight_op(weights, "fc.bias", b)
    linear = nn.LinearOp(block.args[0], weight.result, bias.result)
    block.add_ops([weight, bias, linear, func.ReturnOp(linear.output)])
    function = func.FuncOp("forward", ((nn.tensor((1, w.shape[1])),), (linear.output.type,)), Region(block))
    module = ModuleOp([function])
    weight_files.set_weights_name(module, "test.weights.bin")
    return module


def output_of(module: ModuleOp, weights, samples: np.ndarray) -> np.ndarray:
    function = module.ops.first
    returned = function.body.block.last_op.operands[0]
    return evaluate_batch(module, samples, weights)[returned]


def test_tiny_input_scale_keeps_the_bias():
    """Inputs of order 1e-7 with a bias of order 1: clipping the int32 bias (the bug)
    would lose the bias; raising the weight scale keeps the result within a few steps."""
    rng = np.random.default_rng(3)
    weights = weight_files.WeightFile()
    w = rng.normal(size=(4, 16)).astype(np.float32)
    b = np.array([1.0, -2.0, 0.5, 3.0], np.float32)
    module = linear_module(weights, w, b)
    samples = (rng.random((32, 1, 16)) * 1e-7).astype(np.float32).reshape(32, 1, 16)[:, 0]
    expected = output_of(module, weights, samples)
    QuantizePass().quantize(module, weights, samples)
    (qlinear,) = [op for op in module.walk() if isinstance(op, nn.QLinearOp)]
    assert qlinear.input_scale.value.data < 1e-9
    actual = output_of(module, weights, samples)
    step = qlinear.output_scale.value.data
    assert np.abs(actual - expected).max() <= 2 * step


def test_round_trips_cancel_and_int8_flows_through_views():
    """Two linear layers in a row: the first one's dequantize and the second's quantize
    cancel, so the only quantize is the input's and the only dequantize the output's."""
    rng = np.random.default_rng(4)
    weights = weight_files.WeightFile()
    block = Block(arg_types=[nn.tensor((1, 12))])
    w1 = weight_files.weight_op(weights, "a.weight", rng.normal(size=(8, 12)))
    w2 = weight_files.weight_op(weights, "b.weight", rng.normal(size=(6, 8)))
    first = nn.LinearOp(block.args[0], w1.result, None, nn.Activation("relu"))
    view = nn.ReshapeOp(first.output, (1, 8))
    second = nn.LinearOp(view.output, w2.result)
    block.add_ops([w1, w2, first, view, second, func.ReturnOp(second.output)])
    function = func.FuncOp("forward", ((nn.tensor((1, 12)),), (second.output.type,)), Region(block))
    module = ModuleOp([function])
    samples = rng.normal(size=(64, 12)).astype(np.float32)
    expected = output_of(module, weights, samples)
    QuantizePass(method="percentile", percentile=99.9).quantize(module, weights, samples)
    names = [op.name for op in module.walk() if op.name.startswith("nn.") and op.name != "nn.weight"]
    assert names == ["nn.quantize", "nn.qlinear", "nn.reshape", "nn.qlinear", "nn.dequantize"]
    (reshape,) = [op for op in module.walk() if isinstance(op, nn.ReshapeOp)]
    assert nn.element_type_of(reshape.output) == i8
    actual = output_of(module, weights, samples)
    assert np.corrcoef(actual.ravel(), expected.ravel())[0, 1] > 0.999


# The CLI -----------------------------------------------------------------------------


def mnistc(capsys, *args) -> tuple[int, str]:
    """Run the CLI in this process (the errors come before any g++): exit code, stderr."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.npy", "calibration data {d}/missing.npy: no such file or directory"),
        (lambda d: (d / "short.bin").write_bytes(bytes(100)) and d / "short.bin",
         "100 bytes is not a whole number of 1x28x28 float32 samples"),
        (lambda d: np.save(d / "text.npy", np.array(["a"])) or d / "text.npy", "dtype <U1 is not numeric"),
        (lambda d: np.save(d / "nan.npy", np.full((2, 1, 28, 28), np.nan, np.float32)) or d / "nan.npy",
         "holds NaN or infinite values"),
    ],
    ids=["missing", "wrong-size", "wrong-dtype", "nan"],
)
def test_bad_calibration_data_is_one_error_and_no_output(tmp_path, capsys, make, message):
    data = make(tmp_path)
    output = tmp_path / "model"
    code, stderr = mnistc(
        capsys, "compile", BUNDLED_MODEL, "-q", "--quantize", "int8", "--calibration", data, "-o", output
    )
    assert code == 1, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("mnistc: error:")]
    assert len(errors) == 1 and message.format(d=tmp_path) in errors[0], stderr
    assert "Traceback" not in stderr
    assert not output.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (("--quantize", "int8"), "--quantize int8 needs --calibration DATA"),
        (("--calibration", "x.npy"), "--calibration is for --quantize int8"),
    ],
    ids=["no-data", "no-quantize"],
)
def test_inconsistent_flags_are_refused(tmp_path, capsys, args, message):
    code, stderr = mnistc(capsys, "compile", BUNDLED_MODEL, *args, "-o", tmp_path / "m")
    assert code == 1
    assert f"mnistc: error: {message}" in stderr


@pytest.mark.parametrize("keep_winograd", [False, True])
def test_keep_winograd_leaves_winograd_convolutions_in_float32(keep_winograd):
    """A 3x3 conv with 8 channels on 10x10 is one that pack-weights runs with Winograd;
    a 1x1 conv never is."""
    rng = np.random.default_rng(5)
    weights = weight_files.WeightFile()
    block = Block(arg_types=[nn.tensor((1, 8, 10, 10))])
    w3 = weight_files.weight_op(weights, "c3.weight", rng.normal(size=(8, 8, 3, 3)))
    w1 = weight_files.weight_op(weights, "c1.weight", rng.normal(size=(8, 8, 1, 1)))
    conv3 = nn.Conv2DOp(block.args[0], w3.result)
    conv1 = nn.Conv2DOp(conv3.output, w1.result)
    block.add_ops([w3, w1, conv3, conv1, func.ReturnOp(conv1.output)])
    function = func.FuncOp("forward", ((nn.tensor((1, 8, 10, 10)),), (conv1.output.type,)), Region(block))
    module = ModuleOp([function])
    samples = rng.normal(size=(8, 8, 10, 10)).astype(np.float32)
    QuantizePass(keep_winograd=keep_winograd).quantize(module, weights, samples)
    float_convs = [op for op in module.walk() if isinstance(op, nn.Conv2DOp)]
    quantized = [op for op in module.walk() if isinstance(op, nn.QConv2DOp)]
    assert len(float_convs) == int(keep_winograd) and len(quantized) == 2 - int(keep_winograd)
    if keep_winograd:
        assert nn.shape_of(float_convs[0].weight) == (8, 8, 3, 3)


def test_mnistc_compile_quantizes_with_an_array_of_samples():
    """The Python API: `mnistc.compile(..., quantize="int8", calibration=array)`; the
    compiled int8 model follows PyTorch's float32 one within a few output steps."""
    import torch

    import mnistc

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(8 * 4 * 4, 5),
    ).eval()  # fmt: skip
    samples = torch.rand(64, 1, 8, 8)
    compiled = mnistc.compile(model, samples[:1], quantize="int8", calibration=samples.numpy())
    actual = compiled(samples[:16].numpy())
    with torch.no_grad():
        expected = model(samples[:16]).numpy()
    spread = expected.max() - expected.min()
    assert np.abs(actual - expected).max() < 0.05 * spread
    assert (actual.argmax(1) == expected.argmax(1)).mean() >= 0.9


def test_residual_network_quantizes_every_convolution(tmp_path):
    """ResNet blocks: with --quantize, activations fuse before `quantize` and residual adds
    after, so every conv2d becomes a qconv2d and the adds run in float32 between them;
    the int8 IR follows PyTorch's float32 outputs closely (reference interpreter)."""
    import torch
    from conftest import save_scripted
    from models import build

    from mnistc.driver import Compilation, CompileOptions

    model, shape = build("residual")
    path = save_scripted(model, tmp_path / "residual.pt")
    samples = np.random.default_rng(6).normal(size=(64, *shape)).astype(np.float32)
    compilation = Compilation.import_file(path, shape)
    # A target with AVX-512 VNNI, where convolutions are quantized, whatever the host.
    options = CompileOptions(quantize="int8", calibration=samples, target_cpu=VNNI_TARGET)
    compilation.run_to("nn", options)
    module = compilation.module
    names = [op.name for op in module.walk()]
    assert names.count("nn.qconv2d") == 5 and "nn.conv2d" not in names, names
    assert names.count("nn.qlinear") == 1 and names.count("nn.add") == 2, names
    actual = output_of(module, compilation.weights, samples[:16])
    with torch.no_grad():
        expected = model(torch.from_numpy(samples[:16])).numpy()
    assert np.abs(actual - expected).max() < 0.05 * np.abs(expected).max()


# The target's ISA (the cost rule's `vnni`) ------------------------------------------

VNNI_TARGET = "icelake-server"
"""A -march with AVX-512 VNNI (g++ knows it on any host; nothing here runs its code)."""


FAKE_COMPILER = """#!/bin/sh
echo run >> "$(dirname "$0")/runs"
case "$*" in
  *-march=fake-vnni*) printf '#define __AVX512F__ 1\\n#define __AVX512VNNI__ 1\\n' ;;
  *-march=fake-avxvnni*) printf '#define __AVX2__ 1\\n#define __AVXVNNI__ 1\\n' ;;
  *-march=fake-plain*) printf '#define __SSE2__ 1\\n' ;;
  *) echo "fake-g++: error: bad value for -march= switch" >&2; exit 1 ;;
esac
"""


@pytest.fixture
def fake_compiler(tmp_path):
    """A g++ that predefines the macros of three made-up targets and counts its runs."""
    script = tmp_path / "fake-g++"
    script.write_text(FAKE_COMPILER)
    script.chmod(0o755)
    return script


def test_vnni_is_read_from_the_targets_macros_once_per_target(fake_compiler):
    from mnistc.toolchain import BuildConfig

    def has_vnni(target: str) -> bool:
        return BuildConfig(target_cpu=target, compiler=str(fake_compiler)).has_vnni()

    assert has_vnni("fake-vnni") and has_vnni("fake-vnni")
    assert not has_vnni("fake-avxvnni")  # AVX-VNNI alone: quant.cpp runs its AVX2 path
    assert not has_vnni("fake-plain")
    assert (fake_compiler.parent / "runs").read_text().count("run") == 3  # cached per target
    debug = BuildConfig(debug=True, target_cpu="fake-vnni", compiler=str(fake_compiler))
    assert "-march=fake-vnni" not in debug.flags() and debug.has_vnni()  # the target's IR


def test_an_unknown_target_is_one_error(fake_compiler):
    from mnistc.toolchain import BuildConfig, BuildError

    with pytest.raises(BuildError, match="(?s)rejects the target .*bad value for -march"):
        BuildConfig(target_cpu="fake-bogus", compiler=str(fake_compiler)).has_vnni()


def test_an_unknown_target_cpu_with_quantize_is_one_error(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((2, 1, 28, 28), np.float32))
    code, stderr = mnistc(
        capsys, "compile", BUNDLED_MODEL, "-q", "--quantize", "int8", "--calibration",
        tmp_path / "x.npy", "--target-cpu", "no-such-cpu", "-o", tmp_path / "m",
    )  # fmt: skip
    assert code == 1 and "Traceback" not in stderr
    assert stderr.startswith("mnistc: error: 'g++' rejects the target") and "no-such-cpu" in stderr
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("target, vnni", [(VNNI_TARGET, True), ("x86-64-v3", False), ("x86-64", False)])
def test_gcc_knows_which_targets_have_vnni(target, vnni):
    from mnistc.toolchain import BuildConfig

    assert BuildConfig(target_cpu=target).has_vnni() == vnni


@pytest.mark.parametrize("target, convolution", [("x86-64-v3", "nn.conv2d"), (VNNI_TARGET, "nn.qconv2d")])
def test_convolutions_stay_float32_on_a_target_without_vnni(target, convolution):
    """The bundled MNIST CNN to the nn stage (no g++ build): for AVX2 its two linear
    layers are int8 and its two convolutions float32; with VNNI all four are int8."""
    from mnistc.driver import Compilation, CompileOptions

    samples = np.random.default_rng(7).random((16, 1, 28, 28), dtype=np.float32)
    compilation = Compilation.import_file(BUNDLED_MODEL)
    compilation.run_to("nn", CompileOptions(quantize="int8", calibration=samples, target_cpu=target))
    names = [op.name for op in compilation.module.walk()]
    assert names.count(convolution) == 2 and names.count("nn.qlinear") == 2, names
    assert {"nn.conv2d", "nn.qconv2d"} & set(names) == {convolution}
    assert "nn.linear" not in names


def test_fp32_layers_must_name_layers_of_the_model(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((2, 1, 28, 28), np.float32))
    code, stderr = mnistc(
        capsys, "compile", BUNDLED_MODEL, "-q", "--quantize", "int8", "--calibration",
        tmp_path / "x.npy", "--fp32-layers", "conv2,fc9", "-o", tmp_path / "m",
    )  # fmt: skip
    assert code == 1
    assert "mnistc: error: fp32 layers fc9: no such conv2d or linear layer (the model has: conv1, conv2, fc1, fc2)" in stderr


def test_malformed_pass_options_are_one_error(tmp_path, capsys):
    """xDSL's pipeline parse error derives from BaseException: still one message, exit 1."""
    from mnistc.tools.mnistc_opt import main as mnistc_opt

    source = tmp_path / "m.mlir"
    source.write_text("func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {\n  func.return %x : tensor<1x4xf32>\n}\n")
    with pytest.raises(SystemExit) as exit_:
        mnistc_opt([str(source), "-p", "quantize{calibration="])
    assert exit_.value.code == 1
    stderr = capsys.readouterr().err
    assert stderr.startswith("mnistc-opt: error: Error parsing pass pipeline specification")
    assert "Traceback" not in stderr
