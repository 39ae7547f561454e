"""A cache of imported models: the `nn` IR and weights of a model file, by content.

Importing a TorchScript or torch.export file needs `import torch`, which takes longer
than the rest of a compile. A repeated compile of the same file reads the `nn` module
that its first compile imported instead. The key covers the file's bytes, the sample
shape, every source file of mnistc and the versions of torch, onnx and xdsl, so a change
to any of them imports afresh. Entries live in `imports_dir()` (MNISTC_CACHE_DIR moves
it; deleting it is always safe).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import metadata
from pathlib import Path

from mnistc.importers import import_model
from mnistc.importers.common import ImportedModel
from mnistc.toolchain import cache_dir
from mnistc.weights import WeightFile


def imports_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The import cache, under the kernel cache's directory."""
    return cache_dir(environ) / "imports"


MODULE_FILE = "nn.mlir"
WEIGHTS_FILE = "weights.bin"
VERSIONED_PACKAGES = ("torch", "onnx", "xdsl")


@cache
def _sources_fingerprint() -> str:
    """A hash of mnistc's Python sources: importers, dialects and everything they use."""
    import mnistc
    import mnistc.dialects

    digest = hashlib.sha256()
    for package in (mnistc, mnistc.dialects):
        for path in sorted(Path(package.__file__).parent.rglob("*.py")):
            digest.update(path.read_bytes())
    for name in VERSIONED_PACKAGES:
        try:
            digest.update(f"{name}={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}=none".encode())
    return digest.hexdigest()


def cache_key(path: Path, sample_shape: Sequence[int] | None) -> str:
    digest = hashlib.sha256(path.read_bytes())
    digest.update(repr((path.suffix.lower(), tuple(sample_shape or ()))).encode())
    digest.update(_sources_fingerprint().encode())
    return digest.hexdigest()[:32]


def _load(entry: Path) -> ImportedModel | None:
    """The cached import, or None when there is none or it cannot be read back."""
    from xdsl.parser import Parser

    from mnistc.driver import make_context

    try:
        text = (entry / MODULE_FILE).read_text()
        data = (entry / WEIGHTS_FILE).read_bytes()
        module = Parser(make_context(), text).parse_module()
    except Exception:  # missing, or damaged outside mnistc: import afresh
        return None
    return ImportedModel(module, WeightFile(data))


def _store(entry: Path, imported: ImportedModel) -> None:
    """Write the entry next to its final place, then rename: readers never see half."""
    from mnistc.driver import print_ir

    entry.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=entry.parent))
    try:
        (scratch / MODULE_FILE).write_text(print_ir(imported.module))
        (scratch / WEIGHTS_FILE).write_bytes(imported.weights.data())
        os.replace(scratch, entry)
    except OSError:  # e.g. another process stored the same entry first
        shutil.rmtree(scratch, ignore_errors=True)


def import_model_cached(path: str | Path, sample_shape: Sequence[int] | None = None) -> ImportedModel:
    """`import_model`, served from the cache when this file was imported before."""
    path = Path(path)
    try:
        entry = imports_dir() / cache_key(path, sample_shape)
    except OSError:
        return import_model(path, sample_shape)  # unreadable: let the importer say why
    cached = _load(entry)
    if cached is not None:
        return cached
    imported = import_model(path, sample_shape)
    try:
        _store(entry, imported)
    except OSError:
        pass  # a read-only or full cache costs time, not correctness
    return imported
