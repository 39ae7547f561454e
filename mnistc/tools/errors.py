"""One clear message and a non-zero exit for every user error, never a traceback."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from xdsl.ir import Operation
from xdsl.utils.exceptions import (
    ArgSpecParseError,
    DiagnosticException,
    ParseError,
    VerifyException,
)

from mnistc.errors import MnistcError
from mnistc.locations import describe_op

USER_ERRORS = (
    MnistcError, ParseError, DiagnosticException, VerifyException, OSError, ValueError,
    ArgSpecParseError,  # a malformed -p pipeline; xDSL derives it from BaseException
)  # fmt: skip


def failing_op(error: BaseException) -> str | None:
    """The generic-form line of the op that xDSL underlined in a verifier diagnostic."""
    for note in getattr(error, "__notes__", ()):
        lines = note.splitlines()
        for previous, line in zip(lines, lines[1:]):
            if re.fullmatch(r"\s*\^+-*\s*", line):
                return previous.strip()
    return None


def source_line(op_text: str, source: str) -> int | None:
    """The 1-based line of the input that defines the op's first result, if unique."""
    match = re.match(r"(%[\w.$-]+)(?::\d+)?\s*(?:,\s*%[\w.$-]+)*\s*=\s*\"?([\w.]+)", op_text)
    if not match:
        return None
    result, name = match.groups()
    pattern = re.compile(re.escape(result) + r"\b[^=]*=\s*\"?" + re.escape(name) + r"\b")
    hits = [i for i, line in enumerate(source.splitlines(), 1) if pattern.search(line)]
    return hits[0] if len(hits) == 1 else None


def failing_operation(error: BaseException) -> Operation | None:
    """The op whose verification failed: the one xDSL raised its diagnostic for."""
    found, frame = None, error.__traceback__
    while frame is not None:
        if frame.tb_frame.f_code.co_name == "raise_exception":
            ir = frame.tb_frame.f_locals.get("ir")
            found = ir if isinstance(ir, Operation) else found
        frame = frame.tb_next
    return found


def describe(error: BaseException, input_file: str | None = None) -> str:
    """The user-facing text of an error from any stage; a verifier error names the op,
    its line in the input and, when the op carries one, its place in the model."""
    text = str(error).strip() or type(error).__name__
    if isinstance(error, VerifyException | DiagnosticException) and (op := failing_op(error)):
        where = ""
        if input_file and Path(input_file).is_file():
            line = source_line(op, Path(input_file).read_text(errors="replace"))
            where = f"{input_file}:{line}: " if line else f"{input_file}: "
        operation = failing_operation(error)
        model = describe_op(operation) if operation is not None else None
        return f"{where}{text}\n  in: {op}" + (f"\n  from the model at: {model}" if model else "")
    return text


@contextmanager
def exit_on_user_error(tool: str, input_file: str | None = None) -> Iterator[None]:
    """Turn mnistc's, xDSL's and the OS's exceptions into `tool: error: ...` and exit 1."""
    try:
        yield
    except KeyboardInterrupt:
        sys.exit(130)
    except USER_ERRORS as e:
        print(f"{tool}: error: {describe(e, input_file)}", file=sys.stderr)
        sys.exit(1)
    except RecursionError:  # xDSL's parser and printer recurse once per level of nesting
        where = f"{input_file}: " if input_file else ""
        print(
            f"{tool}: error: {where}the input nests too deeply "
            f"(Python's recursion limit, {sys.getrecursionlimit()}, was reached)",
            file=sys.stderr,
        )
        sys.exit(1)
    except Exception as e:  # a bug in mnistc or xDSL: still one message, but say it is one
        print(
            f"{tool}: internal error ({type(e).__name__}): {e}\n"
            "please report this with the input that caused it",
            file=sys.stderr,
        )
        sys.exit(3)
