"""g++: builds the generated C++ against the kernels into an executable.

The kernels and the executable's `main` do not depend on the model, so they are
compiled once per (source, flags, compiler) and cached as object files; a model's
build compiles only its generated translation unit and links.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mnistc.errors import MnistcError
from mnistc.kernels import KERNEL_DIR

KERNEL_LIBRARY_SOURCES = ("kernels.cpp", "conv_winograd.cpp")
"""The kernels that generated code calls (see kernels/kernels.hpp)."""
MAIN_SOURCE = "main.cpp"
"""The executable's entry point; left out of shared libraries."""
KERNEL_SOURCES = (*KERNEL_LIBRARY_SOURCES, MAIN_SOURCE)
MAIN_OBJECT = str(Path(MAIN_SOURCE).with_suffix(".o"))
KERNEL_HEADERS = ("kernels.hpp", "kernel_support.hpp", "model_api.hpp", "thread_governor.hpp")


class BuildError(MnistcError):
    pass


@dataclass(frozen=True)
class BuildConfig:
    """How to call g++: optimised for `target_cpu`, or a debug build with checks."""

    debug: bool = False
    target_cpu: str = "native"
    compiler: str = "g++"
    kernel_dir: Path = KERNEL_DIR

    def flags(self) -> list[str]:
        common = ["-std=c++17", "-fopenmp", "-fPIC", "-ffp-contract=fast", f"-I{self.kernel_dir}"]
        if self.debug:
            return [
                *common, "-O0", "-g", "-D_GLIBCXX_ASSERTIONS",
                "-fsanitize=address,undefined", "-fno-omit-frame-pointer",
            ]  # fmt: skip
        return [*common, "-O3", f"-march={self.target_cpu}", "-DNDEBUG"]


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where compiled kernels and imported models are kept between compiles."""
    base = environ.get("MNISTC_CACHE_DIR") or environ.get("XDG_CACHE_HOME")
    return Path(base or Path.home() / ".cache") / "mnistc"


def _run(command: list[str], cwd: Path, log: list[str]) -> None:
    log.append(" ".join(command))
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
    missing = [n for n in (*KERNEL_SOURCES, *KERNEL_HEADERS) if not (kernel_dir / n).is_file()]
    if missing:
        raise BuildError(f"kernel directory {kernel_dir} lacks {', '.join(missing)}")


def kernel_objects(config: BuildConfig, log: list[str]) -> list[Path]:
    """The compiled kernels and main, from the cache or built into it now."""
    _check_kernel_dir(config.kernel_dir)
    key = hashlib.sha256()
    for part in (_compiler_identity(config.compiler), *config.flags()):
        key.update(part.encode())
    for name in sorted((*KERNEL_SOURCES, *KERNEL_HEADERS)):
        key.update((config.kernel_dir / name).read_bytes())
    directory = cache_dir() / f"kernels-{key.hexdigest()[:16]}"
    objects = [directory / Path(name).with_suffix(".o") for name in KERNEL_SOURCES]
    if all(o.is_file() for o in objects):
        log.append(f"# kernels from cache: {directory}")
        return objects
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        for name, obj in zip(KERNEL_SOURCES, objects):
            partial = Path(scratch) / obj.name
            _run(
                [config.compiler, *config.flags(), "-c", str(config.kernel_dir / name), "-o", str(partial)],
                Path(scratch),
                log,
            )
            os.replace(partial, obj)
    return objects


def _link_flags(config: BuildConfig, shared: bool) -> list[str]:
    """An optimised executable carries the C++ runtime inside: its cold start then skips
    resolving libstdc++'s symbols (the default model on one image, medians of 40 launches:
    3.3-3.8 ms -> 2.3-2.6 ms). Libraries and debug builds (sanitizers) keep the shared
    runtime."""
    if shared:
        return ["-shared"]
    return [] if config.debug else ["-static-libstdc++", "-static-libgcc"]


def build_executable(
    source: Path, output: Path, config: BuildConfig, log: list[str], shared: bool = False
) -> None:
    """Compile `source` (its weight file beside it) and link it into `output` atomically:
    an executable, or with `shared` a library exporting the C ABI of model_api.hpp (and
    its header, `output` with suffix .h)."""
    objects = kernel_objects(config, log)
    if shared:
        objects = [o for o in objects if o.name != MAIN_OBJECT]
    build_dir = source.parent
    model_object = build_dir / "model.o"
    _run(
        [config.compiler, *config.flags(), f"-Wa,-I{build_dir}", "-c", source.name, "-o", model_object.name],
        build_dir,
        log,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    os.close(descriptor)
    partial = Path(name)
    try:
        _run(
            [config.compiler, *config.flags(), *_link_flags(config, shared),
             str(model_object), *map(str, objects), "-o", str(partial)],
            build_dir,
            log,
        )  # fmt: skip
        partial.chmod(0o755)
        if shared:
            header = output.with_suffix(".h")
            shutil.copyfile(config.kernel_dir / "model_api.hpp", header.with_name(f".{header.name}"))
            os.replace(header.with_name(f".{header.name}"), header)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)


def have_compiler(compiler: str = "g++") -> bool:
    return shutil.which(compiler) is not None
