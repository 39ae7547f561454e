"""The `cpp` target: prints C++ from the `cpu` loop/call level.

The output is one translation unit that includes `kernels.hpp`, embeds the weight
file with the assembler's `.incbin` (so the executable needs no file at run time),
places planned buffers in one static arena and the kernels' planned scratch beside it
(per thread both), and defines the C ABI of `kernels/model_api.hpp` around the entry
function. Weights or per-thread buffers over
`STATIC_STORAGE_LIMIT` are refused before any of it is written.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import IO

from xdsl.context import Context
from xdsl.dialects import arith, func, memref, scf
from xdsl.dialects.builtin import IntegerAttr, MemRefType, ModuleOp, StringAttr
from xdsl.ir import Operation, SSAValue
from xdsl.utils.target import Target

from mnistc import weights as weight_files
from mnistc.importers.common import imported_whole
from mnistc.preprocessing import ATTRIBUTE as PREPROCESSING
from mnistc.dialects import cpu
from mnistc.dialects.shapes import element_count, shape_of
from mnistc.errors import MnistcError
from mnistc.lowering.convert_nn_to_cpu import lowered_signature
from mnistc.memory import PlannedMemory
from mnistc.memory.plan_memory import planned_scratch, scratch_bytes

ENTRY = "forward"

STATIC_STORAGE_LIMIT = 2**31 - 2**26
"""The most bytes of weights, and separately of one thread's buffers, that the generated
code may hold: g++'s default (small) code model on x86-64 reaches static data and
thread-local storage through signed 32-bit offsets, 2 GiB, of which 64 MiB are kept for
the code and the C++ runtime. Beyond it the linker fails with "relocation truncated"."""


class CppEmissionError(MnistcError):
    pass


CPP_KEYWORDS = frozenset(
    "alignas alignof and asm auto bitand bitor bool break case catch char class compl const "
    "constexpr const_cast continue decltype default delete do double dynamic_cast else enum "
    "explicit export extern false float for friend goto if inline int long mutable namespace "
    "new noexcept not nullptr operator or private protected public register "
    "reinterpret_cast return short signed sizeof static static_assert static_cast struct "
    "switch template this thread_local throw true try typedef typeid typename union "
    "unsigned using virtual void volatile wchar_t while xor".split()
)
"""Names a value hint may not take (torch.export names a lifted constant `const`)."""


@dataclass
class _Names:
    """Unique, valid C++ identifiers for SSA values, from their name hints."""

    names: dict[SSAValue, str] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def __getitem__(self, value: SSAValue) -> str:
        if value not in self.names:
            self.names[value] = self.fresh(value.name_hint or "v")
        return self.names[value]

    def fresh(self, hint: str) -> str:
        """An identifier not used yet, from `hint`."""
        base = re.sub(r"\W", "_", hint)
        base = base if not base[0].isdigit() else f"v{base}"
        name, i = base, 0
        while name in self.used or name in CPP_KEYWORDS:
            i += 1
            name = f"{base}_{i}"
        self.used.add(name)
        return name

    def alias(self, value: SSAValue, name: str) -> None:
        self.names[value] = name


class _FunctionPrinter:
    """Prints the body of the lowered entry function as C++ statements."""

    def __init__(self, out: IO[str], batch_arg: str):
        self.out = out
        self.names = _Names()
        self.batch_arg = batch_arg
        self.depth = 1
        self.calls: list[str] = []
        """What each kernel call computes, by profile index: `kernel -> output buffer`."""
        self.flops: list[int] = []
        """Each call's direct-equivalent floating-point operations (kernels/abi.py)."""

    def line(self, text: str) -> None:
        self.out.write("  " * self.depth + text + "\n")

    def print_ops(self, ops) -> None:
        for op in ops:
            self.print_op(op)

    def _print_body(self, loop: scf.ForOp) -> None:
        self.depth += 1
        self.print_ops(loop.body.block.ops)
        self.depth -= 1

    def print_op(self, op: Operation) -> None:
        names = self.names
        match op:
            case arith.ConstantOp():
                value = op.value
                assert isinstance(value, IntegerAttr)
                self.line(f"const int64_t {names[op.result]} = {value.value.data};")
            case memref.DimOp():
                names.alias(op.result, self.batch_arg)
            case scf.ForOp():
                i = names[op.body.block.args[0]]
                lb, ub, step = names[op.lb], names[op.ub], names[op.step]
                if "cpu.parallel_samples" not in op.attributes:
                    self.line(f"for (int64_t {i} = {lb}; {i} < {ub}; {i} += {step}) {{")
                    self._print_body(op)
                    self.line("}")
                    return
                # Enough samples for every thread: one sample per thread at a time, the
                # kernels single-threaded inside; otherwise threads inside the kernels.
                self.line(f"auto sample = [&](int64_t {i}) {{")
                self._print_body(op)
                self.line("};")
                self.line(f"if ({ub} - {lb} >= 2 * omp_get_max_threads()) {{")
                self.line("#pragma omp parallel for schedule(dynamic)")
                self.line(f"  for (int64_t {i} = {lb}; {i} < {ub}; {i} += {step}) sample({i});")
                self.line("} else {")
                self.line(f"  for (int64_t {i} = {lb}; {i} < {ub}; {i} += {step}) sample({i});")
                self.line("}")
            case scf.YieldOp() | func.ReturnOp():
                pass
            case cpu.SampleOp():
                stride = element_count(shape_of(op.batch.type)[1:])
                self.line(
                    f"auto* {names[op.result]} = {names[op.batch]} + {names[op.index]} * {stride};"
                )
            case cpu.WeightOp():
                c_type = cpu.element_c_type(op.result.type)
                self.line(
                    f"const {c_type}* {names[op.result]} = "
                    f"reinterpret_cast<const {c_type}*>(mnistc_weights + {op.offset.value.data});"
                )
            case cpu.SplatOp():
                # Static storage, zeros until filled once (thread-safe, on the first run).
                name, count = names[op.result], element_count(shape_of(op.result.type))
                self.line(f"alignas(64) static float {name}[{count}];")
                if op.value.value.data != 0:
                    filled = names.fresh(f"{name}_filled")
                    value = _float_literal(op.value.value.data)
                    self.line(f"static const bool {filled} = (std::fill_n({name}, {count}, {value}), true);")
                    self.line(f"(void){filled};")
            case cpu.NullOp():
                names.alias(op.result, "nullptr")
            case cpu.ViewOp():
                offset = op.offset.value.data if op.offset is not None else 0
                source = names[op.source]
                names.alias(op.result, f"({source} + {offset})" if offset else source)
            case cpu.ArenaSlotOp():
                c_type = cpu.element_c_type(op.result.type)
                self.line(
                    f"{c_type}* {names[op.result]} = "
                    f"reinterpret_cast<{c_type}*>(arena + {op.offset.value.data});"
                )
            case memref.AllocOp():
                count = element_count(shape_of(op.memref.type))
                c_type = cpu.element_c_type(op.memref.type)
                self.line(f"alignas(64) static thread_local {c_type} {names[op.memref]}[{count}];")
            case cpu.CallOp():
                kernel = op.kernel
                args = [names[v] for v in (*op.inputs, *op.outputs)]
                args += [str(op.param(n)) for n in kernel.params]
                args += [_float_literal(op.param(n)) for n in kernel.fparams]
                index = len(self.calls)
                self.calls.append(f"{kernel.name} -> {names[op.outputs[0]]}")
                self.flops.append(kernel.flop_count(op.param_values()))
                self.line(f"{{ CallTimer timer({index}); {kernel.symbol}({', '.join(args)}); }}")
            case _:
                raise CppEmissionError(f"cpp target: cannot print '{op.name}'")


