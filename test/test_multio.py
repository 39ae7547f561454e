"""Models of several inputs and several outputs, end to end: the three front ends, the
C ABI (`mnistc_model_run_n`, names, sizes, shapes) from Python and from C, the
executable's files in order and by name, and the refusals that name the input."""

from __future__ import annotations

import json
import subprocess
from typing import Optional

import numpy as np
import pytest
import torch
from conftest import assert_matches_torch

from mnistc.driver import CompileOptions, compile_model
from mnistc.errors import MnistcError
from mnistc.importers import import_model
from mnistc.importers.common import ImportError_
from mnistc.importers.signature import signature_names
from mnistc.importers.torchscript import save_with_shape
from mnistc.runtime import CompiledModel
from mnistc.tools.mnistc import build_parser

SHAPES = {"x": (3, 6, 6), "mask": (8,)}


class TwoInThreeOut(torch.nn.Module):
    """Two inputs; one output computed from both, one that is an input as it came, one
    a view of the first output."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.fc = torch.nn.Linear(8, 8)

    def forward(self, x, mask):
        y = self.conv(x).flatten(1)[:, :8] + self.fc(mask)
        return torch.relu(y), mask, y.view(-1, 2, 4)


def _inputs(batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal((batch, *s)).astype(np.float32) for k, s in SHAPES.items()}


def _expected(module: torch.nn.Module, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    with torch.no_grad():
        return [o.numpy() for o in module(*(torch.from_numpy(a) for a in inputs.values()))]


def _save(module: torch.nn.Module, frontend: str, directory) -> object:
    example = tuple(torch.from_numpy(a) for a in _inputs(2).values())
    if frontend == "torchscript":
        path = directory / "m.pt"
        save_with_shape(torch.jit.trace(module, example), path, list(SHAPES.values()))
    elif frontend == "export":
        path = directory / "m.pt2"
        batch = torch.export.Dim("batch")
        program = torch.export.export(module, example, dynamic_shapes={k: {0: batch} for k in SHAPES})
        torch.export.save(program, str(path))
    else:
        path = directory / "m.onnx"
        torch.onnx.export(
            module, example, str(path), input_names=list(SHAPES), output_names=["y", "m", "v"],
            dynamic_axes={k: {0: "n"} for k in (*SHAPES, "y", "m", "v")}, dynamo=False,
        )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def module() -> torch.nn.Module:
    torch.manual_seed(0)
    return TwoInThreeOut().eval()


FRONTENDS = ("torchscript", "export", "onnx")


@pytest.fixture(scope="module")
def libraries(module, tmp_path_factory) -> dict[str, tuple]:
    """The model through each front end: its file and its compiled library."""
    built = {}
    for frontend in FRONTENDS:
        directory = tmp_path_factory.mktemp(frontend)
        path = _save(module, frontend, directory)
        compile_model(path, directory / "libm.so", CompileOptions(shared=True))
        built[frontend] = (path, CompiledModel(directory / "libm.so"))
    return built


@pytest.fixture(params=FRONTENDS)
def compiled(request, libraries):
    return (request.param, *libraries[request.param])


def test_signature_names(compiled):
    """Inputs keep the file's names; outputs too where the file names them; a dynamic
    batch is followed (not imported whole)."""
    frontend, path, model = compiled
    assert model.imported_whole is None  # a dynamic batch: per sample, any batch
    assert model.input_names == ["x", "mask"]
    assert model.input_shapes == [(3, 6, 6), (8,)]
    assert model.output_shapes == [(8,), (8,), (2, 4)]
    outputs = {"torchscript": ["output_0", "output_1", "output_2"], "onnx": ["y", "m", "v"]}
    assert model.output_names == outputs.get(frontend, model.output_names)
    function = next(iter(import_model(path).module.ops))
    assert signature_names(function) == (model.input_names, model.output_names)


@pytest.mark.parametrize("batch", [1, 3])
def test_matches_torch(compiled, module, batch):
    """By position and by name, NumPy and torch: the three outputs as PyTorch gives them."""
    _, _, model = compiled
    inputs = _inputs(batch, seed=batch)
    expected = _expected(module, inputs)
    by_position = model(inputs["x"], inputs["mask"])
    by_name = model(mask=inputs["mask"], x=inputs["x"])
    as_torch = model(*(torch.from_numpy(a) for a in inputs.values()))
    assert isinstance(by_position, tuple) and len(by_position) == 3
    assert all(isinstance(o, torch.Tensor) for o in as_torch)
    for outputs in (by_position, by_name, [o.numpy() for o in as_torch]):
        for actual, want in zip(outputs, expected, strict=True):
            assert actual.shape == want.shape
            assert_matches_torch(actual, want)
    np.testing.assert_array_equal(by_position[1], inputs["mask"])  # an input, copied


def test_runtime_refusals(compiled):
    """Wrong count, unknown name, wrong shape, batches that differ: each named."""
    _, _, model = compiled
    inputs = _inputs(2)
    cases = [
        ((inputs["x"],), {}, "takes 2 inputs (x, mask), got 1"),
        ((inputs["x"],), {"maks": inputs["mask"]}, "unknown input 'maks'"),
        ((inputs["x"], inputs["mask"][:, :7]), {}, "input 'mask' of shape [2, 7] refused"),
        ((inputs["x"], inputs["mask"][:1]), {}, "different numbers of samples (x 2, mask 1)"),
        ((inputs["x"],), {"x": inputs["mask"]}, "input 'x' given twice"),
    ]
    for args, kwargs, message in cases:
        with pytest.raises(MnistcError) as error:
            model(*args, **kwargs)
        assert message in str(error.value)


def test_run_n_from_c(libraries, tmp_path):
    """The header's general entry point, names, sizes and shapes, from a C program (on
    the ONNX model, whose outputs are named in the file); mnistc_model_run refuses a
    model of several inputs with 2."""
    _, model = libraries["onnx"]
    source = tmp_path / "use.c"
    source.write_text(
        '#include <stdio.h>\n#include "libm.h"\n'
        "int main(void) { float x[2 * 108], mask[2 * 8], y[16], m[16], v[16];\n"
        "  for (int i = 0; i < 2 * 108; ++i) x[i] = 0.01f * i;\n"
        "  for (int i = 0; i < 16; ++i) mask[i] = 1.0f - 0.1f * i;\n"
        "  const float* inputs[] = {x, mask}; float* outputs[] = {y, m, v};\n"
        "  if (mnistc_model_run_n(inputs, outputs, 2)) return 1;\n"
        "  if (mnistc_model_run(x, y, 2) != 2 || mnistc_model_run_n(inputs, outputs, -1) == 0) return 2;\n"
        '  printf("%lld %lld %s %s %lld %s %s %s\\n", (long long)mnistc_model_num_inputs(),\n'
        "         (long long)mnistc_model_num_outputs(), mnistc_model_input_name(1),\n"
        "         mnistc_model_input_shape_of(0), (long long)mnistc_model_output_size_of(2),\n"
        "         mnistc_model_output_shape_of(2), mnistc_model_output_name(0),\n"
        '         mnistc_model_input_name(2) == NULL ? "null" : "?");\n'
        "  for (int i = 0; i < 16; ++i) printf(\"%.9g \", m[i]);\n"
        "  return 0; }\n"
    )
    library = model.path
    subprocess.run(
        ["gcc", str(source), f"-I{library.parent}", str(library), f"-Wl,-rpath,{library.parent}",
         "-o", str(tmp_path / "use")], check=True,
    )  # fmt: skip
    result = subprocess.run([str(tmp_path / "use")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    first, values = result.stdout.split("\n", 1)
    assert first == "2 3 mask 3x6x6 8 2x4 y null"
    np.testing.assert_array_equal(np.array(values.split(), np.float32), 1.0 - 0.1 * np.arange(16, dtype=np.float32))


class ThreeInputs(torch.nn.Module):
    def forward(self, a, b, c):
        return a * b + c.sum(1, keepdim=True), torch.tanh(b)


@pytest.fixture(scope="module")
def executable(tmp_path_factory):
    directory = tmp_path_factory.mktemp("exe")
    path = directory / "three.onnx"
    example = (torch.rand(2, 5), torch.rand(2, 5), torch.rand(2, 4))
    torch.onnx.export(
        ThreeInputs(), example, str(path), input_names=["a", "b", "c"], output_names=["s", "t"],
        dynamic_axes={k: {0: "n"} for k in "abcst"}, dynamo=False,
    )  # fmt: skip
    exe = directory / "three"
    compile_model(path, exe, CompileOptions())
    return exe


def test_executable_files(executable, tmp_path):
    """One file per input and output, in order or NAME=FILE, raw or .npy, against
    PyTorch; --info lists the signature."""
    rng = np.random.default_rng(1)
    arrays = {"a": rng.random((3, 5)), "b": rng.random((3, 5)), "c": rng.random((3, 4))}
    for name, array in arrays.items():
        array.astype(np.float32).tofile(tmp_path / f"{name}.bin")
    np.save(tmp_path / "b.npy", arrays["b"].astype(np.float32))
    with torch.no_grad():
        s, t = ThreeInputs()(*(torch.from_numpy(a.astype(np.float32)) for a in arrays.values()))
    files = [str(tmp_path / f) for f in ("a.bin", "b.bin", "c.bin", "s.bin", "t.npy")]
    subprocess.run([str(executable), *files], check=True, capture_output=True)
    assert_matches_torch(np.fromfile(tmp_path / "s.bin", np.float32).reshape(3, 5), s.numpy())
    assert_matches_torch(np.load(tmp_path / "t.npy"), t.numpy())
    by_name = [f"t={tmp_path / 't2.bin'}", f"c={files[2]}", files[0], f"b={tmp_path / 'b.npy'}", str(tmp_path / "s2.bin")]
    subprocess.run([str(executable), *by_name], check=True, capture_output=True)
    assert_matches_torch(np.fromfile(tmp_path / "s2.bin", np.float32).reshape(3, 5), s.numpy())
    assert_matches_torch(np.fromfile(tmp_path / "t2.bin", np.float32).reshape(3, 5), t.numpy())
    info = json.loads(subprocess.run([str(executable), "--info"], capture_output=True, text=True, check=True).stdout)
    assert info["inputs"] == [{"name": n, "shape": [s]} for n, s in (("a", 5), ("b", 5), ("c", 4))]
    assert info["output_shapes"] == [{"name": "s", "shape": [5]}, {"name": "t", "shape": [5]}]


def test_executable_refusals(executable, tmp_path):
    """A missing file is a usage error listing the inputs; a wrong size or a different
    sample count is one message naming the input; no output is written."""
    np.zeros((3, 5), np.float32).tofile(tmp_path / "a.bin")
    np.zeros((2, 5), np.float32).tofile(tmp_path / "b.bin")
    np.zeros((3, 3), np.float32).tofile(tmp_path / "c.bin")
    a, b, c = (str(tmp_path / f"{n}.bin") for n in "abc")
    out = [str(tmp_path / "s.bin"), str(tmp_path / "t.bin")]
    usage = subprocess.run([str(executable), a, b, *out], capture_output=True, text=True)
    assert usage.returncode == 2 and "input c: 4" in usage.stderr
    wrong_size = subprocess.run([str(executable), a, a, c, *out], capture_output=True, text=True)
    assert wrong_size.returncode == 1
    assert "error: input 'c' (" in wrong_size.stderr and "not a positive multiple of one sample (4 float32" in wrong_size.stderr
    np.zeros((3, 4), np.float32).tofile(tmp_path / "c.bin")
    different = subprocess.run([str(executable), a, b, c, *out], capture_output=True, text=True)
    assert different.returncode == 1 and "different numbers of samples: input 'a'" in different.stderr
    assert not any((tmp_path / n).exists() for n in ("s.bin", "t.bin"))


def test_importer_refusals(module, tmp_path):
    """Shapes missing, too few or naming no input: one message naming the inputs."""
    example = tuple(torch.from_numpy(a) for a in _inputs(2).values())
    path = tmp_path / "plain.pt"
    torch.jit.save(torch.jit.trace(module, example), str(path))
    cases = [
        (None, "input 'x' has no static sample shape: give it with --input-shape x=C,H,W"),
        ((3, 6, 6), "1 input shape given for a model of 2 inputs (the model's inputs: x, mask)"),
        ({"x": (3, 6, 6), "y": (8,)}, "--input-shape names 'y', not an input of the model"),
    ]
    for shapes, message in cases:
        with pytest.raises(ImportError_) as error:
            import_model(path, shapes)
        assert message in str(error.value)
    for shapes in ({"mask": (8,), "x": (3, 6, 6)}, [(3, 6, 6), (8,)]):
        function = next(iter(import_model(path, shapes).module.ops))
        assert [tuple(a.type.get_shape()) for a in function.body.block.args] == [(1, 3, 6, 6), (1, 8)]


class OptionalBias(torch.nn.Module):
    def forward(self, x, bias: Optional[torch.Tensor] = None):
        y = torch.relu(x)
        if bias is not None:
            y = y + bias
        return y


def test_an_argument_with_a_default_is_an_input_when_named(tmp_path):
    """TorchScript: `bias=None` keeps its default unless --input-shape names it; then it
    is an input, and `if bias is not None` takes its branch."""
    path = tmp_path / "optional.pt"
    torch.jit.save(torch.jit.script(OptionalBias().eval()), str(path))
    alone = next(iter(import_model(path, (4,)).module.ops))
    named = next(iter(import_model(path, {"x": (4,), "bias": (4,)}).module.ops))
    assert signature_names(alone) == (["x"], ["output"])
    assert signature_names(named) == (["x", "bias"], ["output"])
    assert [op.name for op in alone.walk()].count("nn.add") == 0
    assert [op.name for op in named.walk()].count("nn.add") == 1


def test_input_shape_option():
    """`--input-shape`: the old single form, in order (`;` or repeated), by name."""
    parse = lambda *flags: build_parser().parse_args(["compile", "m.onnx", "-o", "m", *flags]).input_shape  # noqa: E731
    assert parse("--input-shape", "1,28,28") == (1, 28, 28)
    assert parse("--input-shape", "3,8,8;8") == [(3, 8, 8), (8,)]
    assert parse("--input-shape", "3,8,8", "--input-shape", "8") == [(3, 8, 8), (8,)]
    assert parse("--input-shape", "x=3,8,8", "--input-shape", "mask=8") == {"x": (3, 8, 8), "mask": (8,)}
    with pytest.raises(SystemExit):
        parse("--input-shape", "x=3,8,8", "--input-shape", "8")


def test_verify_random_inputs(libraries):
    """`mnistc verify` on a model of several inputs: random batches of each input, every
    output compared with ONNX Runtime's, by name."""
    from mnistc.verify import verify_model

    path, _ = libraries["onnx"]
    report = verify_model(path, batches=2)
    assert report.passed
    assert [c.name for c in report.comparisons] == [
        f"random batch {n}: {o}" for n in (1, 7) for o in ("y", "m", "v")
    ]


def test_run_refuses_several_inputs(libraries, tmp_path):
    """`mnistc run` classifies with one input: a clear refusal, not a wrong call."""
    from mnistc.run import run

    _, model = libraries["export"]
    np.save(tmp_path / "x.npy", np.zeros((1, 3, 6, 6), np.float32))
    with pytest.raises(MnistcError, match="a model of 2 inputs and 3 outputs: `mnistc run` classifies"):
        run(model.path, [tmp_path / "x.npy"], log=lambda line: None)


def test_compile_in_memory_with_several_inputs():
    """`mnistc.compile(module, (a, b, c))`: torch.export of every input, names kept."""
    import mnistc

    examples = (torch.rand(2, 5), torch.rand(2, 5), torch.rand(2, 4))
    model = mnistc.compile(ThreeInputs(), examples)
    assert model.input_names == ["a", "b", "c"]
    batch = [torch.randn(3, *e.shape[1:]) for e in examples]
    for actual, want in zip(model(*batch), ThreeInputs()(*batch), strict=True):
        assert_matches_torch(actual.numpy(), want.numpy())
