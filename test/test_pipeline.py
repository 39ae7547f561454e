"""The whole pipeline against PyTorch: scripted and traced models, -O0 and optimised."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import assert_matches_torch, compile_and_run, save_scripted, save_traced
from models import MODELS, build

from mnistc.importers.torchscript import save_with_shape


def _save(name: str, form: str, tmp_path):
    model, shape = build(name)
    path = tmp_path / f"{name}-{form}.pt"
    if form == "scripted":
        return save_scripted(model, path), shape
    return save_traced(model, torch.rand(1, *shape), path), shape


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("form", ["scripted", "traced"])
@pytest.mark.parametrize("optimise", [True, False], ids=["O3", "O0"])
def test_model_matches_torch(name, form, optimise, tmp_path):
    path, shape = _save(name, form, tmp_path)
    inputs = np.random.default_rng(7).standard_normal((7, *shape), dtype=np.float32)
    model = torch.jit.load(str(path))
    with torch.no_grad():
        expected = model(torch.from_numpy(inputs)).numpy()
    actual = compile_and_run(path, inputs, tmp_path, sample_shape=shape, optimise=optimise)
    assert actual.shape == (7, expected.shape[1])
    assert_matches_torch(actual, expected)


def test_batch_of_one_and_recorded_shape(tmp_path):
    """A model saved with its sample shape recorded compiles without --input-shape."""
    model, shape = build("functional_cnn")
    path = tmp_path / "recorded.pt"
    save_with_shape(torch.jit.trace(model, torch.rand(1, *shape)), path, shape)
    inputs = np.random.default_rng(3).standard_normal((1, *shape), dtype=np.float32)
    with torch.no_grad():
        expected = torch.jit.load(str(path))(torch.from_numpy(inputs)).numpy()
    assert_matches_torch(compile_and_run(path, inputs, tmp_path), expected)


def test_debug_build_matches_torch(tmp_path):
    path, shape = _save("grouped_conv", "scripted", tmp_path)
    inputs = np.random.default_rng(5).standard_normal((3, *shape), dtype=np.float32)
    with torch.no_grad():
        expected = torch.jit.load(str(path))(torch.from_numpy(inputs)).numpy()
    actual = compile_and_run(path, inputs, tmp_path, sample_shape=shape, debug=True)
    assert_matches_torch(actual, expected)
