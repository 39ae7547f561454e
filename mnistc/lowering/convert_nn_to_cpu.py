"""convert-nn-to-cpu: tensors to buffers, `nn` ops to kernel calls, a loop over the batch.

`func.func @forward(%x: tensor<1x...>) -> tensor<1x...>` becomes
`func.func @forward(%input: memref<?x...>, %output: memref<?x...>)` whose body is an
`scf.for` over the samples. Weights are hoisted above the loop; inside it each `nn` op
becomes one `cpu.call` writing a fresh `memref.alloc` (or the output sample directly,
for the op producing the result), and reshape/dropout become `cpu.view` aliases.

Adding an op: write a `_lower_<name>` function that returns its kernel calls (a kernel
of kernels/abi.py, its inputs and its params by name) and add it to `KERNEL_LOWERINGS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    UnitAttr,
)
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint

from mnistc.dialects import cpu, nn
from mnistc.errors import MnistcError
from mnistc.kernels.abi import ACTIVATION_CODES, BINARY_CODES
from mnistc.locations import located

PARALLEL_SAMPLES = "cpu.parallel_samples"
"""Marks the batch loop: its iterations share nothing but read-only weights, so a target
may run them in parallel, each with its own arena."""

BINARY_OPS = {nn.AddOp: "add", nn.MulOp: "mul", nn.PReluOp: "prelu"}
"""The `op` of the `binary` kernel that computes each element-wise `nn` op."""


class LoweringError(MnistcError):
    pass


def buffer_type(tensor: TensorType) -> MemRefType:
    return MemRefType(tensor.element_type, tensor.get_shape())


def _dims(value: SSAValue) -> tuple[int, ...]:
    assert isinstance(value.type, MemRefType | TensorType)
    return tuple(value.type.get_shape())


def _count(value: SSAValue) -> int:
    return _product(_dims(value))


@dataclass(frozen=True)
class Null:
    """An absent optional input of the given shape: `cpu.null`, a nullptr in C++."""

    shape: tuple[int, ...]


@dataclass(frozen=True)
class KernelCall:
    """One call writing (part of) the op's result: kernel name, inputs, params by name."""

    kernel: str
    inputs: Sequence[SSAValue | Null]
    params: dict[str, int | float]


def activation_params(activation: nn.Activation | None) -> dict[str, int | float]:
    """The `activation` code and its `alpha`, `beta` that the kernels take."""
    if activation is None:
        return {"activation": ACTIVATION_CODES["none"], "alpha": 0.0, "beta": 0.0}
    alpha, beta = [*activation.params, 0.0, 0.0][:2]
    return {"activation": ACTIVATION_CODES[activation.kind], "alpha": alpha, "beta": beta}


def _product(values: Sequence[int]) -> int:
    result = 1
    for v in values:
        result *= v
    return result


def _optional(value: SSAValue | None, shape: Sequence[int]) -> SSAValue | Null:
    return value if value is not None else Null(tuple(shape))


def _pairs(prefix: str, values: Sequence[int]) -> dict[str, int]:
    """`stride` (2, 1) → {"stride_h": 2, "stride_w": 1}."""
    height, width = values
    return {f"{prefix}_h": height, f"{prefix}_w": width}


def _lower_conv2d(op: nn.Conv2DOp) -> list[KernelCall]:
    _, c, h, w = _dims(op.input)
    k, _, kh, kw = _dims(op.weight)
    _, _, oh, ow = _dims(op.output)
    inputs = [op.input, op.weight, _optional(op.bias, (k,)), _optional(op.residual, _dims(op.output))]
    params = {
        "C": c, "H": h, "W": w, "K": k, "OH": oh, "OW": ow, "KH": kh, "KW": kw,
        **_pairs("stride", op.stride.get_values()), **_pairs("pad", op.padding.get_values()),
        **_pairs("dilation", op.dilation.get_values()), "groups": op.groups.value.data,
        **activation_params(op.fused_activation()),
    }  # fmt: skip
    return [KernelCall("conv2d", inputs, params)]


def _lower_linear(op: nn.LinearOp) -> list[KernelCall]:
    m, n_in = _dims(op.input)
    n_out = _dims(op.weight)[0]
    inputs = [op.input, op.weight, _optional(op.bias, (n_out,))]
    params = {"M": m, "IN": n_in, "OUT": n_out, **activation_params(op.fused_activation())}
    return [KernelCall("linear", inputs, params)]


