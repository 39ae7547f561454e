"""Weights without hidden global state: passes find them in the pipeline's context, and
`mnistc-opt` writes weights only to `--weights-out`, never to the file it read."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from xdsl.context import Context
from xdsl.parser import Parser

from mnistc import weights
from mnistc.driver import Compilation, make_context
from mnistc.tools.mnistc_opt import main as mnistc_opt
from mnistc.transforms.fold_constants import FoldConstantsPass

FOLDABLE = """
builtin.module attributes {nn.weights_file = "w.bin"} {
  func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
    %a = nn.weight "a" offset 0 : tensor<1x4xf32>
    %b = nn.weight "b" offset 64 : tensor<1x4xf32>
    %0 = nn.add %a, %b : tensor<1x4xf32>, tensor<1x4xf32> -> tensor<1x4xf32>
    %1 = nn.add %x, %0 : tensor<1x4xf32>, tensor<1x4xf32> -> tensor<1x4xf32>
    func.return %1 : tensor<1x4xf32>
  }
}
"""
"""a + b folds into a new weight at offset 128, whatever a and b hold."""


def weight_file(a, b) -> weights.WeightFile:
    data = weights.WeightFile()
    assert data.append(np.array(a)) == 0 and data.append(np.array(b)) == 64
    return data


def folded(compilation: Compilation) -> np.ndarray:
    (op,) = [op for op in compilation.module.walk() if op.name == "nn.weight"]
    return compilation.weights.read(op.offset.value.data, (1, 4))


def test_each_pipeline_folds_its_own_weights():
    """Two compilations whose modules name the same file keep apart: the weights live in
    each one's context, not under a global name."""
    first = Compilation(make_context(), parse(FOLDABLE), weight_file([1, 2, 3, 4], [10] * 4))
    second = Compilation(make_context(), parse(FOLDABLE), weight_file([0] * 4, [-1] * 4))
    first.run("folded", "fold-constants,dce")
    second.run("folded", "fold-constants,dce")
    np.testing.assert_array_equal(folded(first), [[11, 12, 13, 14]])
    np.testing.assert_array_equal(folded(second), [[-1] * 4])


def test_a_plain_xdsl_context_is_a_clear_error():
    with pytest.raises(weights.WeightFileError, match="MnistcContext"):
        FoldConstantsPass().apply(Context(), parse(FOLDABLE))


def test_a_cloned_context_appends_to_its_own_copy():
    ctx = make_context()
    original = ctx.weights.add("w.bin", weight_file([1] * 4, [2] * 4))
    clone, module = FoldConstantsPass().apply_to_clone(ctx, parse(FOLDABLE))
    assert len(clone.weights.get("w.bin")) == 128 + 16
    assert len(original) == 64 + 16


@pytest.fixture
def opt_dir(tmp_path, monkeypatch):
    """A working directory with the input IR and its weight file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.mlir").write_text(FOLDABLE)
    weight_file([1, 2, 3, 4], [10] * 4).save(tmp_path / "w.bin")
    return tmp_path


def run_opt(*args: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = mnistc_opt(["in.mlir", *args])
        except SystemExit as e:
            code = e.code
    return code, stdout.getvalue(), stderr.getvalue()


def test_mnistc_opt_refuses_to_drop_added_weights(opt_dir):
    before = (opt_dir / "w.bin").read_bytes()
    code, out, err = run_opt("-p", "fold-constants")
    assert (code, out) == (1, "")
    assert err == (
        "mnistc-opt: error: the passes added weights to 'w.bin', which mnistc-opt does not "
        "change: give --weights-out FILE to write them there\n"
    )
    assert (opt_dir / "w.bin").read_bytes() == before
    assert sorted(p.name for p in opt_dir.iterdir()) == ["in.mlir", "w.bin"]


def test_mnistc_opt_writes_weights_where_it_is_told(opt_dir):
    """Through a symlink (which stays a link), as every output; the IR names the link."""
    before = (opt_dir / "w.bin").read_bytes()
    (opt_dir / "target.bin").write_bytes(b"old")
    (opt_dir / "link.bin").symlink_to("target.bin")
    code, out, err = run_opt("-p", "fold-constants,dce", "--weights-out", "link.bin")
    assert code == 0, err
    assert 'nn.weights_file = "link.bin"' in out
    assert (opt_dir / "link.bin").is_symlink()
    assert (opt_dir / "w.bin").read_bytes() == before
    written = weights.read_file("link.bin")
    assert written.data()[: len(before)] == before
    np.testing.assert_array_equal(written.read(128, (1, 4)), [[11, 12, 13, 14]])
    # The output runs through mnistc-opt again with the weights it names.
    (opt_dir / "in.mlir").write_text(out)
    code, _, err = run_opt("-p", "convert-nn-to-cpu", "-t", "cpp")
    assert code == 0, err


def test_mnistc_opt_cpp_embeds_the_written_weights(opt_dir):
    code, out, err = run_opt(
        "-p", "fold-constants,dce,convert-nn-to-cpu", "-t", "cpp", "--weights-out", "out.bin"
    )
    assert code == 0, err
    assert '.incbin \\"out.bin\\"' in out
    assert (opt_dir / "out.bin").stat().st_size == 128 + 16


def parse(text: str):
    return Parser(make_context(), text).parse_module()
