"""Models that arrive quantized: PT2E graphs (torch.export), ONNX QDQ and QOperator models,
built here from a small CNN with random weights, imported, folded into int8 layers by
`fold-qdq`, and compared with their own framework (issue 13's targets: within one output
quantization step per element, same argmax)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mnistc.dialects import nn as nn_ir
from mnistc.driver import OPTIMISATION_PIPELINE, Compilation, CompileOptions, compile_model
from mnistc.importers import import_model
from mnistc.importers.common import ImportError_
from mnistc.interpreters.nn import run_batch
from mnistc.runtime import CompiledModel
from mnistc.transforms.fold_batch_norm import constant

SAMPLE = (1, 12, 12)


class SmallCNN(nn.Module):
    """conv-relu-pool, conv-relu, flatten, linear: the layers the quantizers quantize."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 5, 3)
        self.c2 = nn.Conv2d(5, 7, 3, padding=1)
        self.fc = nn.Linear(7 * 5 * 5, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        return self.fc(torch.flatten(F.relu(self.c2(x)), 1))


class MatMulNet(nn.Module):
    """Matrix products by constant [K, M] weights: ONNX MatMul, quantized per column."""

    def __init__(self):
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(144, 16) / 12)
        self.w2 = nn.Parameter(torch.randn(16, 10) / 4)

    def forward(self, x):
        return F.relu(torch.flatten(x, 1) @ self.w1) @ self.w2


def inputs(count: int, seed: int) -> np.ndarray:
    return np.random.RandomState(seed).randn(count, *SAMPLE).astype(np.float32)


def folded(path):
    """The model's `nn` IR before and after the optimisation pipeline (with fold-qdq)."""
    compilation = Compilation.from_imported(import_model(path))
    imported = compilation.module.clone()
    compilation.run("nn", OPTIMISATION_PIPELINE)
    return imported, compilation


def op_names(module) -> list[str]:
    return [op.name for op in module.walk() if op.name.startswith("nn.")]


def assert_within_one_step(ours: np.ndarray, reference: np.ndarray, step) -> None:
    step = np.broadcast_to(np.asarray(step, dtype=np.float64), reference.shape)
    error = np.abs(ours.astype(np.float64) - reference)
    worst = np.unravel_index(np.argmax(error - step), error.shape)
    assert np.all(error <= step * (1 + 1e-6)), (
        f"error {error[worst]} beyond one step {step[worst]} at {worst}"
    )
    assert np.array_equal(ours.argmax(1), reference.argmax(1))


# ONNX Runtime's quantizer


def export_onnx(module: nn.Module, path):
    torch.onnx.export(
        module.eval(), (torch.zeros(1, *SAMPLE),), str(path), dynamo=False,
        input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}},
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def float_onnx(tmp_path_factory):
    pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    return export_onnx(SmallCNN(), tmp_path_factory.mktemp("quant") / "float.onnx")


def quantize_static(float_path, name: str, **options):
    from onnxruntime.quantization import CalibrationDataReader
    from onnxruntime.quantization import quantize_static as quantize

    class RandomImages(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"x": sample[None]} for sample in inputs(16, seed=1)])

        def get_next(self):
            return next(self.batches, None)

    path = float_path.parent / name
    quantize(str(float_path), str(path), RandomImages(), **options)
    return path


