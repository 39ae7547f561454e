"""The one rule for writing a file the user names as an output (`-o OUT`).

A regular file, or a path that does not exist yet, is replaced atomically: the new content
goes to a unique temporary file in the same directory and is renamed over it once complete,
so a reader or a racing writer sees the old file or a new one whole, and a failure leaves
the old one. Symlinks are followed to their target (the link stays a link); a target that is
not a regular file, such as /dev/null or a FIFO, is written through rather than replaced.
The executable's entry point (kernels/main.cpp) applies the same rule.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mnistc.errors import MnistcError


@contextmanager
def output_path(output: str | Path, executable: bool = False) -> Iterator[Path]:
    """A fresh path to write `output`'s new content to, by any means (a linker's `-o`), put
    in place when the block completes and removed if it fails."""
    if os.path.isdir(output):
        raise MnistcError(f"cannot write {output}: it is a directory")
    through = writes_through(output)
    # A device is opened by its own name: /dev/stdout's link to a pipe names no file.
    target = Path(output if through else os.path.realpath(output))
    descriptor, name = tempfile.mkstemp(
        prefix=f".{target.name}.", dir=None if through else target.parent
    )
    os.close(descriptor)
    partial = Path(name)
    try:
        yield partial
        if through:
            _write_through(partial, target)
        else:
            partial.chmod(_mode_for(target, executable))
            os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def writes_through(output: str | Path) -> bool:
    """Whether `output` is a device, FIFO or socket, which is written to, not replaced."""
    return os.path.exists(output) and not os.path.isfile(output) and not os.path.isdir(output)


def write_bytes(output: str | Path, data: bytes) -> None:
    with output_path(output) as partial:
        partial.write_bytes(data)


def write_text(output: str | Path, text: str) -> None:
    write_bytes(output, text.encode())


def _write_through(source: Path, target: Path) -> None:
    """Copy into a device or FIFO as it is: opened without O_CREAT or O_TRUNC, so it cannot
    turn into a regular file if it disappears meanwhile."""
    with source.open("rb") as data, os.fdopen(os.open(target, os.O_WRONLY), "wb") as sink:
        shutil.copyfileobj(data, sink)


def _mode_for(target: Path, executable: bool) -> int:
    """An existing file keeps its mode and a new one gets the umask's, as open(2) would give
    them; an executable is also executable by whoever may read it."""
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    return mode | (mode & 0o444) >> 2 if executable else mode
