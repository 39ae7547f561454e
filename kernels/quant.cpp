// The int8 kernels (see kernels.hpp): quantize, dequantize, the int8 fully
// connected layer (a GEMV per row), the int8 convolution (an int8 GEMM of the packed
// weight by im2col panels) and max pooling on int8.
//
// One weight layout for every ISA: [ceil(OUT / QUANT_MR)][ceil(R / QUANT_KR)][MR][KR]
// bytes (16 channels x 4 reduction elements per 64-byte step, packed at compile time).
// The kernels multiply u = input + 128, an unsigned byte: AVX-512 VNNI's `vpdpbusd` takes
// u8 x s8, and the input zero point is folded, with that 128, into the int32 bias at pack
// time. The ISA path is chosen by the preprocessor, for the target the kernels are built
// for:
//   - AVX-512 VNNI (__AVX512VNNI__): vpdpbusd sums four u8 x s8 products into each int32
//     lane, 64 multiply-adds per instruction;
//   - AVX2 (__AVX2__): both operands widened to int16 (u zero-extended, the weight
//     sign-extended) and multiplied by vpmaddwd, exact for any int8 weight: XNNPACK's
//     path. vpmaddubsw takes the bytes as they are and is faster (MNIST's fc1 GEMV built
//     for x86-64-v3 on the Zen 4 host: 14.6 us against 24.1 us), but saturates its int16
//     pair sums (255 * 127 * 2 > 32767) unless the weights have 7 bits (ONNX Runtime's
//     reduce_range). That would make the quantized weights depend on the target (a
//     coarser grid, and other results than the VNNI and scalar paths give for the same
//     IR) and refuse the full-range weights of imported int8 models, so exactness wins;
//   - scalar, for any x86-64 (`--target-cpu x86-64`).
// Every path computes the same int32 sums and requantises them with the same float32
// operations, so the paths agree bit for bit (test/test_quant_kernels.py checks all three
// against NumPy).
#include "kernel_support.hpp"
#include "kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__AVX512VNNI__) && defined(__AVX512F__)
#define MNISTC_QUANT_VNNI 1
#include <immintrin.h>
#elif defined(__AVX2__)
#define MNISTC_QUANT_AVX2 1
#include <immintrin.h>
#endif

