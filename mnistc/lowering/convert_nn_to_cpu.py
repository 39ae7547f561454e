"""convert-nn-to-cpu: tensors to buffers, `nn` ops to kernel calls, a loop over the batch.

`func.func @forward(%x: tensor<1x...>) -> tensor<1x...>` becomes
`func.func @forward(%input: memref<?x...>, %output: memref<?x...>)` whose body is an
`scf.for` over the samples. Weights are hoisted above the loop; inside it each `nn` op
becomes one `cpu.call` writing a fresh `memref.alloc` (or the output sample directly,
for the op producing the result), and reshape/dropout become `cpu.view` aliases.

Adding an op: write a `_lower_<name>` function that returns the call's kernel name and
params (matching the kernel's signature in kernels/kernels.hpp) and add it to
`KERNEL_LOWERINGS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xdsl.builder import Builder
from xdsl.context import Context
from xdsl.dialects import arith, func, memref, scf
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    IndexType,
    MemRefType,
    ModuleOp,
    TensorType,
)
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint

from mnistc.dialects import cpu, nn
from mnistc.errors import MnistcError

ACTIVATION_CODES = {None: 0, "relu": 1}
"""Values of `enum Activation` in kernels/kernels.hpp."""


class LoweringError(MnistcError):
    pass


def buffer_type(tensor: TensorType) -> MemRefType:
    return MemRefType(tensor.element_type, tensor.get_shape())


def _dims(value: SSAValue) -> tuple[int, ...]:
    assert isinstance(value.type, MemRefType | TensorType)
    return tuple(value.type.get_shape())


def _count(value: SSAValue) -> int:
    count = 1
    for d in _dims(value):
        count *= d
    return count


def _activation(op: nn.Conv2DOp | nn.LinearOp) -> int:
    return ACTIVATION_CODES[op.activation.data if op.activation else None]


KernelCall = tuple[str, list[int]]


def _lower_conv2d(op: nn.Conv2DOp) -> KernelCall:
    _, c, h, w = _dims(op.input)
    k, _, kh, kw = _dims(op.weight)
    _, _, oh, ow = _dims(op.output)
    return "conv2d", [
        c, h, w, k, oh, ow, kh, kw,
        *op.stride.get_values(), *op.padding.get_values(), *op.dilation.get_values(),
        op.groups.value.data, _activation(op),
    ]  # fmt: skip


def _lower_linear(op: nn.LinearOp) -> KernelCall:
    m, n_in = _dims(op.input)
    return "linear", [m, n_in, _dims(op.weight)[0], _activation(op)]


def _lower_max_pool2d(op: nn.MaxPool2DOp) -> KernelCall:
    _, c, h, w = _dims(op.input)
    _, _, oh, ow = _dims(op.output)
    return "max_pool2d", [
        c, h, w, oh, ow, *op.kernel.get_values(), *op.stride.get_values(),
        *op.padding.get_values(), *op.dilation.get_values(),
    ]  # fmt: skip


def _lower_relu(op: nn.ReluOp) -> KernelCall:
    return "relu", [_count(op.input)]


def _softmax_lowering(kernel: str) -> Callable[[nn.SoftmaxBase], KernelCall]:
    def lower(op: nn.SoftmaxBase) -> KernelCall:
        dims, axis = _dims(op.input), op.dim.value.data
        outer = inner = 1
        for d in dims[:axis]:
            outer *= d
        for d in dims[axis + 1 :]:
            inner *= d
        return kernel, [outer, dims[axis], inner]

    return lower


KERNEL_LOWERINGS: dict[type[Operation], Callable[..., KernelCall]] = {
    nn.Conv2DOp: _lower_conv2d,
    nn.LinearOp: _lower_linear,
    nn.LogSoftmaxOp: _softmax_lowering("log_softmax"),
    nn.MaxPool2DOp: _lower_max_pool2d,
    nn.ReluOp: _lower_relu,
    nn.SoftmaxOp: _softmax_lowering("softmax"),
}
"""`nn` op → (kernel name, int params). Inputs are the op's operands in order."""

