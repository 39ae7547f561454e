"""mnistc's on-disk caches: compiled kernels and imported models, one mechanism for both.

A cache is a directory of entries, one directory per key. An entry is built in a scratch
directory beside it, gets a manifest (each file's size and sha256) written last, and
appears by one rename: a reader sees a whole entry or none. A reader checks the files
against the manifest, so a file emptied or cut later (a full disk, a crash, a user) is
found and the entry is built again instead of being trusted. Two processes that build one
entry at once both succeed: the loser of the rename uses the winner's entry.

Reading an entry refreshes its manifest's mtime, which `prune` takes as the last use:
least recently used entries go first. After each store a cache prunes itself to its
`max_bytes` (see `KERNELS` and `IMPORTS`); `mnistc cache info|clear|prune` does the rest
by hand. Deleting the cache directory is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "manifest.json"
SCRATCH_PREFIX = ".tmp-"
SCRATCH_MAX_AGE = 3600.0
"""Seconds after which a scratch directory is a crashed build's leftover."""


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where compiled kernels and imported models are kept between compiles: absolute,
    because g++ runs in other working directories."""
    base = environ.get("MNISTC_CACHE_DIR") or environ.get("XDG_CACHE_HOME")
    return Path(os.path.abspath(base or Path.home() / ".cache")) / "mnistc"


def _note(text: str) -> None:
    print(f"mnistc: note: {text}", file=sys.stderr)


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _describe(path: Path) -> dict[str, int | str]:
    return {"size": path.stat().st_size, "sha256": _digest(path)}


def _read_manifest(entry: Path) -> dict[str, dict]:
    try:
        files = json.loads((entry / MANIFEST).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return files if isinstance(files, dict) else {}


def intact_files(entry: Path, names: Iterable[str]) -> set[str]:
    """Those of `names` whose size and sha256 match the entry's manifest."""
    manifest = _read_manifest(entry)
    intact = set()
    for name in names:
        expected = manifest.get(name)
        path = entry / name
        try:
            if (
                isinstance(expected, dict)
                and path.stat().st_size == expected.get("size")
                and _digest(path) == expected.get("sha256")
            ):
                intact.add(name)
        except OSError:
            pass
    return intact


@dataclass(frozen=True)
class Entry:
    """One entry as `info` and `prune` see it."""

    path: Path
    size: int
    last_used: float


@dataclass(frozen=True)
class Cache:
    """A directory of entries keyed by content; see the module's docstring."""

    name: str
    subdirectory: str
    max_bytes: int
    """The bound each store prunes this cache to, least recently used first."""

    def directory(self, environ: Mapping[str, str] = os.environ) -> Path:
        return cache_dir(environ) / self.subdirectory

    def lookup(self, key: str, names: Sequence[str]) -> Path | None:
        """The entry for `key` when all of `names` are intact (its use is recorded), else
        None; a damaged entry is reported, and replaced by the next `store`."""
        entry = self.directory() / key
        if not entry.is_dir():
            return None
        if intact_files(entry, names) != set(names):
            _note(f"the {self.name} cache entry {entry} is damaged: replacing it")
            return None
        _touch(entry)
        return entry

    def store(self, key: str, names: Sequence[str], fill: Callable[[Path], None]) -> Path:
        """Make the entry for `key`: `fill` writes `names` into a scratch directory, which
        becomes the entry atomically (replacing a damaged one). Raises OSError when no
        intact entry could be put in place."""
        directory = self.directory()
        directory.mkdir(parents=True, exist_ok=True)
        entry = directory / key
        scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=directory))
        try:
            fill(scratch)
            manifest = {"files": {name: _describe(scratch / name) for name in names}}
            (scratch / MANIFEST).write_text(json.dumps(manifest, indent=1))
            _move_into_place(scratch, entry, names)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        self.prune(max_bytes=self.max_bytes, keep=entry)
        return entry

    def entries(self, environ: Mapping[str, str] = os.environ) -> list[Entry]:
        try:
            children = list(self.directory(environ).iterdir())
        except OSError:
            return []
        return [_entry_of(p) for p in children if p.is_dir() and not p.name.startswith(".")]

    def prune(self, max_bytes: int | None = None, older_than: float | None = None,
              keep: Path | None = None) -> list[Entry]:  # fmt: skip
        """`prune_entries` over this cache, plus crashed builds' scratch directories."""
        _remove_stale_scratch(self.directory())
        return prune_entries(self.entries(), max_bytes, older_than, keep)