namespace {

constexpr int64_t MR = MNISTC_QUANT_MR, KR = MNISTC_QUANT_KR, NR = MNISTC_QUANT_NR;
constexpr int64_t STEP = MR * KR;  // bytes of one reduction step of a weight panel
static_assert(MR == 16 && KR == 4 && NR == 16, "the micro-kernels are written for 16x4x16");

// `bytes` of the calling thread's planned scratch (kernel_support.hpp's scratch(), slot
// `slot`), 64-byte aligned as every slot is: the one place where a byte count becomes
// the floats that scratch() and the kernels' formulas in kernels/abi.py (byte_floats)
// count. Slot 0 holds what the calling thread prepares for a call (qconv2d puts its row
// offsets and then the unsigned input there, each 64-byte aligned); slot 1 each thread's
// im2col panels.
uint8_t* byte_scratch(int64_t bytes, int slot) {
  return reinterpret_cast<uint8_t*>(mnistc::scratch((bytes + 3) / 4, slot));
}
constexpr int SHARED_SLOT = 0, PANEL_SLOT = 1;
constexpr int64_t ALIGNMENT = 64;
int64_t aligned(int64_t bytes) { return (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT; }

// The output value of an int32 sum, as the quantized IR defines it: clamp(nearbyint(
// float(acc) * multiplier) + zero_point, qmin, qmax) in float32, ties to even. Clamping
// before rounding, to the integers [qmin - zp, qmax - zp], gives the same result (rounding
// is monotonic and keeps integers) and keeps the conversion in range.
struct Requantizer {
  float low, high;  // qmin - zero_point, qmax - zero_point
  int32_t zero_point;

  Requantizer(int64_t zero_point, int64_t qmin, int64_t qmax)
      : low(static_cast<float>(qmin - zero_point)),
        high(static_cast<float>(qmax - zero_point)),
        zero_point(static_cast<int32_t>(zero_point)) {}

  int8_t operator()(int32_t acc, float multiplier) const {
    float v = static_cast<float>(acc) * multiplier;
    v = v < low ? low : (v > high ? high : v);
    return static_cast<int8_t>(static_cast<int32_t>(std::nearbyint(v)) + zero_point);
  }
};

int64_t steps(int64_t R) { return (R + KR - 1) / KR; }

#if MNISTC_QUANT_VNNI
// acc += the sums of 4 products u8 x s8 per int32 lane (vpdpbusd), accumulating in place.
// GCC 12 does not always tie _mm512_dpbusd_epi32's accumulator to its result: on qconv2d's
// tile of 16 accumulators it then copies each one per step and spills two (MNIST's conv2:
// 151 us against about 75 us with this form, depending on the code around the loop).
inline __m512i dot4(__m512i acc, __m512i u, __m512i w) {
  __asm__("vpdpbusd %[w], %[u], %[acc]" : [acc] "+v"(acc) : [u] "v"(u), [w] "v"(w));
  return acc;
}
#endif


// u = input + 128 for `count` values, then zeros up to `padded` (rows past R, whose
// weights are zero).
void to_unsigned(const int8_t* input, uint8_t* u, int64_t count, int64_t padded) {
  for (int64_t i = 0; i < count; ++i) u[i] = static_cast<uint8_t>(input[i]) ^ 0x80;
  std::memset(u + count, 0, padded - count);
}

// ---------------------------------------------------------------------------------------
// The GEMV: acc[16] of one weight panel by u (steps(R) * 4 bytes), without bias.

void panel_gemv(const int8_t* w, const uint8_t* u, int64_t R4, int32_t acc[MR]) {
#if MNISTC_QUANT_VNNI
  __m512i sum[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                    _mm512_setzero_si512()};
  int64_t q = 0;
  for (; q + 4 <= R4; q += 4)
    for (int j = 0; j < 4; ++j) {
      int32_t x;
      std::memcpy(&x, u + (q + j) * KR, 4);
      sum[j] = dot4(sum[j], _mm512_set1_epi32(x), _mm512_loadu_si512(w + (q + j) * STEP));
    }
  for (; q < R4; ++q) {
    int32_t x;
    std::memcpy(&x, u + q * KR, 4);
    sum[0] = dot4(sum[0], _mm512_set1_epi32(x), _mm512_loadu_si512(w + q * STEP));
  }
  const __m512i total = _mm512_add_epi32(_mm512_add_epi32(sum[0], sum[1]),
                                         _mm512_add_epi32(sum[2], sum[3]));
  _mm512_storeu_si512(acc, total);
#elif MNISTC_QUANT_AVX2
  // Each 16 bytes of a step (4 channels x 4 elements) widened to int16 and multiplied by
  // the step's 4 values of u, repeated: lanes (channel, pair) = 2 per channel.
  __m256i sum[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                    _mm256_setzero_si256()};
  for (int64_t q = 0; q < R4; ++q) {
    int32_t x;
    std::memcpy(&x, u + q * KR, 4);
    const __m256i xv = _mm256_broadcastq_epi64(_mm_cvtepu8_epi16(_mm_cvtsi32_si128(x)));
    for (int j = 0; j < 4; ++j) {
      const __m128i bytes =
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + q * STEP + j * 16));
      sum[j] = _mm256_add_epi32(sum[j], _mm256_madd_epi16(_mm256_cvtepi8_epi16(bytes), xv));
    }
  }
  for (int j = 0; j < 4; ++j) {
    int32_t pairs[8];
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(pairs), sum[j]);
    for (int c = 0; c < 4; ++c) acc[j * 4 + c] = pairs[2 * c] + pairs[2 * c + 1];
  }
#else
  uint32_t sum[MR] = {};  // unsigned: wraps as the vector paths do
  for (int64_t q = 0; q < R4; ++q)
    for (int64_t c = 0; c < MR; ++c)
      for (int64_t k = 0; k < KR; ++k)
        sum[c] += static_cast<uint32_t>(u[q * KR + k] * w[q * STEP + c * KR + k]);
  for (int64_t c = 0; c < MR; ++c) acc[c] = static_cast<int32_t>(sum[c]);
#endif
}

