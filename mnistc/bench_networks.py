"""`mnistc bench --networks`: torchvision's classifiers, mnistc against ONNX Runtime.

The instrument issue 11's targets are judged by. Each network gets random weights (a
fixed seed) and non-trivial batch-norm statistics, so that folding batch norm is
exercised, and runs in eval mode. For each sample shape it is exported twice from the same weights
(TorchScript, torch.export or ONNX for mnistc; ONNX for ONNX Runtime), compiled by
mnistc with each stage timed, checked against PyTorch, then timed against ONNX Runtime's
default CPU session, the two interleaved round by round in one process. A network that
mnistc refuses is reported with the reason and skipped. Run by hand; never a timed test.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mnistc.bench import (
    FMA_PEAK_GFLOPS_PER_CORE,
    calls_per_round,
    export_onnx,
    interleaved_samples,
    machine,
    ort_session,
    parse_list,
)
from mnistc.errors import MnistcError
from mnistc.memory import PlannedMemory

NETWORKS = (
    "resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
    "efficientnet_b0", "shufflenet_v2_x1_0", "squeezenet1_1", "regnet_x_400mf",
    "googlenet", "densenet121",
)  # fmt: skip
"""torchvision's builders, as issue 11 lists them."""

# transformers (mnistc/models/transformers.py)
TRANSFORMER_NETWORKS = ("vit_tiny", "mlp_mixer")
"""Built by mnistc.models.transformers at the configuration's image size."""

QUICK_NETWORK = "squeezenet1_1"
"""For `--quick`: quick to compile (26 convolutions, 0.7 GFLOP at 224x224)."""

FRONTENDS = {"torchscript": ".pt", "export": ".pt2", "onnx": ".onnx"}
"""What mnistc compiles, by the file suffix its importer takes."""


@dataclass(frozen=True)
class Config:
    """One configuration of issue 11's table."""

    name: str
    size: int
    batch: int
    threads: int

    @property
    def shape(self) -> tuple[int, int, int]:
        return (3, self.size, self.size)

    @property
    def label(self) -> str:
        plural = "s" if self.threads > 1 else ""
        return f"3x{self.size}x{self.size}, batch {self.batch}, {self.threads} thread{plural}"


CONFIGS = {
    c.name: c
    for c in (
        Config("224-b1-t1", 224, 1, 1),
        Config("224-b1-t2", 224, 1, 2),
        Config("224-b16-t2", 224, 16, 2),
        Config("64-b1-t1", 64, 1, 1),
    )
}
QUICK_CONFIG = "64-b1-t1"


def import_torchvision_models():
    """`torchvision.models`, even where torchvision's C++ ops do not load (the PyPI wheel
    beside a CPU build of torch): importing it registers fake kernels for the `nms` and
    `qnms` ops, which then need their schemas. The model builders are pure Python."""
    import torch

    try:
        import torchvision.models as models

        return models
    except RuntimeError:
        for name in [m for m in list(sys.modules) if m.startswith("torchvision")]:
            del sys.modules[name]
    global _TORCHVISION_SCHEMAS
    _TORCHVISION_SCHEMAS = torch.library.Library("torchvision", "FRAGMENT")
    for op in ("nms", "qnms"):
        schema = "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"
        _TORCHVISION_SCHEMAS.define(op + schema)
    import torchvision.models as models

    return models


_TORCHVISION_SCHEMAS = None
"""The library that declares the ops' schemas; it must outlive the import."""


def have_requirements() -> str | None:
    """Why the benchmark cannot run here (a missing package), or None. Nothing is
    imported: torchvision may need `import_torchvision_models` to import at all."""
    from importlib.util import find_spec

    for package in ("onnxruntime", "torchvision"):
        if find_spec(package) is None:
            return f"{package} is not installed (pip install 'mnistc[bench]')"
    return None


