"""convert-nn-to-cpu: tensors to buffers, `nn` ops to kernel calls, a loop over the batch.

`func.func @forward(%x: tensor<1x...>) -> tensor<1x...>` becomes
`func.func @forward(%input: memref<?x...>, %output: memref<?x...>)` whose body is an
`scf.for` over the samples. Weights are hoisted above the loop; inside it each `nn` op
becomes one `cpu.call` writing a fresh `memref.alloc` (or the output sample directly,
for the op producing the result), and reshape/dropout, and the slices that select a
contiguous run of their input, become `cpu.view` aliases.

The per-op lowerings live with their op family in `mnistc/lowering/nn_to_cpu/`: adding
an op is a `_lower_<name>` function there, returning its kernel calls (a kernel of
kernels/abi.py, its inputs and its params by name), in that family's `LOWERINGS`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from xdsl.builder import Builder
from xdsl.context import Context
from xdsl.dialects import arith, func, memref, scf
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    IndexType,
    MemRefType,
    ModuleOp,
    TensorType,
    UnitAttr,
)
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint

from mnistc.dialects import cpu, nn
from mnistc.dialects.shapes import element_count, shape_of
from mnistc.lowering.nn_to_cpu import KERNEL_LOWERINGS
from mnistc import weights as weight_files
from mnistc.lowering.nn_to_cpu.common import LoweringError, Null, PackedWeight
from mnistc.lowering.nn_to_cpu.shape import view_offset
from mnistc.locations import located
from mnistc.lowering.nn_to_cpu.weight import buffer_type, lower_weight

PARALLEL_SAMPLES = "cpu.parallel_samples"
"""Marks the batch loop: its iterations share nothing but read-only weights, so a target
may run them in parallel, each with its own arena."""


def _batched(type_: TensorType) -> MemRefType:
    return MemRefType(type_.element_type, [DYNAMIC_INDEX, *type_.get_shape()[1:]])


@dataclass
class _FunctionLowering:
    """Builds the lowered body of one function; `buffers` maps tensors to buffers."""

    source: func.FuncOp
    hoisted: Builder
    body: Builder
    output_sample: SSAValue
    buffers: dict[SSAValue, SSAValue]
    weights: Callable[[], weight_files.WeightFile] | None = None
    """The weight file, where compile-time weights (`PackedWeight`) are read from and
    appended to (asked for only when a lowering makes one)."""

    def lower(self, op: Operation, returned: SSAValue) -> None:
        if isinstance(op, nn.WeightOp | nn.SplatOp):
            self.buffers[op.result] = self.hoisted.insert(lower_weight(op)).result
        elif (offset := view_offset(op)) is not None:
            source = self.buffers[op.operands[0]]
            view = cpu.ViewOp(source, buffer_type(op.results[0].type), offset)
            self.buffers[op.results[0]] = self.body.insert(view).result
        elif type(op) in KERNEL_LOWERINGS:
            self._lower_kernel(op, returned)
        elif not isinstance(op, func.ReturnOp):
            raise LoweringError(f"convert-nn-to-cpu: no lowering for '{op.name}'")

    def _lower_kernel(self, op: Operation, returned: SSAValue) -> None:
        calls = KERNEL_LOWERINGS[type(op)](op)
        (result,) = op.results
        if result is returned:
            destination = self.output_sample
        else:
            destination = self.body.insert(
                memref.AllocOp([], [], buffer_type(result.type))
            ).memref
            destination.name_hint = result.name_hint or calls[0].kernel
        for call in calls:
            inputs = [self._input(value, op) for value in call.inputs]
            self.body.insert(
                located(cpu.CallOp(call.kernel, inputs, [destination], call.params), op)
            )
        self.buffers[result] = destination

    def _input(self, value: SSAValue | Null | PackedWeight, user: Operation) -> SSAValue:
        if isinstance(value, PackedWeight):
            return self._packed_weight(value, user)
        if isinstance(value, Null):
            return self.body.insert(cpu.NullOp(buffer_type(nn.tensor(value.shape)))).result
        if value not in self.buffers:
            raise LoweringError(f"convert-nn-to-cpu: operand of '{user.name}' is not lowered")
        return self.buffers[value]

    def _constant(self, value: SSAValue) -> np.ndarray:
        """The data of an `nn.weight` operand, for a weight computed at compile time."""
        owner = value.owner
        if not isinstance(owner, nn.WeightOp):
            raise LoweringError(
                f"convert-nn-to-cpu: '{owner.name}' computes an operand that must be a constant "
                "weight (an nn.weight)"
            )
        dtype = weight_files.dtype_of_type(nn.element_type_of(value))
        return self.weights().read(owner.offset.value.data, shape_of(value), dtype)

    def _packed_weight(self, packed: PackedWeight, user: Operation) -> SSAValue:
        """A `cpu.weight` of `packed`'s array, appended to the weight file and hoisted."""
        if self.weights is None:
            raise LoweringError(f"convert-nn-to-cpu: '{user.name}' needs the weight file")
        array = packed.compute(self._constant)
        element = {np.dtype(d): t for t, d in weight_files.STORED_DTYPES.items()}[array.dtype]
        offset = self.weights().append(array)
        op = cpu.WeightOp(packed.key, offset, MemRefType(element, [array.size]))
        op.result.name_hint = weight_files.name_hint(packed.key)
        return self.hoisted.insert(located(op, user)).result

    def finish(self, returned: SSAValue) -> None:
        """Copy the result into the output sample unless a kernel wrote it there."""
        buffer = self.buffers[returned]
        if buffer is not self.output_sample:
            self.body.insert(
                cpu.CallOp("copy", [buffer], [self.output_sample], {"count": element_count(shape_of(returned))})
            )
        self.body.insert(scf.YieldOp())


