"""ONNX's own test models (onnx/backend/test/data), compiled and compared with their outputs."""

from __future__ import annotations

import numpy as np
import pytest

from mnistc.conformance import agree, cases, onnx_test_data_dir, run_case
from mnistc.driver import Compilation, CompileOptions, compile_model
from mnistc.runtime import CompiledModel

pytestmark = pytest.mark.skipif(onnx_test_data_dir() is None, reason="the onnx package is not installed")
slow = pytest.mark.slow  # a compile per case: the suites' tests

CASES = cases("pytorch-converted")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("conformance")
    return {case[0]: run_case(*case, workdir) for case in CASES}


@slow
def test_no_supported_case_fails(results):
    failures = {n: r.detail for n, r in results.items() if r.status == "fail"}
    assert failures == {}


@slow
def test_the_supported_2d_cases_pass(results):
    """Every 1-D and 2-D conv, pool, batch norm, linear, activation and softmax case compiles
    and matches."""
    passed = {n for n, r in results.items() if r.status == "pass"}
    expected = {
        "test_AvgPool2d", "test_AvgPool2d_stride", "test_BatchNorm2d_eval", "test_Conv2d",
        "test_Conv2d_depthwise", "test_Conv2d_depthwise_padded", "test_Conv2d_depthwise_strided",
        "test_Conv2d_depthwise_with_multiplier", "test_Conv2d_dilated", "test_Conv2d_groups",
        "test_Conv2d_no_bias", "test_Conv2d_padding", "test_Conv2d_strided", "test_ELU",
        "test_LeakyReLU", "test_Linear", "test_Linear_no_bias", "test_LogSoftmax",
        "test_MaxPool2d", "test_MaxPool2d_stride_padding_dilation", "test_ReLU", "test_Sigmoid",
        "test_Softmax", "test_Tanh", "test_log_softmax_dim3", "test_softmax_lastdim",
        "test_ConstantPad2d", "test_ZeroPad2d", "test_PReLU_2d", "test_PReLU_2d_multiparam",
        # decoders: 1-D layers as 2-D ones, transposed convolutions, edge padding
        "test_BatchNorm1d_3d_input_eval", "test_Conv1d", "test_Conv1d_dilated", "test_Conv1d_groups",
        "test_Conv1d_pad1", "test_Conv1d_pad1size1", "test_Conv1d_pad2", "test_Conv1d_pad2size1",
        "test_Conv1d_stride", "test_ConvTranspose2d", "test_ConvTranspose2d_no_bias",
        "test_MaxPool1d", "test_MaxPool1d_stride", "test_MaxPool1d_stride_padding_dilation",
        "test_PReLU_1d", "test_PReLU_1d_multiparam", "test_ReflectionPad2d", "test_ReplicationPad2d",
    }  # fmt: skip
    assert expected <= passed, sorted(expected - passed)


@slow
def test_skips_say_why(results):
    """Only the 3-D layers and the integer inputs of Embedding are skipped (the loss, whose
    target is a constant across dimension 0 of a fixed shape, is imported whole)."""
    skipped = {name: r.detail for name, r in results.items() if r.status == "skip"}
    others = {name: detail for name, detail in skipped.items() if detail != "not 1-D or 2-D (3-D layers)"}
    assert others == {
        "test_Embedding": "int64 input (a compiled model takes floating-point data)",
        "test_Embedding_sparse": "int64 input (a compiled model takes floating-point data)",
    }
    assert results["test_PoissonNLLLLoss_no_reduce"].status == "pass"
    assert all("3d" in name for name in skipped.keys() - others.keys())