// ---------------------------------------------------------------------------------------
// The convolution's GEMM: C[channels][pixels] = weight . B, B the im2col matrix of u =
// input + 128, zero-padded by the zero point's u. Pixels are numbered j = oh * VW + ow on
// a virtual width VW >= OW: with stride 1, VW is the padded input's width Wp, so that
// the 16 pixels of a panel read 16 consecutive bytes of each input row even across output
// rows (the VW - OW columns in between are computed and not stored: 2 of 26 for MNIST's
// conv2); with other strides VW is OW rounded up to whole panels, a panel within one row.

struct ConvShape {
  int64_t C, Hp, Wp, OH, OW, KH, KW, stride_h, stride_w, dilation_h, dilation_w;
  int64_t R, R4;
  int64_t VW;      // the virtual width
  int64_t panels;  // panels of NR pixels: ceil(((OH - 1) * VW + OW) / NR)
};

// Interleaves rows r0..r3 of 16 pixels into [16 pixels][4 rows]: one step of a B panel.
typedef uint8_t bytes16 __attribute__((vector_size(16)));
typedef uint8_t bytes16u __attribute__((vector_size(16), aligned(1)));

void interleave4(bytes16 r0, bytes16 r1, bytes16 r2, bytes16 r3, uint8_t* out) {
  const bytes16 lo{0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
  const bytes16 hi{8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const bytes16 pairs_lo{0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23};
  const bytes16 pairs_hi{8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31};
  const bytes16 t0 = __builtin_shuffle(r0, r1, lo), t1 = __builtin_shuffle(r0, r1, hi);
  const bytes16 t2 = __builtin_shuffle(r2, r3, lo), t3 = __builtin_shuffle(r2, r3, hi);
  auto* o = reinterpret_cast<bytes16u*>(out);
  o[0] = __builtin_shuffle(t0, t2, pairs_lo);
  o[1] = __builtin_shuffle(t0, t2, pairs_hi);
  o[2] = __builtin_shuffle(t1, t3, pairs_lo);
  o[3] = __builtin_shuffle(t1, t3, pairs_hi);
}

// The offset in u of each im2col row r = (c, kh, kw) for the pixel (0, 0):
// c * Hp * Wp + kh * dilation_h * Wp + kw * dilation_w. Rows past R read the pixel's own
// bytes: their weights are zero, so any value serves.
void row_offsets(const ConvShape& s, int64_t* offsets) {
  for (int64_t r = 0; r < s.R4 * KR; ++r) {
    const int64_t taps = s.KH * s.KW, c = r / taps, kh = r % taps / s.KW, kw = r % s.KW;
    offsets[r] = r < s.R ? (c * s.Hp + kh * s.dilation_h) * s.Wp + kw * s.dilation_w : 0;
  }
}

// B panel p ([R4][NR][KR] bytes): pixels j = 16p .. 16p + 15.
void pack_panel(const uint8_t* u, const ConvShape& s, const int64_t* offsets, int64_t p,
                uint8_t* panel) {
  const int64_t j0 = p * NR, oh = j0 / s.VW, ow0 = j0 % s.VW;
  const uint8_t* origin = u + oh * s.stride_h * s.Wp + ow0 * s.stride_w;
  auto row = [&](int64_t r) {  // 16 pixels of im2col row r
    if (s.stride_w == 1) return *reinterpret_cast<const bytes16u*>(origin + offsets[r]);
    bytes16 gathered;
    for (int64_t j = 0; j < NR; ++j) gathered[j] = origin[offsets[r] + j * s.stride_w];
    return gathered;
  };
  for (int64_t q = 0; q < s.R4; ++q)
    interleave4(row(4 * q), row(4 * q + 1), row(4 * q + 2), row(4 * q + 3), panel + q * STEP);
}

// Where the 16 pixels from j0 go: the runs of lanes that lie in one output row and
// inside it (ow < OW), each as (first lane, lanes, output offset of the first lane).
struct Runs {
  int count = 0;
  int first[NR], lanes[NR];
  int64_t at[NR];

  Runs(const ConvShape& s, int64_t j0) {
    const int64_t last = std::min<int64_t>(j0 + NR, (s.OH - 1) * s.VW + s.OW);
    for (int64_t j = j0; j < last;) {
      const int64_t oh = j / s.VW, ow = j % s.VW;
      const int64_t row_end = std::min(last, j + s.VW - ow);
      const int64_t n = std::min(row_end - j, s.OW - ow);
      if (n > 0) {
        first[count] = static_cast<int>(j - j0);
        lanes[count] = static_cast<int>(n);
        at[count++] = oh * s.OW + ow;
      }
      j = row_end;
    }
  }
};

// The 16 channels [c0, c0 + 16) of one group (those below `channels`) for the panels
// [p0, p0 + np) of B (np = 1 or 2, consecutive in `b`), requantized into out [K][OH][OW].
void conv_tile(const int8_t* w, const uint8_t* b, int np, const ConvShape& s, int64_t p0,
               int64_t c0, int64_t channels, const int32_t* bias, const float* multiplier,
               const Requantizer& requantize, int8_t* out) {
  const int64_t valid = std::min<int64_t>(MR, channels - c0);
  const int64_t plane = s.OH * s.OW;
  const Runs runs[2] = {Runs(s, p0 * NR), Runs(s, (p0 + np - 1) * NR)};
#if MNISTC_QUANT_VNNI
  // 8 channels x 2 panels (32 pixels) per register tile: 16 accumulators, 2 loads of B
  // and 8 broadcasts of the weight per step.
  const __m512 low = _mm512_set1_ps(requantize.low), high = _mm512_set1_ps(requantize.high);
  const __m512i zero_point = _mm512_set1_epi32(requantize.zero_point);
  const uint8_t* b0 = b;
  const uint8_t* b1 = b + (np == 2 ? s.R4 * STEP : 0);
  for (int64_t half = 0; half < valid; half += 8) {
    __m512i acc[8][2];
    for (int r = 0; r < 8; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    for (int64_t q = 0; q < s.R4; ++q) {
      const __m512i x0 = _mm512_load_si512(b0 + q * STEP);
      const __m512i x1 = _mm512_load_si512(b1 + q * STEP);
      const int8_t* wq = w + q * STEP + half * KR;
      for (int r = 0; r < 8; ++r) {
        int32_t four;
        std::memcpy(&four, wq + r * KR, 4);
        const __m512i wv = _mm512_set1_epi32(four);
        acc[r][0] = dot4(acc[r][0], x0, wv);
        acc[r][1] = dot4(acc[r][1], x1, wv);
      }
    }
    for (int r = 0; r < 8 && half + r < valid; ++r) {
      const int64_t c = c0 + half + r;
      const __m512i b_c = _mm512_set1_epi32(bias[c]);
      const __m512 m = _mm512_set1_ps(multiplier[c]);
      for (int j = 0; j < np; ++j) {
        __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(acc[r][j], b_c)), m);
        v = _mm512_min_ps(_mm512_max_ps(v, low), high);
        const __m512i q8 = _mm512_add_epi32(_mm512_cvtps_epi32(v), zero_point);
        int8_t* channel = out + c * plane;
        // Lane l goes to channel[at - first + l]: masked lanes are never touched.
        const Runs& run = runs[j];
        for (int i = 0; i < run.count; ++i) {
          const auto mask = static_cast<__mmask16>(((1u << run.lanes[i]) - 1) << run.first[i]);
          _mm512_mask_cvtepi32_storeu_epi8(channel + run.at[i] - run.first[i], mask, q8);
        }
      }
    }
  }
#else
  alignas(64) int32_t acc[MR][NR];
  for (int j = 0; j < np; ++j) {
    const uint8_t* bp = b + j * s.R4 * STEP;
#if MNISTC_QUANT_AVX2
    // 2 channels x 16 pixels per register tile; each vector holds 4 pixels x 2 pairs of
    // reduction elements (u zero-extended and the weight sign-extended to int16).
    for (int64_t r = 0; r < valid; r += 2) {
      __m256i sum[2][4];
      for (auto& channel : sum)
        for (auto& v : channel) v = _mm256_setzero_si256();
      for (int64_t q = 0; q < s.R4; ++q) {
        __m256i x[4];
        for (int i = 0; i < 4; ++i)
          x[i] = _mm256_cvtepu8_epi16(
              _mm_load_si128(reinterpret_cast<const __m128i*>(bp + q * STEP + i * 16)));
        for (int i = 0; i < 2; ++i) {
          int32_t four;
          std::memcpy(&four, w + q * STEP + (r + i) * KR, 4);
          const __m256i wv = _mm256_broadcastq_epi64(_mm_cvtepi8_epi16(_mm_cvtsi32_si128(four)));
          for (int l = 0; l < 4; ++l)
            sum[i][l] = _mm256_add_epi32(sum[i][l], _mm256_madd_epi16(x[l], wv));
        }
      }
      for (int i = 0; i < 2; ++i)
        for (int l = 0; l < 4; l += 2) {
          // (p0 p1 p4 p5 | p2 p3 p6 p7) of pixels 4l .. 4l + 7, then in order.
          const __m256i pairs = _mm256_hadd_epi32(sum[i][l], sum[i][l + 1]);
          _mm256_store_si256(reinterpret_cast<__m256i*>(&acc[r + i][4 * l]),
                             _mm256_permute4x64_epi64(pairs, 0xD8));
        }
    }
#else
    for (int64_t r = 0; r < valid; ++r)
      for (int64_t l = 0; l < NR; ++l) {
        uint32_t sum = 0;
        for (int64_t q = 0; q < s.R4; ++q)
          for (int64_t k = 0; k < KR; ++k)
            sum += static_cast<uint32_t>(bp[q * STEP + l * KR + k] * w[q * STEP + r * KR + k]);
        acc[r][l] = static_cast<int32_t>(sum);
      }
#endif
    for (int64_t r = 0; r < valid; ++r) {
      const int64_t c = c0 + r;
      int8_t* channel = out + c * plane;
      const Runs& run = runs[j];
      for (int i = 0; i < run.count; ++i)
        for (int l = run.first[i]; l < run.first[i] + run.lanes[i]; ++l)
          channel[run.at[i] - run.first[i] + l] = requantize(
              static_cast<int32_t>(static_cast<uint32_t>(acc[r][l]) + bias[c]), multiplier[c]);
    }
  }
#endif
}

// u = input + 128 in a [C][Hp][Wp] buffer, the padding `fill` (the zero point's u).
void pad_unsigned(const int8_t* input, uint8_t* u, int64_t C, int64_t H, int64_t W,
                  int64_t Hp, int64_t Wp, int64_t pad_h, int64_t pad_w, uint8_t fill) {
  for (int64_t c = 0; c < C; ++c)
    for (int64_t h = 0; h < Hp; ++h) {
      uint8_t* row = u + (c * Hp + h) * Wp;
      const int64_t ih = h - pad_h;
      if (ih < 0 || ih >= H) {
        std::memset(row, fill, Wp);
        continue;
      }
      std::memset(row, fill, pad_w);
      const int8_t* in = input + (c * H + ih) * W;
      for (int64_t w = 0; w < W; ++w) row[pad_w + w] = static_cast<uint8_t>(in[w]) ^ 0x80;
      std::memset(row + pad_w + W, fill, Wp - pad_w - W);
    }
}

}  // namespace