VIEW_OPS = (nn.ReshapeOp, nn.DropoutOp)
"""Ops that reuse their input's buffer."""


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

    def lower(self, op: Operation, returned: SSAValue) -> None:
        if isinstance(op, nn.WeightOp):
            weight = cpu.WeightOp(
                op.key.data, op.offset.value.data, buffer_type(op.result.type)
            )
            weight.result.name_hint = op.result.name_hint
            self.buffers[op.result] = self.hoisted.insert(weight).result
        elif isinstance(op, VIEW_OPS):
            view = cpu.ViewOp(self.buffers[op.operands[0]], buffer_type(op.results[0].type))
            self.buffers[op.results[0]] = self.body.insert(view).result
        elif type(op) in KERNEL_LOWERINGS:
            self._lower_kernel(op, returned)
        elif not isinstance(op, func.ReturnOp):
            raise LoweringError(f"convert-nn-to-cpu: no lowering for '{op.name}'")

    def _lower_kernel(self, op: Operation, returned: SSAValue) -> None:
        kernel, params = KERNEL_LOWERINGS[type(op)](op)
        (result,) = op.results
        if result is returned:
            destination = self.output_sample
        else:
            destination = self.body.insert(
                memref.AllocOp([], [], buffer_type(result.type))
            ).memref
            destination.name_hint = result.name_hint or kernel
        inputs = [self._input(value, op) for value in op.operands]
        if isinstance(op, nn.Conv2DOp | nn.LinearOp) and op.bias is None:
            bias_type = buffer_type(nn.tensor(_dims(op.weight)[:1]))
            inputs.append(self.body.insert(cpu.NullOp(bias_type)).result)
        self.body.insert(cpu.CallOp(kernel, inputs, [destination], params))
        self.buffers[result] = destination

    def _input(self, value: SSAValue, user: Operation) -> SSAValue:
        if value not in self.buffers:
            raise LoweringError(f"convert-nn-to-cpu: operand of '{user.name}' is not lowered")
        return self.buffers[value]

    def finish(self, returned: SSAValue) -> None:
        """Copy the result into the output sample unless a kernel wrote it there."""
        buffer = self.buffers[returned]
        if buffer is not self.output_sample:
            self.body.insert(
                cpu.CallOp("copy", [buffer], [self.output_sample], [_count(returned)])
            )
        self.body.insert(scf.YieldOp())


def lower_function(function: func.FuncOp) -> func.FuncOp:
    """The lowered replacement of an `nn`-level function (see the module docstring)."""
    inputs, outputs = function.function_type.inputs.data, function.function_type.outputs.data
    if len(inputs) != 1 or len(outputs) != 1:
        raise LoweringError(
            f"convert-nn-to-cpu: @{function.sym_name.data} must take one tensor and return one"
        )
    if any(_dims_of(t)[:1] != (1,) for t in (*inputs, *outputs)):
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
        function, top, body, sample_out, {source_block.args[0]: sample_in}
    )
    for op in source_block.ops:
        lowering.lower(op, returned)
    lowering.finish(returned)
    top.insert(scf.ForOp(zero, batch, one, [], Region(loop_body)))
    top.insert(func.ReturnOp())
    return func.FuncOp(
        function.sym_name.data,
        ((entry.args[0].type, entry.args[1].type), ()),
        Region(entry),
    )


def _dims_of(type_) -> tuple[int, ...]:
    return tuple(type_.get_shape()) if isinstance(type_, TensorType) else ()


@dataclass(frozen=True)
class ConvertNnToCpuPass(ModulePass):
    name = "convert-nn-to-cpu"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for function in list(op.ops):
            if isinstance(function, func.FuncOp) and not function.is_declaration:
                lowered = lower_function(function)
                op.body.block.insert_op_before(lowered, function)
                op.body.block.erase_op(function)
