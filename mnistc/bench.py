"""`mnistc bench`: the compiled model against ONNX Runtime and PyTorch, side by side.

Everything is measured in one run on the same machine, interleaved round by round so
that load from elsewhere hits every engine alike: latency at batch 1 and 64 with one
and two threads (medians), where mnistc's time goes kernel by kernel, cold start of a
whole process on one image, the executable's p50 and p90 with a second process competing
for the cores, compile time, and the executable's peak memory. Run by
hand; never part of the test suite.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from mnistc.errors import MnistcError

FMA_PEAK_GFLOPS_PER_CORE = 97.0
"""FP32 FMA peak of one core of the development machine (PERF_NOTES), what GFLOP/s
figures are set against."""

CONFIGS = {"b1-t1": (1, 1), "b1-t2": (1, 2), "b64-t1": (64, 1), "b64-t2": (64, 2)}
"""(batch, threads) measured, by the name `--configs` takes."""


def parse_list(text: str, known: Sequence[str], what: str) -> list[str]:
    """Names from a comma-separated list (`all` for every one), in the order given."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    names = list(known) if names == ["all"] else names
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise MnistcError(f"unknown {what} {', '.join(unknown) or repr(text)}; "
                          f"choose from {', '.join(known)} or all")  # fmt: skip
    return list(dict.fromkeys(names))


