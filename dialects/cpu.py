"""The `cpu` dialect: the loop/call level, on explicit buffers.

After `convert-nn-to-cpu` a model is a `func.func @forward(%in, %out)` over memrefs
whose body is an `scf.for` over the samples of the batch. Inside the loop every
tensor is a buffer (`memref.alloc`, or an `cpu.arena_slot` once `plan-memory` ran),
and every operator is one `cpu.call` to a C++ kernel of `kernels/kernels.hpp`.

A `cpu.call` names a kernel of the contract in `kernels/abi.py` and passes its buffers
as pointers, in order (inputs, then outputs), then its named parameters in the order
of the kernel's signature; the verifier checks all three against the contract.
"""

from __future__ import annotations

import math
import struct

from collections.abc import Mapping, Sequence

from xdsl.dialects.builtin import (
    I64,
    DictionaryAttr,
    Float64Type,
    FloatAttr,
    IndexType,
    IntegerAttr,
    MemRefType,
    StringAttr,
    SymbolRefAttr,
    f32,
    f64,
    i64,
)
from xdsl.ir import Attribute, Dialect, SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    IRDLOperation,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from mnistc.dialects.shapes import element_count, shape_of
from mnistc.kernels import abi


ELEMENT_SIZES = {"f32": 4, "i8": 1, "i32": 4}
"""Bytes per element of each buffer element type (abi.ELEMENT_TYPES gives the C type)."""


def element_name(type_: MemRefType) -> str:
    """The element type of a buffer as kernels/abi.py names it: f32, i8 or i32."""
    name = str(type_.element_type)
    if name not in ELEMENT_SIZES:
        raise VerifyException(f"buffers hold f32, i8 or i32, not {name}")
    return name


def element_c_type(type_: MemRefType) -> str:
    """The C++ type of a buffer's elements (float, int8_t, int32_t)."""
    return abi.ELEMENT_TYPES[element_name(type_)]


def element_size(type_: MemRefType) -> int:
    return ELEMENT_SIZES[element_name(type_)]


def buffer_size(type_: MemRefType) -> int:
    """The bytes of a statically shaped buffer."""
    return element_count(shape_of(type_)) * element_size(type_)


def _format_shape(shape: Sequence[int]) -> str:
    return "[" + ", ".join("?" if d < 0 else str(d) for d in shape) + "]"


@irdl_op_definition
class WeightOp(IRDLOperation):
    """A read-only buffer inside the embedded weight blob, at byte `offset`."""

    name = "cpu.weight"

    key = prop_def(StringAttr)
    offset = prop_def(IntegerAttr[I64])
    result = result_def(MemRefType)

    traits = traits_def(Pure())
    assembly_format = "$key `offset` $offset attr-dict `:` type($result)"

    def __init__(self, key: str, offset: int, type: MemRefType):
        super().__init__(
            properties={"key": StringAttr(key), "offset": IntegerAttr(offset, i64)},
            result_types=[type],
        )

    def verify_(self) -> None:
        if self.offset.value.data < 0 or self.offset.value.data % 4:
            raise VerifyException("weight offset must be a non-negative multiple of 4")


@irdl_op_definition
class SplatOp(IRDLOperation):
    """A buffer whose elements all hold `value`: static storage, filled once (a zero fill
    not at all), so that the executable holds no copy of it."""

    name = "cpu.splat"

    value = prop_def(FloatAttr[Float64Type])
    result = result_def(MemRefType)

    traits = traits_def(Pure())
    assembly_format = "$value attr-dict `:` type($result)"

    def __init__(self, value: float, type: MemRefType):
        super().__init__(properties={"value": FloatAttr(float(value), f64)}, result_types=[type])


@irdl_op_definition
class NullOp(IRDLOperation):
    """An absent optional buffer (a conv without bias): a null pointer in C++."""

    name = "cpu.null"

    result = result_def(MemRefType)

    traits = traits_def(Pure())
    assembly_format = "attr-dict `:` type($result)"

    def __init__(self, type: MemRefType):
        super().__init__(result_types=[type])


@irdl_op_definition
class SampleOp(IRDLOperation):
    """Sample `index` of a batched buffer: drops the dynamic batch dimension to 1."""

    name = "cpu.sample"

    batch = operand_def(MemRefType)
    index = operand_def(IndexType)
    result = result_def(MemRefType)

    traits = traits_def(Pure())
    assembly_format = (
        "$batch `[` $index `]` attr-dict `:` type($batch) `->` type($result)"
    )

    def __init__(self, batch: SSAValue, index: SSAValue):
        shape = shape_of(batch)
        assert isinstance(batch.type, MemRefType)
        super().__init__(
            operands=[batch, index],
            result_types=[MemRefType(batch.type.element_type, [1, *shape[1:]])],
        )

    def verify_(self) -> None:
        batch, sample = shape_of(self.batch), shape_of(self.result)
        if not batch or batch[1:] != sample[1:] or sample[0] != 1:
            raise VerifyException(
                f"a sample of {_format_shape(batch)} has shape "
                f"{_format_shape((1, *batch[1:]))}, not {_format_shape(sample)}"
            )


