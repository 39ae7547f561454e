"""A cache of imported models: the `nn` IR and weights of a model file, by content.

Importing a TorchScript or torch.export file needs `import torch`, which takes longer
than the rest of a compile. A repeated compile of the same file reads the `nn` module
that its first compile imported instead. The key covers the file's bytes, the sample
shape, every source file of mnistc and the versions of torch, onnx and xdsl, so a change
to any of them imports afresh. Entries live in `imports_dir()` (MNISTC_CACHE_DIR moves
it), are checked against their manifest on each use (`mnistc.cache`), and the least
recently used go when the cache outgrows `IMPORTS.max_bytes`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import metadata
from pathlib import Path

from mnistc.cache import IMPORTS
from mnistc.importers import import_model
from mnistc.importers.signature import normalized
from mnistc.importers.common import ImportedModel
from mnistc.ir import parse_ir, print_ir
from mnistc.weights import WeightFile


def imports_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The import cache, beside the kernel cache."""
    return IMPORTS.directory(environ)


MODULE_FILE = "nn.mlir"
WEIGHTS_FILE = "weights.bin"
ENTRY_FILES = (MODULE_FILE, WEIGHTS_FILE)
VERSIONED_PACKAGES = ("torch", "onnx", "xdsl")


@cache
def _sources_fingerprint() -> str:
    """A hash of mnistc's Python sources: importers, dialects and everything they use."""
    from mnistc import dialects

    digest = hashlib.sha256()
    for directory in (Path(__file__).resolve().parents[1], Path(dialects.__file__).parent):
        for path in sorted(directory.rglob("*.py")):
            digest.update(path.read_bytes())
    for name in VERSIONED_PACKAGES:
        try:
            digest.update(f"{name}={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}=none".encode())
    return digest.hexdigest()


def cache_key(path: Path, sample_shape: Sequence[int] | None) -> str:
    digest = hashlib.sha256(path.read_bytes())
    digest.update(repr((path.suffix.lower(), normalized(sample_shape) or ())).encode())
    digest.update(_sources_fingerprint().encode())
    return digest.hexdigest()[:32]


def _load(key: str) -> ImportedModel | None:
    """The cached import, or None when there is none or it cannot be read back."""
    entry = IMPORTS.lookup(key, ENTRY_FILES)
    if entry is None:
        return None
    try:
        text = (entry / MODULE_FILE).read_text()
        weights = WeightFile.from_file(entry / WEIGHTS_FILE, name="")
        module = parse_ir(text)
    except Exception:  # removed meanwhile, or not parseable by this xDSL: import afresh
        return None
    return ImportedModel(module, weights)


def _store(key: str, imported: ImportedModel) -> None:
    def fill(scratch: Path) -> None:
        (scratch / MODULE_FILE).write_text(print_ir(imported.module))
        (scratch / WEIGHTS_FILE).write_bytes(imported.weights.data())

    IMPORTS.store(key, ENTRY_FILES, fill)


def import_model_cached(path: str | Path, sample_shape: Sequence[int] | None = None) -> ImportedModel:
    """`import_model`, served from the cache when this file was imported before."""
    path = Path(path)
    try:
        key = cache_key(path, sample_shape)
    except OSError:
        return import_model(path, sample_shape)  # unreadable: let the importer say why
    cached = _load(key)
    if cached is not None:
        return cached
    imported = import_model(path, sample_shape)
    try:
        _store(key, imported)
    except OSError:
        pass  # a read-only or full cache costs time, not correctness
    return imported