def _pool_geometry(op: nn.MaxPool2DOp | nn.AvgPool2DOp) -> dict[str, int]:
    _, c, h, w = _dims(op.input)
    _, _, oh, ow = _dims(op.output)
    kh, kw = op.kernel.get_values()
    return {
        "C": c, "H": h, "W": w, "OH": oh, "OW": ow, "KH": kh, "KW": kw,
        **_pairs("stride", op.stride.get_values()), **_pairs("pad", op.padding.get_values()),
    }  # fmt: skip


def _lower_max_pool2d(op: nn.MaxPool2DOp) -> list[KernelCall]:
    params = {**_pool_geometry(op), **_pairs("dilation", op.dilation.get_values())}
    return [KernelCall("max_pool2d", [op.input], params)]


def _lower_avg_pool2d(op: nn.AvgPool2DOp) -> list[KernelCall]:
    params = {
        **_pool_geometry(op),
        "count_include_pad": op.count_include_pad.value.data,
        "divisor": op.divisor.value.data,
    }
    return [KernelCall("avg_pool2d", [op.input], params)]


def _lower_adaptive_avg_pool2d(op: nn.AdaptiveAvgPool2DOp) -> list[KernelCall]:
    _, c, h, w = _dims(op.input)
    oh, ow = _dims(op.output)[2:]
    return [KernelCall("adaptive_avg_pool2d", [op.input], {"C": c, "H": h, "W": w, "OH": oh, "OW": ow})]


def _lower_activation(op: nn.ActivationOp) -> list[KernelCall]:
    params = {"count": _count(op.input), **activation_params(op.activation())}
    return [KernelCall("activation", [op.input], params)]


def _lower_batch_norm(op: nn.BatchNormOp) -> list[KernelCall]:
    dims = _dims(op.input)
    inputs = [op.input, op.mean, op.var, op.gamma, op.beta]
    params = {"C": dims[1], "inner": _product(dims[2:]), "eps": op.eps.value.data}
    return [KernelCall("batch_norm", inputs, params)]


def _broadcast_strides(shape: Sequence[int], out_shape: Sequence[int]) -> list[int]:
    """Row-major strides of `shape` read as `out_shape` (0 on broadcast dims)."""
    shape = (1,) * (len(out_shape) - len(shape)) + tuple(shape)
    strides, stride = [], 1
    for dim in reversed(shape):
        strides.append(stride if dim != 1 else 0)
        stride *= dim
    return strides[::-1]


def _as_rank4(shape: Sequence[int], lhs: Sequence[int], rhs: Sequence[int]):
    """Drop size-1 dimensions and merge leading ones so the output has rank 4 (the kernel's)."""
    if len(shape) > 4:
        kept = [i for i, d in enumerate(shape) if d != 1]
        shape, lhs, rhs = ([seq[i] for i in kept] for seq in (shape, lhs, rhs))
    while len(shape) > 4:
        # Merging the first two dims is exact when both operands are dense or broadcast
        # along both of them; otherwise the op is refused.
        if not ((lhs[0] == lhs[1] * shape[1] or lhs[0] == lhs[1] == 0)
                and (rhs[0] == rhs[1] * shape[1] or rhs[0] == rhs[1] == 0)):  # fmt: skip
            raise LoweringError("convert-nn-to-cpu: broadcast of rank > 4 is not supported")
        shape, lhs, rhs = [shape[0] * shape[1], *shape[2:]], lhs[1:], rhs[1:]
    pad = 4 - len(shape)
    return [1] * pad + list(shape), [0] * pad + list(lhs), [0] * pad + list(rhs)


def _lower_binary(op: nn.BinaryOp) -> list[KernelCall]:
    out = _dims(op.output)
    shape, lhs, rhs = _as_rank4(
        out, _broadcast_strides(_dims(op.lhs), out), _broadcast_strides(_dims(op.rhs), out)
    )
    params = {
        "op": BINARY_CODES[BINARY_OPS[type(op)]],
        **{f"d{i}": d for i, d in enumerate(shape)},
        **{f"l{i}": s for i, s in enumerate(lhs)},
        **{f"r{i}": s for i, s in enumerate(rhs)},
    }
    return [KernelCall("binary", [op.lhs, op.rhs], params)]