def build_network(name: str, seed: int = 0, size: int = 224):
    """The network with random weights and random batch-norm statistics, in eval mode
    (a transformer for `size` x `size` images)."""
    import torch

    if name in TRANSFORMER_NETWORKS:
        from mnistc.models.transformers import BENCHMARK_MODELS

        torch.manual_seed(seed)
        return BENCHMARK_MODELS[name](size).eval()
    models = import_torchvision_models()
    torch.manual_seed(seed)
    extra = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
    model = getattr(models, name)(weights=None, **extra)
    randomise_batch_norm(model, torch.Generator().manual_seed(seed + 1))
    return model.eval()


def randomise_batch_norm(model, generator, calibration_shape=(8, 3, 64, 64)) -> None:
    """Batch-norm statistics as a trained network has them, so that folding them into
    the convolutions is exercised: the mean and variance of each channel measured on
    random images (activations then stay near 1 through a hundred layers, as in a
    trained network, where the contract's absolute tolerance is meant for them), and
    random scales and shifts."""
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # a cumulative average: the statistics of this batch
            if norm.affine:
                norm.weight.copy_(0.5 + torch.rand(norm.num_features, generator=generator))
                norm.bias.copy_(0.2 * torch.randn(norm.num_features, generator=generator))
        model.train()
        model(torch.randn(calibration_shape, generator=generator))
    for norm in norms:
        norm.momentum = 0.1
    model.eval()


def export_for_mnistc(model, shape: Sequence[int], frontend: str, directory: Path) -> Path:
    """The file mnistc compiles: TorchScript (traced, shape recorded), torch.export or
    ONNX, from the same module as ONNX Runtime's export."""
    import torch

    path = directory / f"model{FRONTENDS[frontend]}"
    sample = torch.zeros(1, *shape)
    if frontend == "onnx":
        export_onnx(model, shape, path)
    elif frontend == "export":
        torch.export.save(torch.export.export(model, (sample,)), str(path))
    else:
        from mnistc.importers.torchscript import save_with_shape

        with torch.no_grad():
            save_with_shape(torch.jit.trace(model, (sample,)), path, shape)
    return path


@dataclass
class Build:
    """One network compiled by mnistc for one sample shape."""

    library: Path
    import_s: float
    passes_s: float
    gxx_s: float
    memory: PlannedMemory
    gflop: float
    """Per sample: the kernel calls' direct-equivalent FLOPs (kernels/abi.py)."""


def compile_timed(model_file: Path, library: Path) -> Build:
    """Compile `model_file` to a shared library, timing import (uncached, as for a new
    model, but with torch imported already), the passes down to C++, and g++ (the kernel
    library cached)."""
    from mnistc.driver import Compilation, CompileOptions, compile_model
    from mnistc.importers import import_model
    from mnistc.runtime import CompiledModel

    start = time.perf_counter()
    imported = import_model(model_file)
    imported_at = time.perf_counter()
    compilation = Compilation.from_imported(imported)
    compilation.run_to("cpp")
    lowered_at = time.perf_counter()
    compile_model(compilation, library, CompileOptions(shared=True))
    built_at = time.perf_counter()
    compiled = CompiledModel(library)
    return Build(
        library, imported_at - start, lowered_at - imported_at, built_at - lowered_at,
        compiled.planned_memory(), sum(compiled.call_flops()) / 1e9,
    )  # fmt: skip


_MEMORY_PROBE = """
import sys
import numpy as np
from mnistc.runtime import CompiledModel

def status_kb(key):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(key + ":"))

library, threads, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open("/proc/self/clear_refs", "w") as clear_refs:
    clear_refs.write("5")  # the peak (VmHWM) starts again from the current RSS
before = status_kb("VmRSS")
model = CompiledModel(library)
inputs = np.ones((batch, *model.input_shape), np.float32)  # resident: subtracted below
model.set_num_threads(threads)
model(inputs)
print(status_kb("VmHWM") - before - inputs.nbytes // 1024)
"""