extern "C" {

void mnistc_quantize(const float* input, int8_t* output, int64_t count, int64_t zero_point,
                     float scale) {
  const Requantizer clamp(zero_point, -128, 127);
  // x / scale, NaN to 0 (the zero point, as ONNX Runtime), clamped, rounded ties to even
  // (the conversion's default rounding mode, as nearbyint), plus the zero point.
  auto one = [&](float x) {
    float v = x / scale;
    v = v == v ? v : 0.0f;
    v = v < clamp.low ? clamp.low : (v > clamp.high ? clamp.high : v);
    return static_cast<int8_t>(static_cast<int32_t>(std::nearbyint(v)) + clamp.zero_point);
  };
  int64_t i = 0;
#if MNISTC_QUANT_VNNI
  const __m512 s = _mm512_set1_ps(scale), low = _mm512_set1_ps(clamp.low),
               high = _mm512_set1_ps(clamp.high);
  const __m512i zp = _mm512_set1_epi32(clamp.zero_point);
  for (; i + 16 <= count; i += 16) {
    __m512 v = _mm512_div_ps(_mm512_loadu_ps(input + i), s);
    v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v);
    v = _mm512_min_ps(_mm512_max_ps(v, low), high);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(output + i),
                     _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(v), zp)));
  }
#elif MNISTC_QUANT_AVX2
  const __m256 s = _mm256_set1_ps(scale), low = _mm256_set1_ps(clamp.low),
               high = _mm256_set1_ps(clamp.high);
  const __m256i zp = _mm256_set1_epi32(clamp.zero_point);
  for (; i + 8 <= count; i += 8) {
    __m256 v = _mm256_div_ps(_mm256_loadu_ps(input + i), s);
    v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
    v = _mm256_min_ps(_mm256_max_ps(v, low), high);
    const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(v), zp);
    const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(output + i), _mm_packs_epi16(words, words));
  }
