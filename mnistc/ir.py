"""Reading and writing mnistc's IR: the context of its dialects, the printer, the parser.

Below both the driver and the import cache, which each print and parse modules.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO

from xdsl.context import Context
from xdsl.dialects import arith, builtin, func, memref, scf
from xdsl.dialects.builtin import ModuleOp, UnknownLoc
from xdsl.ir import Operation
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.targets.mlir import MLIRTarget

from mnistc import parsing  # noqa: F401  (imported for its effect: linear-time string literals)
from mnistc.context import MnistcContext
from mnistc.dialects.cpu import CPU
from mnistc.dialects.nn import NN


def make_context() -> MnistcContext:
    """mnistc's dialects loaded, and an empty weight store for the passes."""
    ctx = MnistcContext()
    for dialect in (builtin.Builtin, func.Func, arith.Arith, memref.MemRef, scf.Scf, NN, CPU):
        ctx.load_dialect(dialect)
    return ctx


class LocatedPrinter(Printer):
    """xDSL's printer, with the location of every op that has one (`loc(...)` after it)
    and no `loc(unknown)` on the others, so model locations survive a print and parse."""

    def print_op(self, op: Operation) -> None:
        saved = self.print_debuginfo
        self.print_debuginfo = saved or not isinstance(op.location, UnknownLoc)
        try:
            super().print_op(op)
        finally:
            self.print_debuginfo = saved


@dataclass(frozen=True)
class LocatedMLIRTarget(MLIRTarget):
    """xDSL's `mlir` target printing the ops' model locations, for `mnistc-opt`."""

    def emit(self, ctx: Context, module: ModuleOp, output: IO[str]) -> None:
        if self.print_debuginfo or self.syntax_highlight:
            return super().emit(ctx, module, output)
        printer = LocatedPrinter(
            stream=output,
            print_generic_format=self.print_generic_format,
            print_properties_as_attributes=self.print_properties_as_attributes,
        )
        printer.print_op(module)
        printer.print_metadata(ctx.loaded_dialects)
        print("\n", file=output)


def print_ir(module: ModuleOp) -> str:
    text = io.StringIO()
    LocatedPrinter(stream=text).print_op(module)
    return text.getvalue() + "\n"


def parse_ir(text: str) -> ModuleOp:
    return Parser(make_context(), text).parse_module()
