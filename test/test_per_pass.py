"""The reference interpreter checks every pass: the IR computes the same before and after."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import save_scripted, save_traced
from mnistc.dialects import nn
from models import MODELS, build
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

import mnistc.driver
from mnistc.driver import OPTIMISATION_PIPELINE
from mnistc.verify import check_passes, first_diverging_layer, split_pipeline


@pytest.mark.parametrize("name", sorted(MODELS))
def test_no_pass_changes_the_outputs(name, saved_model):
    report = check_passes(*saved_model(name), samples=2)
    assert [c.stage for c in report.checks] == ["import", *split_pipeline(OPTIMISATION_PIPELINE)]
    assert report.passed, report.summary()


class SigmoidForRelu(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.ReluOp, rewriter: PatternRewriter, /):
        rewriter.replace(op, nn.SigmoidOp(op.input))


class BreakReluPass(ModulePass):
    name = "break-relu"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(SigmoidForRelu()).rewrite_module(op)


def test_a_wrong_pass_is_named(tmp_path, monkeypatch):
    passes = mnistc.driver.all_passes()
    monkeypatch.setattr(mnistc.driver, "all_passes", lambda: {**passes, "break-relu": lambda: BreakReluPass})
    model, shape = build("functional_cnn")
    report = check_passes(
        save_scripted(model, tmp_path / "m.pt"), shape, pipeline="remove-dropout,break-relu,dce"
    )
    assert not report.passed
    assert report.first_failure.stage == "break-relu"
    assert "pass 'break-relu' is the first stage" in report.summary()


def test_first_diverging_layer_is_found(tmp_path):
    """Corrupt conv2's weights after import: the divergence is reported at that conv."""
    from mnistc.importers.torchscript import forward_graph, freeze, import_graph, load_torchscript

    model, shape = build("mnist_cnn")
    path = save_traced(model, __import__("torch").rand(1, *shape), tmp_path / "m.pt")
    frozen = freeze(load_torchscript(path)[0])
    imported = import_graph(forward_graph(frozen), shape)
    sample = np.random.default_rng(0).random((1, *shape), dtype=np.float32)
    assert first_diverging_layer(frozen, imported, sample, 1e-4, 1e-4) is None

    conv2 = next(op for op in imported.module.walk() if isinstance(op, nn.WeightOp) and op.key.data == "conv2.weight")
    corrupted = imported.weights.read(conv2.offset.value.data, nn.shape_of(conv2.result)) * 1.5
    conv2.offset = type(conv2.offset)(imported.weights.append(corrupted), conv2.offset.type)
    divergence = first_diverging_layer(frozen, imported, sample, 1e-4, 1e-4)
    assert divergence is not None and divergence.startswith("nn.conv2d")
    assert "conv2 (Conv2d)" in divergence


def test_split_pipeline():
    assert split_pipeline("a,b{x=1,y=2},c") == ["a", "b{x=1,y=2}", "c"]
