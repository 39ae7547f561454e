"""The whole pipeline against PyTorch: scripted and traced models, -O0 and optimised."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import torch
from conftest import assert_matches_torch, compile_and_run, torch_outputs
from models import MODELS, build
from xdsl.printer import Printer

from mnistc.driver import CompileOptions, compile_model
from mnistc.importers import import_model
from mnistc.importers.torchscript import save_with_shape
from mnistc.verify import run_executable


TRACED_DIFFERS = {"activation_zoo", "math"}
"""The models whose traced graph imports to other `nn` IR than their scripted one; every
other model traces to the same IR and weights, byte for byte (checked below), so its
scripted compile is also its traced one."""
FORMS = [(name, "scripted") for name in sorted(MODELS)] + [
    (name, "traced") for name in sorted(TRACED_DIFFERS)
]


@pytest.mark.parametrize("name, form", FORMS, ids=[f"{form}-{name}" for name, form in FORMS])
@pytest.mark.parametrize(
    "optimise", [True, pytest.param(False, marks=pytest.mark.slow)], ids=["O3", "O0"]
)  # -O0 (general kernels, no plan) for every model: in `-m slow`
def test_model_matches_torch(name, form, optimise, tmp_path, saved_model):
    """Compiled once, run at batches 7, 3 and 1."""
    path, shape = saved_model(name, form)
    model = torch.jit.load(str(path))
    executable = tmp_path / "model"
    compile_model(path, executable, CompileOptions(sample_shape=shape, optimise=optimise))
    for batch in (7, 3, 1):
        inputs = np.random.default_rng(batch).standard_normal((batch, *shape), dtype=np.float32)
        with torch.no_grad():
            expected = model(torch.from_numpy(inputs)).numpy()
        actual = run_executable(executable, inputs)
        assert actual.shape == (batch, expected.reshape(batch, -1).shape[1])
        assert_matches_torch(actual, expected)


def code_of(module) -> str:
    """The IR without its source locations, which name the model's lines, and without its
    inputs' and outputs' names, which each front end takes from its own file: neither
    changes what the kernels compute."""
    text = io.StringIO()
    Printer(stream=text).print_op(module)
    return re.sub(r' \{mnistc\.name = "[^"]*"\}', "", text.getvalue())


def test_traced_models_import_as_scripted(saved_model):
    """Tracing instead of scripting changes no model's `nn` IR (but for its source
    locations) or weights, except in TRACED_DIFFERS, which are compiled traced as well:
    the same IR and weights give the same C++, so compiling the others again would check
    nothing new."""
    for name in sorted(set(MODELS) - TRACED_DIFFERS):
        scripted, shape = saved_model(name, "scripted")
        traced, _ = saved_model(name, "traced")
        ours, theirs = import_model(scripted, shape), import_model(traced, shape)
        assert code_of(ours.module) == code_of(theirs.module), name
        assert ours.weights.data() == theirs.weights.data(), name
    for name in TRACED_DIFFERS:
        scripted, shape = saved_model(name, "scripted")
        traced, _ = saved_model(name, "traced")
        ir = code_of(import_model(scripted, shape).module)
        assert ir != code_of(import_model(traced, shape).module), f"{name} no longer differs"


def test_batch_of_one_and_recorded_shape(tmp_path):
    """A model saved with its sample shape recorded compiles without --input-shape."""
    model, shape = build("functional_cnn")
    path = tmp_path / "recorded.pt"
    save_with_shape(torch.jit.trace(model, torch.rand(1, *shape)), path, shape)
    inputs = np.random.default_rng(3).standard_normal((1, *shape), dtype=np.float32)
    with torch.no_grad():
        expected = torch.jit.load(str(path))(torch.from_numpy(inputs)).numpy()
    assert_matches_torch(compile_and_run(path, inputs, tmp_path), expected)


@pytest.mark.parametrize("name", ["mnist_cnn", "residual", "vggish"])
def test_without_winograd_matches_torch(name, tmp_path, saved_model):
    """winograd=False: the 3x3 convolutions on the packed direct kernel, pools separate."""
    path, shape = saved_model(name, "scripted")
    inputs = np.random.default_rng(6).standard_normal((3, *shape), dtype=np.float32)
    actual = compile_and_run(path, inputs, tmp_path, sample_shape=shape, winograd=False)
    assert_matches_torch(actual, torch_outputs(path, inputs))


@pytest.mark.slow  # builds a kernel library of its own (-O0 -g, sanitizers)
def test_debug_build_matches_torch(tmp_path, saved_model):
    path, shape = saved_model("grouped_conv", "scripted")
    inputs = np.random.default_rng(5).standard_normal((3, *shape), dtype=np.float32)
    with torch.no_grad():
        expected = torch.jit.load(str(path))(torch.from_numpy(inputs)).numpy()
    actual = compile_and_run(path, inputs, tmp_path, sample_shape=shape, debug=True)
    assert_matches_torch(actual, expected)


def test_the_model_suite_covers_every_op(saved_model):
    """Each `nn` op appears in some test model, imported or after optimisation."""
    from mnistc.dialects.nn import NN
    from mnistc.dialects.nn import quant as nn_quant

    from mnistc.driver import Compilation

    seen = set()
    for name in MODELS:
        path, shape = saved_model(name, "scripted")
        compilation = Compilation.import_file(path, shape)
        seen |= {op.name for op in compilation.module.walk()}
        compilation.run_to("nn")
        seen |= {op.name for op in compilation.module.walk()}
    # nn.lrn comes from ONNX only (PyTorch's LRN is not one aten op): an LRN graph in
    # test_onnx_importer.py and the light/ AlexNet and ZFNet conformance cases cover it.
    # nn.splat too (ConstantOfShape): test_onnx_splats.py. And nn.softsign (PyTorch's
    # softsign is x / (1 + |x|) in Python): ONNX's Softsign, in test_math_ops.py. And
    # nn.powf (a tensor exponent): test_math_ops.py's PowNet through the three front ends.
    # The quant family comes from the quantize pass (test_quantize.py, test_accuracy.py)
    # and from quantized model files, never from a float32 model's import.
    quantized = {op.name for op in nn_quant.OPS}
    assert {op.name for op in NN.operations} - seen - quantized == {"nn.lrn", "nn.splat", "nn.softsign", "nn.powf"}