def measured_peak_bytes(library: Path, threads: int, batch: int) -> int | None:
    """What one inference adds to a bare process's peak RSS: the library's code and
    weights, its arenas, kernel scratch and thread stacks (not the input); None where
    Linux's /proc cannot say."""
    env = {**os.environ, "OMP_DYNAMIC": "false"}
    probe = [sys.executable, "-c", _MEMORY_PROBE, str(library), str(threads), str(batch)]
    result = subprocess.run(probe, capture_output=True, text=True, env=env)
    try:
        return int(result.stdout.strip()) * 1024
    except ValueError:
        return None


@dataclass
class Row:
    """One network in one configuration: why it was skipped, or what it measured."""

    network: str
    config: Config
    skipped: str | None = None
    gflop: float = 0.0
    build: Build | None = None
    ort_ms: tuple[float, float] = (0.0, 0.0)
    """Median and p90 over rounds."""
    mnistc_ms: tuple[float, float] = (0.0, 0.0)
    max_abs_diff: float = 0.0
    within_tolerance: bool = False
    same_argmax: bool = False
    measured_bytes: int | None = None

    @property
    def correct(self) -> bool:
        return self.within_tolerance and self.same_argmax

    @property
    def verdict(self) -> str:
        """`yes`, or which half of the contract failed."""
        checks = (("tolerance", self.within_tolerance), ("argmax", self.same_argmax))
        failed = [name for name, ok in checks if not ok]
        return f"NO ({' and '.join(failed)})" if failed else "yes"

    @property
    def ratio(self) -> float:
        """ORT / mnistc: above 1 when mnistc is faster."""
        return self.ort_ms[0] / self.mnistc_ms[0]

    @property
    def gflops(self) -> float:
        return self.gflop * self.config.batch / (self.mnistc_ms[0] / 1e3)


def check_against_torch(model, compiled, inputs: np.ndarray, row: Row) -> None:
    """The correctness contract: |a-b| <= 1e-4 + 1e-4|b| and the same argmax."""
    import torch

    with torch.no_grad():
        expected = model(torch.from_numpy(inputs)).numpy().reshape(len(inputs), -1)
    actual = compiled(inputs)
    difference = np.abs(actual - expected)
    row.max_abs_diff = float(difference.max())
    row.within_tolerance = bool(np.all(difference <= 1e-4 + 1e-4 * np.abs(expected)))
    row.same_argmax = bool(np.array_equal(actual.argmax(1), expected.argmax(1)))


def time_engines(
    compiled, onnx_path: Path, inputs: np.ndarray, threads: int, rounds: int, row: Row
) -> None:
    """Median and p90 of mnistc and ONNX Runtime, interleaved round by round."""
    compiled.set_num_threads(threads)
    session = ort_session(onnx_path, threads)
    name = session.get_inputs()[0].name
    runners = {"mnistc": lambda: compiled(inputs), "ort": lambda: session.run(None, {name: inputs})}
    samples = interleaved_samples(runners, rounds, calls_per_round(runners))
    row.mnistc_ms, row.ort_ms = (_median_p90(samples[n]) for n in ("mnistc", "ort"))


def _median_p90(samples_us: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_us)
    p90 = ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]
    return statistics.median(ordered) / 1e3, p90 / 1e3


def one_line_reason(error: BaseException, limit: int = 160) -> str:
    """The error on one line: its first line, and when that introduces a list (the
    importer's "unsupported operators:"), the items of the list without locations."""
    lines = str(error).strip().splitlines() or [""]
    reason = lines[0]
    if reason.endswith(":"):
        items = []
        for line in lines[1:]:
            if not line.startswith(" "):
                break
            items.append(line.strip().split(" at ")[0])
        reason += " " + ", ".join(items)
    if not isinstance(error, MnistcError):
        reason = f"{type(error).__name__}: {reason}"
    return reason if len(reason) <= limit else reason[: limit - 3] + "..."