def _per_call_us(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def interleaved_samples(
    engines: dict[str, Callable[[], object]], rounds: int, calls: int
) -> dict[str, list[float]]:
    """The mean time per call (us) in each round, engines taking turns each round so that
    load from elsewhere hits them alike."""
    for fn in engines.values():
        fn()  # warm-up: thread pools, caches, lazy initialisation
    samples: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(rounds):
        for name, fn in engines.items():
            samples[name].append(_per_call_us(fn, calls))
    return samples


def interleaved_medians(engines: dict[str, Callable[[], object]], rounds: int, calls: int) -> dict[str, float]:
    """Median over rounds of the mean time per call, engines taking turns each round."""
    samples = interleaved_samples(engines, rounds, calls)
    return {name: statistics.median(values) for name, values in samples.items()}


def calls_per_round(runners: dict[str, Callable[[], object]], seconds: float = 0.1) -> int:
    """Calls enough for a round of about `seconds` for the slower engine (at least 1)."""
    slowest = 0.0
    for fn in runners.values():
        start = time.perf_counter()
        fn()
        slowest = max(slowest, time.perf_counter() - start)
    return max(1, min(50, round(seconds / max(slowest, 1e-6))))


def ort_session(onnx_path: Path, threads: int):
    """ONNX Runtime's default CPU session on `threads` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])


@dataclass
class Engines:
    """The compiled model and what it is checked and timed against: the source model in
    PyTorch (None for an ONNX file) and ONNX Runtime on an ONNX form of it (None without
    onnxruntime, or when the model does not export)."""

    compiled: object
    ort_path: Path | None
    torch_model: object | None
    torch_label: str

    def runners(self, inputs: np.ndarray, threads: int) -> dict[str, Callable[[], object]]:
        import torch

        self.compiled.set_num_threads(threads)
        torch.set_num_threads(threads)
        runners = {"mnistc": lambda: self.compiled(inputs)}
        if self.ort_path is not None:
            session = ort_session(self.ort_path, threads)
            name = session.get_inputs()[0].name
            runners["onnxruntime"] = lambda: session.run(None, {name: inputs})[0]
        if self.torch_model is not None:
            tensor = torch.from_numpy(inputs)

            def run_torch():
                with torch.no_grad():
                    # detached: TorchScript's profiling executor may return a scripted
                    # LSTM's output requiring grad even under no_grad (issue 12)
                    return self.torch_model(tensor).detach()

            runners[self.torch_label] = run_torch
        return runners

    @property
    def reference(self) -> str:
        """The engine whose outputs are the contract: PyTorch, or ONNX Runtime for ONNX."""
        return self.torch_label if self.torch_model is not None else "onnxruntime"

    def expected(self, inputs: np.ndarray) -> np.ndarray:
        """The reference engine's outputs, one row per sample: sample by sample when the
        source takes only the batch it was exported with."""
        def run(batch: np.ndarray) -> np.ndarray:
            output = self.runners(batch, 1)[self.reference]()
            return np.asarray(output).reshape(len(batch), -1)

        try:
            return run(inputs)
        except Exception:  # noqa: BLE001 - a fixed-batch export; any other failure recurs below
            pass
        try:
            return np.concatenate([run(inputs[i : i + 1]) for i in range(len(inputs))])
        except Exception as e:  # noqa: BLE001 - the source model's own refusal, said once
            raise MnistcError(
                f"{self.reference} cannot run the model at batch {len(inputs)}"
                f"{' or 1' if len(inputs) > 1 else ''} "
                f"({type(e).__name__}: {str(e).splitlines()[0][:160]}); export it with a "
                "dynamic batch dimension to benchmark it"
            ) from None


def export_onnx(torch_model, sample_shape, path: Path) -> Path | None:
    """The model as ONNX with a dynamic batch, for ONNX Runtime; None without it."""
    try:
        import onnxruntime  # noqa: F401
        import torch
    except ImportError:
        return None
    # torch.export's module refuses train(), which EVAL mode calls; its graph is already
    # in inference form, so PRESERVE exports the same thing.
    exported = isinstance(torch_model, torch.fx.GraphModule)
    mode = torch.onnx.TrainingMode.PRESERVE if exported else torch.onnx.TrainingMode.EVAL
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on the exporter's own asserts
        torch.onnx.export(
            torch_model, (torch.zeros(1, *sample_shape),), str(path), dynamo=False,
            input_names=["input"], output_names=["output"], training=mode,
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        )  # fmt: skip
    return path


def source_model(model_path: Path):
    """The model file in PyTorch, with its label: TorchScript (the bundled model as the
    eager module it was trained as), a torch.export program's module, or (None, "") for
    ONNX, which ONNX Runtime runs as it is."""
    from mnistc.models.mnist_cnn import BUNDLED_MODEL, MnistCNN

    suffix = model_path.suffix.lower()
    if suffix == ".onnx":
        return None, ""
    if suffix == ".pt2":
        from mnistc.importers.torch_export import load_exported

        return load_exported(model_path).module(), "torch.export"
    from mnistc.importers.torchscript import load_torchscript

    scripted, _ = load_torchscript(model_path)
    if model_path == BUNDLED_MODEL:
        eager = MnistCNN()
        eager.load_state_dict(scripted.state_dict())
        return eager.eval(), "torch eager"
    return scripted, "torchscript"


def onnx_for_ort(model_path: Path, torch_model, shape, scratch: Path, log) -> Path | None:
    """The ONNX file ONNX Runtime runs: the model itself, or its export (None, said in the
    log, when onnxruntime is missing or the export fails)."""
    if find_spec("onnxruntime") is None:
        log("onnxruntime not installed (pip install 'mnistc[bench]'): skipping it")
        return None
    if torch_model is None:
        return model_path
    try:
        return export_onnx(torch_model, shape, scratch / "model.onnx")
    except Exception as e:  # noqa: BLE001 - any exporter failure only drops ORT from the table
        log(f"the model does not export to ONNX ({type(e).__name__}: {str(e).splitlines()[0][:120]}); "
            "skipping ONNX Runtime")  # fmt: skip
        return None


def _median_wall_ms(command: list[str], runs: int, env=None) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def _peak_rss_mb(command: list[str]) -> float | None:
    if not shutil.which("time") and not Path("/usr/bin/time").exists():
        return None
    result = subprocess.run(["/usr/bin/time", "-f", "%M", *command], capture_output=True, text=True)
    try:
        return int(result.stderr.strip().splitlines()[-1]) / 1024
    except (ValueError, IndexError):
        return None


def machine() -> str:
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores, Python {platform.python_version()}"


def run_bench(
    model_path: Path | None, rounds: int = 15, configs: str = "all", log=print,
    int8: dict | None = None,
) -> None:
    """Any model file mnistc compiles (TorchScript, torch.export, ONNX; default the
    bundled model) against ONNX Runtime and PyTorch, in the configurations named. `int8`:
    CompileOptions' int8 fields (`quantize`, `calibration`, ...) for the int8 rows."""
    from mnistc.driver import CompileOptions, compile_model
    from mnistc.importers.cache import import_model_cached
    from mnistc.models.mnist_cnn import BUNDLED_MODEL
    from mnistc.runtime import CompiledModel

    chosen = [CONFIGS[c] for c in parse_list(configs, list(CONFIGS), "configuration")]
    if rounds < 1:
        raise MnistcError("--rounds must be at least 1")
    model_path = Path(model_path or BUNDLED_MODEL)
    quantized = int8 is not None and CompileOptions(**int8).quantize_pass() is not None  # checks them
    if (whole := import_model_cached(model_path).whole) is not None:
        raise MnistcError(
            f"{model_path.name} was imported whole (its input shape is fixed and its graph "
            f"does not follow dimension 0 as a batch: {whole}); bench measures batches of "
            "samples: time one input with ./MODEL --bench N input.bin"
        )
    with tempfile.TemporaryDirectory(prefix="mnistc-bench-") as scratch:
        scratch = Path(scratch)
        fp32 = compile_model(model_path, scratch / "libmodel.so", CompileOptions(shared=True))
        compiled = CompiledModel(scratch / "libmodel.so")
        if len(compiled.input_names) != 1 or len(compiled.output_names) != 1:
            raise MnistcError(
                f"{model_path.name}: a model of {len(compiled.input_names)} inputs and "
                f"{len(compiled.output_names)} outputs: `mnistc bench` times models of one of "
                "each (time this one with the executable's --bench, one file per input)"
            )
        compile_model(model_path, scratch / "model", CompileOptions())
        shape = compiled.input_shape
        log(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the start")
        log(f"model: {model_path.name}, sample {'x'.join(map(str, shape))}")
        torch_model, label = source_model(model_path)
        onnx_path = onnx_for_ort(model_path, torch_model, shape, scratch, log)
        engines = Engines(compiled, onnx_path, torch_model, label)
        if engines.torch_model is None and engines.ort_path is None:
            raise MnistcError("nothing to compare against: an ONNX model needs onnxruntime")
        _latency_table(engines, shape, chosen, rounds, log)
        if quantized:
            _int8_section(model_path, compiled, fp32.weight_bytes, onnx_path, int8, scratch,
                          chosen, rounds, log)  # fmt: skip
        _kernel_profile(engines.compiled, shape, log)
        _process_figures(model_path, scratch, shape, engines, log)


def _latency_table(engines: Engines, shape, configs, rounds: int, log) -> None:
    rng = np.random.default_rng(0)
    log("\nlatency per inference, median of interleaved rounds (us; ratio = other / mnistc):")
    header = None
    for batch, threads in configs:
        inputs = rng.random((batch, *shape), dtype=np.float32)
        expected = engines.expected(inputs)
        runners = engines.runners(inputs, threads)
        actual = engines.compiled(inputs)
        if not np.all(np.abs(actual - expected) <= 1e-4 + 1e-4 * np.abs(expected)):
            raise MnistcError(f"the compiled model disagrees with {engines.reference}; not benchmarking it")
        others = [n for n in runners if n != "mnistc"]
        _drop_failing(runners, batch, log)
        medians = interleaved_medians(runners, rounds, calls_per_round(runners))
        if header is None:
            header = f"{'batch':>5} {'threads':>7} {'mnistc':>10}" + "".join(
                f" {n:>12} {'ratio':>6}" for n in others
            )
            log(header)
        row = f"{batch:>5} {threads:>7} {medians['mnistc']:>10.1f}"
        for name in others:
            if name in medians:
                row += f" {medians[name]:>12.1f} {medians[name] / medians['mnistc']:>6.2f}"
            else:
                row += f" {'n/a':>12} {'':>6}"
        log(row + f"   ({medians['mnistc'] / batch:.1f} us/image)")


# --- int8 (issue 13) ---------------------------------------------------------------------


def ort_int8_model(onnx_path: Path, samples: np.ndarray, scratch: Path) -> Path:
    """ONNX Runtime's int8 form of the model, as its users make one: `quantize_static`,
    QDQ format, MinMax calibration (its defaults: int8 weights and activations, weights
    per tensor), on the same calibration samples as mnistc's."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        quantize_static,
    )

    name = ort_session(onnx_path, 1).get_inputs()[0].name

    class Samples(CalibrationDataReader):
        def __init__(self) -> None:
            self.rest = iter(samples)

        def get_next(self):
            sample = next(self.rest, None)
            return None if sample is None else {name: sample[None]}

    path = scratch / "model.int8.onnx"
    quantize_static(str(onnx_path), str(path), Samples(), quant_format=QuantFormat.QDQ,
                    calibrate_method=CalibrationMethod.MinMax)  # fmt: skip
    return path


def _int8_section(model_path: Path, compiled, fp32_bytes: int, onnx_path, int8: dict,
                  scratch: Path, configs, rounds: int, log) -> None:  # fmt: skip
    """mnistc's int8 build against its float32 build and ONNX Runtime's int8 model, timed
    side by side; the embedded weights of both builds; argmax agreement with float32 on
    the calibration samples."""
    from mnistc.calibration import load_samples, samples_from_array
    from mnistc.driver import CompileOptions, compile_model
    from mnistc.runtime import CompiledModel

    result = compile_model(model_path, scratch / "libint8.so", CompileOptions(shared=True, **int8))
    quantized = CompiledModel(scratch / "libint8.so")
    shape, data = compiled.input_shape, int8["calibration"]
    limit = int8.get("calibration_samples") or 1000
    samples = (samples_from_array(data, shape, compiled.preprocessing, limit) if isinstance(data, np.ndarray)
               else load_samples(data, shape, compiled.preprocessing, limit))  # fmt: skip
    log(f"\nint8 (--quantize {int8['quantize']}, {len(samples)} calibration samples): embedded "
        f"weights {result.weight_bytes / 1e6:.2f} MB against {fp32_bytes / 1e6:.2f} MB in float32")
    engines = {"mnistc-int8": quantized, "mnistc": compiled}
    ort_int8 = None
    if onnx_path is not None:
        ort_int8 = ort_int8_model(onnx_path, samples, scratch)
    reference = compiled(samples).argmax(1)
    log(f"argmax agreement with mnistc float32 on the calibration samples: mnistc-int8 "
        f"{np.mean(quantized(samples).argmax(1) == reference):.4f}" + (
            f", onnxruntime-int8 {np.mean(_ort_outputs(ort_int8, samples).argmax(1) == reference):.4f}"
            if ort_int8 else ""))  # fmt: skip
    log("int8 latency per inference, median of interleaved rounds (us; ratio = other / mnistc-int8):")
    others = ["mnistc", *(["onnxruntime-int8"] if ort_int8 else [])]
    log(f"{'batch':>5} {'threads':>7} {'mnistc-int8':>12}" + "".join(f" {n:>16} {'ratio':>6}" for n in others))
    rng = np.random.default_rng(0)
    for batch, threads in configs:
        inputs = samples[rng.integers(0, len(samples), batch)]
        runners = {}
        for name, model in engines.items():
            model.set_num_threads(threads)
            runners[name] = (lambda m: lambda: m(inputs))(model)
        if ort_int8:
            session = ort_session(ort_int8, threads)
            feed = {session.get_inputs()[0].name: inputs}
            runners["onnxruntime-int8"] = lambda: session.run(None, feed)[0]
        _drop_failing(runners, batch, log)
        medians = interleaved_medians(runners, rounds, calls_per_round(runners))
        row = f"{batch:>5} {threads:>7} {medians['mnistc-int8']:>12.1f}"
        for name in others:
            value = medians.get(name)
            row += f" {value:>16.1f} {value / medians['mnistc-int8']:>6.2f}" if value else f" {'n/a':>16} {'':>6}"
        log(row + f"   ({medians['mnistc-int8'] / batch:.1f} us/image)")
    _kernel_profile(quantized, shape, log)


def _ort_outputs(path: Path, samples: np.ndarray) -> np.ndarray:
    """ONNX Runtime's outputs on `samples`, one sample at a time (a fixed-batch export)."""
    session = ort_session(path, 1)
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: s[None]})[0] for s in samples])


