"""The `cpu` dialect: the loop/call level, on explicit buffers.

After `convert-nn-to-cpu` a model is a `func.func @forward(%in, %out)` over memrefs
whose body is an `scf.for` over the samples of the batch. Inside the loop every
tensor is a buffer (`memref.alloc`, or an `cpu.arena_slot` once `plan-memory` ran),
and every operator is one `cpu.call` to a C++ kernel of `kernels/kernels.hpp`.

A `cpu.call` passes its buffers as pointers, in order (inputs, then outputs), then its
`params` as `int64_t` arguments. Which integers a kernel takes is the kernel's
signature in `kernels.hpp`; the lowering of each `nn` op builds that list.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import (
    I64,
    DenseArrayBase,
    IndexType,
    IntegerAttr,
    MemRefType,
    StringAttr,
    SymbolRefAttr,
    f32,
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
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException


def _static_shape(value: SSAValue | Attribute) -> tuple[int, ...]:
    memref = value.type if isinstance(value, SSAValue) else value
    assert isinstance(memref, MemRefType)
    return tuple(memref.get_shape())


def _format_shape(shape: Sequence[int]) -> str:
    return "[" + ", ".join("?" if d < 0 else str(d) for d in shape) + "]"


def _element_count(shape: Sequence[int]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


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
        shape = _static_shape(batch)
        assert isinstance(batch.type, MemRefType)
        super().__init__(
            operands=[batch, index],
            result_types=[MemRefType(batch.type.element_type, [1, *shape[1:]])],
        )

    def verify_(self) -> None:
        batch, sample = _static_shape(self.batch), _static_shape(self.result)
        if not batch or batch[1:] != sample[1:] or sample[0] != 1:
            raise VerifyException(
                f"a sample of {_format_shape(batch)} has shape "
                f"{_format_shape((1, *batch[1:]))}, not {_format_shape(sample)}"
            )


@irdl_op_definition
class ViewOp(IRDLOperation):
    """The same contiguous elements under another static shape (reshape, identity)."""

    name = "cpu.view"

    source = operand_def(MemRefType)
    result = result_def(MemRefType)

    traits = traits_def(Pure())
    assembly_format = "$source attr-dict `:` type($source) `->` type($result)"

    def __init__(self, source: SSAValue, type: MemRefType):
        super().__init__(operands=[source], result_types=[type])

    def verify_(self) -> None:
        src, dst = _static_shape(self.source), _static_shape(self.result)
        if _element_count(src) != _element_count(dst):
            raise VerifyException(
                f"view from {list(src)} to {list(dst)} changes the number of elements"
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


@irdl_op_definition
class CallOp(IRDLOperation):
    """One call of a C++ kernel: `mnistc_<callee>(inputs..., outputs..., params..., fparams...)`.

    Inputs are read, outputs are written; nothing else is touched, which is what
    the memory planner relies on.
    """

    name = "cpu.call"

    callee = prop_def(SymbolRefAttr)
    inputs = var_operand_def(MemRefType)
    outputs = var_operand_def(MemRefType)
    params = prop_def(DenseArrayBase.constr(i64))
    fparams = opt_prop_def(DenseArrayBase.constr(f32))

    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    assembly_format = (
        "$callee `(` $inputs `)` `outs` `(` $outputs `)` `params` $params "
        "(`fparams` $fparams^)? attr-dict `:` `(` type($inputs) `)` `->` `(` type($outputs) `)`"
    )

    def __init__(
        self,
        callee: str,
        inputs: Sequence[SSAValue],
        outputs: Sequence[SSAValue],
        params: Sequence[int],
        fparams: Sequence[float] = (),
    ):
        super().__init__(
            operands=[inputs, outputs],
            properties={
                "callee": SymbolRefAttr(callee),
                "params": DenseArrayBase.from_list(i64, list(params)),
                "fparams": DenseArrayBase.from_list(f32, list(fparams)) if fparams else None,
            },
        )

    def verify_(self) -> None:
        if not self.outputs:
            raise VerifyException("a kernel call must write at least one output")
        for value in (*self.inputs, *self.outputs):
            if any(dim < 0 for dim in _static_shape(value)):
                raise VerifyException("kernel buffers must have static shapes")


CPU = Dialect(
    "cpu",
    [ArenaSlotOp, CallOp, NullOp, SampleOp, ViewOp, WeightOp],
    [],
)
