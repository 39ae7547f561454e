"""`mnistc verify`: the compiled executable against PyTorch on the same inputs.

The contract: |a - b| <= atol + rtol * |b| element-wise (b from PyTorch), and the same
argmax per sample.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from mnistc.driver import CompileOptions, compile_model
from mnistc.errors import MnistcError
from mnistc.importers.torchscript import load_torchscript, load_torchscript_with_batch, sample_shape_of
from mnistc.models.mnist_data import HELD_OUT_SLICE, load_mnist

RANDOM_BATCH_SIZES = (1, 7, 64, 3, 16)


def run_executable(executable: str | Path, inputs: np.ndarray) -> np.ndarray:
    """Run `executable INPUT OUTPUT` on a float32 batch; return the [N, ...] output rows."""
    (output,) = run_executable_n(executable, [inputs], 1)
    return output


def run_executable_n(executable: str | Path, inputs: list[np.ndarray], outputs: int) -> list[np.ndarray]:
    """Run `executable INPUT... OUTPUT...` on a float32 batch of each input (the same N
    samples); return each output's [N, ...] rows."""
    with tempfile.TemporaryDirectory(prefix="mnistc-run-") as scratch:
        in_paths = [Path(scratch) / f"input_{i}.bin" for i in range(len(inputs))]
        out_paths = [Path(scratch) / f"output_{i}.bin" for i in range(outputs)]
        for array, path in zip(inputs, in_paths):
            np.ascontiguousarray(array, dtype=np.float32).tofile(path)
        result = subprocess.run(
            [str(executable), *map(str, in_paths), *map(str, out_paths)], capture_output=True, text=True
        )
        if result.returncode != 0:
            raise MnistcError(f"{executable} failed: {result.stderr.strip()}")
        return [np.fromfile(path, dtype=np.float32).reshape(len(inputs[0]), -1) for path in out_paths]


@dataclass
class Comparison:
    """How one batch of compiled outputs compares with PyTorch's."""

    name: str
    samples: int
    max_abs: float
    max_rel: float
    violations: int
    argmax_agree: int
    accuracy: float | None = None
    min_agreement: float | None = None
    """For a quantized model: the share of argmax agreement that passes, the tolerance
    only reported; None: the float32 contract (within tolerance, every argmax agrees)."""

    @property
    def passed(self) -> bool:
        if self.min_agreement is not None:
            return self.argmax_agree >= self.min_agreement * self.samples
        return self.violations == 0 and self.argmax_agree == self.samples

    def line(self) -> str:
        text = (
            f"{self.name:<24} n={self.samples:<5} max|a-b|={self.max_abs:.3g} "
            f"max rel={self.max_rel:.3g} out of tolerance={self.violations} "
            f"argmax agree={self.argmax_agree}/{self.samples}"
        )
        if self.accuracy is not None:
            text += f" accuracy={self.accuracy:.4f}"
        if self.min_agreement is not None:
            text += f" (passes at >= {100 * self.min_agreement:g}% agreement)"
        return text + ("" if self.passed else "  FAIL")


def compare(
    name: str, actual: np.ndarray, expected: np.ndarray, atol: float = 1e-4, rtol: float = 1e-4
) -> Comparison:
    actual = actual.reshape(len(actual), -1)
    expected = expected.reshape(len(expected), -1)
    difference = np.abs(actual - expected)
    relative = difference / np.maximum(np.abs(expected), np.finfo(np.float32).tiny)
    return Comparison(
        name,
        len(actual),
        float(difference.max()),
        float(relative.max()),
        int((~(difference <= atol + rtol * np.abs(expected))).sum()),
        int((actual.argmax(1) == expected.argmax(1)).sum()),
    )


@dataclass
class VerifyReport:
    model: Path
    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.comparisons)

    def summary(self) -> str:
        lines = [f"verify {self.model}:"] + ["  " + c.line() for c in self.comparisons]
        lines.append("PASS" if self.passed else "FAIL: outputs differ from PyTorch beyond tolerance")
        return "\n".join(lines)


def reference_outputs(model, inputs: np.ndarray) -> np.ndarray:
    """The source framework's outputs: a torch module, or a function on NumPy arrays."""
    if isinstance(model, torch.nn.Module | torch.jit.ScriptModule):
        with torch.no_grad():
            return model(torch.from_numpy(inputs)).numpy()
    return model(inputs)