def _float_literal(value: float) -> str:
    """A C++ float literal that rounds to the same float32."""
    if value != value or value in (float("inf"), float("-inf")):
        return {"nan": "NAN", "inf": "INFINITY", "-inf": "-INFINITY"}[repr(value)]
    return f"{value:.9g}f" if ("e" in f"{value:.9g}" or "." in f"{value:.9g}") else f"{value:.9g}.0f"


def _entry(module: ModuleOp) -> func.FuncOp:
    for op in module.ops:
        if isinstance(op, func.FuncOp) and op.sym_name.data == ENTRY:
            return op
    raise CppEmissionError(f"cpp target: no function @{ENTRY} in the module")


Signature = tuple[list[tuple[str, MemRefType]], list[tuple[str, MemRefType]]]
"""The model's inputs and outputs, each as (name, batched memref type)."""


def _check_lowered(function: func.FuncOp) -> Signature:
    """The lowered entry's inputs and outputs, refused unless it is lowered."""
    inputs, outputs = lowered_signature(function)
    if (
        function.function_type.outputs.data
        or not inputs
        or not outputs
        or not all(isinstance(a.type, MemRefType) for _, a in (*inputs, *outputs))
    ):
        raise CppEmissionError(
            f"cpp target: @{ENTRY} must be lowered first "
            "(run convert-nn-to-cpu: it takes the input and output memrefs)"
        )
    return [(n, a.type) for n, a in inputs], [(n, a.type) for n, a in outputs]


