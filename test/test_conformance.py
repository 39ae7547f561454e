"""ONNX's own test models (onnx/backend/test/data), compiled and compared with their outputs."""

from __future__ import annotations

import pytest

from mnistc.conformance import cases, onnx_test_data_dir, run_case

pytestmark = [
    pytest.mark.skipif(onnx_test_data_dir() is None, reason="the onnx package is not installed"),
    pytest.mark.slow,  # a compile per case: 38 layer-level cases, 7 whole networks
]

CASES = cases("pytorch-converted")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("conformance")
    return {case[0]: run_case(*case, workdir) for case in CASES}


def test_no_supported_case_fails(results):
    failures = {n: r.detail for n, r in results.items() if r.status == "fail"}
    assert failures == {}


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


def test_skips_say_why(results):
    for name, result in results.items():
        if result.status == "skip":
            assert result.detail.startswith(("unsupported: ", "not 1-D or 2-D")), (name, result.detail)


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
        "light_squeezenet", "light_vgg19", "light_zfnet512",
    } <= passed  # fmt: skip