# --- end of the int8 block ---


def _drop_failing(runners: dict[str, Callable[[], object]], batch: int, log) -> None:
    """Leave out of this row an engine that cannot run the batch (a model exported with
    a fixed batch of 1, say), saying why."""
    for name in [n for n in runners if n != "mnistc"]:
        try:
            runners[name]()
        except Exception as e:  # noqa: BLE001 - any engine failure only drops it from the row
            log(f"  {name} fails at batch {batch} ({type(e).__name__}: {str(e).splitlines()[0][:100]})")
            del runners[name]


def _kernel_profile(compiled, shape, log, runs: int = 500) -> None:
    """Where mnistc's time goes at batch 1 on one thread, kernel call by kernel call."""
    compiled.set_num_threads(1)
    image = np.random.default_rng(3).random((1, *shape), dtype=np.float32)
    rows = compiled.profile(image, runs)
    flops = compiled.call_flops()
    total = sum(seconds for _, seconds in rows) or 1.0
    log(f"\nmnistc kernel calls at batch 1, one thread ({runs} runs; us per run, share, "
        f"GFLOP/s against a peak of {FMA_PEAK_GFLOPS_PER_CORE:.0f}):")  # fmt: skip
    for (name, seconds), f in zip(rows, flops):
        rate = f"{f / seconds / 1e9:8.1f}" if f and seconds else f"{'-':>8}"
        log(f"  {seconds * 1e6:8.1f} {100 * seconds / total:6.1f}% {rate}  {name}")