#endif
  for (; i < count; ++i) output[i] = one(input[i]);
}

void mnistc_dequantize(const int8_t* input, float* output, int64_t count, int64_t zero_point,
                       float scale) {
#pragma omp parallel for simd schedule(static) if (count > (1 << 16))
  for (int64_t i = 0; i < count; ++i)
    output[i] = static_cast<float>(input[i] - static_cast<int32_t>(zero_point)) * scale;
}

void mnistc_qlinear(const int8_t* input, const int8_t* packed_weight, const int32_t* bias,
                    const float* multiplier, int8_t* output, int64_t M, int64_t IN,
                    int64_t OUT, int64_t output_zero_point, int64_t qmin, int64_t qmax) {
  const Requantizer requantize(output_zero_point, qmin, qmax);
  const int64_t R4 = steps(IN), panels = (OUT + MR - 1) / MR;
  uint8_t* u = byte_scratch(R4 * KR, SHARED_SLOT);
  for (int64_t m = 0; m < M; ++m) {
    to_unsigned(input + m * IN, u, IN, R4 * KR);
    int8_t* out = output + m * OUT;
#pragma omp parallel for schedule(static) if (IN * OUT > (1 << 18))
    for (int64_t p = 0; p < panels; ++p) {
      alignas(64) int32_t acc[MR];
      panel_gemv(packed_weight + p * R4 * STEP, u, R4, acc);
      for (int64_t c = p * MR; c < std::min(OUT, (p + 1) * MR); ++c)
        out[c] = requantize(static_cast<int32_t>(static_cast<uint32_t>(acc[c - p * MR]) + bias[c]),
                            multiplier[c]);
    }
  }
}