@irdl_op_definition
class ViewOp(IRDLOperation):
    """The same contiguous elements under another static shape (reshape, identity), or,
    with `offset`, the contiguous run of the source's elements that starts there (a
    slice that needs no copy: a chunk along the channels)."""

    name = "cpu.view"

    source = operand_def(MemRefType)
    result = result_def(MemRefType)
    offset = opt_prop_def(IntegerAttr[I64])
    """In elements."""

    traits = traits_def(Pure())
    assembly_format = "$source (`offset` $offset^)? attr-dict `:` type($source) `->` type($result)"

    def __init__(self, source: SSAValue, type: MemRefType, offset: int = 0):
        whole = element_count(shape_of(type)) == element_count(shape_of(source))
        properties = {} if whole and not offset else {"offset": IntegerAttr(offset, i64)}
        super().__init__(operands=[source], result_types=[type], properties=properties)

    def verify_(self) -> None:
        src, dst = shape_of(self.source), shape_of(self.result)
        if self.offset is None:
            if element_count(src) != element_count(dst):
                raise VerifyException(
                    f"view from {list(src)} to {list(dst)} changes the number of elements"
                )
            return
        offset = self.offset.value.data
        if offset < 0 or offset + element_count(dst) > element_count(src):
            raise VerifyException(
                f"view of {element_count(dst)} elements from {offset} is outside the "
                f"{element_count(src)} of {list(src)}"
            )


@irdl_op_definition
class ArenaSlotOp(IRDLOperation):
    """A buffer at byte `offset` of the function's static arena (set by plan-memory)."""

    name = "cpu.arena_slot"

    offset = prop_def(IntegerAttr[I64])
    result = result_def(MemRefType)

    traits = traits_def(Pure())
    assembly_format = "`offset` $offset attr-dict `:` type($result)"

    def __init__(self, offset: int, type: MemRefType):
        super().__init__(
            properties={"offset": IntegerAttr(offset, i64)}, result_types=[type]
        )

    def verify_(self) -> None:
        if self.offset.value.data < 0 or self.offset.value.data % 4:
            raise VerifyException("arena offset must be a non-negative multiple of 4")


def _param_attr(value: int | float, is_float: bool) -> IntegerAttr | FloatAttr:
    """Integer parameters are i64, float parameters f32, as in the C signatures."""
    return FloatAttr(float(value), f32) if is_float else IntegerAttr(int(value), i64)


