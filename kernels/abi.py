"""The kernel contract: every C++ kernel that a `cpu.call` may name, declared once.

For each kernel the table gives its buffers (inputs, then outputs; optional ones may be
null), its named integer parameters and its named float parameters, in the order of the
C signature, grouped by the op family whose source file defines them (`kernels/<family>.cpp`,
or `kernels/conv/` for the convolutions). The shared constants (activation and binary-op
codes, tile sizes) live here too. Everything else derives from this file:

- `kernels/kernels.hpp`, the C declarations, is generated from it
  (`python -m mnistc.kernels.abi > kernels/kernels.hpp`; a test checks it is current);
- `cpu.call` verifies its callee, buffers and parameter names against it, and the `cpp`
  target orders the arguments by it;
- the lowering, the passes and the kernel tests build and read parameters by name.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ACTIVATIONS = (
    ("none", 0, ""),
    ("relu", 0, ""),
    ("hardtanh", 2, "clamp(x, alpha, beta)"),
    ("leaky_relu", 1, "x >= 0 ? x : alpha * x"),
    ("elu", 1, "x > 0 ? x : alpha * (exp(x) - 1)"),
    ("sigmoid", 0, ""),
    ("tanh", 0, ""),
    ("hardswish", 0, ""),
    ("gelu", 0, "exact, with erf"),
    ("gelu_tanh", 0, "tanh approximation"),
    ("silu", 0, "x * sigmoid(x)"),
    ("hardsigmoid", 2, "clamp(alpha * x + beta, 0, 1)"),
    # issue 12: activations and element-wise math (the unary ops fuse like activations)
    ("mish", 0, "x * tanh(softplus(x))"),
    ("softplus", 2, "x * alpha > beta ? x : log1p(exp(alpha * x)) / alpha"),
    ("softsign", 0, "x / (1 + |x|)"),
    ("selu", 0, "scale * (x > 0 ? x : alpha * (exp(x) - 1)), SELU's constants"),
    ("celu", 1, "max(0, x) + min(0, alpha * (exp(x / alpha) - 1))"),
    ("exp", 0, ""),
    ("log", 0, ""),
    ("sqrt", 0, ""),
    ("rsqrt", 0, "1 / sqrt(x)"),
    ("neg", 0, "-x"),
    ("abs", 0, "|x|"),
    ("pow", 1, "pow(x, alpha)"),
    ("reciprocal", 0, "1 / x"),
)
"""Activation kinds by code (MNISTC_ACTIVATION_*): name, how many of the float parameters
alpha and beta it takes, and what they mean. The `nn` dialect's fusable activations are
these kinds (but "none")."""
ACTIVATION_CODES = {name: code for code, (name, _, _) in enumerate(ACTIVATIONS)}

BINARY_OPS = (
    ("add", "lhs + rhs"),
    ("mul", "lhs * rhs"),
    ("prelu", "lhs >= 0 ? lhs : lhs * rhs"),
    # issue 12
    ("sub", "lhs - rhs"),
    ("div", "lhs / rhs"),
    ("max", "maximum(lhs, rhs), NaN wins"),
    ("min", "minimum(lhs, rhs), NaN wins"),
)
"""The `op` parameter of `binary` by code (MNISTC_BINARY_*)."""
BINARY_CODES = {name: code for code, (name, _) in enumerate(BINARY_OPS)}

REDUCE_OPS = (("sum", ""), ("mean", "the sum / the count"), ("max", ""), ("min", ""))
"""The `op` parameter of `reduce` by code (MNISTC_REDUCE_*)."""
REDUCE_CODES = {name: code for code, (name, _) in enumerate(REDUCE_OPS)}
RESIZE_MODES = (
    ("nearest_floor", "the pixel at floor(x)"),
    ("nearest_ceil", "the pixel at ceil(x)"),
    ("nearest_round_prefer_floor", "the nearest pixel, ties down"),
    ("nearest_round_prefer_ceil", "the nearest pixel, ties up"),
    ("linear", "linear interpolation of the two pixels around x"),
)
"""The `mode` of resize2d by code (MNISTC_RESIZE_*): how a source coordinate x becomes a value."""
RESIZE_CODES = {name: code for code, (name, _) in enumerate(RESIZE_MODES)}

CONV_MR = 4
"""Output channels per register tile of conv2d_packed."""
CONV_NR = 24
"""Output pixels per register tile of conv2d_packed."""
WINOGRAD_NR = 16
"""Output channels per GEMM block of conv2d_winograd."""
CHANNEL_BLOCK = 8
"""Input channels per vector in conv2d_winograd's packed weight (one AVX register)."""