void mnistc_qconv2d(const int8_t* input, const int8_t* packed_weight, const int32_t* bias,
                    const float* multiplier, int8_t* output, int64_t C, int64_t H, int64_t W,
                    int64_t K, int64_t OH, int64_t OW, int64_t KH, int64_t KW,
                    int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                    int64_t dilation_h, int64_t dilation_w, int64_t groups,
                    int64_t input_zero_point, int64_t output_zero_point, int64_t qmin,
                    int64_t qmax) {
  const Requantizer requantize(output_zero_point, qmin, qmax);
  const int64_t Cg = C / groups, Kg = K / groups, R = Cg * KH * KW;
  // The virtual width (see ConvShape); the padded input is wide enough that the pixels
  // of a row's last panel read inside it, and has slack after it for the last panel.
  const bool unit_stride = stride_h == 1 && stride_w == 1;
  const int64_t Hp = H + 2 * pad_h;
  int64_t Wp = W + 2 * pad_w;
  const int64_t VW = unit_stride ? Wp : (OW + NR - 1) / NR * NR;
  if (!unit_stride) Wp = std::max(Wp, (VW - 1) * stride_w + (KW - 1) * dilation_w + 1);
  const ConvShape s{Cg, Hp, Wp, OH, OW, KH, KW, stride_h, stride_w, dilation_h, dilation_w,
                    R, steps(R), VW, ((OH - 1) * VW + OW + NR - 1) / NR};
  // u = input + 128, padded with the zero point's u (a real zero).
  // Slot 0: the row offsets of the im2col panels, then u.
  const int64_t offset_bytes = aligned(s.R4 * KR * static_cast<int64_t>(sizeof(int64_t)));
  uint8_t* shared = byte_scratch(offset_bytes + C * Hp * Wp + NR, SHARED_SLOT);
  auto* offsets = reinterpret_cast<int64_t*>(shared);
  uint8_t* u = shared + offset_bytes;
  const uint8_t fill = static_cast<uint8_t>(input_zero_point + 128);
  if (Hp == H && Wp == W) {  // no padding: one flip of the sign bits, in vector lanes
    to_unsigned(input, u, C * H * W, C * H * W);
  } else {
    pad_unsigned(input, u, C, H, W, Hp, Wp, pad_h, pad_w, fill);
  }
  std::memset(u + C * Hp * Wp, fill, NR);
  row_offsets(s, offsets);
  const int64_t channel_panels = (Kg + MR - 1) / MR, blocks = (s.panels + 1) / 2;
  for (int64_t g = 0; g < groups; ++g) {
    const int8_t* w = packed_weight + g * channel_panels * s.R4 * STEP;
    const uint8_t* ug = u + g * Cg * Hp * Wp;
    int8_t* out = output + g * Kg * OH * OW;
    // Two B panels (32 pixels) per block, packed once for every channel panel.
#pragma omp parallel for schedule(static) if (Kg * OH * OW * R > (1 << 18))
    for (int64_t block = 0; block < blocks; ++block) {
      const int64_t p0 = 2 * block;
      const int np = s.panels - p0 >= 2 ? 2 : 1;
      uint8_t* b = byte_scratch(2 * s.R4 * STEP, PANEL_SLOT);
      for (int j = 0; j < np; ++j) pack_panel(ug, s, offsets, p0 + j, b + j * s.R4 * STEP);
      for (int64_t cp = 0; cp < channel_panels; ++cp)
        conv_tile(w + cp * s.R4 * STEP, b, np, s, p0, cp * MR, Kg, bias + g * Kg,
                  multiplier + g * Kg, requantize, out);
    }
  }
}

