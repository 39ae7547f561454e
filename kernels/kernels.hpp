// mnistc kernels: the operators that generated code calls, one function per `cpu.call`.
//
// GENERATED from kernels/abi.py by `python -m mnistc.kernels.abi`: edit the table there.
// Buffers are dense row-major float32 (optional ones may be nullptr): inputs, then
// outputs, then the int64_t params, then the float params. Every kernel processes one
// sample (batch dimension 1) and parallelises with OpenMP; the C ABI lets tests call them
// through ctypes.
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Activations, applied element-wise or in an epilogue, with two float parameters
// (alpha, beta) whose meaning depends on the kind.
enum {
  MNISTC_ACTIVATION_NONE = 0,
  MNISTC_ACTIVATION_RELU = 1,
  MNISTC_ACTIVATION_HARDTANH = 2,      // clamp(x, alpha, beta)
  MNISTC_ACTIVATION_LEAKY_RELU = 3,    // x >= 0 ? x : alpha * x
  MNISTC_ACTIVATION_ELU = 4,           // x > 0 ? x : alpha * (exp(x) - 1)
  MNISTC_ACTIVATION_SIGMOID = 5,
  MNISTC_ACTIVATION_TANH = 6,
  MNISTC_ACTIVATION_HARDSWISH = 7,
  MNISTC_ACTIVATION_GELU = 8,          // exact, with erf
  MNISTC_ACTIVATION_GELU_TANH = 9,     // tanh approximation
  MNISTC_ACTIVATION_SILU = 10,         // x * sigmoid(x)
  MNISTC_ACTIVATION_HARDSIGMOID = 11,  // clamp(alpha * x + beta, 0, 1)
  MNISTC_ACTIVATION_MISH = 12,         // x * tanh(softplus(x))
  MNISTC_ACTIVATION_SOFTPLUS = 13,     // x * alpha > beta ? x : log1p(exp(alpha * x)) / alpha
  MNISTC_ACTIVATION_SOFTSIGN = 14,     // x / (1 + |x|)
  MNISTC_ACTIVATION_SELU = 15,         // scale * (x > 0 ? x : alpha * (exp(x) - 1)), SELU's constants
  MNISTC_ACTIVATION_CELU = 16,         // max(0, x) + min(0, alpha * (exp(x / alpha) - 1))
  MNISTC_ACTIVATION_EXP = 17,
  MNISTC_ACTIVATION_LOG = 18,
  MNISTC_ACTIVATION_SQRT = 19,
  MNISTC_ACTIVATION_RSQRT = 20,        // 1 / sqrt(x)
  MNISTC_ACTIVATION_NEG = 21,          // -x
  MNISTC_ACTIVATION_ABS = 22,          // |x|
  MNISTC_ACTIVATION_POW = 23,          // pow(x, alpha)
  MNISTC_ACTIVATION_RECIPROCAL = 24,   // 1 / x
};
#define MNISTC_ACTIVATION_COUNT 25

// The `op` of mnistc_binary.
enum {
  MNISTC_BINARY_ADD = 0,    // lhs + rhs
  MNISTC_BINARY_MUL = 1,    // lhs * rhs
  MNISTC_BINARY_PRELU = 2,  // lhs >= 0 ? lhs : lhs * rhs
  MNISTC_BINARY_SUB = 3,    // lhs - rhs
  MNISTC_BINARY_DIV = 4,    // lhs / rhs
  MNISTC_BINARY_MAX = 5,    // maximum(lhs, rhs), NaN wins
  MNISTC_BINARY_MIN = 6,    // minimum(lhs, rhs), NaN wins
  MNISTC_BINARY_POWF = 7,   // powf(lhs, rhs), element by element
};

// The `op` of mnistc_reduce.
enum {
  MNISTC_REDUCE_SUM = 0,
  MNISTC_REDUCE_MEAN = 1,  // the sum / the count
  MNISTC_REDUCE_MAX = 2,
  MNISTC_REDUCE_MIN = 3,
};
// The `mode` of mnistc_resize2d.
enum {
  MNISTC_RESIZE_NEAREST_FLOOR = 0,               // the pixel at floor(x)
  MNISTC_RESIZE_NEAREST_CEIL = 1,                // the pixel at ceil(x)
  MNISTC_RESIZE_NEAREST_ROUND_PREFER_FLOOR = 2,  // the nearest pixel, ties down
  MNISTC_RESIZE_NEAREST_ROUND_PREFER_CEIL = 3,   // the nearest pixel, ties up
  MNISTC_RESIZE_LINEAR = 4,                      // linear interpolation of the two pixels around x
};

