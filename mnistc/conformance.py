"""`mnistc conformance`: compile ONNX's own test models and compare with their outputs.

The `onnx` package ships test data under `onnx/backend/test/data/`: `pytorch-converted/`
(PyTorch layers exported to ONNX, with inputs and expected outputs), `pytorch-operator/`
(single PyTorch operators, the same way) and `light/` (full architectures at 224x224).
Every 1-D and 2-D case whose floating-point inputs share their first dimension (the
batch), or whose inputs' shapes are all fixed (imported whole then, even of rank 1 or of
different first dimensions), is imported, whatever its number of inputs and outputs
(float64 data is given to the compiled model as float32, the precision it computes in);
a case whose ops mnistc does not support is skipped with the reason; the others are
compiled, run, and each output compared with the expected one (|a-b| <= atol +
rtol*|b|).
"""

from __future__ import annotations

import importlib.util
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnistc.importers.common import ImportError_

SUITES = ("pytorch-converted", "pytorch-operator", "light")


@dataclass
class CaseResult:
    name: str
    status: str
    """"pass", "fail" or "skip"."""
    detail: str = ""


def onnx_test_data_dir() -> Path | None:
    try:
        import onnx
    except ImportError:
        return None
    path = Path(onnx.__file__).parent / "backend" / "test" / "data"
    return path if path.is_dir() else None


def _tensor(path: Path) -> np.ndarray:
    import onnx
    from onnx import numpy_helper

    tensor = onnx.TensorProto()
    tensor.ParseFromString(path.read_bytes())
    return numpy_helper.to_array(tensor)


def cases(suite: str) -> list[tuple[str, Path, list[Path] | None, list[Path]]]:
    """(name, model, inputs, expected outputs) for every case of a suite (inputs None
    for `light/`, whose models come with an output only)."""
    root = onnx_test_data_dir()
    if root is None:
        return []
    found = []
    if suite == "light":
        for model in sorted((root / "light").glob("*.onnx")):
            output = model.with_name(model.stem + "_output_0.pb")
            if output.is_file():
                found.append((model.stem, model, None, [output]))
    else:
        for case in sorted((root / suite).iterdir()):
            data = case / "test_data_set_0"
            if (case / "model.onnx").is_file() and (data / "input_0.pb").is_file():
                found.append((case.name, case / "model.onnx", _numbered(data, "input"), _numbered(data, "output")))
    return found


def _numbered(data: Path, kind: str) -> list[Path]:
    """`input_0.pb`, `input_1.pb`... in order."""
    return sorted(data.glob(f"{kind}_*.pb"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))


def _spatial_dimensions(graph, inputs: np.ndarray) -> int:
    """2 for 2-D convolutions and pools (or none, on NCHW or [N, F] data); else 1 or 3
    (1-D layers import as 2-D ones)."""
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.name == "kernel_shape" and len(attribute.ints) != 2:
                return len(attribute.ints)
    return 3 if inputs.ndim == 5 else 2


def _inputs_for(graph, input_paths: list[Path] | None) -> list[np.ndarray]:
    if input_paths is not None:
        return [_tensor(path) for path in input_paths]
    from mnistc.importers.onnx import data_inputs, input_dims

    rng = np.random.default_rng(0)
    return [rng.random([d or 1 for d in input_dims(i)], dtype=np.float32) for i in data_inputs(graph)]


def _outside_the_model_contract(graph, inputs: list[np.ndarray]) -> str | None:
    """Why a case is outside what a compiled model is, if it is: floating-point inputs
    computed in float32, several of them sharing their first dimension, the batch,
    unless every input's shape is fixed (the model is then imported whole, and a rank-1
    input or different first dimensions are its own: `import_following_the_batch`)."""
    whole = _fixed_shapes(graph)
    for i, array in enumerate(inputs):
        which = f"input {i}: " if len(inputs) > 1 else ""
        if not np.issubdtype(array.dtype, np.floating):
            return f"{which}{array.dtype} input (a compiled model takes floating-point data)"
        if len(inputs) > 1 and array.ndim < 2 and not whole:
            return f"{which}a rank-{array.ndim} input: several inputs share their first dimension, the batch"
        finite = array[np.isfinite(array)]
        if finite.size and np.abs(finite).max() > np.finfo(np.float32).max:
            return "input values beyond float32's range (a compiled model computes in float32)"
    if len({array.shape[0] for array in inputs}) > 1 and not whole:
        firsts = ", ".join(str(array.shape[0]) for array in inputs)
        return f"inputs of first dimensions {firsts}: a compiled model's inputs share the batch"
    return None


