"""What every front end returns, and the error it raises."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Block, Operation, OpResult

from mnistc.dialects.nn.base import OneSample
from mnistc.errors import MnistcError
from mnistc.locations import ModelLocation
from mnistc.weights import WeightFile

ENTRY = "forward"
"""The imported function's name (`main` would clash with C++)."""


class ImportError_(MnistcError):
    """The model cannot be imported; the message says why and where."""


@dataclass
class ImportedModel:
    """An `nn` module and the weight file it references; every op carries its model
    location (`mnistc.locations`)."""

    module: ModuleOp
    weights: WeightFile

    @property
    def whole(self) -> str | None:
        """Why the model was imported whole (`import_following_the_batch`); None when
        it was imported per sample."""
        return imported_whole(self.module)


# the batch: followed, or the model imported whole ------------------------------

WHOLE_ATTRIBUTE = "mnistc.imported_whole"
"""The module attribute of a model imported whole: why its batch cannot be followed. It
lives in the IR (so the import cache keeps it); the C++ target reads it."""


def imported_whole(module: ModuleOp) -> str | None:
    """Why `module` was imported whole, or None when its IR runs one sample of a batch."""
    attr = module.attributes.get(WHOLE_ATTRIBUTE)
    return attr.data if isinstance(attr, StringAttr) else None


def fixed_input_shape(dims: Sequence[int | None]) -> tuple[int, ...] | None:
    """A model input's shape when every dimension is fixed (the batch too), else None."""
    if any(d is None or int(d) < 1 for d in dims):
        return None
    return tuple(int(d) for d in dims)


def import_following_the_batch(
    per_sample: Callable[[], ImportedModel],
    whole: Callable[[list[tuple[int, ...]]], ImportedModel],
    names: Sequence[str],
    fixed: list[tuple[int, ...]] | None,
) -> ImportedModel:
    """The one decision between the two ways to import a model.

    Per sample, dimension 0 of every input is the batch they share: the `nn` IR computes
    one sample and the compiled model runs any batch. A graph that reads across that
    dimension (indexes, reduces, reshapes or broadcasts along it) cannot follow it, and
    the per-sample import refuses the model (or returns an output that is not one
    sample's, [1, ...]); inputs of rank 1, or whose first dimensions differ, have no
    batch to follow at all. Then, if every input's shape is `fixed` (ONNX dims all
    static, the traced or example shapes; `signature.fixed_inputs`), the model is
    imported whole, as ONNX Runtime runs it: `whole(fixed)` views each input's one
    sample [1, *shape] as the model's entire tensor, and each output is the model's
    exact output ([1, *output]); the compiled model runs exactly those inputs
    (`WHOLE_ATTRIBUTE`). A model with a dynamic batch stays refused with the per-sample
    import's message.
    """
    if fixed is None:
        return per_sample()
    reason = no_shared_batch(names, fixed)
    if reason is None:
        try:
            return one_sample_output(per_sample())
        except ImportError_ as refusal:
            reason = str(refusal)
    try:
        imported = whole(fixed)
        check_one_sample_ops(imported.module)
    except ImportError_ as failure:
        if str(failure) == reason:
            raise
        shapes = "its input shape is" if len(fixed) == 1 else "its input shapes are"
        raise ImportError_(
            f"{reason}\nimported whole ({shapes} fixed), it is refused too: "
            f"{refusal_summary(str(failure))}"
        ) from None
    imported.module.attributes[WHOLE_ATTRIBUTE] = StringAttr(refusal_summary(reason))
    return imported


def no_shared_batch(names: Sequence[str], fixed: Sequence[tuple[int, ...]]) -> str | None:
    """Why inputs of these fixed shapes have no dimension 0 to follow as their batch: an
    input of rank 1 (no sample is left), or first dimensions that differ (the compiled
    model takes the same number of samples of every input); None when they may."""
    for name, shape in zip(names, fixed):
        if len(shape) < 2:
            which = "" if len(fixed) == 1 else f" ('{name}')"
            return f"a rank-{len(shape)} input{which}: no sample is left once dimension 0 is the batch"
    if len({shape[0] for shape in fixed}) > 1:
        firsts = ", ".join(f"'{name}': {shape[0]}" for name, shape in zip(names, fixed))
        return f"the inputs' first dimensions differ ({firsts}): they share no batch"
    return None


