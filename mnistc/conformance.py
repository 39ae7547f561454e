"""`mnistc conformance`: compile ONNX's own test models and compare with their outputs.

The `onnx` package ships test data under `onnx/backend/test/data/`: `pytorch-converted/`
(PyTorch layers exported to ONNX, with inputs and expected outputs), `pytorch-operator/`
(single PyTorch operators, the same way) and `light/` (full architectures at 224x224).
Every 1-D and 2-D case with one floating-point input is imported (float64 data is given
to the compiled model as float32, the precision it computes in); a case whose ops mnistc
does not support is skipped with the reason; the others are compiled, run, and compared
with the expected output (|a-b| <= atol + rtol*|b|).
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


def cases(suite: str) -> list[tuple[str, Path, Path, Path]]:
    """(name, model, input, expected output) for every case of a suite."""
    root = onnx_test_data_dir()
    if root is None:
        return []
    found = []
    if suite == "light":
        for model in sorted((root / "light").glob("*.onnx")):
            output = model.with_name(model.stem + "_output_0.pb")
            if output.is_file():
                found.append((model.stem, model, None, output))
    else:
        for case in sorted((root / suite).iterdir()):
            data = case / "test_data_set_0"
            if (case / "model.onnx").is_file() and (data / "input_0.pb").is_file():
                found.append((case.name, case / "model.onnx", data / "input_0.pb", data / "output_0.pb"))
    return found


def _spatial_dimensions(graph, inputs: np.ndarray) -> int:
    """2 for 2-D convolutions and pools (or none, on NCHW or [N, F] data); else 1 or 3
    (1-D layers import as 2-D ones)."""
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.name == "kernel_shape" and len(attribute.ints) != 2:
                return len(attribute.ints)
    return 3 if inputs.ndim == 5 else 2


def _input_for(graph, input_path: Path | None) -> np.ndarray:
    if input_path is not None:
        return _tensor(input_path)
    from mnistc.importers.onnx import data_inputs, input_dims

    (graph_input,) = data_inputs(graph)
    shape = [d or 1 for d in input_dims(graph_input)]
    return np.random.default_rng(0).random(shape, dtype=np.float32)


def _outside_the_model_contract(graph, input_path: Path | None, inputs: np.ndarray) -> str | None:
    """Why a case is outside what a compiled model is, if it is: one floating-point input
    (its first dimension the batch, or, fixed, the whole input: `import_following_the_batch`),
    computed in float32, and one output."""
    if input_path is not None and (count := len(list(input_path.parent.glob("input_*.pb")))) > 1:
        return f"{count} inputs (a compiled model takes one)"
    if (count := len(graph.output)) > 1:
        return f"{count} outputs (a compiled model has one)"
    if not np.issubdtype(inputs.dtype, np.floating):
        return f"{inputs.dtype} input (a compiled model takes floating-point data)"
    finite = inputs[np.isfinite(inputs)]
    if finite.size and np.abs(finite).max() > np.finfo(np.float32).max:
        return "input values beyond float32's range (a compiled model computes in float32)"
    return None


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


def run_case(name, model, input_path, output_path, workdir: Path, atol=1e-4, rtol=1e-4) -> CaseResult:
    from mnistc.driver import CompileOptions, compile_model
    from mnistc.errors import MnistcError
    from mnistc.importers.onnx import load_onnx
    from mnistc.verify import onnx_reference, run_executable

    graph = load_onnx(model).graph
    inputs = _input_for(graph, input_path)
    if (reason := _outside_the_model_contract(graph, input_path, inputs)) is not None:
        return CaseResult(name, "skip", reason)
    if (spatial := _spatial_dimensions(graph, inputs)) == 3:
        return CaseResult(name, "skip", "not 1-D or 2-D (3-D layers)")
    if input_path is None:
        # light/ models come with an output for an input we do not have: the comparison
        # runs against ONNX Runtime when present, on random input.
        if importlib.util.find_spec("onnxruntime") is None:
            return CaseResult(name, "skip", "no input data, and onnxruntime is not installed")
        expected = onnx_reference(model)[0](inputs)
    else:
        expected = _tensor(output_path)
    executable = workdir / name
    try:
        compile_model(model, executable, CompileOptions())
    except ImportError_ as e:
        message = str(e)
        if message.startswith("unsupported ONNX operators"):
            return CaseResult(name, "skip", _unsupported(message))
        return CaseResult(name, "fail", message.splitlines()[0])
    except MnistcError as e:
        return CaseResult(name, "fail", str(e).splitlines()[0])
    actual = run_executable(executable, inputs).reshape(expected.shape)
    bad = int((~agree(actual, expected, atol, rtol)).sum())
    finite = np.isfinite(expected)
    detail = f"max |a-b| {np.abs(actual - expected)[finite].max(initial=0.0):.2e}"
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