@dataclass
class NetworkBench:
    """The benchmark's settings and its rows so far."""

    networks: list[str]
    configs: list[Config]
    rounds: int = 11
    frontend: str = "torchscript"
    governor: bool = False
    log: Callable[[str], None] = print
    rows: list[Row] = field(default_factory=list)

    def run(self) -> list[Row]:
        """Every network in every configuration, then a table per configuration. The
        thread governor reads OMP_DYNAMIC once per library, at its first run."""
        saved = os.environ.get("OMP_DYNAMIC")
        os.environ["OMP_DYNAMIC"] = "true" if self.governor else "false"
        try:
            self.run_all()
        finally:
            if saved is None:
                del os.environ["OMP_DYNAMIC"]
            else:
                os.environ["OMP_DYNAMIC"] = saved
        return self.rows

    def run_all(self) -> None:
        from mnistc.toolchain import BuildConfig, kernel_objects

        self.log(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the start")
        self.log(f"mnistc from {self.frontend}; ONNX Runtime default CPU session; "
                 f"OMP_DYNAMIC={os.environ['OMP_DYNAMIC']} (thread governor "
                 f"{'on' if self.governor else 'off: every run on the configured threads'}); "
                 f"{self.rounds} interleaved rounds per configuration")  # fmt: skip
        start = time.perf_counter()
        kernel_objects(BuildConfig(), [])
        self.log(f"kernel library ready in {time.perf_counter() - start:.1f} s (then cached)")
        for network in self.networks:
            self.run_network(network)
        self.summarise()

    def run_network(self, network: str) -> None:
        for size in dict.fromkeys(c.size for c in self.configs):
            configs = [c for c in self.configs if c.size == size]
            try:
                model = build_network(network, size=size)
            except Exception as e:  # a builder this torchvision lacks
                for config in configs:
                    self.add(Row(network, config, skipped=f"not built: {one_line_reason(e)}"))
                continue
            with tempfile.TemporaryDirectory(prefix="mnistc-netbench-") as scratch:
                self.run_shape(network, model, configs, Path(scratch))

    def run_shape(self, network: str, model, configs: list[Config], scratch: Path) -> None:
        """Export and compile once for the shape; check and time each configuration."""
        from mnistc.runtime import CompiledModel

        shape = configs[0].shape
        try:
            onnx_path = export_onnx(model, shape, scratch / "ort.onnx")
            model_file = export_for_mnistc(model, shape, self.frontend, scratch)
        except Exception as e:
            reason = f"export failed: {one_line_reason(e)}"
            return self.add_skipped(network, configs, reason)
        try:
            build = compile_timed(model_file, scratch / "libmodel.so")
            compiled = CompiledModel(build.library)
        except Exception as e:  # refused (MnistcError) or an internal error: report both
            return self.add_skipped(network, configs, one_line_reason(e))
        for config in configs:
            row = Row(network, config, gflop=build.gflop, build=build)
            rng = np.random.default_rng(0)
            inputs = rng.standard_normal((config.batch, *shape), dtype=np.float32)
            check_against_torch(model, compiled, inputs, row)
            time_engines(compiled, onnx_path, inputs, config.threads, self.rounds, row)
            row.measured_bytes = measured_peak_bytes(build.library, config.threads, config.batch)
            self.add(row)

    def add_skipped(self, network: str, configs: list[Config], reason: str) -> None:
        for config in configs:
            self.add(Row(network, config, skipped=reason))

    def add(self, row: Row) -> None:
        self.rows.append(row)
        self.log(format_row(row))

    def summarise(self) -> None:
        self.log("")
        for config in self.configs:
            self.log(f"== {config.label} ==")
            self.log(TABLE_HEADER)
            rows = [r for r in self.rows if r.config == config]
            for row in rows:
                self.log(format_row(row, with_config=False))
            self.log(summary_line(rows, config))
            self.log("")
        self.log(f"load average {os.getloadavg()[0]:.1f} at the end")


TABLE_HEADER = (
    f"{'network':<19} {'GFLOP':>6} {'ORT ms p50/p90':>15} {'mnistc ms p50/p90':>18} "
    f"{'ORT/mnistc':>10} {'GFLOP/s':>8} {'peak':>5} {'import/passes/g++ s':>20} "
    f"{'memory MB plan/meas':>20} {'max|a-b|':>9} correct"
)
"""Columns of `format_row`: GFLOP per sample (the kernel calls' direct-equivalent FLOPs,
kernels/abi.py); GFLOP/s of mnistc and its share of the FMA peak of the configuration's
cores; compile stages; the plan's peak (weights, and an arena and kernel scratch per
thread), and what one inference adds to a bare process's peak RSS."""


def format_row(row: Row, with_config: bool = True) -> str:
    prefix = f"[{row.config.name}] " if with_config else ""
    if row.skipped is not None:
        return f"{prefix}{row.network:<19} skipped: {row.skipped}"
    build = row.build
    peak = FMA_PEAK_GFLOPS_PER_CORE * row.config.threads
    measured = "?" if row.measured_bytes is None else f"{row.measured_bytes / 1e6:.1f}"
    memory = f"{build.memory.peak(row.config.threads) / 1e6:.1f}/{measured}"
    stages = f"{build.import_s:.1f}/{build.passes_s:.1f}/{build.gxx_s:.1f}"
    times = [f"{p50:.2f}/{p90:.2f}" for p50, p90 in (row.ort_ms, row.mnistc_ms)]
    return (
        f"{prefix}{row.network:<19} {row.gflop:>6.2f} {times[0]:>15} {times[1]:>18} "
        f"{row.ratio:>10.2f} {row.gflops:>8.1f} {100 * row.gflops / peak:>4.0f}% {stages:>20} "
        f"{memory:>20} {row.max_abs_diff:>9.1e} {row.verdict}"
    )


def summary_line(rows: list[Row], config: Config) -> str:
    """The geometric mean of ORT/mnistc over the networks that ran correctly, the worst
    of them, and the networks left out."""
    ran = [r for r in rows if r.skipped is None and r.correct]
    wrong = [r.network for r in rows if r.skipped is None and not r.correct]
    skipped = [r.network for r in rows if r.skipped is not None]
    parts = []
    if ran:
        geomean = math.exp(statistics.fmean(math.log(r.ratio) for r in ran))
        worst = min(ran, key=lambda r: r.ratio)
        parts.append(f"geometric mean ORT/mnistc {geomean:.2f} over {len(ran)} networks; "
                     f"worst {worst.network} {worst.ratio:.2f}")  # fmt: skip
    else:
        parts.append("no network ran")
    if wrong:
        parts.append(f"wrong (left out): {', '.join(wrong)}")
    parts.append(f"skipped: {', '.join(skipped) or 'none'}")
    return "summary: " + "; ".join(parts)


def run_network_bench(
    networks: str = "all",
    configs: str = "all",
    rounds: int = 11,
    frontend: str = "torchscript",
    governor: bool = False,
    quick: bool = False,
    log: Callable[[str], None] = print,
) -> list[Row]:
    """Parse the selections, check the requirements, run, and return the rows."""
    if quick:
        networks = QUICK_NETWORK if networks == "all" else networks
        configs = QUICK_CONFIG if configs == "all" else configs
        rounds = min(rounds, 3)
    chosen = NetworkBench(
        parse_list(networks, NETWORKS + TRANSFORMER_NETWORKS, "network"),
        [CONFIGS[c] for c in parse_list(configs, list(CONFIGS), "configuration")],
        rounds, frontend, governor, log,
    )  # fmt: skip
    if rounds < 1:
        raise MnistcError("--rounds must be at least 1")
    missing = have_requirements()
    if missing is not None:
        raise MnistcError(f"the network benchmark needs {missing}")
    return chosen.run()