def onnx_output_scale(path) -> float:
    """The scale of the DequantizeLinear that makes the model's output."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    initializers = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    (last,) = [n for n in graph.node if n.output[0] == graph.output[0].name]
    assert last.op_type == "DequantizeLinear"
    return float(initializers[last.input[1]])


def onnx_runtime(path, x: np.ndarray) -> np.ndarray:
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


ORT_VARIANTS = {
    "qdq-s8-per-channel": dict(per_channel=True),
    "qdq-s8-per-tensor": dict(per_channel=False),
    "qdq-u8-activations": dict(per_channel=True, activation_type="QUInt8"),
    "qoperator-s8": dict(per_channel=True, quant_format="QOperator"),
    "qoperator-u8-activations": dict(per_channel=False, quant_format="QOperator", activation_type="QUInt8"),
}


def quantized_onnx(float_path, variant: str):
    """The float model quantized by ONNX Runtime as `ORT_VARIANTS[variant]` says (once)."""
    from onnxruntime.quantization import QuantFormat, QuantType

    path = float_path.parent / f"{variant}.onnx"
    if path.exists():
        return path
    options = dict(ORT_VARIANTS[variant])
    if "quant_format" in options:
        options["quant_format"] = getattr(QuantFormat, options["quant_format"])
    if "activation_type" in options:
        options["activation_type"] = getattr(QuantType, options["activation_type"])
    return quantize_static(float_path, path.name, **options)


@pytest.mark.parametrize("variant", ORT_VARIANTS)
def test_onnx_quantized_models_match_onnx_runtime(float_onnx, variant):
    path = quantized_onnx(float_onnx, variant)
    imported, compilation = folded(path)
    x = inputs(6, seed=2)
    reference = onnx_runtime(path, x)
    step = onnx_output_scale(path)
    # imported: float32 between quantize and dequantize; folded: int8 layers
    assert_within_one_step(run_batch(imported, x, compilation.weights), reference, step)
    assert_within_one_step(run_batch(compilation.module, x, compilation.weights), reference, step)
    names = op_names(compilation.module)
    assert names.count("nn.qconv2d") == 2 and names.count("nn.qlinear") == 1, names
    assert not {"nn.conv2d", "nn.linear", "nn.mul"} & set(names), names


@pytest.mark.slow
def test_compiled_onnx_quantized_model_matches_onnx_runtime(float_onnx, session_kernels, tmp_path):
    """End to end on the int8 kernels, a batch of 9 (one variant: the folded IR of the
    others differs only in its scales and zero points; slow: a g++ build)."""
    path = quantized_onnx(float_onnx, "qoperator-u8-activations")
    model = CompiledModel(compile_model(path, tmp_path / "libq.so", CompileOptions(shared=True)).output)
    x = inputs(9, seed=9)
    assert_within_one_step(model(x), onnx_runtime(path, x), onnx_output_scale(path))


@pytest.mark.parametrize("per_channel", [True, False])
def test_onnx_quantized_matmul_weights_become_int8(tmp_path, per_channel):
    """QDQ MatMul weights are [K, M], per column: imported transposed into qlinear."""
    pytest.importorskip("onnxruntime")
    torch.manual_seed(10)
    float_path = export_onnx(MatMulNet(), tmp_path / "float.onnx")
    path = quantize_static(float_path, "matmul.onnx", per_channel=per_channel)
    imported, compilation = folded(path)
    x = inputs(6, seed=11)
    ours = run_batch(compilation.module, x, compilation.weights)
    assert_within_one_step(ours, onnx_runtime(path, x), onnx_output_scale(path))
    names = op_names(compilation.module)
    assert names.count("nn.qlinear") == 2 and "nn.linear" not in names, names


def integer_model(path, op_type: str):
    """QuantizeLinear (uint8) → ConvInteger or MatMulInteger (int8 weight, asymmetric: per
    column for MatMulInteger) → Cast → Mul by the scales: the integer ops as quantize_dynamic uses them,
    with a static input scale."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.RandomState(3)
    if op_type == "ConvInteger":
        weight = rng.randint(-128, 128, (4, 1, 3, 3)).astype(np.int8)
        weight_zero_point = np.array(-2, np.int8)  # ONNX Runtime's ConvInteger: per tensor
        x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", *SAMPLE])
        y_shape = ["n", 4, 10, 10]
    else:
        weight = rng.randint(-128, 128, (144, 6)).astype(np.int8)
        weight_zero_point = np.array([5, 0, -3, 7, 1, -1], np.int8)
        x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 144])
        y_shape = ["n", 6]
    initializers = [
        numpy_helper.from_array(np.array(0.02, np.float32), "x_scale"),
        numpy_helper.from_array(np.array(131, np.uint8), "x_zero_point"),
        numpy_helper.from_array(weight, "w"),
        numpy_helper.from_array(weight_zero_point, "w_zero_point"),
        numpy_helper.from_array(np.array(0.003, np.float32), "scale"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zero_point"], ["xq"]),
        helper.make_node(op_type, ["xq", "w", "x_zero_point", "w_zero_point"], ["acc"]),
        helper.make_node("Cast", ["acc"], ["accf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["accf", "scale"], ["y"]),
    ]
    y_info = helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)
    graph = helper.make_graph(nodes, "integer", [x_info], [y_info], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("op_type", ["ConvInteger", "MatMulInteger"])
def test_integer_ops_match_onnx_runtime(tmp_path, op_type):
    pytest.importorskip("onnxruntime")
    path = integer_model(tmp_path / f"{op_type}.onnx", op_type)
    imported, compilation = folded(path)
    shape = SAMPLE if op_type == "ConvInteger" else (144,)
    x = np.random.RandomState(4).randn(5, *shape).astype(np.float32)
    ours = run_batch(compilation.module, x, compilation.weights)
    reference = onnx_runtime(path, x)
    # the int32 sums are exact in float32 (below 2^24); only the final Mul rounds
    np.testing.assert_allclose(ours, reference, rtol=1e-6, atol=0)


def test_quantize_dynamic_is_refused_with_the_reason(float_onnx):
    from onnxruntime.quantization import quantize_dynamic

    path = float_onnx.parent / "dynamic.onnx"
    quantize_dynamic(str(float_onnx), str(path))
    with pytest.raises(ImportError_, match=r"DynamicQuantizeLinear at .*scales computed at run time"):
        import_model(path)


def test_per_channel_activations_are_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=1),
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "per-channel",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2, 4, 4])],
        [numpy_helper.from_array(np.array([0.1, 0.2], np.float32), "s"),
         numpy_helper.from_array(np.array([0, 1], np.int8), "z")],
    )  # fmt: skip
    path = tmp_path / "per-channel.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    refusal = r"QuantizeLinear at .*per-channel quantization of a run-time tensor"
    with pytest.raises(ImportError_, match=refusal):
        import_model(path)