// Tile sizes shared with the compile-time weight packing.
#define MNISTC_CONV_MR 4
#define MNISTC_CONV_NR 24
#define MNISTC_WINOGRAD_NR 16
#define MNISTC_CHANNEL_BLOCK 8
#define MNISTC_GEMM_MR 6
#define MNISTC_GEMM_NR 16
#define MNISTC_GEMM_KC 256
#define MNISTC_GEMM_NC 384
#define MNISTC_ATTENTION_QUERY_BLOCK 48
#define MNISTC_RECURRENT_ROWS 8
#define MNISTC_QUANT_MR 16
#define MNISTC_QUANT_KR 4
#define MNISTC_QUANT_NR 16

// Slots of per-thread scratch (kernel_support.hpp), planned by plan-memory.
#define MNISTC_SCRATCH_SLOTS 2

// NCHW input [C,H,W], weight [K, C/groups, KH, KW], optional bias [K], optional
// residual [K,OH,OW] added after the bias, output [K,OH,OW] = act(conv + bias + residual).
void mnistc_conv2d(const float* input, const float* weight, const float* bias,
                   const float* residual, float* output, int64_t C, int64_t H, int64_t W,
                   int64_t K, int64_t OH, int64_t OW, int64_t KH, int64_t KW,
                   int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                   int64_t dilation_h, int64_t dilation_w, int64_t groups,
                   int64_t activation, float alpha, float beta);

// The fast path for stride-1 convolutions that the GEMM core does not take (depthwise, or
// few output channels per group; any padding, dilation): a register-blocked micro-kernel
// computing MNISTC_CONV_MR output channels x MNISTC_CONV_NR pixels of one output row at a
// time, reading the zero-padded input directly (no im2col).
// `packed_weight` is the weight pre-packed at compile time (mnistc/transforms/packing.py):
// [groups][ceil(K/groups / MR)][C/groups * KH * KW][MR], zero-filled past the last channel.
// Other arguments as mnistc_conv2d.
void mnistc_conv2d_packed(const float* input, const float* packed_weight,
                          const float* bias, const float* residual, float* output,
                          int64_t C, int64_t H, int64_t W, int64_t K, int64_t OH,
                          int64_t OW, int64_t KH, int64_t KW, int64_t pad_h,
                          int64_t pad_w, int64_t dilation_h, int64_t dilation_w,
                          int64_t groups, int64_t activation, float alpha, float beta);

// The fast path for convolutions with one group or a few (any kernel size, stride, padding,
// dilation): per group a GEMM on the GEMM core (kernels/gemm.hpp), output [K/g, OH*OW] =
// weight [K/g, C/g*KH*KW] . im2col(input), the im2col panels gathered straight from the
// input (a 1x1 stride-1 convolution reads the input as the matrix). `packed_weight` is
// the weight packed at compile time (mnistc/transforms/packing.py): [groups][ceil(K/groups /
// MNISTC_GEMM_MR)][C/groups * KH * KW][MNISTC_GEMM_MR], zero-filled past the last channel.
// Other arguments as mnistc_conv2d.
void mnistc_conv2d_gemm(const float* input, const float* packed_weight, const float* bias,
                        const float* residual, float* output, int64_t C, int64_t H,
                        int64_t W, int64_t K, int64_t OH, int64_t OW, int64_t KH,
                        int64_t KW, int64_t stride_h, int64_t stride_w, int64_t pad_h,
                        int64_t pad_w, int64_t dilation_h, int64_t dilation_w,
                        int64_t groups, int64_t activation, float alpha, float beta);