def reference_model(model_path: Path, sample_shape, whole: bool = False):
    """(model, sample shape) to check the compiled one against, by the file's kind; with
    `whole` (a model imported whole), the model on its whole input and that input's shape."""
    suffix = model_path.suffix.lower()
    if suffix == ".pt2":
        from mnistc.importers.torch_export import load_exported

        program = load_exported(model_path)
        user_input = next(n for n in program.graph.nodes if n.op == "placeholder"
                          and n.name == program.graph_signature.user_inputs[0])  # fmt: skip
        module = program.module()

        def run(inputs: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return module(torch.from_numpy(inputs)).numpy()

        if whole:
            return run, tuple(user_input.meta["val"].shape)
        # The program is specialised to its example's batch size.
        run = _at_fixed_batch(run, int(user_input.meta["val"].shape[0]))
        return run, tuple(sample_shape or user_input.meta["val"].shape[1:])
    if suffix == ".onnx":
        return onnx_reference(model_path, sample_shape, whole)
    model, recorded, batch = load_torchscript_with_batch(model_path)
    if whole:
        return model, (batch, *recorded)
    return model, sample_shape_of(recorded, sample_shape)


def onnx_reference(model_path: Path, sample_shape=None, whole: bool = False):
    """(function on NumPy batches, sample shape) running an ONNX model in ONNX Runtime, or
    in ONNX's (slow) reference evaluator when ONNX Runtime is not installed; with `whole`,
    the function on the whole fixed input and that input's shape."""
    from mnistc.importers.onnx import data_inputs, input_dims, load_onnx

    (graph_input,) = data_inputs(load_onnx(model_path).graph)
    dims = input_dims(graph_input)
    try:
        session = onnx_runtime_session(model_path)
        run = lambda x: session.run(None, {graph_input.name: x})[0]  # noqa: E731
    except ImportError:
        from onnx.reference import ReferenceEvaluator

        evaluator = ReferenceEvaluator(str(model_path))
        run = lambda x: evaluator.run(None, {graph_input.name: x})[0]  # noqa: E731
    if whole:
        return run, tuple(dims)
    if dims and dims[0]:
        run = _at_fixed_batch(run, dims[0])
    return run, tuple(sample_shape or dims[1:])


def onnx_runtime_session(model_path: Path):
    """An ONNX Runtime session on the model (ImportError when not installed); its own
    load errors (an operator version it does not implement) one clear message."""
    import onnxruntime as ort

    try:
        return ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    except Exception as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise MnistcError(f"{model_path}: ONNX Runtime cannot load it as a reference: {first}") from None


def _at_fixed_batch(run, batch: int):
    """A model whose export fixed its batch, run sample by sample (each repeated to fill it)."""

    def per_sample(inputs: np.ndarray) -> np.ndarray:
        return np.concatenate([np.asarray(run(np.repeat(x[None], batch, 0)))[:1] for x in inputs])

    return per_sample


def verify_model(
    model_path: str | Path,
    options: CompileOptions = CompileOptions(),
    data_dir: Path | None = None,
    batches: int = 3,
    atol: float = 1e-4,
    rtol: float = 1e-4,
    seed: int = 0,
) -> VerifyReport:
    """Compile the model, run both on random batches (and held-out MNIST), compare.

    The reference is PyTorch for TorchScript and torch.export files, ONNX Runtime (or ONNX's
    reference evaluator) for ONNX files."""
    if options.quantize is not None:
        return verify_quantized(model_path, options, data_dir, atol, rtol)
    rng = np.random.default_rng(seed)
    report = VerifyReport(Path(model_path))
    with tempfile.TemporaryDirectory(prefix="mnistc-verify-") as scratch:
        executable = Path(scratch) / "model"
        whole = compile_model(model_path, executable, options).imported_whole is not None
        inputs, outputs = executable_signature(executable)
        if len(inputs) > 1 or len(outputs) > 1:
            if data_dir is not None:
                raise MnistcError("--data feeds MNIST images to a model of one input, not of several")
            reference = several_reference(Path(model_path), [name for name, _ in inputs], whole)
            for index, size in enumerate([1] * batches if whole else RANDOM_BATCH_SIZES[:batches]):
                arrays = [rng.standard_normal((size, *shape), dtype=np.float32) for _, shape in inputs]
                actual = run_executable_n(executable, arrays, len(outputs))
                given = [a[0] for a in arrays] if whole else arrays  # whole: the model's own tensor
                label = f"random input {index + 1} (whole)" if whole else f"random batch {size}"
                for (name, _), ours, theirs in zip(outputs, actual, reference(given), strict=True):
                    comparison = compare(f"{label}: {name}", ours, np.reshape(theirs, ours.shape), atol, rtol)
                    report.comparisons.append(comparison)
            return report
        model, shape = reference_model(Path(model_path), options.sample_shape, whole)
        if whole:  # the one input shape it runs, a few random inputs
            report.comparisons += [
                _whole_input(model, executable, rng.standard_normal(shape, dtype=np.float32), i, atol, rtol)
                for i in range(batches)
            ]
            return report
        for size in RANDOM_BATCH_SIZES[:batches]:
            inputs = rng.standard_normal((size, *shape), dtype=np.float32)
            report.comparisons.append(
                compare(
                    f"random batch {size}",
                    run_executable(executable, inputs),
                    reference_outputs(model, inputs),
                    atol,
                    rtol,
                )
            )
        if data_dir is not None:
            report.comparisons.append(_held_out(model, executable, data_dir, atol, rtol))
    return report


def _whole_input(model, executable: Path, x: np.ndarray, index: int, atol: float, rtol: float) -> Comparison:
    """A model imported whole on one random input of its fixed shape."""
    expected = np.asarray(reference_outputs(model, x)).reshape(1, -1)
    return compare(f"random input {index + 1} (whole)", run_executable(executable, x[None]), expected, atol, rtol)


def executable_signature(executable: Path) -> tuple[list[tuple[str, tuple]], list[tuple[str, tuple]]]:
    """The (name, sample shape) of each input and output of an mnistc executable."""
    import json

    info = json.loads(subprocess.run([str(executable), "--info"], capture_output=True, text=True, check=True).stdout)
    return tuple([(e["name"], tuple(e["shape"])) for e in info[key]] for key in ("inputs", "output_shapes"))


def several_reference(model_path: Path, names: list[str], whole: bool = False):
    """A function from the batches of every input to the list of every output, running
    the source framework: PyTorch for TorchScript and `.pt2`, ONNX Runtime for ONNX. A
    program whose export fixed the batch runs sample by sample, each repeated to fill it
    (unless imported whole: then it runs its one fixed input as it is)."""
    suffix, batch = model_path.suffix.lower(), 0
    if suffix == ".onnx":
        from mnistc.importers.onnx import data_inputs, input_dims, load_onnx

        batch = (input_dims(data_inputs(load_onnx(model_path).graph)[0]) or [0])[0] or 0
        session = onnx_runtime_session(model_path)
        run = lambda arrays: session.run(None, dict(zip(names, arrays)))  # noqa: E731
    else:
        if suffix == ".pt2":
            from mnistc.importers.torch_export import load_exported

            program = load_exported(model_path)
            first = next(n for n in program.graph.nodes if n.name == program.graph_signature.user_inputs[0])
            batch, module = first.meta["val"].shape[0], program.module()
            batch = batch if isinstance(batch, int) else 0
        else:
            module = load_torchscript(model_path)[0]

        def run(arrays: list[np.ndarray]) -> list[np.ndarray]:
            with torch.no_grad():
                results = module(*(torch.from_numpy(a) for a in arrays))
            return [r.numpy() for r in (results if isinstance(results, list | tuple) else [results])]

    if batch <= 1 or whole:
        return lambda arrays: [np.asarray(r) for r in run(arrays)]

    def per_sample(arrays: list[np.ndarray]) -> list[np.ndarray]:
        samples = [run([np.repeat(a[i : i + 1], batch, 0) for a in arrays]) for i in range(len(arrays[0]))]
        return [np.concatenate([np.asarray(s[j])[:1] for s in samples]) for j in range(len(samples[0]))]

    return per_sample


def _held_out(
    model, executable: Path, data_dir: Path, atol: float, rtol: float,
    min_agreement: float | None = None,
) -> Comparison:  # fmt: skip
    images, labels = load_mnist(data_dir)
    images, labels = images[HELD_OUT_SLICE], labels[HELD_OUT_SLICE]
    actual = run_executable(executable, images)
    comparison = compare(
        "held-out MNIST", actual, reference_outputs(model, images), atol, rtol
    )
    comparison.accuracy = float((actual.argmax(1) == labels).mean())
    comparison.min_agreement = min_agreement
    return comparison


# int8 -------------------------------------------------------------------------------

QUANTIZED_AGREEMENT = 0.995
"""The share of samples on which a quantized model must pick the float32 model's class."""
LAYER_SAMPLES = 200
"""Samples run through both interpreters for the per-layer errors."""


@dataclass
class LayerError:
    """How far a quantized layer's dequantized output is from the float32 layer's."""

    layer: str
    max_abs: float
    range: float
    """The float32 output's largest magnitude: the error's yardstick."""

    @property
    def relative(self) -> float:
        return self.max_abs / self.range if self.range > 0 else 0.0

    def line(self) -> str:
        return (
            f"{self.layer:<24} max|int8-fp32|={self.max_abs:.3g} "
            f"({100 * self.relative:.2f}% of its range {self.range:.3g})"
        )


@dataclass
class QuantizedReport(VerifyReport):
    """`mnistc verify --quantize`: the int8 executable against the float32 framework
    (argmax agreement, accuracy) and each layer against its float32 counterpart."""

    layers: list[LayerError] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"verify {self.model} (int8 against float32):"]
        lines += ["  " + c.line() for c in self.comparisons]
        if self.layers:
            lines.append(f"  per layer, on {LAYER_SAMPLES} samples (errors accumulate from the input):")
            lines += ["    " + e.line() for e in self.layers]
            worst = max(self.layers, key=lambda e: e.relative)
            lines.append(f"  the layer that loses the most: {worst.layer}")
        lines.append(
            "PASS" if self.passed
            else f"FAIL: argmax agrees with float32 on less than {100 * QUANTIZED_AGREEMENT:g}%"
        )
        return "\n".join(lines)