def _lower_pad2d(op: nn.Pad2DOp) -> list[KernelCall]:
    *lead, h, w = _dims(op.input)
    top, left, bottom, right = op.pads.get_values()
    params = {
        "C": _product(lead), "H": h, "W": w, "top": top, "left": left, "bottom": bottom,
        "right": right, "value": op.value.value.data,
    }  # fmt: skip
    return [KernelCall("pad2d", [op.input], params)]


def _lower_lrn(op: nn.LRNOp) -> list[KernelCall]:
    dims = _dims(op.input)
    params = {
        "C": dims[1], "inner": _product(dims[2:]), "size": op.size.value.data,
        "alpha": op.alpha.value.data, "beta": op.beta.value.data, "bias": op.bias.value.data,
    }  # fmt: skip
    return [KernelCall("lrn", [op.input], params)]


def _lower_concat(op: nn.ConcatOp) -> list[KernelCall]:
    dim, out = op.dim.value.data, _dims(op.output)
    outer, trailing = _product(out[:dim]), _product(out[dim + 1 :])
    calls, offset = [], 0
    for value in op.inputs:
        inner = _dims(value)[dim] * trailing
        params = {"outer": outer, "inner": inner, "out_stride": out[dim] * trailing, "offset": offset}
        calls.append(KernelCall("copy_block", [value], params))
        offset += inner
    return calls


def _softmax_lowering(kernel: str) -> Callable[[nn.SoftmaxBase], list[KernelCall]]:
    def lower(op: nn.SoftmaxBase) -> list[KernelCall]:
        dims, axis = _dims(op.input), op.dim.value.data
        params = {
            "outer": _product(dims[:axis]), "axis": dims[axis], "inner": _product(dims[axis + 1 :])
        }  # fmt: skip
        return [KernelCall(kernel, [op.input], params)]

    return lower


KERNEL_LOWERINGS: dict[type[Operation], Callable[..., list[KernelCall]]] = {
    nn.AdaptiveAvgPool2DOp: _lower_adaptive_avg_pool2d,
    nn.AddOp: _lower_binary,
    nn.AvgPool2DOp: _lower_avg_pool2d,
    nn.BatchNormOp: _lower_batch_norm,
    nn.ConcatOp: _lower_concat,
    nn.Conv2DOp: _lower_conv2d,
    nn.EluOp: _lower_activation,
    nn.GeluOp: _lower_activation,
    nn.HardswishOp: _lower_activation,
    nn.HardtanhOp: _lower_activation,
    nn.LeakyReluOp: _lower_activation,
    nn.LinearOp: _lower_linear,
    nn.LogSoftmaxOp: _softmax_lowering("log_softmax"),
    nn.LRNOp: _lower_lrn,
    nn.MaxPool2DOp: _lower_max_pool2d,
    nn.MulOp: _lower_binary,
    nn.Pad2DOp: _lower_pad2d,
    nn.PReluOp: _lower_binary,
    nn.ReluOp: _lower_activation,
    nn.SigmoidOp: _lower_activation,
    nn.SoftmaxOp: _softmax_lowering("softmax"),
    nn.TanhOp: _lower_activation,
}
"""`nn` op → the kernel calls that compute its result into one destination buffer."""

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
        elif isinstance(op, nn.SplatOp):
            splat = located(cpu.SplatOp(op.value.value.data, buffer_type(op.result.type)), op)
            splat.result.name_hint = op.result.name_hint
            self.buffers[op.result] = self.hoisted.insert(splat).result
        elif isinstance(op, VIEW_OPS):
            view = cpu.ViewOp(self.buffers[op.operands[0]], buffer_type(op.results[0].type))
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

    def _input(self, value: SSAValue | Null, user: Operation) -> SSAValue:
        if isinstance(value, Null):
            return self.body.insert(cpu.NullOp(buffer_type(nn.tensor(value.shape)))).result
        if value not in self.buffers:
            raise LoweringError(f"convert-nn-to-cpu: operand of '{user.name}' is not lowered")
        return self.buffers[value]

    def finish(self, returned: SSAValue) -> None:
        """Copy the result into the output sample unless a kernel wrote it there."""
        buffer = self.buffers[returned]
        if buffer is not self.output_sample:
            self.body.insert(
                cpu.CallOp("copy", [buffer], [self.output_sample], {"count": _count(returned)})
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
    loop = top.insert(scf.ForOp(zero, batch, one, [], Region(loop_body)))
    loop.attributes[PARALLEL_SAMPLES] = UnitAttr()
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