// The fast path for depthwise convolutions with channel multiplier 1 (groups = C = K), a 3x3
// or 5x5 window (KH = KW), stride 1 or 2 (stride_h = stride_w), dilation 1 and any padding:
// each channel's zero-padded input plane in thread scratch, several output rows x 8
// columns accumulated in registers. `weight` as mnistc_conv2d's [C, 1, KH, KW]; other
// arguments as mnistc_conv2d.
void mnistc_conv2d_depthwise(const float* input, const float* weight, const float* bias,
                             const float* residual, float* output, int64_t C, int64_t H,
                             int64_t W, int64_t K, int64_t OH, int64_t OW, int64_t KH,
                             int64_t KW, int64_t stride_h, int64_t stride_w,
                             int64_t pad_h, int64_t pad_w, int64_t activation,
                             float alpha, float beta);

// The fast path for 3x3 convolutions with stride 1, dilation 1 and one group: Winograd
// F(4x4, 3x3) (kernels/conv/winograd.cpp): a quarter of the multiplications of a direct
// convolution. `packed_weight` is the weight transformed at compile time
// (mnistc/transforms/packing.py): U = G g G^T as [36][ceil(K / NR)][ceil(C / 8) * 8][NR],
// zero-filled past the last channel. `pool` = 2 applies a 2x2 stride-2 max pool to the
// activated result (output [K, OH/2, OW/2]; then `residual` must be null), 0 none.
// Other arguments as mnistc_conv2d.
void mnistc_conv2d_winograd(const float* input, const float* packed_weight,
                            const float* bias, const float* residual, float* output,
                            int64_t C, int64_t H, int64_t W, int64_t K, int64_t OH,
                            int64_t OW, int64_t pad_h, int64_t pad_w, int64_t pool,
                            int64_t activation, float alpha, float beta);

// conv2d_winograd for maps of few tiles, on the untransformed weight: `raw_weight` is the
// 3x3 weight in panels of NR output channels, [ceil(K / NR)][ceil(C / 8) * 8][9][NR],
// zero-filled (mnistc/transforms/packing.py), transformed panel by panel at run time:
// a quarter of the bytes of U to stream when each weight serves few tiles. Other arguments
// as mnistc_conv2d_winograd.
void mnistc_conv2d_winograd_raw(const float* input, const float* raw_weight,
                                const float* bias, const float* residual, float* output,
                                int64_t C, int64_t H, int64_t W, int64_t K, int64_t OH,
                                int64_t OW, int64_t pad_h, int64_t pad_w, int64_t pool,
                                int64_t activation, float alpha, float beta);

// input [M, IN], weight [OUT, IN], optional bias [OUT], output [M, OUT].
void mnistc_linear(const float* input, const float* weight, const float* bias,
                   float* output, int64_t M, int64_t IN, int64_t OUT, int64_t activation,
                   float alpha, float beta);

// Max over windows; padded positions never win (PyTorch semantics).
void mnistc_max_pool2d(const float* input, float* output, int64_t C, int64_t H, int64_t W,
                       int64_t OH, int64_t OW, int64_t KH, int64_t KW, int64_t stride_h,
                       int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t dilation_h,
                       int64_t dilation_w);

// Average over windows, dividing as PyTorch does: by `divisor` if non-zero, else by the
// window clipped to the padded input (count_include_pad) or to the input.
void mnistc_avg_pool2d(const float* input, float* output, int64_t C, int64_t H, int64_t W,
                       int64_t OH, int64_t OW, int64_t KH, int64_t KW, int64_t stride_h,
                       int64_t stride_w, int64_t pad_h, int64_t pad_w,
                       int64_t count_include_pad, int64_t divisor);

// Average over PyTorch's adaptive windows [floor(i*H/OH), ceil((i+1)*H/OH)).
void mnistc_adaptive_avg_pool2d(const float* input, float* output, int64_t C, int64_t H,
                                int64_t W, int64_t OH, int64_t OW);

// Element-wise activation of `count` values.
void mnistc_activation(const float* input, float* output, int64_t count,
                       int64_t activation, float alpha, float beta);

// Gated linear unit of [outer, 2, half]: output [outer, half] = a * sigmoid(b), a and b
// the two halves.
void mnistc_glu(const float* input, float* output, int64_t outer, int64_t half);

// Inference batch norm of [C, inner]: (x - mean) / sqrt(var + eps) * gamma + beta.
void mnistc_batch_norm(const float* input, const float* mean, const float* var,
                       const float* gamma, const float* beta, float* output, int64_t C,
                       int64_t inner, float eps);