def layer_errors(fp32_module, int8_module, weights, samples: np.ndarray) -> list[LayerError]:
    """Run both `nn` modules in the reference interpreter and compare, for each quantized
    layer, its dequantized result with the float32 layer of the same name."""
    from mnistc.dialects import nn
    from mnistc.interpreters.nn import evaluate_batch
    from mnistc.interpreters.nn.quant import dequantize
    from mnistc.transforms.quantize import layer_name

    fp32_values = evaluate_batch(fp32_module, samples, weights)
    int8_values = evaluate_batch(int8_module, samples, weights)
    fp32_layers = {
        layer_name(op): op.output for op in fp32_module.walk() if isinstance(op, nn.Conv2DOp | nn.LinearOp)
    }
    errors = []
    for op in int8_module.walk():
        if not isinstance(op, nn.QConv2DOp | nn.QLinearOp):
            continue
        name = layer_name(op)
        if name not in fp32_layers:
            continue
        ours = dequantize(int8_values[op.output], op.output_scale.value.data, op.output_zero_point.value.data)
        theirs = fp32_values[fp32_layers[name]]
        errors.append(
            LayerError(name, float(np.abs(ours - theirs).max()), float(np.abs(theirs).max()))
        )
    return errors


def verify_quantized(
    model_path: str | Path, options: CompileOptions, data_dir: Path | None,
    atol: float = 1e-4, rtol: float = 1e-4,
) -> QuantizedReport:  # fmt: skip
    """Compile the model quantized; compare its executable with the float32 framework on
    calibration samples (and held-out MNIST with `data_dir`), and each layer of its `nn`
    IR with the float32 IR's."""
    from mnistc.calibration import declared_preprocessing, load_samples, samples_from_array
    from mnistc.driver import Compilation
    from mnistc.transforms.quantize import entry_function

    model, shape = reference_model(Path(model_path), options.sample_shape)
    report = QuantizedReport(Path(model_path))
    compilation = Compilation.import_file(model_path, options.sample_shape)
    compilation.optimise_nn(options)
    fp32_module = compilation.module.clone()
    compilation.quantize_nn(options)
    preprocessing = declared_preprocessing(compilation.module)
    sample_shape = tuple(entry_function(compilation.module).body.block.args[0].type.get_shape()[1:])
    if isinstance(options.calibration, np.ndarray):
        calibration = samples_from_array(options.calibration, sample_shape, preprocessing, 500)
    else:
        calibration = load_samples(options.calibration, sample_shape, preprocessing, 500)
    probe = load_mnist(data_dir)[0][HELD_OUT_SLICE] if data_dir is not None else calibration
    report.layers = layer_errors(
        fp32_module, compilation.module, compilation.weights, probe[:LAYER_SAMPLES]
    )
    compilation.lower("cpp", options)
    with tempfile.TemporaryDirectory(prefix="mnistc-verify-") as scratch:
        executable = Path(scratch) / "model"
        compile_model(compilation, executable, options)
        comparison = compare(
            "calibration samples", run_executable(executable, calibration),
            reference_outputs(model, calibration), atol, rtol,
        )  # fmt: skip
        comparison.min_agreement = QUANTIZED_AGREEMENT
        report.comparisons.append(comparison)
        if data_dir is not None:
            report.comparisons.append(
                _held_out(model, executable, data_dir, atol, rtol, QUANTIZED_AGREEMENT)
            )
    return report