def _fixed_shapes(graph) -> bool:
    """Whether every graph input's shape is fixed, so that a model whose inputs share no
    batch is imported whole (`signature.fixed_inputs`)."""
    from mnistc.importers.onnx import data_inputs, input_dims
    from mnistc.importers.signature import fixed_inputs

    inputs = data_inputs(graph)
    return fixed_inputs([i.name for i in inputs], [input_dims(i) for i in inputs], None) is not None


def _unsupported(message: str) -> str:
    """A refusal's list as one line: each op, with the converter's reason if it gave one."""
    listed = []
    for line in message.splitlines()[1:-1]:
        op, _, place = line.strip().partition(" at ")
        reason = place[place.index(" (") + 2 : -1] if place.endswith(")") and " (" in place else ""
        listed.append(f"{op} ({reason})" if reason else op)
    return "unsupported: " + ", ".join(listed)


def agree(actual: np.ndarray, expected: np.ndarray, atol: float, rtol: float) -> np.ndarray:
    """Element by element: the same NaN and infinities, finite values within tolerance."""
    with np.errstate(invalid="ignore"):
        close = np.isfinite(expected) & (np.abs(actual - expected) <= atol + rtol * np.abs(expected))
    return close | (actual == expected) | (np.isnan(actual) & np.isnan(expected))


def run_case(name, model, input_paths, output_paths, workdir: Path, atol=1e-4, rtol=1e-4) -> CaseResult:
    from mnistc.driver import CompileOptions, compile_model
    from mnistc.errors import MnistcError
    from mnistc.importers.onnx import load_onnx
    from mnistc.verify import onnx_reference, run_executable_n

    graph = load_onnx(model).graph
    inputs = _inputs_for(graph, input_paths)
    if (reason := _outside_the_model_contract(graph, inputs)) is not None:
        return CaseResult(name, "skip", reason)
    if _spatial_dimensions(graph, inputs[0]) == 3:
        return CaseResult(name, "skip", "not 1-D or 2-D (3-D layers)")
    if input_paths is None:
        # light/ models come with an output for an input we do not have: the comparison
        # runs against ONNX Runtime when present, on random input.
        if importlib.util.find_spec("onnxruntime") is None:
            return CaseResult(name, "skip", "no input data, and onnxruntime is not installed")
        expected = [onnx_reference(model)[0](*inputs)]
    else:
        expected = [_tensor(path) for path in output_paths]
    executable = workdir / name
    try:
        whole = compile_model(model, executable, CompileOptions()).imported_whole is not None
    except ImportError_ as e:
        message = str(e)
        if message.startswith("unsupported ONNX operators"):
            return CaseResult(name, "skip", _unsupported(message))
        return CaseResult(name, "fail", message.splitlines()[0])
    except MnistcError as e:
        return CaseResult(name, "fail", str(e).splitlines()[0])
    # imported whole: each input is one sample, the model's own tensor
    actuals = run_executable_n(executable, [a[None] for a in inputs] if whole else inputs, len(expected))
    bad, worst = 0, 0.0
    for actual, want in zip(actuals, expected):
        actual = actual.reshape(want.shape)
        bad += int((~agree(actual, want, atol, rtol)).sum())
        worst = max(worst, float(np.abs(actual - want)[np.isfinite(want)].max(initial=0.0)))
    detail = f"max |a-b| {worst:.2e}"
    return CaseResult(name, "fail" if bad else "pass", detail + (f", {bad} out of tolerance" if bad else ""))


def run_suite(suite: str, log=print) -> list[CaseResult]:
    results = []
    with tempfile.TemporaryDirectory(prefix="mnistc-conformance-") as scratch:
        for name, model, input_path, output_path in cases(suite):
            result = run_case(name, model, input_path, output_path, Path(scratch))
            log(f"  {result.status:<4} {name}  {result.detail}")
            results.append(result)
    counts = {s: sum(r.status == s for r in results) for s in ("pass", "fail", "skip")}
    log(f"{suite}: {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped")
    return results