def lower_function(
    function: func.FuncOp, weights: Callable[[], weight_files.WeightFile] | None = None
) -> func.FuncOp:
    """The lowered replacement of an `nn`-level function (see the module docstring)."""
    inputs, outputs = function.function_type.inputs.data, function.function_type.outputs.data
    if len(inputs) != 1 or len(outputs) != 1:
        raise LoweringError(
            f"convert-nn-to-cpu: @{function.sym_name.data} must take one tensor and return one"
        )
    if any(not isinstance(t, TensorType) or shape_of(t)[:1] != (1,) for t in (*inputs, *outputs)):
        raise LoweringError("convert-nn-to-cpu: tensors must have batch dimension 1")
    entry = Block(arg_types=[_batched(inputs[0]), _batched(outputs[0])])
    entry.args[0].name_hint, entry.args[1].name_hint = "input", "output"
    top = Builder(InsertPoint.at_end(entry))
    zero = top.insert(arith.ConstantOp.from_int_and_width(0, IndexType())).result
    one = top.insert(arith.ConstantOp.from_int_and_width(1, IndexType())).result
    batch = top.insert(memref.DimOp(entry.args[0], zero)).result
    zero.name_hint, one.name_hint, batch.name_hint = "c0", "c1", "batch"
    loop_body = Block(arg_types=[IndexType()])
    loop_body.args[0].name_hint = "n"
    body = Builder(InsertPoint.at_end(loop_body))
    sample_in = body.insert(cpu.SampleOp(entry.args[0], loop_body.args[0])).result
    sample_out = body.insert(cpu.SampleOp(entry.args[1], loop_body.args[0])).result
    sample_in.name_hint, sample_out.name_hint = "x", "y"

    source_block = function.body.block
    (returned,) = source_block.last_op.operands
    lowering = _FunctionLowering(
        function, top, body, sample_out, {source_block.args[0]: sample_in}, weights
    )
    for op in source_block.ops:
        lowering.lower(op, returned)
    lowering.finish(returned)
    loop = top.insert(scf.ForOp(zero, batch, one, [], Region(loop_body)))
    loop.attributes[PARALLEL_SAMPLES] = UnitAttr()
    top.insert(func.ReturnOp())
    return func.FuncOp(
        function.sym_name.data,
        ((entry.args[0].type, entry.args[1].type), ()),
        Region(entry),
    )


@dataclass(frozen=True)
class ConvertNnToCpuPass(ModulePass):
    name = "convert-nn-to-cpu"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        weights = functools.cache(lambda: weight_files.of(ctx, op))
        for function in list(op.ops):
            if isinstance(function, func.FuncOp) and not function.is_declaration:
                lowered = lower_function(function, weights)
                op.body.block.insert_op_before(lowered, function)
                op.body.block.erase_op(function)
