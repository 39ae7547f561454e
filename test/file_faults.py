"""File faults for the output tests: a FIFO read from a thread, a null device node, and a
tiny filesystem to fill up."""

from __future__ import annotations

import os
import stat
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def fifo_reader(path: Path) -> Iterator[list[bytes]]:
    """A FIFO at `path` that a thread reads to its end; the list holds what arrived once
    the block is over."""
    os.mkfifo(path)
    received: list[bytes] = []
    thread = threading.Thread(target=lambda: received.append(path.read_bytes()), daemon=True)
    thread.start()
    yield received
    thread.join(timeout=10)
    assert not thread.is_alive(), f"nothing was written through the FIFO {path}"
    assert stat.S_ISFIFO(path.lstat().st_mode), f"{path} is no longer a FIFO"


def null_device(directory: Path) -> Path:
    """A character device that discards what is written to it: as root, a node like
    /dev/null made in `directory`, since a writer that wrongly replaced it would otherwise
    replace the machine's /dev/null; else /dev/null itself, which cannot then be replaced."""
    if os.geteuid() != 0:
        return Path("/dev/null")
    path = directory / "null"
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return path


@contextmanager
def small_filesystem(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path`; skips where the process may not mount one."""
    path.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root")
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)