# The GEMM core (kernels/gemm.hpp) and conv2d_gemm.
GEMM_MR = 6
"""Rows of A (output channels) per register tile and per packed weight panel."""
GEMM_NR = 16
"""Columns of B (output pixels) per register tile and per packed B panel."""
GEMM_KC = 256
"""Rows of B per packed block: a KC x NR panel (16 KB) stays in L1."""

# issue 12: LSTM and GRU (kernels/recurrent.cpp)
RECURRENT_ROWS = 8
"""Gate rows per panel of the packed recurrent weight: one vector of the step's GEMV."""

TILE_SIZES = {
    "CONV_MR": CONV_MR,
    "CONV_NR": CONV_NR,
    "WINOGRAD_NR": WINOGRAD_NR,
    "CHANNEL_BLOCK": CHANNEL_BLOCK,
    "GEMM_MR": GEMM_MR,
    "GEMM_NR": GEMM_NR,
    "GEMM_KC": GEMM_KC,
    "RECURRENT_ROWS": RECURRENT_ROWS,  # issue 12: LSTM and GRU
}
"""The tile sizes that the compiler's weight packing and the kernels share."""

ACTIVATION_FPARAMS = ("alpha", "beta")

STRIDED_RANK = 6
"""The rank of copy_strided's iteration space (dimensions d0..d5, input strides s0..s5)."""


@dataclass(frozen=True)
class Kernel:
    """One C++ kernel `mnistc_<name>(inputs..., outputs..., params..., fparams...)`."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: tuple[str, ...] = ()
    fparams: tuple[str, ...] = ()
    optional: frozenset[str] = frozenset()
    """Input buffers that may be null."""
    doc: str = ""

    @property
    def symbol(self) -> str:
        return f"mnistc_{self.name}"

    def arguments(self, values: Mapping[str, int | float]) -> list[int | float]:
        """The integer then float arguments, in the C signature's order."""
        missing = [n for n in (*self.params, *self.fparams) if n not in values]
        if missing:
            raise KeyError(f"{self.name}: missing parameters {', '.join(missing)}")
        return [values[n] for n in (*self.params, *self.fparams)]

    def declaration(self) -> str:
        """The C prototype, wrapped as clang-format would at 90 columns."""
        arguments = [
            *(f"const float* {n}" for n in self.inputs),
            *(f"float* {n}" for n in self.outputs),
            *(f"int64_t {n}" for n in self.params),
            *(f"float {n}" for n in self.fparams),
        ]
        head = f"void {self.symbol}("
        lines, line = [], head
        for i, argument in enumerate(arguments):
            text = argument + (");" if i == len(arguments) - 1 else ",")
            if len(line) + len(text) + (0 if line.endswith("(") else 1) > 90:
                lines.append(line)
                line = " " * len(head) + text
            else:
                line += text if line.endswith("(") else " " + text
        return "\n".join([*lines, line])


def _conv(name: str, weight: str, params: Sequence[str], doc: str) -> Kernel:
    return Kernel(
        name,
        inputs=("input", weight, "bias", "residual"),
        outputs=("output",),
        params=tuple(params),
        fparams=ACTIVATION_FPARAMS,
        optional=frozenset({"bias", "residual"}),
        doc=doc,
    )


_CONV_GEOMETRY = ("C", "H", "W", "K", "OH", "OW", "KH", "KW")
_WINDOW = ("KH", "KW", "stride_h", "stride_w", "pad_h", "pad_w")
_POOL_GEOMETRY = ("C", "H", "W", "OH", "OW", *_WINDOW)