@dataclass
class PassCheck:
    """The reference interpreter's outputs after one stage, against PyTorch."""

    stage: str
    comparison: Comparison


@dataclass
class PerPassReport:
    """`mnistc verify --per-pass`: where in the pipeline outputs first change."""

    model: Path
    checks: list[PassCheck] = field(default_factory=list)
    divergence: str | None = None
    """At import: the first layer whose intermediate result differs from PyTorch's."""

    @property
    def first_failure(self) -> PassCheck | None:
        return next((c for c in self.checks if not c.comparison.passed), None)

    @property
    def passed(self) -> bool:
        return self.first_failure is None

    def summary(self) -> str:
        lines = [f"per-pass check of {self.model} (reference interpreter vs PyTorch):"]
        lines += [f"  {c.comparison.line()}" for c in self.checks]
        if (failure := self.first_failure) is None:
            lines.append("PASS: no pass changes the outputs beyond tolerance")
        else:
            where = "the import" if failure.stage == "import" else f"pass '{failure.stage}'"
            lines.append(f"FAIL: {where} is the first stage whose outputs differ")
        if self.divergence:
            lines.append(f"  first diverging layer: {self.divergence}")
        return "\n".join(lines)


def split_pipeline(spec: str) -> list[str]:
    """`a,b{x=1,y=2},c` → [`a`, `b{x=1,y=2}`, `c`]."""
    passes, depth, current = [], 0, ""
    for char in spec:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == "," and depth == 0:
            passes.append(current)
            current = ""
        else:
            current += char
    return passes + ([current] if current else [])


