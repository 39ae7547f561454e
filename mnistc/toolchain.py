"""g++: builds the generated C++ against the kernels into an executable.

The kernels and the executable's `main` do not depend on the model, so they are
compiled once per (source, flags, compiler) and cached as object files (an entry of
`mnistc.cache.KERNELS`, checked on each use); a model's build compiles only its generated
translation unit and links.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mnistc import progress
from mnistc.cache import KERNELS, intact_files
from mnistc.errors import MnistcError
from mnistc.kernels import KERNEL_DIR
from mnistc.outputs import output_path, write_bytes, writes_through

MAIN_SOURCE = "main.cpp"
"""The executable's entry point; left out of shared libraries."""
MAIN_OBJECT = str(Path(MAIN_SOURCE).with_suffix(".o"))
KERNEL_HEADERS = ("kernels.hpp", "kernel_support.hpp", "model_api.hpp", "thread_governor.hpp")
"""The headers that the sources and generated code include."""


def _files(kernel_dir: Path, pattern: str) -> list[str]:
    """The files matching `pattern` anywhere under `kernel_dir`, relative to it, sorted."""
    return sorted(p.relative_to(kernel_dir).as_posix() for p in kernel_dir.rglob(pattern))


def kernel_library_sources(kernel_dir: Path = KERNEL_DIR) -> tuple[str, ...]:
    """The kernels that generated code calls (see kernels/kernels.hpp): every `.cpp` file
    under the kernel directory but `main.cpp`, so a new family's file needs no list."""
    return tuple(name for name in _files(kernel_dir, "*.cpp") if name != MAIN_SOURCE)


def kernel_sources(kernel_dir: Path) -> tuple[str, ...]:
    return (*kernel_library_sources(kernel_dir), MAIN_SOURCE)


KERNEL_LIBRARY_SOURCES = kernel_library_sources()
"""The bundled kernels' sources, relative to KERNEL_DIR."""


class BuildError(MnistcError):
    pass


@dataclass(frozen=True)
class BuildConfig:
    """How to call g++: optimised for `target_cpu`, or a debug build with checks."""

    debug: bool = False
    target_cpu: str = "native"
    compiler: str = "g++"
    kernel_dir: Path = KERNEL_DIR
    static_openmp: bool = False
    """Link OpenMP's runtime into the executable (see `_openmp_link_flags`)."""

    def flags(self) -> list[str]:
        common = ["-std=c++17", "-fopenmp", "-fPIC", "-ffp-contract=fast", f"-I{self.kernel_dir}"]
        if self.debug:
            return [
                *common, "-O0", "-g", "-D_GLIBCXX_ASSERTIONS",
                "-fsanitize=address,undefined", "-fno-omit-frame-pointer",
            ]  # fmt: skip
        return [*common, "-O3", f"-march={self.target_cpu}", "-DNDEBUG"]

    def has_vnni(self) -> bool:
        """Whether `target_cpu` takes quant.cpp's AVX-512 VNNI path (vpdpbusd), the only
        one where int8 convolutions beat float32 (the cost rule of
        mnistc/transforms/quantize.py). AVX-VNNI alone (256-bit) does not count: quant.cpp
        has no path for it and would run its AVX2 one. Asked of the target, not of the
        debug flags (which build without -march), so that --debug builds the same IR."""
        macros = predefined_macros(self.compiler, (f"-march={self.target_cpu}",))
        return {"__AVX512VNNI__", "__AVX512F__"} <= macros


@functools.cache
def predefined_macros(compiler: str, flags: tuple[str, ...]) -> frozenset[str]:
    """The macros that `compiler` predefines with these flags (`g++ -march=X -dM -E`):
    what the kernels' preprocessor tests see. One query per compiler and flags."""
    command = [compiler, *flags, "-dM", "-E", "-x", "c++", os.devnull]
    try:
        result = subprocess.run(command, capture_output=True, text=True)
    except FileNotFoundError:
        raise BuildError(f"cannot run '{compiler}': is g++ installed?") from None
    if result.returncode != 0:
        raise BuildError(f"'{compiler}' rejects the target (exit {result.returncode}):\n{result.stderr.strip()}")
    return frozenset(line.split()[1] for line in result.stdout.splitlines() if line.startswith("#define "))


def _run(command: list[str], cwd: Path, log: list[str], what: str) -> None:
    log.append(" ".join(command))
    with progress.step(what):
        _execute(command, cwd)


def _run_all(commands: list[list[str]], cwd: Path, log: list[str]) -> None:
    """`_run` of independent compiles, logged in order, run side by side on the machine's
    cores (one file per kernel family means many small compiles); each is a step of the
    progress report, named by its source."""
    log.extend(" ".join(command) for command in commands)
    reporter = progress.current()  # the pool's threads do not inherit the context

    def compile_one(index: int, command: list[str]) -> None:
        source = Path(command[command.index("-c") + 1]).name
        with reporter.step(f"g++ {source} [{index + 1}/{len(commands)}]", announce_slow=False):
            _execute(command, cwd)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for future in [pool.submit(compile_one, i, c) for i, c in enumerate(commands)]:
            future.result()


def _execute(command: list[str], cwd: Path) -> None:
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise BuildError(f"cannot run '{command[0]}': is g++ installed?") from None
    if result.returncode != 0:
        raise BuildError(
            f"'{command[0]}' failed (exit {result.returncode}):\n{result.stderr.strip()}"
        )