@irdl_op_definition
class CallOp(IRDLOperation):
    """One call of a C++ kernel of `kernels/abi.py`: `mnistc_<callee>(inputs..., outputs...,
    params...)`, its parameters given by name and passed in the order of the kernel's
    signature.

    Inputs are read, outputs are written; nothing else is touched, which is what
    the memory planner relies on.

        cpu.call @copy(%x) outs(%y) params(count = 10) : (memref<1x10xf32>) -> (memref<1x10xf32>)
    """

    name = "cpu.call"

    callee = prop_def(SymbolRefAttr)
    inputs = var_operand_def(MemRefType)
    outputs = var_operand_def(MemRefType)
    params = prop_def(DictionaryAttr)
    """Integer parameters as i64, float parameters as f32, by name."""

    irdl_options = (AttrSizedOperandSegments(as_property=True),)

    def __init__(
        self,
        callee: str,
        inputs: Sequence[SSAValue],
        outputs: Sequence[SSAValue],
        params: Mapping[str, int | float],
    ):
        known = abi.KERNELS.get(callee)

        def is_float(name: str, value: int | float) -> bool:
            return name in known.fparams if known else isinstance(value, float)

        attrs = {n: _param_attr(v, is_float(n, v)) for n, v in params.items()}
        super().__init__(
            operands=[inputs, outputs],
            properties={"callee": SymbolRefAttr(callee), "params": DictionaryAttr(attrs)},
        )

    @property
    def kernel(self) -> abi.Kernel:
        return abi.kernel(self.callee.string_value())

    def param(self, name: str) -> int | float:
        """The value of one named parameter (`call.param("KH")`)."""
        attr = self.params.data[name]
        assert isinstance(attr, IntegerAttr | FloatAttr)
        return attr.value.data

    def param_values(self) -> dict[str, int | float]:
        """Every parameter by name (the C++ target orders them by the kernel's signature)."""
        return {name: self.param(name) for name in self.params.data}

    def verify_(self) -> None:
        callee = self.callee.string_value()
        if callee not in abi.KERNELS:
            raise VerifyException(f"'{callee}' is not a kernel of kernels/abi.py")
        kernel = abi.KERNELS[callee]
        if (len(self.inputs), len(self.outputs)) != (len(kernel.inputs), len(kernel.outputs)):
            raise VerifyException(
                f"@{callee} takes {len(kernel.inputs)} inputs and {len(kernel.outputs)} "
                f"outputs, got {len(self.inputs)} and {len(self.outputs)}"
            )
        expected = (*kernel.params, *kernel.fparams)
        if tuple(sorted(self.params.data)) != tuple(sorted(expected)):
            raise VerifyException(
                f"@{callee} takes params ({', '.join(expected)}), got "
                f"({', '.join(self.params.data)})"
            )
        for name, attr in self.params.data.items():
            is_float = name in kernel.fparams
            if not isinstance(attr, FloatAttr if is_float else IntegerAttr):
                kind = "a float (f32)" if is_float else "an integer (i64)"
                raise VerifyException(f"@{callee}: param {name} must be {kind}")
        for name, value in zip(kernel.inputs, self.inputs):
            if isinstance(value.owner, NullOp) and name not in kernel.optional:
                raise VerifyException(f"@{callee}: input '{name}' may not be null")
        for value in (*self.inputs, *self.outputs):
            if any(dim < 0 for dim in shape_of(value)):
                raise VerifyException("kernel buffers must have static shapes")
        for name, value in zip((*kernel.inputs, *kernel.outputs), (*self.inputs, *self.outputs)):
            expected = kernel.element_type(name)
            if isinstance(value.type, MemRefType) and element_c_type(value.type) != expected:
                raise VerifyException(
                    f"@{callee}: buffer '{name}' holds {element_name(value.type)}, the kernel "
                    f"takes {next(k for k, c in abi.ELEMENT_TYPES.items() if c == expected)}"
                )

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_attribute(self.callee)
        printer.print_string("(")
        printer.print_list(self.inputs, printer.print_operand)
        printer.print_string(") outs(")
        printer.print_list(self.outputs, printer.print_operand)
        printer.print_string(") params(")
        printer.print_list(self.params.data.items(), lambda item: _print_param(printer, *item))
        printer.print_string(")")
        printer.print_op_attributes(self.attributes)
        printer.print_string(" : (")
        printer.print_list((v.type for v in self.inputs), printer.print_attribute)
        printer.print_string(") -> (")
        printer.print_list((v.type for v in self.outputs), printer.print_attribute)
        printer.print_string(")")

    @classmethod
    def parse(cls, parser: Parser) -> CallOp:
        callee = parser.parse_symbol_name().data
        paren = parser.Delimiter.PAREN
        inputs = parser.parse_comma_separated_list(paren, parser.parse_unresolved_operand)
        parser.parse_keyword("outs")
        outputs = parser.parse_comma_separated_list(paren, parser.parse_unresolved_operand)
        parser.parse_keyword("params")
        params = dict(parser.parse_comma_separated_list(paren, lambda: _parse_param(parser)))
        attributes = parser.parse_optional_attr_dict()
        parser.parse_punctuation(":")
        input_types = parser.parse_comma_separated_list(paren, parser.parse_type)
        parser.parse_punctuation("->")
        output_types = parser.parse_comma_separated_list(paren, parser.parse_type)
        if len(input_types) != len(inputs) or len(output_types) != len(outputs):
            parser.raise_error("cpu.call: one type per buffer expected")
        op = cls(
            callee,
            [parser.resolve_operand(v, t) for v, t in zip(inputs, input_types)],
            [parser.resolve_operand(v, t) for v, t in zip(outputs, output_types)],
            params,
        )
        op.attributes |= attributes
        return op


def _print_param(printer: Printer, name: str, attr: Attribute) -> None:
    assert isinstance(attr, IntegerAttr | FloatAttr)
    value = attr.value.data
    printer.print_string(f"{name} = {_f32_literal(value) if isinstance(attr, FloatAttr) else value}")


def _f32_literal(value: float) -> str:
    """The shortest literal that reads back as the same float32, always with a point
    (`0.5`, `1.0e-05`), or `inf`, `-inf`, `nan`."""
    if math.isnan(value) or math.isinf(value):
        return repr(value)
    rounded = struct.unpack("f", struct.pack("f", value))[0]
    text = next(
        text
        for digits in range(1, 10)
        if struct.unpack("f", struct.pack("f", float(text := f"{rounded:.{digits}g}")))[0]
        == rounded
    )
    mantissa, e, exponent = text.partition("e")
    return (mantissa if "." in mantissa else mantissa + ".0") + e + exponent


def _parse_param(parser: Parser) -> tuple[str, int | float]:
    """`name = 3`, `name = 0.5`, `name = -inf` or `name = nan`."""
    name = parser.parse_identifier()
    parser.parse_punctuation("=")
    sign = -1 if parser.parse_optional_punctuation("-") else 1
    if parser.parse_optional_keyword("inf"):
        return name, sign * math.inf
    if parser.parse_optional_keyword("nan"):
        return name, math.nan
    return name, sign * parser.parse_number()


CPU = Dialect(
    "cpu",
    [ArenaSlotOp, CallOp, NullOp, SampleOp, SplatOp, ViewOp, WeightOp],
    [],
)