KERNELS: dict[str, Kernel] = {
    k.name: k
    for k in (
        # conv (kernels/conv/*.cpp)
        _conv(
            "conv2d",
            "weight",
            (*_CONV_GEOMETRY, "stride_h", "stride_w", "pad_h", "pad_w", "dilation_h",
             "dilation_w", "groups", "activation"),  # fmt: skip
            "NCHW input [C,H,W], weight [K, C/groups, KH, KW], optional bias [K], optional\n"
            "residual [K,OH,OW] added after the bias, output [K,OH,OW] = act(conv + bias + "
            "residual).",
        ),
        _conv(
            "conv2d_packed",
            "packed_weight",
            (*_CONV_GEOMETRY, "pad_h", "pad_w", "dilation_h", "dilation_w", "groups",
             "activation"),  # fmt: skip
            "The fast path for stride-1 convolutions that the GEMM core does not take "
            "(depthwise, or\nfew output channels per group; any padding, dilation): a "
            "register-blocked micro-kernel\ncomputing MNISTC_CONV_MR output channels x "
            "MNISTC_CONV_NR pixels of one output row at a\ntime, reading the zero-padded "
            "input directly (no im2col).\n`packed_weight` is the weight pre-packed at "
            "compile time (mnistc/transforms/packing.py):\n[groups][ceil(K/groups / MR)]"
            "[C/groups * KH * KW][MR], zero-filled past the last channel.\nOther arguments "
            "as mnistc_conv2d.",
        ),
        # the GEMM core's convolution (kernels/conv/gemm.cpp)
        _conv(
            "conv2d_gemm",
            "packed_weight",
            (*_CONV_GEOMETRY, "stride_h", "stride_w", "pad_h", "pad_w", "dilation_h",
             "dilation_w", "groups", "activation"),  # fmt: skip
            "The fast path for convolutions with one group or a few (any kernel size, "
            "stride, padding,\ndilation): per group a GEMM on the GEMM core "
            "(kernels/gemm.hpp), output [K/g, OH*OW] =\nweight [K/g, C/g*KH*KW] . "
            "im2col(input), the im2col panels gathered straight from the\ninput (a 1x1 "
            "stride-1 convolution reads the input as the matrix). `packed_weight` is\n"
            "the weight packed at compile time (mnistc/transforms/packing.py): "
            "[groups][ceil(K/groups /\nMNISTC_GEMM_MR)][C/groups * KH * KW]"
            "[MNISTC_GEMM_MR], zero-filled past the last channel.\nOther arguments as "
            "mnistc_conv2d.",
        ),
        # depthwise (kernels/conv/depthwise.cpp)
        _conv(
            "conv2d_depthwise",
            "weight",
            (*_CONV_GEOMETRY, "stride_h", "stride_w", "pad_h", "pad_w", "activation"),
            "The fast path for depthwise convolutions with channel multiplier 1 (groups = C "
            "= K), a 3x3\nor 5x5 window (KH = KW), stride 1 or 2 (stride_h = stride_w), "
            "dilation 1 and any padding:\neach channel's zero-padded input plane in thread "
            "scratch, several output rows x 8\ncolumns accumulated in registers. `weight` "
            "as mnistc_conv2d's [C, 1, KH, KW]; other\narguments as mnistc_conv2d.",
        ),
        _conv(
            "conv2d_winograd",
            "packed_weight",
            ("C", "H", "W", "K", "OH", "OW", "pad_h", "pad_w", "pool", "activation"),
            "The fast path for 3x3 convolutions with stride 1, dilation 1 and one group: "
            "Winograd\nF(4x4, 3x3) (kernels/conv/winograd.cpp): a quarter of the "
            "multiplications of a direct\nconvolution. `packed_weight` is the weight "
            "transformed at compile time\n(mnistc/transforms/packing.py): U = G g G^T as "
            "[36][ceil(K / NR)][ceil(C / 8) * 8][NR],\nzero-filled past the last channel. "
            "`pool` = 2 applies a 2x2 stride-2 max pool to the\nactivated result (output "
            "[K, OH/2, OW/2]; then `residual` must be null), 0 none.\nOther arguments as "
            "mnistc_conv2d.",
        ),
        # Winograd on maps of few tiles (poolwino)
        _conv(
            "conv2d_winograd_raw",
            "raw_weight",
            ("C", "H", "W", "K", "OH", "OW", "pad_h", "pad_w", "pool", "activation"),
            "conv2d_winograd for maps of few tiles, on the untransformed weight: "
            "`raw_weight` is the\n3x3 weight in panels of NR output channels, "
            "[ceil(K / NR)][ceil(C / 8) * 8][9][NR],\nzero-filled "
            "(mnistc/transforms/packing.py), transformed panel by panel at run time:\na "
            "quarter of the bytes of U to stream when each weight serves few tiles. "
            "Other arguments\nas mnistc_conv2d_winograd.",
        ),
        # linear (kernels/linear.cpp)
        Kernel(
            "linear",
            ("input", "weight", "bias"),
            ("output",),
            ("M", "IN", "OUT", "activation"),
            ACTIVATION_FPARAMS,
            frozenset({"bias"}),
            "input [M, IN], weight [OUT, IN], optional bias [OUT], output [M, OUT].",
        ),
        # pool (kernels/pool.cpp)
        Kernel(
            "max_pool2d",
            ("input",),
            ("output",),
            (*_POOL_GEOMETRY, "dilation_h", "dilation_w"),
            doc="Max over windows; padded positions never win (PyTorch semantics).",
        ),
        Kernel(
            "avg_pool2d",
            ("input",),
            ("output",),
            (*_POOL_GEOMETRY, "count_include_pad", "divisor"),
            doc="Average over windows, dividing as PyTorch does: by `divisor` if non-zero, "
            "else by the\nwindow clipped to the padded input (count_include_pad) or to the "
            "input.",
        ),
        Kernel(
            "adaptive_avg_pool2d",
            ("input",),
            ("output",),
            ("C", "H", "W", "OH", "OW"),
            doc="Average over PyTorch's adaptive windows [floor(i*H/OH), ceil((i+1)*H/OH)).",
        ),
        # activation (kernels/activation.cpp)
        Kernel(
            "activation",
            ("input",),
            ("output",),
            ("count", "activation"),
            ACTIVATION_FPARAMS,
            doc="Element-wise activation of `count` values.",
        ),
        Kernel(
            "glu",
            ("input",),
            ("output",),
            ("outer", "half"),
            doc="Gated linear unit of [outer, 2, half]: output [outer, half] = a * "
            "sigmoid(b), a and b\nthe two halves.",
        ),
        # norm (kernels/norm.cpp)
        Kernel(
            "batch_norm",
            ("input", "mean", "var", "gamma", "beta"),
            ("output",),
            ("C", "inner"),
            ("eps",),
            doc="Inference batch norm of [C, inner]: (x - mean) / sqrt(var + eps) * gamma "
            "+ beta.",
        ),
        Kernel(
            "lrn",
            ("input",),
            ("output",),
            ("C", "inner", "size"),
            ("alpha", "beta", "bias"),
            doc="Local response normalisation of [C, inner] across channels (ONNX LRN "
            "semantics).",
        ),
        Kernel(
            "layer_norm",
            ("input", "weight", "bias"),
            ("output",),
            ("outer", "inner"),
            ("eps",),
            frozenset({"weight", "bias"}),
            "Layer norm of [outer, inner] over `inner`: (x - mean) / sqrt(var + eps) * "
            "weight + bias,\nthe biased variance; optional weight and bias [inner].",
        ),
        Kernel(
            "group_norm",
            ("input", "weight", "bias"),
            ("output",),
            ("C", "groups", "inner"),
            ("eps",),
            frozenset({"weight", "bias"}),
            "Group norm of [C, inner]: each of `groups` groups of C / groups channels "
            "normalised as\nlayer_norm, then scaled and shifted per channel by optional "
            "weight and bias [C].",
        ),
        # elementwise (kernels/elementwise.cpp)
        Kernel(
            "binary",
            ("lhs", "rhs"),
            ("output",),
            ("op", "d0", "d1", "d2", "d3", "l0", "l1", "l2", "l3", "r0", "r1", "r2", "r3",
             "activation"),  # fmt: skip
            ACTIVATION_FPARAMS,
            doc="output[i0,i1,i2,i3] = act(lhs[...] op rhs[...]) over a rank-4 output shape; "
            "each operand\nis read through its own strides (0 where it broadcasts); `op` "
            "is an MNISTC_BINARY_* code.",
        ),
        # reduce (kernels/reduce.cpp)
        Kernel(
            "reduce",
            ("input",),
            ("output",),
            ("op", "d0", "d1", "d2", "d3", "r0", "r1", "r2", "r3"),
            doc="Reduction of a dense rank-4 input [d0, d1, d2, d3] over the dims i with "
            "ri = 1; the\noutput holds the kept dims, dense. `op` is an MNISTC_REDUCE_* "
            "code; max and min\npropagate NaN, as PyTorch does.",
        ),
        # shape (kernels/shape.cpp)
        Kernel(
            "pad2d",
            ("input",),
            ("output",),
            ("C", "H", "W", "top", "left", "bottom", "right"),
            ("value",),
            doc="Constant padding of each of C planes [H, W] by top, left, bottom, right.",
        ),
        Kernel(
            "copy_block",
            ("input",),
            ("output",),
            ("outer", "inner", "out_stride", "offset"),
            doc="For o < outer: output[o * out_stride + offset + i] = input[o * inner + i], "
            "i < inner.\nOne call per input of a concatenation.",
        ),
        Kernel("copy", ("input",), ("output",), ("count",), doc="output = input."),
        Kernel(
            "copy_strided",
            ("input",),
            ("output",),
            (
                *(f"d{i}" for i in range(STRIDED_RANK)),
                *(f"s{i}" for i in range(STRIDED_RANK)),
                "offset",
                "out_offset",
            ),
            doc=f"output[out_offset + (i0,...,i{STRIDED_RANK - 1})] = input[offset + i0 * s0 + ... + "
            f"i{STRIDED_RANK - 1} * s{STRIDED_RANK - 1}]\nover the contiguous "
            "shape [d0, ...]; a stride may be 0 (broadcast) or negative. Transposes,\n"
            "slices and expansions, merged by the lowering to this rank (one call per "
            "index of the\ndimensions beyond it).",
        ),
        # softmax (kernels/softmax.cpp)
        Kernel(
            "softmax",
            ("input",),
            ("output",),
            ("outer", "axis", "inner"),
            doc="Softmax over the middle axis of a tensor seen as [outer, axis, inner].",
        ),
        Kernel(
            "log_softmax",
            ("input",),
            ("output",),
            ("outer", "axis", "inner"),
            doc="Log-softmax over the middle axis of a tensor seen as [outer, axis, inner].",
        ),
        # decoders: transposed convolution (kernels/conv/transpose.cpp), edge padding
        # (kernels/shape.cpp), resizing (kernels/resample.cpp)
        Kernel(
            "conv_transpose2d",
            ("input", "weight", "bias"),
            ("output",),
            (*_CONV_GEOMETRY, "stride_h", "stride_w", "pad_h", "pad_w", "dilation_h",
             "dilation_w", "groups", "activation"),  # fmt: skip
            ACTIVATION_FPARAMS,
            frozenset({"bias"}),
            "Transposed convolution: input [C,H,W], weight [C, K/groups, KH, KW] (PyTorch's "
            "layout),\noptional bias [K], output [K,OH,OW] = act(conv_transpose + bias); "
            "output pixel (oh, ow)\nreceives input (h, w) through tap (i, j) where "
            "oh = h*stride_h - pad_h + i*dilation_h.",
        ),
        Kernel(
            "pad2d_edge",
            ("input",),
            ("output",),
            ("C", "H", "W", "top", "left", "bottom", "right", "reflect"),
            doc="Padding of each of C planes [H, W] from the plane's own edge: mirrored "
            "about the edge\npixel (reflect = 1, pads < H and W) or repeating it (reflect "
            "= 0).",
        ),
        Kernel(
            "resize2d",
            ("input",),
            ("output",),
            ("C", "H", "W", "OH", "OW", "mode", "divide"),
            ("scale_h", "scale_w", "shift_h", "shift_w", "offset_h", "offset_w"),
            doc="Resize of each of C planes [H, W] to [OH, OW]: output pixel i of a "
            "dimension reads the\ninput at x = (i + shift) * scale + offset, or (i + shift) "
            "/ scale + offset with `divide`\n(float32), by `mode` (MNISTC_RESIZE_*).",
        ),
        # issue 12: recurrent layers (kernels/recurrent.cpp)
        Kernel(
            "lstm",
            ("input", "weight_ih", "weight_hh", "bias_ih", "bias_hh", "h0", "c0"),
            ("output",),
            ("T", "F", "H", "directions", "packed"),
            optional=frozenset({"bias_ih", "bias_hh", "h0", "c0"}),
            doc="One LSTM layer (nn.lstm) on a sequence input [T, F]: weight_ih [D*4H, F], "
            "weight_hh\n[D*4H, H], optional biases [D*4H], optional initial states h0 and "
            "c0 [D, H] (zero if\nnull), D = `directions` (1 or 2). output [T + 1, D*H]: every "
            "step's h, then the final c\nof each direction. With `packed` the weights "
            "are packed at compile time\n(mnistc/transforms/packing.py): weight_ih per "
            "direction as the GEMM core's A\n([D][ceil(4H / MNISTC_GEMM_MR)][F][MNISTC_GEMM_MR]), "
            "weight_hh in panels of\nMNISTC_RECURRENT_ROWS rows ([D][ceil(4H / ROWS)][H][ROWS]), "
            "zero-filled; else as stored.",
        ),
        Kernel(
            "gru",
            ("input", "weight_ih", "weight_hh", "bias_ih", "bias_hh", "h0"),
            ("output",),
            ("T", "F", "H", "directions", "packed"),
            optional=frozenset({"bias_ih", "bias_hh", "h0"}),
            doc="One GRU layer (nn.gru), 3 gates (r, z, n) in place of 4, output [T, D*H]: "
            "every step's h;\nother arguments as mnistc_lstm.",
        ),
    )
}
"""Every kernel by `cpu.call` callee name."""