// Local response normalisation of [C, inner] across channels (ONNX LRN semantics).
void mnistc_lrn(const float* input, float* output, int64_t C, int64_t inner, int64_t size,
                float alpha, float beta, float bias);

// Layer norm of [outer, inner] over `inner`: (x - mean) / sqrt(var + eps) * weight + bias,
// the biased variance; optional weight and bias [inner].
void mnistc_layer_norm(const float* input, const float* weight, const float* bias,
                       float* output, int64_t outer, int64_t inner, float eps);

// Group norm of [C, inner]: each of `groups` groups of C / groups channels normalised as
// layer_norm, then scaled and shifted per channel by optional weight and bias [C].
void mnistc_group_norm(const float* input, const float* weight, const float* bias,
                       float* output, int64_t C, int64_t groups, int64_t inner,
                       float eps);

// output[i0,i1,i2,i3] = act(lhs[...] op rhs[...]) over a rank-4 output shape; each operand
// is read through its own strides (0 where it broadcasts); `op` is an MNISTC_BINARY_* code.
void mnistc_binary(const float* lhs, const float* rhs, float* output, int64_t op,
                   int64_t d0, int64_t d1, int64_t d2, int64_t d3, int64_t l0, int64_t l1,
                   int64_t l2, int64_t l3, int64_t r0, int64_t r1, int64_t r2, int64_t r3,
                   int64_t activation, float alpha, float beta);

// Reduction of a dense rank-4 input [d0, d1, d2, d3] over the dims i with ri = 1; the
// output holds the kept dims, dense. `op` is an MNISTC_REDUCE_* code; max and min
// propagate NaN, as PyTorch does.
void mnistc_reduce(const float* input, float* output, int64_t op, int64_t d0, int64_t d1,
                   int64_t d2, int64_t d3, int64_t r0, int64_t r1, int64_t r2,
                   int64_t r3);

// Constant padding of each of C planes [H, W] by top, left, bottom, right.
void mnistc_pad2d(const float* input, float* output, int64_t C, int64_t H, int64_t W,
                  int64_t top, int64_t left, int64_t bottom, int64_t right, float value);

// For o < outer: output[o * out_stride + offset + i] = input[o * inner + i], i < inner.
// One call per input of a concatenation.
void mnistc_copy_block(const float* input, float* output, int64_t outer, int64_t inner,
                       int64_t out_stride, int64_t offset);

// output = input.
void mnistc_copy(const float* input, float* output, int64_t count);

// output[out_offset + (i0,...,i5)] = input[offset + i0 * s0 + ... + i5 * s5]
// over the contiguous shape [d0, ...]; a stride may be 0 (broadcast) or negative. Transposes,
// slices and expansions, merged by the lowering to this rank (one call per index of the
// dimensions beyond it).
void mnistc_copy_strided(const float* input, float* output, int64_t d0, int64_t d1,
                         int64_t d2, int64_t d3, int64_t d4, int64_t d5, int64_t s0,
                         int64_t s1, int64_t s2, int64_t s3, int64_t s4, int64_t s5,
                         int64_t offset, int64_t out_offset);

// Softmax over the middle axis of a tensor seen as [outer, axis, inner].
void mnistc_softmax(const float* input, float* output, int64_t outer, int64_t axis,
                    int64_t inner);

// Log-softmax over the middle axis of a tensor seen as [outer, axis, inner].
void mnistc_log_softmax(const float* input, float* output, int64_t outer, int64_t axis,
                        int64_t inner);

// Transposed convolution: input [C,H,W], weight [C, K/groups, KH, KW] (PyTorch's layout),
// optional bias [K], output [K,OH,OW] = act(conv_transpose + bias); output pixel (oh, ow)
// receives input (h, w) through tap (i, j) where oh = h*stride_h - pad_h + i*dilation_h.
void mnistc_conv_transpose2d(const float* input, const float* weight, const float* bias,
                             float* output, int64_t C, int64_t H, int64_t W, int64_t K,
                             int64_t OH, int64_t OW, int64_t KH, int64_t KW,
                             int64_t stride_h, int64_t stride_w, int64_t pad_h,
                             int64_t pad_w, int64_t dilation_h, int64_t dilation_w,
                             int64_t groups, int64_t activation, float alpha, float beta);

