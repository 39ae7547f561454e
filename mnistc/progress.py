"""Progress of a compile on stderr: which step is running, when it takes a while.

The library is silent unless a caller turns reporting on (`reporting(...)`); the CLI does:
by default a step that runs over `SLOW_STEP_S` is announced while it runs and its time
given when it ends (redrawn in place on a terminal, one clean line otherwise); `-v`
prints the time of every step; `-q` prints nothing. Steps are the import, each pass, and
each g++ run (kernel files one by one, the model, the link).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TextIO

SLOW_STEP_S = 1.0
"""A step that runs longer than this shows on stderr without -v."""

MODES = ("quiet", "normal", "verbose")


@dataclass
class Reporter:
    """Where and how much to report; thread-safe (g++ runs in a pool)."""

    mode: str = "normal"
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    lock: threading.Lock = field(default_factory=threading.Lock)
    timings: list[tuple[str, float]] = field(default_factory=list)

    @property
    def tty(self) -> bool:
        return hasattr(self.stream, "isatty") and self.stream.isatty()

    def write(self, text: str) -> None:
        with self.lock:
            self.stream.write(text)
            self.stream.flush()

    def note(self, text: str) -> None:
        """A line for the user unless quiet."""
        if self.mode != "quiet":
            self.write(f"mnistc: {text}\n")

    @contextmanager
    def step(self, what: str, announce_slow: bool = True) -> Iterator[None]:
        """Time `what`; announce it once it has run for SLOW_STEP_S (on a terminal, and
        unless steps run side by side: `announce_slow=False`)."""
        start = time.perf_counter()
        announced = threading.Event()

        def announce() -> None:
            if announce_slow and self.tty and self.mode == "normal":
                self.write(f"mnistc: {what} ...")
                announced.set()

        timer = threading.Timer(SLOW_STEP_S, announce)
        timer.daemon = True
        timer.start()
        try:
            yield
        except BaseException:
            timer.cancel()
            if announced.is_set():  # the error message gets the line to itself
                self.write("\r\033[K")
            raise
        timer.cancel()
        seconds = time.perf_counter() - start
        self.timings.append((what, seconds))
        self._finish(what, seconds, announced.is_set())

    def _finish(self, what: str, seconds: float, announced: bool) -> None:
        if self.mode == "quiet" or (self.mode == "normal" and seconds < SLOW_STEP_S):
            return
        if announced:
            self.write(f"\rmnistc: {what}: {seconds:.2f} s\033[K\n")
        else:
            self.write(f"mnistc: {what}: {seconds:.2f} s\n")


_SILENT = Reporter("quiet")
_current: ContextVar[Reporter] = ContextVar("mnistc_progress", default=_SILENT)


def current() -> Reporter:
    return _current.get()


@contextmanager
def reporting(mode: str, stream: TextIO | None = None) -> Iterator[Reporter]:
    """Report steps run in this context (and in threads started with its copy)."""
    if mode not in MODES:
        raise ValueError(f"progress mode must be one of {MODES}, got {mode!r}")
    reporter = Reporter(mode, stream or sys.stderr)
    token = _current.set(reporter)
    try:
        yield reporter
    finally:
        _current.reset(token)


def step(what: str):
    """`with step("import model.pt"):` reports through the current reporter."""
    return current().step(what)