def _compiler_identity(compiler: str) -> str:
    try:
        return subprocess.run(
            [compiler, "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        raise BuildError(f"cannot run '{compiler}': is g++ installed?") from None


def _check_kernel_dir(kernel_dir: Path) -> None:
    missing = [n for n in (MAIN_SOURCE, *KERNEL_HEADERS) if not (kernel_dir / n).is_file()]
    if not kernel_dir.is_dir() or not kernel_library_sources(kernel_dir):
        missing.append("kernel sources (*.cpp)")
    if missing:
        raise BuildError(f"kernel directory {kernel_dir} lacks {', '.join(missing)}")


def kernel_objects(config: BuildConfig, log: list[str]) -> list[Path]:
    """The compiled kernels and main, from the cache (checked against its manifest) or
    built into it now."""
    _check_kernel_dir(config.kernel_dir)
    digest = hashlib.sha256()
    for part in (_compiler_identity(config.compiler), *config.flags()):
        digest.update(part.encode())
    sources = kernel_sources(config.kernel_dir)
    for name in sorted({*sources, *_files(config.kernel_dir, "*.hpp")}):
        digest.update(name.encode())
        digest.update((config.kernel_dir / name).read_bytes())
    key = digest.hexdigest()[:16]
    names = [str(Path(name).with_suffix(".o")) for name in sources]
    entry = KERNELS.lookup(key, names)
    if entry is None:
        entry = _build_kernel_entry(config, key, sources, names, log)
    else:
        log.append(f"# kernels from cache: {entry}")
    return [entry / name for name in names]


def _build_kernel_entry(
    config: BuildConfig, key: str, sources: Sequence[str], names: list[str], log: list[str]
) -> Path:
    """Compile the kernels into a cache entry (objects named and placed as their sources);
    the intact objects of a damaged entry are reused, so only what was damaged is compiled
    again."""
    previous = KERNELS.directory() / key
    reusable = intact_files(previous, names)

    def fill(scratch: Path) -> None:
        compiles = []
        for source, name in zip(sources, names):
            (scratch / name).parent.mkdir(parents=True, exist_ok=True)
            if name in reusable:
                shutil.copyfile(previous / name, scratch / name)
            else:
                compiles.append(
                    [config.compiler, *config.flags(), "-c", str(config.kernel_dir / source), "-o", name]
                )
        if compiles:
            progress.current().note(
                f"building the kernel library ({len(compiles)} files; cached afterwards)"
            )
        _run_all(compiles, scratch, log)

    try:
        return KERNELS.store(key, names, fill)
    except OSError as e:
        raise BuildError(f"cannot write the kernel cache ({e}): see `mnistc cache`") from None


def _link_flags(config: BuildConfig, shared: bool) -> list[str]:
    """An optimised executable carries the C++ runtime inside: its cold start then skips
    resolving libstdc++'s symbols (the default model on one image, medians of 40 launches:
    3.3-3.8 ms -> 2.3-2.6 ms). Libraries and debug builds (sanitizers) keep the shared
    runtime."""
    if shared:
        return ["-shared"]
    return [] if config.debug else ["-static-libstdc++", "-static-libgcc"]


def _openmp_link_flags(config: BuildConfig) -> list[str]:
    """After the objects: OpenMP's runtime shared (libgomp.so.1 needed at run time), or
    with `static_openmp` its archive linked in, leaving libc (and libm) as the only
    shared libraries."""
    if not config.static_openmp:
        return ["-fopenmp"]
    archive = subprocess.run(
        [config.compiler, "-print-file-name=libgomp.a"], capture_output=True, text=True
    ).stdout.strip()
    if not Path(archive).is_absolute() or not Path(archive).is_file():
        raise BuildError(f"a static build needs libgomp.a, which {config.compiler} does not have")
    return [archive, "-pthread"]


def build_executable(
    source: Path, output: Path, config: BuildConfig, log: list[str], shared: bool = False
) -> None:
    """Compile `source` (its weight file beside it) and link it into `output` by the rule
    of `mnistc.outputs` (atomically, or through to a device): an executable, or with
    `shared` a library exporting the C ABI of model_api.hpp (and its header, `output`
    with suffix .h, unless `output` is a device or FIFO)."""
    objects = kernel_objects(config, log)
    if shared:
        objects = [o for o in objects if o.name != MAIN_OBJECT]
    build_dir = source.parent
    model_object = build_dir / "model.o"
    _run(
        [config.compiler, *config.flags(), f"-Wa,-I{build_dir}", "-c", source.name, "-o", model_object.name],
        build_dir,
        log,
        f"g++ {source.name}",
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    with output_path(output, executable=True) as partial:
        link_flags = [f for f in config.flags() if f != "-fopenmp"]
        _run(
            [config.compiler, *link_flags, *_link_flags(config, shared),
             str(model_object), *map(str, objects), *_openmp_link_flags(config), "-o", str(partial)],
            build_dir,
            log,
            "link",
        )  # fmt: skip
        if shared and not writes_through(output):  # no header beside a device or FIFO
            write_bytes(output.with_suffix(".h"), (config.kernel_dir / "model_api.hpp").read_bytes())


def have_compiler(compiler: str = "g++") -> bool:
    return shutil.which(compiler) is not None