def _int_attr(function: func.FuncOp, key: str) -> int:
    attr = function.attributes.get(key)
    return attr.value.data if isinstance(attr, IntegerAttr) else 0


def buffer_bytes_per_thread(function: func.FuncOp) -> int:
    """The per-thread storage of one sample's buffers: the arena, and every buffer that
    `plan-memory` left as `memref.alloc` (all of them at -O0), each 64-byte aligned."""
    total = _int_attr(function, "cpu.arena_size")
    for op in function.walk():
        if isinstance(op, memref.AllocOp):
            total += -(-cpu.buffer_size(op.memref.type) // 64) * 64
    return total


def static_weight_bytes(ctx: Context, module: ModuleOp, weights: str | None = None) -> int:
    """The weights the program holds: the embedded file and the constant splats."""
    weights = weights if weights is not None else _weights_file(module)
    weight_bytes = (weight_files.size(ctx, weights) or 0) if weights else 0
    splats = (op for op in _entry(module).walk() if isinstance(op, cpu.SplatOp))
    return weight_bytes + sum(4 * element_count(shape_of(op.result)) for op in splats)


def planned_memory(ctx: Context, module: ModuleOp, weights: str | None = None) -> PlannedMemory:
    """What the printed program holds: weights, and per thread buffers and scratch."""
    function = _entry(module)
    return PlannedMemory(
        static_weight_bytes(ctx, module, weights),
        buffer_bytes_per_thread(function),
        scratch_bytes(function),
    )


def check_storage_limits(weight_bytes: int, thread_bytes: int) -> None:
    """Refuse, before any C++ is compiled, storage that the linker could not place."""
    for what, size, hint in (
        ("the weights", weight_bytes, "weights this large are not supported"),
        ("the buffers of one sample", thread_bytes, "a smaller input shape needs less"),
    ):
        if size > STATIC_STORAGE_LIMIT:
            raise CppEmissionError(
                f"cpp target: {what} take {size} bytes ({size / 2**30:.2f} GiB), over the "
                f"limit of {STATIC_STORAGE_LIMIT} bytes (2 GiB less 64 MiB for code) that "
                f"x86-64's small code model can address; {hint}"
            )


@dataclass(frozen=True)
class CppTarget(Target):
    """Options: `weights` overrides the module's `nn.weights_file` for `.incbin`."""

    name = "cpp"
    weights: str = ""

    def emit(self, ctx: Context, module: ModuleOp, output: IO[str]) -> None:
        function = _entry(module)
        inputs, outputs = _check_lowered(function)
        weights = self.weights or _weights_file(module)
        memory = planned_memory(ctx, module, weights)
        check_storage_limits(memory.weights, memory.arena + memory.scratch)
        arena = _int_attr(function, "cpu.arena_size")
        output.write(_PROLOGUE)
        if weights:
            output.write(_INCBIN.format(path=weights.replace('"', '\\"')))
        else:
            output.write("alignas(64) static const unsigned char mnistc_weights[1] = {0};\n")
        if arena:
            output.write(
                "\n// One arena per thread: samples may run in parallel.\n"
                f"alignas(64) static thread_local unsigned char arena[{arena}];\n"
            )
        output.write(_scratch_storage(planned_scratch(function)))
        body = io.StringIO()
        printer = _FunctionPrinter(body, "batch")
        arguments = function.body.block.args
        for i, argument in enumerate(arguments[: len(inputs)]):
            printer.names.alias(argument, f"inputs[{i}]")
        for i, argument in enumerate(arguments[len(inputs) :]):
            printer.names.alias(argument, f"outputs[{i}]")
        printer.names.used.update(_RESERVED_NAMES)
        printer.print_ops(function.body.block.ops)
        names = ",\n".join(f'    "{call}"' for call in printer.calls)
        flops = ", ".join(map(str, printer.flops)) or "0"
        output.write(_PROFILE.format(count=len(printer.calls), names=names or '    ""', flops=flops))
        output.write(
            f"\nstatic void {ENTRY}(const float* const* inputs, float* const* outputs, int64_t batch) {{\n"
        )
        output.write(body.getvalue())
        output.write("}\n")
        output.write(_signature_tables(inputs, outputs))
        output.write(
            _ABI.format(
                entry=ENTRY,
                preprocessing=_c_string(_preprocessing(module)),
                whole=_c_string(imported_whole(module) or ""),
                whole_check=WHOLE_CHECK if imported_whole(module) is not None else "",
                weight_bytes=memory.weights,
                buffer_bytes=memory.arena,
                scratch_bytes=memory.scratch,
            )
        )


WHOLE_CHECK = "\n  if (batch != 1) return 1;  // imported whole: exactly one input of its fixed shape"
"""The batch check of a model imported whole (`mnistc.importers.common.import_following_the_batch`)."""


def _signature_tables(inputs, outputs) -> str:
    """The names, sample sizes and sample shapes ("CxHxW") of the inputs and outputs."""

    def tables(kind: str, entries) -> str:
        shapes = [shape_of(t)[1:] for _, t in entries]
        return _SIGNATURE.format(
            kind=kind,
            count=len(entries),
            names=", ".join(_c_string(name) for name, _ in entries),
            sizes=", ".join(str(element_count(s)) for s in shapes),
            shapes=", ".join(_c_string("x".join(map(str, s))) for s in shapes),
        )

    return tables("input", inputs) + tables("output", outputs)


def _scratch_storage(slots: tuple[int, ...]) -> str:
    """Each thread's planned scratch slots and the `mnistc_scratch` the kernels call."""
    arrays = "".join(
        f"alignas(64) static thread_local float scratch_{i}[{max(floats, 1)}];\n"
        for i, floats in enumerate(slots)
    )
    return _SCRATCH.format(
        count=len(slots),
        planned=", ".join(map(str, slots)),
        arrays=arrays,
        slots=", ".join(f"scratch_{i}" for i in range(len(slots))),
    )


def _preprocessing(module: ModuleOp) -> str:
    """The JSON of `mnistc.preprocessing` (mnistc/preprocessing.py), or "" if none."""
    attr = module.attributes.get(PREPROCESSING)
    return attr.data if isinstance(attr, StringAttr) else ""


def _c_string(text: str) -> str:
    """A C string literal of `text`: quotes and backslashes escaped, and every byte of
    its UTF-8 outside printable ASCII as an octal escape (model names are any text)."""
    escaped = []
    for byte in text.encode():
        char = chr(byte)
        if char in '"\\':
            escaped.append("\\" + char)
        elif 32 <= byte < 127:
            escaped.append(char)
        else:
            escaped.append(f"\\{byte:03o}")
    return '"' + "".join(escaped) + '"'


def _weights_file(module: ModuleOp) -> str:
    attr = module.attributes.get(weight_files.ATTRIBUTE)
    if isinstance(attr, StringAttr):
        return attr.data
    if any(isinstance(op, cpu.WeightOp) for op in module.walk()):
        raise CppEmissionError(
            f"cpp target: the module reads weights but has no '{weight_files.ATTRIBUTE}' "
            "attribute (or give cpp{weights=FILE})"
        )
    return ""


_PROLOGUE = """\
// Generated by mnistc. Do not edit.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels.hpp"
#include "model_api.hpp"
#include "thread_governor.hpp"
"""

_INCBIN = """
// The weight file, embedded by the assembler (found through -Wa,-I<dir>).
__asm__(".section .rodata\\n"
        ".balign 64\\n"
        ".type mnistc_weights, @object\\n"
        "mnistc_weights:\\n"
        ".incbin \\"{path}\\"\\n"
        ".previous\\n");
extern "C" const unsigned char mnistc_weights[];
"""

_SCRATCH = """
// Kernel scratch, per thread, by slot (kernel_support.hpp's scratch()): as plan-memory
// planned it from each call's need (kernels/abi.py). More than planned is a wrong
// formula, and writing past the plan would corrupt memory: stop instead.
static const int64_t scratch_planned[{count}] = {{{planned}}};
{arrays}extern "C" [[noreturn]] void mnistc_scratch_exceeded(int64_t slot, int64_t floats, int64_t planned);
extern "C" float* mnistc_scratch(int64_t slot, int64_t floats) {{
  float* const slots[{count}] = {{{slots}}};
  if (floats > scratch_planned[slot]) mnistc_scratch_exceeded(slot, floats, scratch_planned[slot]);
  return slots[slot];
}}
"""

_RESERVED_NAMES = {
    "input", "output", "inputs", "outputs", "batch", "arena", "mnistc_weights", "sample", "timer", "CallTimer",
    "profiling", "profile_count", "profile_names", "profile_seconds", "governor",
    "profile_flops", "scratch_planned", *(f"{k}_{t}" for k in ("input", "output")
    for t in ("count", "names", "sizes", "shapes")), *(f"scratch_{i}" for i in range(8)),
}  # fmt: skip
"""Identifiers of the generated C++ that no SSA value may take."""

_SIGNATURE = """
static const int64_t {kind}_count = {count};
static const char* const {kind}_names[] = {{{names}}};
static const int64_t {kind}_sizes[] = {{{sizes}}};
static const char* const {kind}_shapes[] = {{{shapes}}};
"""

_PROFILE = """
// Per-call wall time for `--profile` (mnistc_model_profile_*): one well-predicted branch
// per kernel call when off.
static const int64_t profile_count = {count};
static const char* const profile_names[] = {{
{names}
}};
static const int64_t profile_flops[] = {{{flops}}};
static double profile_seconds[sizeof profile_names / sizeof *profile_names];
static bool profiling = false;

struct CallTimer {{
  explicit CallTimer(int index) : index(index), start(profiling ? omp_get_wtime() : 0.0) {{}}
  ~CallTimer() {{
    if (!profiling) return;
    const double elapsed = omp_get_wtime() - start;
#pragma omp atomic
    profile_seconds[index] += elapsed;
  }}
  int index;
  double start;
}};
"""

_ABI = """
// All threads or one, run by run: see thread_governor.hpp (threads under contention).
static mnistc::ThreadGovernor governor;

extern "C" int mnistc_model_run_n(const float* const* inputs, float* const* outputs, int64_t batch) {{
  if (batch < 0 || (batch > 0 && (inputs == nullptr || outputs == nullptr))) return 1;{whole_check}
  for (int64_t i = 0; batch > 0 && i < input_count; ++i)
    if (inputs[i] == nullptr) return 1;
  for (int64_t i = 0; batch > 0 && i < output_count; ++i)
    if (outputs[i] == nullptr) return 1;
  mnistc::run_governed(governor, batch, [&] {{ {entry}(inputs, outputs, batch); }});
  return 0;
}}

extern "C" int mnistc_model_run(const float* input, float* output, int64_t batch) {{
  if (input_count != 1 || output_count != 1) return 2;
  return mnistc_model_run_n(&input, &output, batch);
}}

extern "C" int64_t mnistc_model_num_inputs(void) {{ return input_count; }}
extern "C" int64_t mnistc_model_num_outputs(void) {{ return output_count; }}
extern "C" const char* mnistc_model_input_name(int64_t i) {{
  return i >= 0 && i < input_count ? input_names[i] : nullptr;
}}
extern "C" const char* mnistc_model_output_name(int64_t i) {{
  return i >= 0 && i < output_count ? output_names[i] : nullptr;
}}
extern "C" int64_t mnistc_model_input_size_of(int64_t i) {{
  return i >= 0 && i < input_count ? input_sizes[i] : -1;
}}
extern "C" int64_t mnistc_model_output_size_of(int64_t i) {{
  return i >= 0 && i < output_count ? output_sizes[i] : -1;
}}
extern "C" const char* mnistc_model_input_shape_of(int64_t i) {{
  return i >= 0 && i < input_count ? input_shapes[i] : nullptr;
}}
extern "C" const char* mnistc_model_output_shape_of(int64_t i) {{
  return i >= 0 && i < output_count ? output_shapes[i] : nullptr;
}}
extern "C" int64_t mnistc_model_input_size(void) {{ return input_sizes[0]; }}
extern "C" int64_t mnistc_model_output_size(void) {{ return output_sizes[0]; }}
extern "C" const char* mnistc_model_input_shape(void) {{ return input_shapes[0]; }}
extern "C" const char* mnistc_model_preprocessing(void) {{ return {preprocessing}; }}
extern "C" const char* mnistc_model_imported_whole(void) {{ return {whole}; }}
extern "C" int64_t mnistc_model_weight_bytes(void) {{ return {weight_bytes}; }}
extern "C" int64_t mnistc_model_buffer_bytes(void) {{ return {buffer_bytes}; }}
extern "C" int64_t mnistc_model_scratch_bytes(void) {{ return {scratch_bytes}; }}

extern "C" void mnistc_model_profile(int enable) {{
  if (enable)
    for (double& seconds : profile_seconds) seconds = 0.0;
  profiling = enable != 0;
}}
extern "C" int64_t mnistc_model_profile_count(void) {{ return profile_count; }}
extern "C" const char* mnistc_model_profile_name(int64_t i) {{
  return i >= 0 && i < profile_count ? profile_names[i] : nullptr;
}}
extern "C" double mnistc_model_profile_seconds(int64_t i) {{
  return i >= 0 && i < profile_count ? profile_seconds[i] : 0.0;
}}
extern "C" int64_t mnistc_model_profile_flops(int64_t i) {{
  return i >= 0 && i < profile_count ? profile_flops[i] : 0;
}}
"""
