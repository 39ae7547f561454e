"""The library API behind `mnistc compile`: model file → executable, stage by stage.

    from mnistc.driver import CompileOptions, compile_model
    result = compile_model("model.pt", "mnist_model", CompileOptions())

Each stage is a function of its own (`import_model`, `optimise`, `lower`, `emit_cpp`,
`toolchain.build_executable`) so tools and tests can stop anywhere.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xdsl.context import Context
from xdsl.dialects import arith, builtin, func, memref, scf
from xdsl.dialects.builtin import IntegerAttr, ModuleOp
from xdsl.passes import PassPipeline
from xdsl.printer import Printer

from mnistc.dialects.cpu import CPU
from mnistc.dialects.nn import NN
from mnistc.importers.torchscript import ImportedModel, import_torchscript, with_weights_file
from mnistc.kernels import KERNEL_DIR
from mnistc.registry import all_passes
from mnistc.targets.cpp import ENTRY, CppTarget
from mnistc.toolchain import BuildConfig, build_executable

OPTIMISATION_PIPELINE = "remove-dropout,canonicalize,fuse-activation,dce"
"""The `nn`-level passes of `mnistc compile` (skipped by -O0)."""

LOWERING_PIPELINE = "convert-nn-to-cpu"
MEMORY_PIPELINE = "plan-memory"
"""The static arena; skipped by -O0, which gives every buffer its own storage."""

WEIGHTS_FILE = "weights.bin"
STAGES = ("nn", "loops", "cpp")


@dataclass(frozen=True)
class CompileOptions:
    sample_shape: Sequence[int] | None = None
    optimise: bool = True
    debug: bool = False
    kernel_dir: Path = KERNEL_DIR
    target_cpu: str = "native"
    keep_build: Path | None = None
    """Keep the build directory here (generated C++, IR after each stage, g++ commands)."""


@dataclass
class CompileResult:
    output: Path
    arena_bytes: int
    unshared_bytes: int
    weight_bytes: int
    commands: list[str] = field(default_factory=list)
    stages: dict[str, str] = field(default_factory=dict)
    """IR text after each stage, by stage name."""


def make_context() -> Context:
    ctx = Context()
    for dialect in (builtin.Builtin, func.Func, arith.Arith, memref.MemRef, scf.Scf, NN, CPU):
        ctx.load_dialect(dialect)
    return ctx


def print_ir(module: ModuleOp) -> str:
    text = io.StringIO()
    Printer(stream=text).print_op(module)
    return text.getvalue() + "\n"


def run_pipeline(ctx: Context, module: ModuleOp, spec: str) -> None:
    """Run a `mnistc-opt`-style pipeline, verifying the module after every pass."""
    if not spec:
        return
    pipeline = PassPipeline.parse_spec(
        all_passes(), spec, lambda _prev, mod, _next: mod.verify()
    )
    pipeline.apply(ctx, module)


def import_model(path: str | Path, sample_shape: Sequence[int] | None = None) -> ImportedModel:
    imported = import_torchscript(path, sample_shape)
    with_weights_file(imported.module, WEIGHTS_FILE)
    imported.module.verify()
    return imported


def optimise(ctx: Context, module: ModuleOp) -> None:
    run_pipeline(ctx, module, OPTIMISATION_PIPELINE)


def lower(ctx: Context, module: ModuleOp, plan_memory: bool = True) -> None:
    run_pipeline(ctx, module, LOWERING_PIPELINE)
    if plan_memory:
        run_pipeline(ctx, module, MEMORY_PIPELINE)


def emit_cpp(ctx: Context, module: ModuleOp) -> str:
    text = io.StringIO()
    CppTarget().emit(ctx, module, text)
    return text.getvalue()


def compile_to_stage(
    model: str | Path, stage: str, options: CompileOptions = CompileOptions()
) -> str:
    """The text of one stage (`nn`, `loops` or `cpp`), as `--emit` prints it."""
    ctx = make_context()
    module = import_model(model, options.sample_shape).module
    if options.optimise:
        optimise(ctx, module)
    if stage == "nn":
        return print_ir(module)
    lower(ctx, module, plan_memory=options.optimise)
    return print_ir(module) if stage == "loops" else emit_cpp(ctx, module)


def _function_size(module: ModuleOp, key: str) -> int:
    for op in module.ops:
        if isinstance(op, func.FuncOp) and op.sym_name.data == ENTRY:
            attr = op.attributes.get(key)
            return attr.value.data if isinstance(attr, IntegerAttr) else 0
    return 0


def compile_model(
    model: str | Path, output: str | Path, options: CompileOptions = CompileOptions()
) -> CompileResult:
    """Compile a TorchScript file into a self-contained executable at `output`."""
    ctx = make_context()
    imported = import_model(model, options.sample_shape)
    module = imported.module
    stages = {"nn": print_ir(module)}
    if options.optimise:
        optimise(ctx, module)
        stages["nn-optimised"] = print_ir(module)
    lower(ctx, module, plan_memory=options.optimise)
    stages["loops"] = print_ir(module)
    stages["cpp"] = emit_cpp(ctx, module)
    unshared = _function_size(module, "cpu.unshared_size")
    result = CompileResult(
        Path(output),
        _function_size(module, "cpu.arena_size"),
        unshared,
        len(imported.weights),
        stages=stages,
    )
    with tempfile.TemporaryDirectory(prefix="mnistc-build-") as scratch:
        build_dir = Path(scratch)
        _write_build_inputs(build_dir, stages, imported.weights)
        config = BuildConfig(
            debug=options.debug, target_cpu=options.target_cpu, kernel_dir=Path(options.kernel_dir)
        )
        try:
            build_executable(build_dir / "model.cpp", Path(output), config, result.commands)
        finally:
            (build_dir / "build.sh").write_text("\n".join(result.commands) + "\n")
            if options.keep_build:
                shutil.copytree(build_dir, options.keep_build, dirs_exist_ok=True)
    return result


def _write_build_inputs(build_dir: Path, stages: dict[str, str], weights: bytes) -> None:
    for i, (name, text) in enumerate(stages.items()):
        suffix = ".cpp" if name == "cpp" else ".mlir"
        (build_dir / f"{i:02d}-{name}{suffix}").write_text(text)
    (build_dir / "model.cpp").write_text(stages["cpp"])
    (build_dir / WEIGHTS_FILE).write_bytes(weights)