// Padding of each of C planes [H, W] from the plane's own edge: mirrored about the edge
// pixel (reflect = 1, pads < H and W) or repeating it (reflect = 0).
void mnistc_pad2d_edge(const float* input, float* output, int64_t C, int64_t H, int64_t W,
                       int64_t top, int64_t left, int64_t bottom, int64_t right,
                       int64_t reflect);

// Resize of each of C planes [H, W] to [OH, OW]: output pixel i of a dimension reads the
// input at x = (i + shift) * scale + offset, or (i + shift) / scale + offset with `divide`
// (float32), by `mode` (MNISTC_RESIZE_*).
void mnistc_resize2d(const float* input, float* output, int64_t C, int64_t H, int64_t W,
                     int64_t OH, int64_t OW, int64_t mode, int64_t divide, float scale_h,
                     float scale_w, float shift_h, float shift_w, float offset_h,
                     float offset_w);

// float32 to int8: clamp(nearbyint(input / scale) + zero_point, -128, 127), ties to even,
// the division in float32; NaN gives zero_point (as ONNX Runtime).
void mnistc_quantize(const float* input, int8_t* output, int64_t count,
                     int64_t zero_point, float scale);

// int8 to float32: (input - zero_point) * scale.
void mnistc_dequantize(const int8_t* input, float* output, int64_t count,
                       int64_t zero_point, float scale);

// int8 fully connected layer: input [M, IN] int8, output [M, OUT] int8, R = IN.
// `packed_weight` is the int8 weight [OUT, R] packed at compile time (mnistc/transforms/packing.py:
// pack_quant_weight) as [ceil(OUT / MNISTC_QUANT_MR)][ceil(R / MNISTC_QUANT_KR)][MNISTC_QUANT_MR]
// [MNISTC_QUANT_KR], zero-filled. The kernels multiply u = input + 128 (vpdpbusd's unsigned
// operand), so `bias` [OUT] is the int32 bias less (128 + input zero point) * the row sums of the
// weight, from the same packing: acc = sum(u * w) + bias[c] = sum((input - zp) * w) + the
// model's bias. `multiplier` [OUT] = float32(input_scale * weight_scale[c] / output_scale); the
// result is clamp(nearbyint(float(acc) * multiplier[c]) + output_zero_point, qmin, qmax) in
// float32, ties to even: bit-exact on every ISA path (AVX-512 VNNI, AVX2, scalar).
void mnistc_qlinear(const int8_t* input, const int8_t* packed_weight, const int32_t* bias,
                    const float* multiplier, int8_t* output, int64_t M, int64_t IN,
                    int64_t OUT, int64_t output_zero_point, int64_t qmin, int64_t qmax);

// int8 convolution: input [C,H,W] int8 (padding reads input_zero_point), output [K,OH,OW]
// int8; per group an int8 GEMM of the weight by im2col panels of MNISTC_QUANT_NR pixels.
// Per group g the weight [K/g, R = C/g * KH * KW] (rows (c, kh, kw)) is packed as below,
// the groups one after another. `packed_weight` is the int8 weight [OUT, R] packed at compile time (mnistc/transforms/packing.py:
// pack_quant_weight) as [ceil(OUT / MNISTC_QUANT_MR)][ceil(R / MNISTC_QUANT_KR)][MNISTC_QUANT_MR]
// [MNISTC_QUANT_KR], zero-filled. The kernels multiply u = input + 128 (vpdpbusd's unsigned
// operand), so `bias` [OUT] is the int32 bias less (128 + input zero point) * the row sums of the
// weight, from the same packing: acc = sum(u * w) + bias[c] = sum((input - zp) * w) + the
// model's bias. `multiplier` [OUT] = float32(input_scale * weight_scale[c] / output_scale); the
// result is clamp(nearbyint(float(acc) * multiplier[c]) + output_zero_point, qmin, qmax) in
// float32, ties to even: bit-exact on every ISA path (AVX-512 VNNI, AVX2, scalar).
void mnistc_qconv2d(const int8_t* input, const int8_t* packed_weight, const int32_t* bias,
                    const float* multiplier, int8_t* output, int64_t C, int64_t H,
                    int64_t W, int64_t K, int64_t OH, int64_t OW, int64_t KH, int64_t KW,
                    int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                    int64_t dilation_h, int64_t dilation_w, int64_t groups,
                    int64_t input_zero_point, int64_t output_zero_point, int64_t qmin,
                    int64_t qmax);