def check_passes(
    model_path: str | Path,
    sample_shape: Sequence[int] | None = None,
    pipeline: str | None = None,
    samples: int = 3,
    atol: float = 1e-4,
    rtol: float = 1e-4,
    seed: int = 0,
) -> PerPassReport:
    """Run the `nn` IR in the reference interpreter after import and after each pass."""
    from mnistc import weights as weight_files
    from mnistc.driver import OPTIMISATION_PIPELINE, WEIGHTS_FILE, Compilation, make_context
    from mnistc.importers.cache import import_model_cached
    from mnistc.importers.torchscript import freeze
    from mnistc.interpreters.nn import run_batch

    model, recorded = load_torchscript(model_path)
    shape = sample_shape_of(recorded, sample_shape)
    imported = import_model_cached(model_path, sample_shape)
    if len(next(iter(imported.module.ops)).body.block.args) != 1:
        raise MnistcError("--per-pass runs models of one input (the reference interpreter takes one)")
    weight_files.set_weights_name(imported.module, WEIGHTS_FILE)
    inputs = np.random.default_rng(seed).standard_normal((samples, *shape), dtype=np.float32)
    expected = reference_outputs(model, inputs)
    compilation = Compilation(make_context(), imported.module, imported.weights)
    report = PerPassReport(Path(model_path))

    def check(stage: str) -> None:
        actual = run_batch(compilation.module, inputs, compilation.weights)
        comparison = compare(f"after {stage}", actual, expected, atol, rtol)
        report.checks.append(PassCheck(stage, comparison))

    check("import")
    if not report.passed:
        report.divergence = first_diverging_layer(freeze(model), imported, inputs[:1], atol, rtol)
    for spec in split_pipeline(OPTIMISATION_PIPELINE if pipeline is None else pipeline):
        compilation.run(spec, spec)
        check(spec)
    return report


def first_diverging_layer(frozen, imported, sample: np.ndarray, atol: float, rtol: float) -> str | None:
    """The first `nn` op whose interpreted result differs from PyTorch's same tensor: the
    op's location in the IR names the TorchScript value it computes and where."""
    from mnistc.importers.torchscript import intermediate_values
    from mnistc.interpreters.nn import evaluate
    from mnistc.locations import ModelLocation

    reference = intermediate_values(frozen, torch.from_numpy(sample))
    ours = evaluate(imported.module, sample, imported.weights)
    for op in imported.module.walk():
        location = ModelLocation.of(op)
        if location is None or location.value not in reference or not op.results:
            continue
        if op.results[0] not in ours:
            continue
        theirs = reference[location.value].numpy()
        mine = ours[op.results[0]]
        if mine.shape != theirs.shape or not np.all(
            np.abs(mine - theirs) <= atol + rtol * np.abs(theirs)
        ):
            return f"{op.name} (TorchScript %{location.value}, {location.describe()})"
    return None