@pytest.fixture(scope="module")
def operator_results(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("operators")
    return {case[0]: run_case(*case, workdir) for case in cases("pytorch-operator")}


@slow
def test_every_float_operator_case_passes(operator_results):
    """pytorch-operator: every case of float32 tensors in (any number of them) and any
    number out compiles and matches (InstanceNormalization is `symbolic_override`; inputs
    of fixed shapes that share no batch, or graphs across dimension 0, are imported
    whole); the skipped ones are int64 or float64 beyond float32's range, saying so."""
    assert {n: r.detail for n, r in operator_results.items() if r.status == "fail"} == {}
    passed = {n.removeprefix("test_operator_") for n, r in operator_results.items() if r.status == "pass"}
    assert passed == {
        "clip", "conv", "convtranspose", "exp", "flatten", "index", "maxpool", "pad", "params",
        "permute2", "pow", "reduced_mean", "reduced_mean_keepdim", "reduced_sum", "reduced_sum_keepdim",
        "repeat", "repeat_dim_overflow", "selu", "sqrt", "symbolic_override", "view",
        # several inputs or outputs
        "add_size1_broadcast", "concat2", "max", "min",
        # several inputs of fixed shapes sharing no batch (rank 1, different first
        # dimensions) or a graph across dimension 0: imported whole
        "addmm", "basic", "chunk", "mm", "symbolic_override_nested",
    }  # fmt: skip
    skipped = {n.removeprefix("test_operator_"): r.detail for n, r in operator_results.items() if r.status == "skip"}
    assert set(skipped) == {
        "non_float_params", "addconstant", "add_broadcast", "add_size1_right_broadcast",
        "add_size1_singleton_broadcast",
    }  # fmt: skip
    for name, detail in skipped.items():
        assert "int64 input" in detail or "beyond float32's range" in detail, (name, detail)


def test_nan_and_infinities_must_be_where_the_expected_output_has_them():
    """A NaN where a number is expected (or the reverse) never passes as within tolerance."""
    expected = np.array([np.nan, np.inf, -np.inf, 1.0, np.nan])
    actual = np.array([np.nan, np.inf, np.inf, 1.00001, 2.0], dtype=np.float32)
    assert agree(actual, expected, 1e-4, 1e-4).tolist() == [True, True, False, True, False]
    assert not agree(np.float32([1.0]), np.array([np.nan]), 1e-4, 1e-4).any()


@slow
@pytest.mark.skipif(
    __import__("importlib").util.find_spec("onnxruntime") is None,
    reason="light/ models ship no input: they are compared with onnxruntime, not installed",
)
def test_light_models(tmp_path):
    """The full architectures whose ops are supported compile and match ONNX Runtime."""
    results = {case[0]: run_case(*case, tmp_path) for case in cases("light")}
    assert {n for n, r in results.items() if r.status == "fail"} == set()
    passed = {n for n, r in results.items() if r.status == "pass"}
    assert {
        "light_bvlc_alexnet", "light_densenet121", "light_inception_v2", "light_resnet50",
        "light_squeezenet", "light_vgg19", "light_zfnet512", "light_inception_v1", "light_shufflenet",
    } <= passed  # fmt: skip


POOL_INPUT = (2, 9, 8)
ASYMMETRIC_POOLS = [
    # (kernel, strides, pads [top, left, bottom, right], ceil_mode)
    ((7, 7), (1, 1), (0, 0, 1, 1), 0),  # Inception v1's last pool
    ((3, 3), (2, 2), (1, 0, 0, 2), 0),
    ((3, 2), (2, 3), (0, 1, 1, 0), 1),
    ((1, 4), (1, 2), (0, 2, 0, 1), 0),
]


@pytest.fixture(scope="module")
def asymmetric_pools(tmp_path_factory):
    """One ONNX model of every AveragePool of ASYMMETRIC_POOLS (count_include_pad 0) on the
    same input, each flattened, then concatenated: ONNX Runtime's session, the compiled
    library and the model's path."""
    onnx = pytest.importorskip("onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    nodes = []
    for i, (kernel, strides, pads, ceil_mode) in enumerate(ASYMMETRIC_POOLS):
        nodes += [
            helper.make_node(
                "AveragePool", ["input"], [f"pool{i}"], kernel_shape=kernel, strides=strides,
                pads=pads, ceil_mode=ceil_mode, count_include_pad=0,
            ),
            helper.make_node("Flatten", [f"pool{i}"], [f"flat{i}"]),
        ]  # fmt: skip
    nodes.append(helper.make_node("Concat", [f"flat{i}" for i in range(len(ASYMMETRIC_POOLS))], ["output"], axis=1))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *POOL_INPUT])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", "F"])],
    )  # fmt: skip
    path = tmp_path_factory.mktemp("pools") / "pools.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)]), str(path))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    library = path.with_name("libpools.so")
    compile_model(path, library, CompileOptions(shared=True))
    return session, CompiledModel(library), path


@pytest.mark.parametrize("batch", [1, 3])
def test_average_pool_with_asymmetric_pads_matches_onnx_runtime(asymmetric_pools, batch):
    """Pads that differ at the two ends, counting only the input pixels of each window, as
    ONNX Runtime does: the borders' averages divide by fewer pixels."""
    session, library, _ = asymmetric_pools
    x = np.random.default_rng(batch).standard_normal((batch, *POOL_INPUT), dtype=np.float32)
    (expected,) = session.run(None, {"input": x})
    np.testing.assert_allclose(library(x), expected, rtol=1e-4, atol=1e-4)


def test_average_pool_with_asymmetric_pads_is_a_window_sum_and_a_scale(asymmetric_pools):
    """No pixel is counted twice or averaged with the padding: the import is an explicit
    zero pad, an `nn.avg_pool2d` of divisor 1 and an `nn.mul` by the window sizes."""
    ops = [op for op in Compilation.import_file(asymmetric_pools[2], None).module.walk()]
    pools = [op for op in ops if op.name == "nn.avg_pool2d"]
    assert len(pools) == len(ASYMMETRIC_POOLS)
    assert all(pool.divisor.value.data == 1 for pool in pools)
    assert sum(op.name == "nn.pad2d" for op in ops) == sum(op.name == "nn.mul" for op in ops) == len(pools)
