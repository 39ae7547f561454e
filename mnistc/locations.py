"""Where an op came from in the model, kept in the IR as an MLIR location.

An importer gives every op it creates the location of the model node it converts:

    %0 = nn.conv2d ... loc("%input.5"("conv1 (Conv2d)"("model.py":12:0)))

The name with a `%` is the model's value that the op computes (TorchScript's debug name,
the FX node's name, the ONNX output), the other name the module path, then the source
file and line; each part is left out when the model does not record it (the helper ops
that a converter adds around the op carry no value name). Being an xDSL
location (`Operation.location`), it is printed (by `mnistc.ir.print_ir`) and parsed back
with the IR, so the import cache keeps it; a pass that replaces an op passes its location
on with `located`.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects.builtin import (
    FileLineColLoc,
    FusedLoc,
    IntAttr,
    LocationAttr,
    NameLoc,
    NoneAttr,
    StringAttr,
    UnknownLoc,
)
from xdsl.ir import Attribute, Operation


VALUE_PREFIX = "%"
"""Marks the name of the model's value among the names of a location."""


@dataclass(frozen=True)
class ModelLocation:
    """A place in the model: the value computed, the module path, the source line."""

    value: str = ""
    module: str = ""
    """`features.0 (Conv2d)`: the submodule's path and its class."""
    file: str = ""
    line: int = 0

    def describe(self) -> str:
        """`module features.0 (Conv2d), model.py:12`, as refusals and diagnostics say it."""
        parts = []
        if self.module:
            parts.append(f"module {self.module}")
        if self.file:
            parts.append(f"{self.file}:{self.line}")
        return ", ".join(parts) or "unknown location"

    def attr(self, with_value: bool = True) -> LocationAttr:
        """The xDSL location; without the value name for the helper ops a converter adds."""
        loc: Attribute = NoneAttr()
        if self.file:
            loc = FileLineColLoc(StringAttr(self.file), IntAttr(self.line), IntAttr(0))
        if self.module:
            loc = NameLoc(StringAttr(self.module), loc)
        if self.value and with_value:
            loc = NameLoc(StringAttr(VALUE_PREFIX + self.value), loc)
        return loc if isinstance(loc, LocationAttr) else UnknownLoc()

    @staticmethod
    def of(op: Operation) -> ModelLocation | None:
        """The model location an op carries, or None."""
        return from_attr(op.location)


def from_attr(loc: Attribute) -> ModelLocation | None:
    """Read back what `ModelLocation.attr` wrote (the first part of a fused location)."""
    if isinstance(loc, FusedLoc) and loc.locations.data:
        return from_attr(loc.locations.data[0])
    value, module = "", ""
    while isinstance(loc, NameLoc):
        name = loc.desc.data
        if name.startswith(VALUE_PREFIX):
            value = name.removeprefix(VALUE_PREFIX)
        else:
            module = name
        loc = loc.location
    file, line = "", 0
    if isinstance(loc, FileLineColLoc):
        file, line = loc.filename.data, loc.line.data
    if not (value or module or file):
        return None
    return ModelLocation(value, module, file, line)


def describe_op(op: Operation) -> str | None:
    """The model location of an op in words, if it has one."""
    location = ModelLocation.of(op)
    return location.describe() if location is not None else None


def located(new: Operation, *old: Operation) -> Operation:
    """`new`, carrying the location of the op it replaces: what a pass calls on the op it
    builds. Ops merged into one (a conv and the activation fused into it) give a fused
    location, the first op's first, so `ModelLocation.of` names the first."""
    known = list(dict.fromkeys(op.location for op in old if not isinstance(op.location, UnknownLoc)))
    if isinstance(new.location, UnknownLoc) and known:
        new.location = known[0] if len(known) == 1 else FusedLoc(tuple(known), NoneAttr())
    return new