def _compile_times(model_path: Path, scratch: Path, log) -> None:
    """`mnistc compile` from an empty cache, for a new model (kernels cached), and again."""
    from mnistc.importers.cache import imports_dir

    python = sys.executable
    command = [python, "-m", "mnistc.tools.mnistc", "compile", str(model_path), "-o", str(scratch / "m2")]
    env = {**os.environ, "MNISTC_CACHE_DIR": str(scratch / "fresh-cache")}
    cold = _median_wall_ms(command, 1, env)
    new_model = []
    for _ in range(3):
        shutil.rmtree(imports_dir(env), ignore_errors=True)
        new_model.append(_median_wall_ms(command, 1, env))
    repeated = _median_wall_ms(command, 3, env)
    import_torch = _median_wall_ms([python, "-c", "import torch"], 3)
    log(f"\nmnistc compile: {repeated / 1e3:.2f} s repeated (kernels and import cached), "
        f"{statistics.median(new_model) / 1e3:.2f} s for a new model (kernels cached; importing "
        f"torch alone takes {import_torch / 1e3:.2f} s), {cold / 1e3:.2f} s from an empty cache")  # fmt: skip


def _cold_start_scripts(model_path: Path, image: Path, shape, engines: Engines) -> dict[str, str]:
    """Python one-liners that load each other engine and run it on one image, by label."""
    load_image = f"np.fromfile({str(image)!r}, np.float32).reshape(1, {', '.join(map(str, shape))})"
    scripts = {}
    if engines.ort_path is not None:
        scripts["python + onnxruntime"] = (
            "import numpy as np, onnxruntime as ort; "
            f"s = ort.InferenceSession({str(engines.ort_path)!r}, providers=['CPUExecutionProvider']); "
            f"s.run(None, {{s.get_inputs()[0].name: {load_image}}})"
        )
    if engines.torch_label == "torch.export":
        scripts["python + torch.export"] = (
            "import numpy as np, torch; "
            f"m = torch.export.load({str(model_path)!r}).module(); m(torch.from_numpy({load_image}))"
        )
    elif engines.torch_model is not None:
        scripts["python + torchscript"] = (
            "import numpy as np, torch; "
            f"m = torch.jit.load({str(model_path)!r}); m(torch.from_numpy({load_image}))"
        )
    return scripts


