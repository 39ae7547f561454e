"""The library API behind `mnistc compile`: model file → executable, stage by stage.

    from mnistc.driver import CompileOptions, compile_model
    result = compile_model("model.pt", "mnist_model", CompileOptions())

`Compilation` holds a model between stages, so tools and tests can stop anywhere and
look at the IR after each one.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, StringAttr, i64
from xdsl.passes import ModulePass, PassPipeline

from mnistc import progress, weights
from mnistc.dialects import cpu
from mnistc.errors import MnistcError
from mnistc.importers.cache import import_model_cached
from mnistc.importers.common import ImportedModel, imported_whole
from mnistc.context import MnistcContext
from mnistc.ir import make_context, print_ir  # noqa: F401  (part of the library API)
from mnistc.kernels import KERNEL_DIR
from mnistc.preprocessing import ATTRIBUTE as PREPROCESSING
from mnistc.preprocessing import Preprocessing, declared_beside
from mnistc.registry import all_passes
from mnistc.memory import PlannedMemory
from mnistc.targets.cpp import ENTRY, CppTarget, planned_memory
from mnistc.toolchain import BuildConfig, build_executable
from mnistc.weights import WeightFile
from mnistc.calibration import (
    DEFAULT_METHOD,
    DEFAULT_PERCENTILE,
    DEFAULT_SAMPLES,
    check_method,
    declared_preprocessing,
    samples_from_array,
)
from mnistc.dialects.shapes import shape_of
from mnistc.transforms.quantize import QuantizePass, check_one_input, entry_function

OPTIMISATION_PIPELINE = (
    "remove-dropout,canonicalize,fold-qdq,fold-layer-norm,fold-constants,fold-batch-norm,"
    "fuse-attention,fuse-residual-add,fuse-activation,transposed-linear-to-conv,canonicalize,dce"
)
"""The `nn`-level passes of `mnistc compile` (skipped by -O0)."""
BEFORE_QUANTIZE = (
    "remove-dropout,canonicalize,fold-layer-norm,fold-constants,fold-batch-norm,"
    "fuse-attention,fuse-activation,dce"
)
AFTER_QUANTIZE = "fuse-residual-add,fuse-activation,dce"
"""With `--quantize`, the same passes around `quantize`: activations fuse into the layers
first (a quantized layer clamps its int8 result), residual adds after (a conv2d with a
fused residual stays float32, so a ResNet's adds stay apart from the convolutions, as
float32 adds of dequantized tensors)."""

LOWERING_PIPELINE = "convert-nn-to-cpu"
QUANTIZED_TYPES = ("int8",)
WEIGHTS_FILE = "weights.bin"


def cpu_optimisation_pipeline(winograd: bool = True) -> str:
    """Fast kernels with pre-packed weights, and the static arena; skipped by -O0, which
    keeps the general kernels and gives every buffer its own storage."""
    pack = "pack-weights" if winograd else "pack-weights{winograd=false}"
    return f"{pack},fuse-conv-max-pool,plan-memory"


@dataclass(frozen=True)
class CompileOptions:
    sample_shape: Sequence[int] | None = None
    optimise: bool = True
    winograd: bool = True
    """Winograd F(4x4, 3x3) for the 3x3 convolutions it suits (see README, Known limits)."""
    debug: bool = False
    kernel_dir: Path = KERNEL_DIR
    target_cpu: str = "native"
    keep_build: Path | None = None
    """Keep the build directory here (generated C++, IR after each stage, g++ commands)."""
    shared: bool = False
    """Build a shared library with the C ABI of kernels/model_api.hpp, not an executable."""
    static: bool = False
    """An executable whose only shared libraries are libc and libm (OpenMP linked in)."""
    preprocessing: Preprocessing | None = None
    """Recorded in the artifact (mnistc/preprocessing.py); None: the model file's
    `MODEL.preprocessing.json`, if any."""
    # int8 (the `quantize` pass, mnistc/calibration.py)
    quantize: str | None = None
    """"int8": post-training quantization of conv2d and linear; None: float32."""
    calibration: Path | str | np.ndarray | None = None
    """The calibration samples, required with `quantize`: a .npy or raw float32 file, idx
    files, images, the MNIST directory (mnistc/calibration.py), or an array of samples."""
    calibration_method: str = DEFAULT_METHOD
    calibration_samples: int = DEFAULT_SAMPLES
    fp32_layers: tuple[str, ...] = ()
    """Layers (their weight's module path, e.g. "conv2") that `quantize` keeps float32."""

    def quantize_pass(self) -> QuantizePass | None:
        """The `quantize` pass these options ask for, after checking them; None: float32."""
        if self.quantize is None:
            if self.calibration is not None:
                raise MnistcError("--calibration is for --quantize int8")
            return None
        if self.quantize not in QUANTIZED_TYPES:
            raise MnistcError(
                f"--quantize {self.quantize}: unknown (supported: {', '.join(QUANTIZED_TYPES)})"
            )
        if self.calibration is None:
            raise MnistcError(f"--quantize {self.quantize} needs --calibration DATA")
        check_method(self.calibration_method, DEFAULT_PERCENTILE)
        return QuantizePass(
            calibration="" if isinstance(self.calibration, np.ndarray) else str(self.calibration),
            method=self.calibration_method,
            samples=self.calibration_samples, fp32_layers=tuple(self.fp32_layers),
            vnni=self.build_config().has_vnni(),
        )  # fmt: skip

    def build_config(self) -> BuildConfig:
        """How g++ builds the kernels and the model for these options."""
        return BuildConfig(
            debug=self.debug, target_cpu=self.target_cpu, kernel_dir=Path(self.kernel_dir),
            static_openmp=self.static,
        )  # fmt: skip


@dataclass
class CompileResult:
    output: Path
    arena_bytes: int
    unshared_bytes: int
    weight_bytes: int
    memory: PlannedMemory
    """The plan's weights, and per thread arena and kernel scratch (peak memory)."""
    commands: list[str] = field(default_factory=list)
    stages: dict[str, str] = field(default_factory=dict)
    """IR text after each stage, by stage name."""
    imported_whole: str | None = None
    """Why the model was imported whole (runs exactly its fixed input shape), or None."""


def run_pipeline(ctx: MnistcContext, module: ModuleOp, spec: str) -> None:
    """Run a `mnistc-opt`-style pipeline, verifying the module after every pass (each
    pass a step of the progress report)."""
    if not spec:
        return
    for module_pass in PassPipeline.parse_spec(all_passes(), spec).passes:
        with progress.step(f"pass {module_pass.name}"):
            module_pass.apply(ctx, module)
            module.verify()


@dataclass
class Compilation:
    """A model on its way through the pipeline: the module, its weights, the IR so far.

    The weights sit in the context's store under the module's weight-file name, where the
    passes find them, so nothing touches the disk before the build.
    """

    ctx: MnistcContext
    module: ModuleOp
    weights: WeightFile
    stages: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ctx.weights.add(weights.weights_name(self.module), self.weights)

    @classmethod
    def import_file(
        cls,
        path: str | Path,
        sample_shape: Sequence[int] | None = None,
        weights_name: str = WEIGHTS_FILE,
    ) -> Compilation:
        with progress.step(f"import {Path(path).name}"):
            imported = import_model_cached(path, sample_shape)
        compilation = cls.from_imported(imported, weights_name)
        compilation.declare_preprocessing(declared_beside(path))
        return compilation

    @classmethod
    def from_imported(
        cls, imported: ImportedModel, weights_name: str = WEIGHTS_FILE
    ) -> Compilation:
        imported.weights.name = weights_name
        weights.set_weights_name(imported.module, weights_name)
        imported.module.verify()
        compilation = cls(make_context(), imported.module, imported.weights)
        compilation.stages["nn"] = print_ir(imported.module)
        return compilation

    def declare_preprocessing(self, preprocessing: Preprocessing | None) -> None:
        """Record what raw pixels go through (the module attribute the C++ target reads)."""
        if preprocessing is not None:
            self.module.attributes[PREPROCESSING] = StringAttr(preprocessing.to_json())

    def run(self, stage: str, spec: str) -> None:
        """Run a pipeline and record the IR after it as `stage`."""
        run_pipeline(self.ctx, self.module, spec)
        self.stages[stage] = print_ir(self.module)

    def apply(self, stage: str, module_pass: ModulePass) -> None:
        """Run one configured pass (options that a pipeline string cannot quote, such as
        a file name) and record the IR after it as `stage`."""
        with progress.step(f"pass {module_pass.name}"):
            module_pass.apply(self.ctx, self.module)
            self.module.verify()
        self.stages[stage] = print_ir(self.module)

    def quantize(self, module_pass: QuantizePass, calibration: Path | str | np.ndarray) -> None:
        """The `quantize` pass, on a calibration file or an array of samples."""
        if not isinstance(calibration, np.ndarray):
            return self.apply("nn-quantized", module_pass)
        with progress.step("pass quantize"):
            check_one_input(self.module)
            shape = shape_of(entry_function(self.module).body.block.args[0])[1:]
            samples = samples_from_array(
                calibration, shape, declared_preprocessing(self.module), module_pass.samples
            )
            module_pass.quantize(self.module, self.weights, samples)
            self.module.verify()
        self.stages["nn-quantized"] = print_ir(self.module)

    def run_to(self, stage: str, options: CompileOptions = CompileOptions()) -> str:
        """Run the standard pipeline up to `stage` (nn, loops or cpp); return its text."""
        self.optimise_nn(options)
        self.quantize_nn(options)
        if stage == "nn":
            return print_ir(self.module)
        return self.lower(stage, options)

    def optimise_nn(self, options: CompileOptions) -> None:
        """The `nn`-level optimisations (unless -O0), after checking the options."""
        self.declare_preprocessing(options.preprocessing)
        quantize = options.quantize_pass()
        if options.optimise:
            self.run("nn-optimised", BEFORE_QUANTIZE if quantize else OPTIMISATION_PIPELINE)

    def quantize_nn(self, options: CompileOptions) -> None:
        """The `quantize` pass, if the options ask for it, and the passes after it."""
        quantize = options.quantize_pass()
        if quantize is None:
            return
        self.quantize(quantize, options.calibration)
        if options.optimise:
            self.run("nn-quantized-optimised", AFTER_QUANTIZE)

    def lower(self, stage: str, options: CompileOptions) -> str:
        """From the `nn` IR down to `stage` (loops or cpp); return its text."""
        cpu_passes = cpu_optimisation_pipeline(options.winograd) if options.optimise else ""
        self.run("loops", ",".join(filter(None, (LOWERING_PIPELINE, cpu_passes))))
        if stage == "loops":
            return self.stages["loops"]
        self.compact_weights()
        text = io.StringIO()
        with progress.step("emit C++"):
            CppTarget().emit(self.ctx, self.module, text)
        self.stages["cpp"] = text.getvalue()
        return self.stages["cpp"]

    def compact_weights(self) -> None:
        """Keep only the weights the lowered code reads, so the executable embeds no
        tensors that folding passes replaced (in place: a large model is not copied)."""
        ops = [op for op in self.module.walk() if isinstance(op, cpu.WeightOp)]
        keys = [
            (op.offset.value.data, tuple(op.result.type.get_shape()), cpu.element_size(op.result.type))
            for op in ops
        ]
        moved = self.weights.keep_only(keys)
        for op, key in zip(ops, keys):
            op.offset = IntegerAttr(moved[key[:2]], i64)

    def function_attribute(self, key: str) -> int:
        for op in self.module.ops:
            if isinstance(op, func.FuncOp) and op.sym_name.data == ENTRY:
                attr = op.attributes.get(key)
                return attr.value.data if isinstance(attr, IntegerAttr) else 0
        return 0


def compile_to_stage(
    model: str | Path,
    stage: str,
    options: CompileOptions = CompileOptions(),
    weights_name: str = WEIGHTS_FILE,
) -> tuple[str, WeightFile]:
    """The text of one stage (`nn`, `loops` or `cpp`), as `--emit` prints it, and the
    weights it references under `weights_name`."""
    compilation = Compilation.import_file(model, options.sample_shape, weights_name)
    return compilation.run_to(stage, options), compilation.weights


def compile_model(
    model: str | Path | Compilation,
    output: str | Path,
    options: CompileOptions = CompileOptions(),
) -> CompileResult:
    """Compile a model file (TorchScript, .onnx, .pt2) or an imported `Compilation` into a
    self-contained executable (or with `options.shared`, a library) at `output`. A
    `Compilation` already run to the `cpp` stage is only built."""
    keep_build = options.keep_build
    if options.static and (options.shared or options.debug):
        raise MnistcError("--static builds an optimised executable: not with --shared or --debug")
    if keep_build and Path(keep_build).exists() and not Path(keep_build).is_dir():
        raise MnistcError(f"cannot keep the build in {keep_build}: it is not a directory")
    if isinstance(model, Compilation):
        compilation = model
    else:
        compilation = Compilation.import_file(model, options.sample_shape)
    if "cpp" not in compilation.stages:  # else lowered already (timed apart by `bench`)
        compilation.run_to("cpp", options)
    result = CompileResult(
        Path(output),
        compilation.function_attribute("cpu.arena_size"),
        compilation.function_attribute("cpu.unshared_size"),
        len(compilation.weights),
        planned_memory(compilation.ctx, compilation.module),
        stages=compilation.stages,
        imported_whole=imported_whole(compilation.module),
    )
    with tempfile.TemporaryDirectory(prefix="mnistc-build-") as scratch:
        build_dir = Path(scratch)
        _write_build_inputs(build_dir, compilation)
        config = options.build_config()
        try:
            build_executable(
                build_dir / "model.cpp", Path(output), config, result.commands, options.shared
            )
        finally:
            (build_dir / "build.sh").write_text("\n".join(result.commands) + "\n")
            if options.keep_build:
                shutil.copytree(build_dir, options.keep_build, dirs_exist_ok=True)
    return result


def _write_build_inputs(build_dir: Path, compilation: Compilation) -> None:
    for i, (name, text) in enumerate(compilation.stages.items()):
        suffix = ".cpp" if name == "cpp" else ".mlir"
        (build_dir / f"{i:02d}-{name}{suffix}").write_text(text)
    (build_dir / "model.cpp").write_text(compilation.stages["cpp"])
    compilation.weights.save(build_dir / WEIGHTS_FILE)
