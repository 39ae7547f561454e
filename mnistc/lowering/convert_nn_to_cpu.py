"""convert-nn-to-cpu: tensors to buffers, `nn` ops to kernel calls, a loop over the batch.

`func.func @forward(%x: tensor<1x...>) -> tensor<1x...>` becomes
`func.func @forward(%input: memref<?x...>, %output: memref<?x...>)` whose body is an
`scf.for` over the samples; a function of N arguments and M results becomes one of N + M
memrefs, the inputs then the outputs, each marked with its name (`mnistc.input` or
`mnistc.output`, see `lowered_signature`), all sharing the batch. Weights are hoisted
above the loop; inside it each `nn` op becomes one `cpu.call` writing a fresh
`memref.alloc` (or an output sample directly, for an op producing a result), and
reshape/dropout, and the slices that select a contiguous run of their input, become
`cpu.view` aliases. A result that no kernel wrote into its output (an input returned, a
view, a value returned twice) is copied there at the end of the sample.

The per-op lowerings live with their op family in `mnistc/lowering/nn_to_cpu/`: adding
an op is a `_lower_<name>` function there, returning its kernel calls (a kernel of
kernels/abi.py, its inputs and its params by name), in that family's `LOWERINGS`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from xdsl.builder import Builder
from xdsl.context import Context
from xdsl.dialects import arith, func, memref, scf
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    ArrayAttr,
    DictionaryAttr,
    StringAttr,
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
from mnistc.importers.signature import signature_names, ssa_name
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
    output_samples: dict[SSAValue, SSAValue]
    """Each returned value → the output sample a kernel computing it writes to (the
    first output returning it)."""
    buffers: dict[SSAValue, SSAValue]
    weights: Callable[[], weight_files.WeightFile] | None = None
    """The weight file, where compile-time weights (`PackedWeight`) are read from and
    appended to (asked for only when a lowering makes one)."""

    def lower(self, op: Operation) -> None:
        if isinstance(op, nn.WeightOp | nn.SplatOp):
            self.buffers[op.result] = self.hoisted.insert(lower_weight(op)).result
        elif (offset := view_offset(op)) is not None:
            source = self.buffers[op.operands[0]]
            view = cpu.ViewOp(source, buffer_type(op.results[0].type), offset)
            self.buffers[op.results[0]] = self.body.insert(view).result
        elif type(op) in KERNEL_LOWERINGS:
            self._lower_kernel(op)
        elif not isinstance(op, func.ReturnOp):
            raise LoweringError(f"convert-nn-to-cpu: no lowering for '{op.name}'")

    def _lower_kernel(self, op: Operation) -> None:
        calls = KERNEL_LOWERINGS[type(op)](op)
        (result,) = op.results
        if result in self.output_samples:
            destination = self.output_samples[result]
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

    def finish(self, returned: Sequence[SSAValue], outputs: Sequence[SSAValue]) -> None:
        """Copy each result into its output sample unless a kernel wrote it there."""
        for value, output in zip(returned, outputs, strict=True):
            buffer = self.buffers[value]
            if buffer is not output:
                count = element_count(shape_of(value))
                self.body.insert(cpu.CallOp("copy", [buffer], [output], {"count": count}))
        self.body.insert(scf.YieldOp())


INPUT_NAME, OUTPUT_NAME = "mnistc.input", "mnistc.output"
"""The argument attributes of a lowered function: the name of the model input or
output that the memref holds."""


def lower_function(
    function: func.FuncOp, weights: Callable[[], weight_files.WeightFile] | None = None
) -> func.FuncOp:
    """The lowered replacement of an `nn`-level function (see the module docstring)."""
    inputs, outputs = function.function_type.inputs.data, function.function_type.outputs.data
    if not inputs or not outputs:
        raise LoweringError(
            f"convert-nn-to-cpu: @{function.sym_name.data} must take a tensor and return one or more"
        )
    if any(not isinstance(t, TensorType) or shape_of(t)[:1] != (1,) for t in (*inputs, *outputs)):
        raise LoweringError("convert-nn-to-cpu: tensors must have batch dimension 1")
    input_names, output_names = signature_names(function)
    entry = Block(arg_types=[_batched(t) for t in (*inputs, *outputs)])
    batch_inputs, batch_outputs = entry.args[: len(inputs)], entry.args[len(inputs) :]
    _name_arguments(batch_inputs, input_names, "input")
    _name_arguments(batch_outputs, output_names, "output")
    top = Builder(InsertPoint.at_end(entry))
    zero = top.insert(arith.ConstantOp.from_int_and_width(0, IndexType())).result
    one = top.insert(arith.ConstantOp.from_int_and_width(1, IndexType())).result
    batch = top.insert(memref.DimOp(entry.args[0], zero)).result
    zero.name_hint, one.name_hint, batch.name_hint = "c0", "c1", "batch"
    loop_body = Block(arg_types=[IndexType()])
    loop_body.args[0].name_hint = "n"
    body = Builder(InsertPoint.at_end(loop_body))
    samples_in = _samples(body, batch_inputs, loop_body.args[0], "x")
    samples_out = _samples(body, batch_outputs, loop_body.args[0], "y")

    source_block = function.body.block
    returned = list(source_block.last_op.operands)
    written = {}
    for value, sample in zip(returned, samples_out):
        written.setdefault(value, sample)
    lowering = _FunctionLowering(
        function, top, body, written, dict(zip(source_block.args, samples_in)), weights
    )
    for op in source_block.ops:
        lowering.lower(op)
    lowering.finish(returned, samples_out)
    loop = top.insert(scf.ForOp(zero, batch, one, [], Region(loop_body)))
    loop.attributes[PARALLEL_SAMPLES] = UnitAttr()
    top.insert(func.ReturnOp())
    names = [(INPUT_NAME, n) for n in input_names] + [(OUTPUT_NAME, n) for n in output_names]
    return func.FuncOp(
        function.sym_name.data,
        ([a.type for a in entry.args], ()),
        Region(entry),
        arg_attrs=ArrayAttr([DictionaryAttr({key: StringAttr(name)}) for key, name in names]),
    )


def _name_arguments(arguments: Sequence[SSAValue], names: Sequence[str], kind: str) -> None:
    """`input`/`output` for one, as the loop level always named them; else
    `input_<name>`/`output_<name>`."""
    for argument, name in zip(arguments, names):
        argument.name_hint = kind if len(names) == 1 else f"{kind}_{ssa_name(name)}"


def _samples(body: Builder, batches: Sequence[SSAValue], index: SSAValue, hint: str) -> list[SSAValue]:
    """Sample `index` of each batch (`x`, or `x0`, `x1`... for several)."""
    samples = []
    for i, batched in enumerate(batches):
        sample = body.insert(cpu.SampleOp(batched, index)).result
        sample.name_hint = hint if len(batches) == 1 else f"{hint}{i}"
        samples.append(sample)
    return samples


def lowered_signature(function: func.FuncOp) -> tuple[list[tuple[str, SSAValue]], list[tuple[str, SSAValue]]]:
    """A lowered function's inputs and outputs, each as (name, memref argument). A
    function without the names (written by hand) takes its first argument as the input
    and the others as outputs."""
    arguments = list(function.body.block.args)
    attrs = function.arg_attrs.data if function.arg_attrs is not None else ()
    inputs, outputs = [], []
    for i, argument in enumerate(arguments):
        attr = attrs[i].data if i < len(attrs) else {}
        if INPUT_NAME in attr or (OUTPUT_NAME not in attr and i == 0):
            name = attr.get(INPUT_NAME)
            inputs.append((name.data if isinstance(name, StringAttr) else "input", argument))
        else:
            name = attr.get(OUTPUT_NAME)
            outputs.append((name.data if isinstance(name, StringAttr) else "output", argument))
    return inputs, outputs


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