# PyTorch's PT2E flow


@pytest.fixture(scope="module")
def pt2e_model(tmp_path_factory):
    """A SmallCNN quantized by X86InductorQuantizer (calibrated on random images), its
    torch.export file, and its float model."""
    pytest.importorskip("torchao", reason="PT2E's quantizer lives in torchao (test extra)")
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as x86

    torch.manual_seed(5)
    example = (torch.from_numpy(inputs(2, seed=6)),)
    batch = torch.export.Dim("batch")
    graph = torch.export.export(SmallCNN().eval(), example, dynamic_shapes=({0: batch},)).module()
    quantizer = x86.X86InductorQuantizer().set_global(x86.get_default_x86_inductor_quantization_config())
    prepared = prepare_pt2e(graph, quantizer)
    prepared(torch.from_numpy(inputs(16, seed=7)))  # calibration
    quantized = convert_pt2e(prepared)
    path = tmp_path_factory.mktemp("pt2e") / "quantized.pt2"
    torch.export.save(torch.export.export(quantized, example, dynamic_shapes=({0: batch},)), str(path))
    return path, quantized


def pt2e_reference(pt2e_model, x):
    """PyTorch's output for x, and how far one quantization step of the last linear's
    input moves each output: X86InductorQuantizer leaves that linear in float32 on its
    quantized input, so output j moves by at most input_scale * sum_i |w_ji|."""
    path, quantized = pt2e_model
    _, compilation = folded(path)
    (linear,) = [op for op in compilation.module.walk() if isinstance(op, nn_ir.LinearOp)]
    assert isinstance(linear.input.owner, nn_ir.DequantizeOp)
    bound = linear.input.owner.scale.value.data * np.abs(constant(linear.weight, compilation.weights)).sum(1)
    with torch.no_grad():
        return quantized(torch.from_numpy(x)).numpy(), bound


def test_pt2e_model_matches_pytorch(pt2e_model):
    path, _ = pt2e_model
    imported, compilation = folded(path)
    names = op_names(compilation.module)
    assert names.count("nn.qconv2d") == 2, names
    x = inputs(6, seed=8)
    reference, bound = pt2e_reference(pt2e_model, x)
    # the imported float32 graph computes what PyTorch computes
    np.testing.assert_allclose(run_batch(imported, x, compilation.weights), reference, rtol=1e-5, atol=1e-6)
    assert_within_one_step(run_batch(compilation.module, x, compilation.weights), reference, bound)


@pytest.mark.slow
def test_compiled_pt2e_model_matches_pytorch(pt2e_model, session_kernels, tmp_path):
    """End to end on the int8 kernels (slow: a g++ build)."""
    x = inputs(9, seed=12)
    reference, bound = pt2e_reference(pt2e_model, x)
    library = compile_model(pt2e_model[0], tmp_path / "libpt2e.so", CompileOptions(shared=True))
    model = CompiledModel(library.output)
    assert_within_one_step(model(x), reference, bound)


def test_pt2e_reduced_range_is_refused(tmp_path):
    """A quantize to [0, 127] (reduce_range) has no exact int8 form: refused, named."""
    import torch.ao.quantization.fx._decomposed  # noqa: F401

    class ReducedRange(nn.Module):
        def forward(self, x):
            q = torch.ops.quantized_decomposed.quantize_per_tensor(x, 0.1, 3, 0, 127, torch.uint8)
            return torch.ops.quantized_decomposed.dequantize_per_tensor(q, 0.1, 3, 0, 127, torch.uint8)

    path = tmp_path / "reduced.pt2"
    torch.export.save(torch.export.export(ReducedRange(), (torch.zeros(1, *SAMPLE),)), str(path))
    with pytest.raises(ImportError_, match=r"quantize_per_tensor at .*uint8 \[0, 127\]"):
        import_model(path)