def _touch(entry: Path) -> None:
    try:
        os.utime(entry / MANIFEST)
    except OSError:
        pass  # a read-only cache still serves its entries


def _move_into_place(scratch: Path, entry: Path, names: Sequence[str]) -> None:
    """Rename `scratch` to `entry`. An intact entry already there (another process won
    the race) stays; a damaged one is renamed away first, then removed."""
    for _ in range(3):
        try:
            scratch.rename(entry)
            return
        except OSError:
            if intact_files(entry, names) == set(names):
                return
        _remove(entry)
    raise OSError(f"cannot store the cache entry {entry}")


def _remove(entry: Path) -> None:
    """Rename the entry away, then delete it: a reader sees it whole or not at all."""
    trash = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=entry.parent))
    try:
        entry.rename(trash / entry.name)
    except FileNotFoundError:
        pass  # someone else removed it
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def _entry_of(path: Path) -> Entry:
    size = 0
    for file in path.rglob("*"):
        try:
            size += file.stat().st_size if file.is_file() else 0
        except OSError:
            pass
    try:
        last_used = (path / MANIFEST).stat().st_mtime
    except OSError:
        last_used = path.stat().st_mtime if path.exists() else 0.0
    return Entry(path, size, last_used)


def _remove_stale_scratch(directory: Path) -> None:
    now = time.time()
    for scratch in directory.glob(f"{SCRATCH_PREFIX}*"):
        try:
            if now - scratch.stat().st_mtime > SCRATCH_MAX_AGE:
                shutil.rmtree(scratch, ignore_errors=True)
        except OSError:
            pass


def prune_entries(entries: Iterable[Entry], max_bytes: int | None = None,
                  older_than: float | None = None, keep: Path | None = None) -> list[Entry]:  # fmt: skip
    """Remove entries unused for `older_than` seconds, then the least recently used until
    the rest fit in `max_bytes`; never `keep`. Returns the removed entries."""
    now = time.time()
    candidates = sorted(entries, key=lambda e: e.last_used)
    removed = []
    if older_than is not None:
        removed += [e for e in candidates if now - e.last_used > older_than and e.path != keep]
    remaining = [e for e in candidates if e not in removed]
    if max_bytes is not None:
        total = sum(e.size for e in remaining)
        for entry in remaining:
            if total <= max_bytes:
                break
            if entry.path != keep:
                removed.append(entry)
                total -= entry.size
    for entry in removed:
        _remove(entry.path)
    return removed


MB = 1 << 20
KERNELS = Cache("kernel", "kernels", max_bytes=256 * MB)
"""Compiled kernels, one entry per (kernel sources, flags, compiler): about 0.1-0.5 MB."""
IMPORTS = Cache("import", "imports", max_bytes=1024 * MB)
"""Imported models (`nn` IR and weights), one entry per model file and sample shape."""
CACHES = (KERNELS, IMPORTS)


def clear(environ: Mapping[str, str] = os.environ) -> list[Entry]:
    """Remove every entry of every cache (and anything else under the cache directory)."""
    removed = [e for c in CACHES for e in c.entries(environ)]
    root = cache_dir(environ)
    if root.is_dir():
        for child in root.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
    return removed


def prune(max_bytes: int | None = None, older_than: float | None = None) -> list[Entry]:
    """Prune both caches together to `max_bytes`, or by age; with neither, each cache to
    its own bound."""
    if max_bytes is None and older_than is None:
        return [e for c in CACHES for e in c.prune(max_bytes=c.max_bytes)]
    for c in CACHES:
        _remove_stale_scratch(c.directory())
    return prune_entries([e for c in CACHES for e in c.entries()], max_bytes, older_than)