def _process_figures(model_path: Path, scratch: Path, shape, engines: Engines, log) -> None:
    image = scratch / "image.bin"
    np.random.default_rng(1).random(shape, dtype=np.float32).tofile(image)
    batch = scratch / "batch64.bin"
    np.random.default_rng(2).random((64, *shape), dtype=np.float32).tofile(batch)
    exe = str(scratch / "model")
    log("\nwhole process on one image, cold (median wall time):")
    log(f"  mnistc executable        {_median_wall_ms([exe, str(image), str(scratch / 'o.bin')], 21):8.1f} ms")
    for label, script in _cold_start_scripts(model_path, image, shape, engines).items():
        log(f"  {label:<24} {_median_wall_ms([sys.executable, '-c', script], 3):8.1f} ms")

    _contention_table(Path(exe), image, log)
    _compile_times(model_path, scratch, log)

    plan = engines.compiled.planned_memory()
    log(f"planned memory: weights {plan.weights / 1e6:.1f} MB + per thread arena "
        f"{plan.arena / 1e6:.2f} MB and kernel scratch {plan.scratch / 1e6:.2f} MB: peak "
        f"{plan.peak(1) / 1e6:.1f} MB on one thread, {plan.peak(2) / 1e6:.1f} MB on two")  # fmt: skip
    for name, data in (("1 image", image), ("64 images", batch)):
        peak = _peak_rss_mb([exe, str(data), str(scratch / "o.bin")])
        if peak is not None:
            log(f"peak memory of the executable on {name}: {peak:.1f} MB (max RSS)")
    log(f"executable size: {Path(exe).stat().st_size / 1e6:.1f} MB")