void mnistc_max_pool2d_i8(const int8_t* input, int8_t* output, int64_t C, int64_t H,
                          int64_t W, int64_t OH, int64_t OW, int64_t KH, int64_t KW,
                          int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                          int64_t dilation_h, int64_t dilation_w) {
  if (KH == 2 && KW == 2 && stride_h == 2 && stride_w == 2 && pad_h == 0 && pad_w == 0 &&
      dilation_h == 1 && dilation_w == 1 && H == 2 * OH && W == 2 * OW) {
    // The 2x2 window tiling the planes: the larger of each pair of neighbours over all
    // planes at once (a flat pass in vector lanes: each pair one int16 lane, its low byte
    // sign-extended by two shifts, its high byte by one), then of each pair of rows.
    typedef int16_t words __attribute__((vector_size(64)));
    typedef int16_t words_u __attribute__((vector_size(64), aligned(1)));
    typedef int8_t bytes __attribute__((vector_size(32)));
    typedef int8_t bytes_u __attribute__((vector_size(32), aligned(1)));
    const int64_t count = C * H * OW;
    auto* wide = reinterpret_cast<int8_t*>(byte_scratch(count, SHARED_SLOT));
    int64_t i = 0;
    for (; i + 32 <= count; i += 32) {
      const words x = *reinterpret_cast<const words_u*>(input + 2 * i);
      const words low = (x << 8) >> 8, high = x >> 8;
      *reinterpret_cast<bytes_u*>(wide + i) = __builtin_convertvector(low > high ? low : high, bytes);
    }
    for (; i < count; ++i) wide[i] = std::max(input[2 * i], input[2 * i + 1]);
    for (int64_t r = 0; r < C * OH; ++r) {
      const int8_t* top = wide + 2 * r * OW;
      for (int64_t w = 0; w < OW; ++w) output[r * OW + w] = std::max(top[w], top[OW + w]);
    }
    return;
  }
#pragma omp parallel for schedule(static) if (C * OH * OW * KH * KW > (1 << 18))
  for (int64_t c = 0; c < C; ++c)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        int8_t best = -128;  // a padded position never wins
        for (int64_t kh = 0; kh < KH; ++kh) {
          const int64_t ih = oh * stride_h - pad_h + kh * dilation_h;
          if (ih < 0 || ih >= H) continue;
          const int8_t* row = input + (c * H + ih) * W;
          for (int64_t kw = 0; kw < KW; ++kw) {
            const int64_t iw = ow * stride_w - pad_w + kw * dilation_w;
            if (iw >= 0 && iw < W) best = std::max(best, row[iw]);
          }
        }
        output[(c * OH + oh) * OW + ow] = best;
      }
}

}  // extern "C"
