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
- the lowering, the passes and the kernel tests build and read parameters by name;
- plan-memory reserves each call's scratch by the kernel's `scratch` formula, and the
  profile, `mnistc report` and `mnistc bench` divide by its `flops` formula.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

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
    # activations and element-wise math (the unary ops fuse like activations)
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
    ("sub", "lhs - rhs"),
    ("div", "lhs / rhs"),
    ("max", "maximum(lhs, rhs), NaN wins"),
    ("min", "minimum(lhs, rhs), NaN wins"),
    ("powf", "powf(lhs, rhs), element by element"),
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
GEMM_NC = 384
"""Columns of B per packed block: a KC x NC block (384 KB) stays in L2."""

ATTENTION_QUERY_BLOCK = 8 * GEMM_MR
"""Query rows per attention block (kernels/matmul.cpp): the block's scores (48 x S floats,
38 KB for 197 keys) and their packed copy stay in L2 between the two products; a
multiple of GEMM_MR, so that only the last block has a partial register tile."""

# LSTM and GRU (kernels/recurrent.cpp)
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
    "GEMM_NC": GEMM_NC,
    "ATTENTION_QUERY_BLOCK": ATTENTION_QUERY_BLOCK,
    "RECURRENT_ROWS": RECURRENT_ROWS,
}
"""The tile sizes that the compiler's weight packing and the kernels share."""

ELEMENT_TYPES = {"f32": "float", "i8": "int8_t", "i32": "int32_t"}
"""The buffer element types a kernel may take: the MLIR name (a memref's element type)
and the C type."""

# --- int8 (kernels/quant.cpp) ---
QUANT_MR = 16
"""Output channels per panel of a packed int8 weight: one vector of 16 int32 lanes."""
QUANT_KR = 4
"""Consecutive reduction elements of one channel in a packed int8 weight (and in an
im2col panel): the 4 bytes that one int32 lane of `vpdpbusd` sums."""
QUANT_NR = 16
"""Output pixels per im2col panel of qconv2d."""
QUANT_TILE_SIZES = {"QUANT_MR": QUANT_MR, "QUANT_KR": QUANT_KR, "QUANT_NR": QUANT_NR}
TILE_SIZES |= QUANT_TILE_SIZES
# --- end of the int8 block ---

ACTIVATION_FPARAMS = ("alpha", "beta")

STRIDED_RANK = 6
"""The rank of copy_strided's iteration space (dimensions d0..d5, input strides s0..s5)."""


# ---- Kernel resources (issue 11): scratch and FLOP formulas, used by `Kernel.scratch`
# and `Kernel.flops` below. A new kernel that calls scratch() declares its need here, or
# plan-memory reserves nothing for it and its scratch() call stops the program.

SCRATCH_SLOTS = 2
"""Scratch slots per thread (`scratch(floats, slot)`); a kernel using two at once
(a shared buffer and a per-thread one, say) asks for one in each."""


