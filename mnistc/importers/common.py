"""What every front end returns, and the error it raises."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue

from mnistc.errors import MnistcError
from mnistc.weights import WeightFile

ENTRY = "forward"
"""The imported function's name (`main` would clash with C++)."""


class ImportError_(MnistcError):
    """The model cannot be imported; the message says why and where."""


@dataclass
class ImportedModel:
    """An `nn` module, the weight file it references, and where its values came from."""

    module: ModuleOp
    weights: WeightFile
    origins: dict[SSAValue, tuple[str, str]] = field(default_factory=dict)
    """Result of an `nn` op → (source value name, source location)."""


MALFORMED_MODEL_ERRORS = (ValueError, IndexError, KeyError, TypeError, ZeroDivisionError, OverflowError)
"""What a converter raises on attribute values or shapes that no exporter writes (a
corrupt or hand-edited file): reported as the node's error, not as an internal one."""


def view_extent(shape: Sequence[int], strides: Sequence[int], offset: int) -> int:
    """Elements of storage a strided view reaches: offset + the last element + 1 (0 if empty)."""
    if any(d == 0 for d in shape):
        return 0
    return offset + sum((d - 1) * s for d, s in zip(shape, strides)) + 1


def check_storage(
    name: str,
    shape: Sequence[int],
    strides: Sequence[int],
    offset: int,
    itemsize: int,
    storage_bytes: int,
    where: str = "its storage",
) -> None:
    """Refuse a tensor whose strided view reaches outside the bytes stored for it.

    A truncated or edited file can declare more data than it holds; reading it anyway
    compiles garbage (or whatever memory follows) into the model's weights.
    """
    if (
        len(strides) != len(shape)
        or any(d < 0 for d in shape)
        or any(s < 0 for s in strides)
        or offset < 0
    ):
        raise ImportError_(
            f"tensor '{name}': invalid layout (shape {list(shape)}, strides {list(strides)}, "
            f"offset {offset}): the file is corrupt"
        )
    needed = view_extent(shape, strides, offset) * itemsize
    if needed > storage_bytes:
        raise ImportError_(
            f"tensor '{name}': shape {list(shape)} needs {needed} bytes but {where} holds "
            f"{storage_bytes}: the file is truncated or corrupt"
        )


@contextmanager
def quiet_torch_logging() -> Iterator[list[str]]:
    """Keep torch's log records and Python warnings off stderr while a model loads.

    torch.export.load logs a full traceback as a warning before it raises; the user
    should see one `mnistc: error:` line. The captured messages (first line of each)
    are yielded so that a caller can quote the real cause.
    """
    captured: list[str] = []

    class _Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            captured.append(text.strip().splitlines()[0] if text.strip() else "")

    loggers = [logging.getLogger("torch")] + [
        logger
        for name, logger in logging.Logger.manager.loggerDict.items()
        if name.startswith("torch.") and isinstance(logger, logging.Logger) and logger.handlers
    ]
    saved = [(logger, logger.handlers[:], logger.propagate) for logger in loggers]
    capture = _Capture()
    try:
        for logger in loggers:
            logger.handlers, logger.propagate = [capture], False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield captured
    finally:
        for logger, handlers, propagate in saved:
            logger.handlers, logger.propagate = handlers, propagate