// mnistc_max_pool2d on int8 (exact: the max of quantized values is the quantized max).
void mnistc_max_pool2d_i8(const int8_t* input, int8_t* output, int64_t C, int64_t H,
                          int64_t W, int64_t OH, int64_t OW, int64_t KH, int64_t KW,
                          int64_t stride_h, int64_t stride_w, int64_t pad_h,
                          int64_t pad_w, int64_t dilation_h, int64_t dilation_w);

// mnistc_linear for M > 1 rows (tokens) on the GEMM core: output [M, OUT] = act(input [M, IN]
// . W^T + bias), the input packed at run time as the GEMM's A. `packed_weight` is W^T packed
// at compile time as the GEMM's B (mnistc/transforms/packing.py:pack_gemm_b):
// [ceil(OUT / MNISTC_GEMM_NR)][IN][MNISTC_GEMM_NR], zero-filled past the last output.
void mnistc_linear_gemm(const float* input, const float* packed_weight, const float* bias,
                        float* output, int64_t M, int64_t IN, int64_t OUT,
                        int64_t activation, float alpha, float beta);

// Batched matrix product on the GEMM core: for each batch index (i0, i1, i2) < (d0, d1, d2),
// output[i] [M, N] = lhs [M, K] . rhs [K, N], the operands read at i0 * l0 + i1 * l1 + i2 * l2
// and i0 * r0 + ... floats (a stride 0 broadcasts); the output is dense.
void mnistc_matmul(const float* lhs, const float* rhs, float* output, int64_t d0,
                   int64_t d1, int64_t d2, int64_t l0, int64_t l1, int64_t l2, int64_t r0,
                   int64_t r1, int64_t r2, int64_t M, int64_t K, int64_t N);

// Fused scaled dot-product attention per batch index b < batch: output [L, EV] = softmax(query
// [L, E] . key [S, E]^T * scale + mask) . value [S, EV], a block of query rows at a time
// (the scores never exceed the block), both products on the GEMM core. The optional additive
// mask is read at b * mask_batch_stride + i * mask_row_stride + j (strides 0 broadcast);
// `causal` = 1 hides key j > query i.
void mnistc_attention(const float* query, const float* key, const float* value,
                      const float* mask, float* output, int64_t batch, int64_t L,
                      int64_t S, int64_t E, int64_t EV, int64_t mask_batch_stride,
                      int64_t mask_row_stride, int64_t causal, float scale);

// One LSTM layer (nn.lstm) on a sequence input [T, F]: weight_ih [D*4H, F], weight_hh
// [D*4H, H], optional biases [D*4H], optional initial states h0 and c0 [D, H] (zero if
// null), D = `directions` (1 or 2). output [T + 1, D*H]: every step's h, then the final c
// of each direction. With `packed` the weights are packed at compile time
// (mnistc/transforms/packing.py): weight_ih per direction as the GEMM core's A
// ([D][ceil(4H / MNISTC_GEMM_MR)][F][MNISTC_GEMM_MR]), weight_hh in panels of
// MNISTC_RECURRENT_ROWS rows ([D][ceil(4H / ROWS)][H][ROWS]), zero-filled; else as stored.
void mnistc_lstm(const float* input, const float* weight_ih, const float* weight_hh,
                 const float* bias_ih, const float* bias_hh, const float* h0,
                 const float* c0, float* output, int64_t T, int64_t F, int64_t H,
                 int64_t directions, int64_t packed);

// One GRU layer (nn.gru), 3 gates (r, z, n) in place of 4, output [T, D*H]: every step's h;
// other arguments as mnistc_lstm.
void mnistc_gru(const float* input, const float* weight_ih, const float* weight_hh,
                const float* bias_ih, const float* bias_hh, const float* h0,
                float* output, int64_t T, int64_t F, int64_t H, int64_t directions,
                int64_t packed);

#ifdef __cplusplus
}  // extern "C"
#endif