def one_sample_output(imported: ImportedModel) -> ImportedModel:
    """A per-sample import, refused unless each output is one sample's, [1, ...] (as the
    lowering requires): a graph whose output drops or grows dimension 0 (`x.view(-1)`,
    a constant broadcast along it) does not follow the batch."""
    (function,) = [op for op in imported.module.ops if op.name == "func.func"]
    for output in function.function_type.outputs.data:
        if tuple(output.get_shape())[:1] != (1,):
            raise ImportError_(
                f"the output of one sample is {list(output.get_shape())}, not [1, ...]: the "
                "graph does not keep dimension 0 as the batch"
            )
    return imported


def refusal_summary(message: str) -> str:
    """A refusal's first reason on one line (a list's first op, without its title), for
    messages and the C ABI's string."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].endswith(":"):
        lines = lines[1:]
    return "".join(c if c.isprintable() else " " for c in lines[0])


def check_one_sample_ops(module: ModuleOp) -> None:
    """Refuse a model imported whole in which a `OneSample` op gets a tensor with more
    than one element along dimension 0 (a convolution of two images)."""
    for op in module.walk():
        if op.has_trait(OneSample) and (shape := op.operands[0].type.get_shape())[0] != 1:
            where = ModelLocation.of(op)
            place = f" at '{where.value}' ({where.describe()})" if where else ""
            raise ImportError_(
                f"{op.name.removeprefix('nn.')} of a tensor {list(shape)}{place}: it computes "
                "one sample (dimension 0 of size 1), and a model imported whole gives it "
                "the whole input"
            )


def locate_and_verify(block: Block, last: Operation | None, location: ModelLocation, results) -> None:
    """Give the ops a converter inserted after `last` the node's location (with the
    value name on those whose results are the node's outputs), and verify them (an
    explicit pad before a conv included)."""
    outputs = {r.owner for r in results if isinstance(r, OpResult)}
    op = block.first_op if last is None else last.next_op
    while op is not None:
        op.location = location.attr(with_value=op in outputs)
        op.verify()
        op = op.next_op


PLACES_SHOWN = 3
"""Places a refusal names for one unsupported op kind; the others are counted."""


@dataclass
class Problems:
    """Every op an importer refused, by kind, with where it occurs and why.

    An importer records an op here and goes on with a placeholder for its results, so
    that one refusal lists every unsupported op of the model, not the first of a chain.
    """

    places: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, where: str, reason: str = "") -> None:
        place = where + (f" ({reason})" if reason else "")
        entries = self.places.setdefault(kind, [])
        if place not in entries:
            entries.append(place)

    def message(self, title: str, supported: Sequence[str]) -> str:
        """`title:` then one line per kind, `  kind at place; place` (the first
        `PLACES_SHOWN` places and how many in all), then the supported ops."""
        lines = [f"{title}:"]
        for kind, places in self.places.items():
            listed = "; ".join(places[:PLACES_SHOWN])
            if len(places) > PLACES_SHOWN:
                listed += f"; and {len(places) - PLACES_SHOWN} more ({len(places)} in all)"
            lines.append(f"  {kind} at {listed}")
        lines.append(f"supported: {', '.join(supported)}")
        return "\n".join(lines)

    def raise_if_any(self, title: str, supported: Sequence[str]) -> None:
        if self.places:
            raise ImportError_(self.message(title, supported))


def converter_failure(kind: str, where: str, error: Exception) -> ImportError_:
    """The refusal for an exception a converter did not handle: the op, its place and
    the error (a model no exporter writes, or a converter's own bug), never an
    internal error."""
    detail = (str(error).strip().splitlines() or [""])[0]
    return ImportError_(f"{kind} at {where}: {type(error).__name__}" + (f": {detail}" if detail else ""))


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
