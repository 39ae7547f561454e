"""One clear message and a non-zero exit for every user error, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from xdsl.utils.exceptions import DiagnosticException, ParseError, VerifyException

from mnistc.errors import MnistcError


def describe(error: BaseException) -> str:
    """The user-facing text of an error from any stage."""
    if isinstance(error, ParseError):
        return str(error).strip()
    text = str(error).strip() or type(error).__name__
    if isinstance(error, DiagnosticException | VerifyException):
        return text
    return text


@contextmanager
def exit_on_user_error(tool: str) -> Iterator[None]:
    """Turn mnistc's, xDSL's and the OS's exceptions into `tool: error: ...` and exit 1."""
    try:
        yield
    except KeyboardInterrupt:
        sys.exit(130)
    except (MnistcError, ParseError, DiagnosticException, VerifyException, OSError, ValueError) as e:
        print(f"{tool}: error: {describe(e)}", file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # a bug in mnistc or xDSL: still one message, but say it is one
        print(
            f"{tool}: internal error ({type(e).__name__}): {e}\n"
            "please report this with the input that caused it",
            file=sys.stderr,
        )
        sys.exit(3)