def kernel(name: str) -> Kernel:
    """The kernel a `cpu.call @name` calls; KeyError naming the known ones if none."""
    try:
        return KERNELS[name]
    except KeyError:
        raise KeyError(f"no kernel '{name}' (known: {', '.join(sorted(KERNELS))})") from None


def _comment(text: str) -> list[str]:
    return [f"// {line}".rstrip() for line in text.splitlines()]


def _enum(prefix: str, entries: Sequence[tuple[str, str]]) -> list[str]:
    names = [f"  MNISTC_{prefix}_{name.upper()} = {code}," for code, (name, _) in enumerate(entries)]
    width = max(map(len, names)) + 2
    lines = [f"{n:<{width}}// {meaning}" if meaning else n for n, (_, meaning) in zip(names, entries)]
    return ["enum {", *lines, "};"]


def render_header() -> str:
    """The text of kernels/kernels.hpp."""
    lines = [
        "// mnistc kernels: the operators that generated code calls, one function per "
        "`cpu.call`.",
        "//",
        "// GENERATED from kernels/abi.py by `python -m mnistc.kernels.abi`: edit the table "
        "there.",
        "// Buffers are dense row-major float32 (optional ones may be nullptr): inputs, "
        "then",
        "// outputs, then the int64_t params, then the float params. Every kernel "
        "processes one",
        "// sample (batch dimension 1) and parallelises with OpenMP; the C ABI lets tests "
        "call them",
        "// through ctypes.",
        "#pragma once",
        "",
        "#include <stdint.h>",
        "",
        "#ifdef __cplusplus",
        'extern "C" {',
        "#endif",
        "",
        "// Activations, applied element-wise or in an epilogue, with two float parameters",
        "// (alpha, beta) whose meaning depends on the kind.",
        *_enum("ACTIVATION", [(name, meaning) for name, _, meaning in ACTIVATIONS]),
        f"#define MNISTC_ACTIVATION_COUNT {len(ACTIVATIONS)}",
        "",
        "// The `op` of mnistc_binary.",
        *_enum("BINARY", BINARY_OPS),
        "",
        "// The `op` of mnistc_reduce.",
        *_enum("REDUCE", REDUCE_OPS),
        "// The `mode` of mnistc_resize2d.",
        *_enum("RESIZE", RESIZE_MODES),
        "",
        "// Tile sizes shared with the compile-time weight packing.",
        *(f"#define MNISTC_{name} {value}" for name, value in TILE_SIZES.items()),
    ]
    for k in KERNELS.values():
        lines += ["", *_comment(k.doc), k.declaration()]
    lines += ["", "#ifdef __cplusplus", '}  // extern "C"', "#endif", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render_header())