CONTENTION_CONFIGS = (("alone", 1, 1), ("alone", 2, 1), ("two at once", 2, 2))
"""(label, threads per process, processes running at once) measured under contention."""


def _p50_p90(bench_output: str) -> tuple[float, float]:
    """The median and p90 (us) from the executable's `--bench` line."""
    match = re.search(r"median ([\d.]+) us.*p90 ([\d.]+) us", bench_output)
    if match is None:
        raise MnistcError(f"unexpected --bench output: {bench_output.strip()!r}")
    return float(match[1]), float(match[2])


def concurrent_latencies(
    executable: Path, inputs: Path, threads: int, processes: int, runs: int = 2000
) -> list[tuple[float, float]]:
    """p50 and p90 (us) of each of `processes` copies of `executable --bench`, started
    together, each on `threads` OpenMP threads."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    command = [str(executable), "--bench", str(runs), str(inputs)]
    started = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(processes)
    ]  # fmt: skip
    results = []
    for process in started:
        out, err = process.communicate()
        if process.returncode != 0:
            raise MnistcError(f"{executable} --bench failed: {err.strip()}")
        results.append(_p50_p90(out))
    return results


def _contention_table(executable: Path, image: Path, log, rounds: int = 3) -> None:
    """Threads under contention: the executable alone on 1 and 2 threads, and two 2-thread
    processes at once on the same cores, configurations taking turns each round."""
    samples: dict[tuple, list[list[tuple[float, float]]]] = {c: [] for c in CONTENTION_CONFIGS}
    for _ in range(rounds):
        for config in CONTENTION_CONFIGS:
            samples[config].append(concurrent_latencies(executable, image, *config[1:]))
    log(f"\nthreads under contention: `model --bench 2000` on one image, {rounds} rounds "
        "(p50/p90 in us of each process; rounds apart by |):")  # fmt: skip
    for (label, threads, processes), per_round in samples.items():
        cells = ["  ".join(f"{p50:.0f}/{p90:.0f}" for p50, p90 in r) for r in per_round]
        log(f"  {label + f', {threads} thread' + 's' * (threads > 1):<24}" + " | ".join(cells))
    alone = statistics.median(p90 for [(_, p90)] in samples[CONTENTION_CONFIGS[0]])
    worst = max(p90 for r in samples[CONTENTION_CONFIGS[2]] for _, p90 in r)
    log(f"  worst p90 of two 2-thread processes at once / median p90 alone on 1 thread: "
        f"{worst / alone:.1f}x")  # fmt: skip