class Params(dict):
    """A call's parameters by name, readable as attributes: `p.OH * p.OW`."""

    def __getattr__(self, name: str) -> int:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def cdiv(a: int, b: int) -> int:
    """a / b rounded up."""
    return -(-a // b)


def round_up(a: int, b: int) -> int:
    """a rounded up to a multiple of b."""
    return cdiv(a, b) * b


def conv_flops(p: Params) -> int:
    """2 x the multiply-adds of a direct convolution (groups default to 1)."""
    return 2 * p.K * (p.C // p.get("groups", 1)) * p.KH * p.KW * p.OH * p.OW


def winograd_flops(p: Params) -> int:
    """A direct 3x3 convolution's FLOPs, which Winograd computes with a quarter of the
    multiplications (so that its GFLOP/s compare with the direct kernels')."""
    return conv_flops(Params(p, KH=3, KW=3))


def gemm_scratch(columns: int) -> int:
    """The GEMM core's packed B block (kernels/gemm.cpp) for a B of `columns` columns:
    KC x (a thread's columns, at most NC, in whole NR panels)."""
    return GEMM_KC * min(GEMM_NC, round_up(columns, GEMM_NR))


def packed_scratch(p: Params) -> tuple[int, ...]:
    """conv2d_packed's zero-padded input, with NR floats of slack; and its table of tap
    offsets, one int64 (two floats) per weight of a group's filter."""
    padded = p.C * (p.H + 2 * p.pad_h) * (p.W + 2 * p.pad_w) + CONV_NR
    return (padded, 2 * (p.C // p.groups) * p.KH * p.KW)


def depthwise_scratch(p: Params) -> tuple[int, ...]:
    """conv2d_depthwise's zero-padded plane of one channel (depthwise.cpp, plane_layout):
    whole vectors of 8 with a vector of slack; stride 2 keeps even and odd columns apart."""
    stride, v = p.stride_h, 8
    rows, columns = stride * (p.OH - 1) + p.KH, round_up(p.OW, v) + v
    if stride == 1:
        return (rows * round_up(max(columns, p.pad_w + p.W + v), v),)
    return (rows * 2 * round_up(max(columns, (p.pad_w + p.W + 1) // 2 + v), v),)


_WINOGRAD_POSITIONS, _WINOGRAD_BLOCK_TILES, _WINOGRAD_RAW_CHUNK = 36, 6, 64
"""winograd.cpp's 6x6 transform positions, tiles per GEMM block and the channels of a
raw-weight panel transformed at once."""


def _winograd_geometry(p: Params) -> tuple[int, int, int, int]:
    """The channels-last padded input's floats, CP, KP and the tile count."""
    cp, kp = round_up(p.C, CHANNEL_BLOCK), round_up(p.K, WINOGRAD_NR)
    th, tw = cdiv(p.OH, 4), cdiv(p.OW, 4)
    return (th * 4 + 2) * (tw * 4 + 2) * cp, cp, kp, th * tw


def winograd_scratch(p: Params) -> tuple[int, ...]:
    """The padded input (shared), and each thread's V and M of one block of tiles."""
    padded, cp, kp, _ = _winograd_geometry(p)
    return (padded, _WINOGRAD_POSITIONS * _WINOGRAD_BLOCK_TILES * (cp + kp))


def winograd_raw_scratch(p: Params) -> tuple[int, ...]:
    """The padded input and every tile's V (shared), and each thread's U of one weight
    panel chunk and M of its panel (position strides padded by 16 floats)."""
    padded, cp, _, tiles = _winograd_geometry(p)
    u = _WINOGRAD_RAW_CHUNK * WINOGRAD_NR + 16
    return (
        padded + _WINOGRAD_POSITIONS * (tiles * cp + 16),
        _WINOGRAD_POSITIONS * (u + tiles * WINOGRAD_NR),
    )


def conv_transpose_scratch(p: Params) -> tuple[int, ...]:
    """Slot 0: the GEMM core's B block (B is the input [C/groups, H*W]), then each
    thread's output row of col2im, its columns by phase (stride_w of them). Slot 1: the
    weight packed as A and the GEMM's result, the columns before col2im."""
    rows = p.K // p.groups * p.KH * p.KW
    return (
        max(gemm_scratch(p.H * p.W), round_up(p.OW, p.stride_w)),
        round_up(rows, GEMM_MR) * (p.C // p.groups) + rows * p.H * p.W,
    )


def conv_transpose_flops(p: Params) -> int:
    """2 x the multiply-adds: every input pixel through every tap of its group's filters."""
    return 2 * p.C * (p.K // p.groups) * p.KH * p.KW * p.H * p.W


def linear_flops(p: Params) -> int:
    return 2 * p.M * p.IN * p.OUT


def packed_a_floats(rows: int, depth: int) -> int:
    """The GEMM core's A packed at run time (gemm.hpp, packed_a_size): whole MR panels."""
    return round_up(rows, GEMM_MR) * depth


def packed_b_floats(columns: int, depth: int) -> int:
    """The GEMM core's B packed whole at run time (gemm.hpp, packed_b_size): whole NR
    panels."""
    return round_up(columns, GEMM_NR) * depth


def linear_gemm_scratch(p: Params) -> tuple[int, ...]:
    """Slot 1: the input rows packed as A (B, the weight, is packed at compile time)."""
    return (0, packed_a_floats(p.M, p.IN))


def matmul_scratch(p: Params) -> tuple[int, ...]:
    """Slot 0: the GEMM core's B block; slot 1: one batch index's lhs packed as A."""
    return (gemm_scratch(p.N), packed_a_floats(p.M, p.K))


def matmul_flops(p: Params) -> int:
    return 2 * p.d0 * p.d1 * p.d2 * p.M * p.K * p.N


def attention_scratch(p: Params) -> tuple[int, ...]:
    """Slot 1: one batch index's keys and values packed whole as the GEMM core's B, a
    block of query rows packed, its scores and the scores packed (slot 0, the GEMM's B
    block, is not used: B is packed ahead)."""
    rows = min(ATTENTION_QUERY_BLOCK, p.L)
    return (
        0,
        packed_b_floats(p.S, p.E) + packed_b_floats(p.EV, p.S)
        + packed_a_floats(rows, p.E) + rows * p.S + packed_a_floats(rows, p.S),
    )


def recurrent_scratch(p: Params, gates: int) -> tuple[int, ...]:
    """Slot 0: the GEMM core's B block (the sequence, T columns); slot 1: recurrent.cpp's
    workspace (the gates of every step twice, one step's recurrent gates, h, c and a zero
    bias), and the weights packed at run time when they were not at compile time."""
    g, hp = gates * p.H, round_up(p.H, 8)
    work = 2 * p.T * g + round_up(g, RECURRENT_ROWS) + 2 * hp + g
    packing = 0 if p.packed else p.directions * (round_up(g, GEMM_MR) * p.F + round_up(g, RECURRENT_ROWS) * p.H)
    return (gemm_scratch(p.T), work + packing)


def recurrent_flops(p: Params, gates: int) -> int:
    """The input and recurrent products of every step and direction."""
    return 2 * p.directions * p.T * gates * p.H * (p.F + p.H)


def attention_flops(p: Params) -> int:
    """Its two products: 2 L S E for the scores and 2 L S EV for the output."""
    return 2 * p.batch * p.L * p.S * (p.E + p.EV)


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
    scratch: Callable[[Params], tuple[int, ...]] | None = None
    """Floats of scratch per thread, by slot of `scratch()` (kernel_support.hpp), that a
    call with these parameters asks for at most, on any thread count: what plan-memory
    reserves. None: the kernel takes no scratch."""
    flops: Callable[[Params], int] | None = None
    """Floating-point operations of a call, counted as the direct algorithm's (so that
    Winograd's GFLOP/s compare with the direct kernel's): what the profile's GFLOP/s
    divide. None: the kernel moves data. The int8 kernels count their integer
    multiply-adds the same way (2 operations each), so their GOP/s compare."""

    element_types: Mapping[str, str] = field(default_factory=dict)
    """Buffers whose elements are not float32, by name: their C element type (one of
    ELEMENT_TYPES' values)."""

    def element_type(self, buffer: str) -> str:
        """The C element type of one buffer: float unless `element_types` says otherwise."""
        return self.element_types.get(buffer, "float")

    @property
    def symbol(self) -> str:
        return f"mnistc_{self.name}"

    def arguments(self, values: Mapping[str, int | float]) -> list[int | float]:
        """The integer then float arguments, in the C signature's order."""
        missing = [n for n in (*self.params, *self.fparams) if n not in values]
        if missing:
            raise KeyError(f"{self.name}: missing parameters {', '.join(missing)}")
        return [values[n] for n in (*self.params, *self.fparams)]

    def scratch_floats(self, values: Mapping[str, int | float]) -> tuple[int, ...]:
        """Floats per thread by scratch slot (SCRATCH_SLOTS of them, zeros when none)."""
        need = self.scratch(Params(values)) if self.scratch else ()
        return tuple(need) + (0,) * (SCRATCH_SLOTS - len(need))

    def flop_count(self, values: Mapping[str, int | float]) -> int:
        """Direct-equivalent floating-point operations of one call (0 for data movement)."""
        return self.flops(Params(values)) if self.flops else 0

    def declaration(self) -> str:
        """The C prototype, wrapped as clang-format would at 90 columns."""
        arguments = [
            *(f"const {self.element_type(n)}* {n}" for n in self.inputs),
            *(f"{self.element_type(n)}* {n}" for n in self.outputs),
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


def _conv(
    name: str, weight: str, params: Sequence[str], doc: str, scratch=None, flops=conv_flops
) -> Kernel:
    return Kernel(
        name,
        inputs=("input", weight, "bias", "residual"),
        outputs=("output",),
        params=tuple(params),
        fparams=ACTIVATION_FPARAMS,
        optional=frozenset({"bias", "residual"}),
        doc=doc,
        scratch=scratch,
        flops=flops,
    )


_CONV_GEOMETRY = ("C", "H", "W", "K", "OH", "OW", "KH", "KW")
_WINDOW = ("KH", "KW", "stride_h", "stride_w", "pad_h", "pad_w")
_POOL_GEOMETRY = ("C", "H", "W", "OH", "OW", *_WINDOW)

# --- int8 (kernels/quant.cpp) ---
_I8, _I32 = ELEMENT_TYPES["i8"], ELEMENT_TYPES["i32"]
_REQUANTIZED = {"input": _I8, "packed_weight": _I8, "bias": _I32, "output": _I8}
_REQUANTISATION_DOC = (
    "`packed_weight` is the int8 weight [OUT, R] packed at compile time "
    "(mnistc/transforms/packing.py:\npack_quant_weight) as [ceil(OUT / MNISTC_QUANT_MR)]"
    "[ceil(R / MNISTC_QUANT_KR)][MNISTC_QUANT_MR]\n[MNISTC_QUANT_KR], zero-filled. The "
    "kernels multiply u = input + 128 (vpdpbusd's unsigned\noperand), so `bias` [OUT] "
    "is the int32 bias less (128 + input zero point) * the row sums of the\nweight, "
    "from the same packing: acc = sum(u * w) + bias[c] = sum((input - zp) * w) + the\n"
    "model's bias. `multiplier` [OUT] = float32(input_scale * weight_scale[c] / "
    "output_scale); the\nresult is clamp(nearbyint(float(acc) * multiplier[c]) + "
    "output_zero_point, qmin, qmax) in\nfloat32, ties to even: bit-exact on every ISA "
    "path (AVX-512 VNNI, AVX2, scalar)."
)


def byte_floats(nbytes: int) -> int:
    """Floats of scratch that hold `nbytes` bytes (quant.cpp's byte_scratch)."""
    return cdiv(nbytes, 4)


_QUANT_ALIGNMENT = 64
"""Bytes each buffer inside one of quant.cpp's scratch slots is aligned to."""


def qlinear_scratch(p: Params) -> tuple[int, ...]:
    """The input as unsigned bytes, padded to whole reduction steps."""
    return (byte_floats(round_up(p.IN, QUANT_KR)),)


def qconv2d_scratch(p: Params) -> tuple[int, ...]:
    """Slot 0 (the calling thread): each im2col row's int64 offset, then the padded
    unsigned input [C][Hp][Wp] with NR bytes of slack (strided convolutions widen Wp so
    that a row's last panel reads inside it); slot 1 (each thread): two im2col panels."""
    steps = cdiv(p.C // p.groups * p.KH * p.KW, QUANT_KR)
    hp, wp = p.H + 2 * p.pad_h, p.W + 2 * p.pad_w
    if (p.stride_h, p.stride_w) != (1, 1):
        wp = max(wp, (round_up(p.OW, QUANT_NR) - 1) * p.stride_w + (p.KW - 1) * p.dilation_w + 1)
    offsets = round_up(steps * QUANT_KR * 8, _QUANT_ALIGNMENT)
    panels = 2 * steps * QUANT_KR * QUANT_NR
    return (byte_floats(offsets + p.C * hp * wp + QUANT_NR), byte_floats(panels))


def max_pool2d_i8_scratch(p: Params) -> tuple[int, ...]:
    """The 2x2 stride-2 window tiling the planes: the max of each horizontal pair of every
    row [C][H][OW]; other windows take none."""
    tiles = (p.KH, p.KW, p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.dilation_h, p.dilation_w) == (
        2, 2, 2, 2, 0, 0, 1, 1,
    ) and (p.H, p.W) == (2 * p.OH, 2 * p.OW)  # fmt: skip
    return (byte_floats(p.C * p.H * p.OW),) if tiles else ()


_QUANT_KERNELS = (
    Kernel(
        "quantize",
        ("input",),
        ("output",),
        ("count", "zero_point"),
        ("scale",),
        doc="float32 to int8: clamp(nearbyint(input / scale) + zero_point, -128, 127), "
        "ties to even,\nthe division in float32; NaN gives zero_point (as ONNX Runtime).",
        element_types={"output": _I8},
    ),
    Kernel(
        "dequantize",
        ("input",),
        ("output",),
        ("count", "zero_point"),
        ("scale",),
        doc="int8 to float32: (input - zero_point) * scale.",
        element_types={"input": _I8},
    ),
    Kernel(
        "qlinear",
        ("input", "packed_weight", "bias", "multiplier"),
        ("output",),
        ("M", "IN", "OUT", "output_zero_point", "qmin", "qmax"),
        doc="int8 fully connected layer: input [M, IN] int8, output [M, OUT] int8, R = IN.\n"
        + _REQUANTISATION_DOC,
        element_types=_REQUANTIZED,
        scratch=qlinear_scratch,
        flops=linear_flops,
    ),
    Kernel(
        "qconv2d",
        ("input", "packed_weight", "bias", "multiplier"),
        ("output",),
        (*_CONV_GEOMETRY, "stride_h", "stride_w", "pad_h", "pad_w", "dilation_h",
         "dilation_w", "groups", "input_zero_point", "output_zero_point", "qmin", "qmax"),  # fmt: skip
        doc="int8 convolution: input [C,H,W] int8 (padding reads input_zero_point), output "
        "[K,OH,OW]\nint8; per group an int8 GEMM of the weight by im2col panels of "
        "MNISTC_QUANT_NR pixels.\nPer group g the weight [K/g, R = C/g * KH * KW] (rows "
        "(c, kh, kw)) is packed as below,\nthe groups one after another. "
        + _REQUANTISATION_DOC,
        element_types=_REQUANTIZED,
        scratch=qconv2d_scratch,
        flops=conv_flops,
    ),
    Kernel(
        "max_pool2d_i8",
        ("input",),
        ("output",),
        (*_POOL_GEOMETRY, "dilation_h", "dilation_w"),
        doc="mnistc_max_pool2d on int8 (exact: the max of quantized values is the quantized "
        "max).",
        element_types={"input": _I8, "output": _I8},
        scratch=max_pool2d_i8_scratch,
    ),
)
"""The int8 kernels."""
# --- end of the int8 block ---

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
            scratch=packed_scratch,
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
            scratch=lambda p: (gemm_scratch(p.OH * p.OW),),
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
            scratch=depthwise_scratch,
            flops=lambda p: 2 * p.K * p.KH * p.KW * p.OH * p.OW,
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
            scratch=winograd_scratch,
            flops=winograd_flops,
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
            scratch=winograd_raw_scratch,
            flops=winograd_flops,
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
            flops=linear_flops,
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
            scratch=conv_transpose_scratch,
            flops=conv_transpose_flops,
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
        # --- int8 (kernels/quant.cpp) ---
        *_QUANT_KERNELS,
        # linear layers on token matrices, run-time matrix products
        # and fused attention on the GEMM core (kernels/linear.cpp, kernels/matmul.cpp)
        Kernel(
            "linear_gemm",
            ("input", "packed_weight", "bias"),
            ("output",),
            ("M", "IN", "OUT", "activation"),
            ACTIVATION_FPARAMS,
            frozenset({"bias"}),
            "mnistc_linear for M > 1 rows (tokens) on the GEMM core: output [M, OUT] = "
            "act(input [M, IN]\n. W^T + bias), the input packed at run time as the GEMM's "
            "A. `packed_weight` is W^T packed\nat compile time as the GEMM's B "
            "(mnistc/transforms/packing.py:pack_gemm_b):\n[ceil(OUT / MNISTC_GEMM_NR)][IN]"
            "[MNISTC_GEMM_NR], zero-filled past the last output.",
            scratch=linear_gemm_scratch,
            flops=linear_flops,
        ),
        Kernel(
            "matmul",
            ("lhs", "rhs"),
            ("output",),
            ("d0", "d1", "d2", "l0", "l1", "l2", "r0", "r1", "r2", "M", "K", "N"),
            doc="Batched matrix product on the GEMM core: for each batch index (i0, i1, i2) "
            "< (d0, d1, d2),\noutput[i] [M, N] = lhs [M, K] . rhs [K, N], the operands "
            "read at i0 * l0 + i1 * l1 + i2 * l2\nand i0 * r0 + ... floats (a stride 0 "
            "broadcasts); the output is dense.",
            scratch=matmul_scratch,
            flops=matmul_flops,
        ),
        Kernel(
            "attention",
            ("query", "key", "value", "mask"),
            ("output",),
            ("batch", "L", "S", "E", "EV", "mask_batch_stride", "mask_row_stride", "causal"),
            ("scale",),
            frozenset({"mask"}),
            "Fused scaled dot-product attention per batch index b < batch: output [L, EV] = "
            "softmax(query\n[L, E] . key [S, E]^T * scale + mask) . value [S, EV], a block "
            "of query rows at a time\n(the scores never exceed the block), both products "
            "on the GEMM core. The optional additive\nmask is read at b * "
            "mask_batch_stride + i * mask_row_stride + j (strides 0 broadcast);\n"
            "`causal` = 1 hides key j > query i.",
            scratch=attention_scratch,
            flops=attention_flops,
        ),
        # recurrent layers (kernels/recurrent.cpp)
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
            scratch=lambda p: recurrent_scratch(p, 4),
            flops=lambda p: recurrent_flops(p, 4),
        ),
        Kernel(
            "gru",
            ("input", "weight_ih", "weight_hh", "bias_ih", "bias_hh", "h0"),
            ("output",),
            ("T", "F", "H", "directions", "packed"),
            optional=frozenset({"bias_ih", "bias_hh", "h0"}),
            doc="One GRU layer (nn.gru), 3 gates (r, z, n) in place of 4, output [T, D*H]: "
            "every step's h;\nother arguments as mnistc_lstm.",
            scratch=lambda p: recurrent_scratch(p, 3),
            flops=lambda p: recurrent_flops(p, 3),
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
        "",
        "// Slots of per-thread scratch (kernel_support.hpp), planned by plan-memory.",
        f"#define MNISTC_SCRATCH_SLOTS {SCRATCH_SLOTS}",
    ]
    for k in KERNELS.values():
        lines += ["", *_comment(k.doc), k.declaration()]
    lines += ["", "#ifdef __cplusplus", '}  // extern "C"', "#endif", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render_header())
