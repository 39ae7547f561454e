// Helpers shared by the kernel sources: activations, 8-float vectors (GCC vector
// extensions, so AVX with -march=native and SSE pairs on plain x86-64) and per-thread
// scratch memory. Internal: not part of the C ABI.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels.hpp"

namespace mnistc {

// x to a constant power as PyTorch computes it: the exponents it special-cases go through
// the same operations (so pow(-inf, 0.5) is NaN, as sqrt(-inf), not C's +inf).
inline float power(float x, float exponent) {
  if (exponent == 2.0f) return x * x;
  if (exponent == 3.0f) return x * x * x;
  if (exponent == 0.5f) return std::sqrt(x);
  if (exponent == -0.5f) return 1.0f / std::sqrt(x);
  if (exponent == -1.0f) return 1.0f / x;
  if (exponent == -2.0f) return 1.0f / (x * x);
  return std::pow(x, exponent);
}

inline float activate(float x, int64_t activation, float alpha, float beta) {
  switch (activation) {
    // std::max(a, b) is `a < b ? b : a` and std::min(a, b) `b < a ? b : a`: with x
    // first, a NaN x comes through, as in PyTorch's relu and clamp.
    case MNISTC_ACTIVATION_RELU:
      return std::max(x, 0.0f);
    case MNISTC_ACTIVATION_HARDTANH:
      return std::min(std::max(x, alpha), beta);
    case MNISTC_ACTIVATION_LEAKY_RELU:
      return x >= 0.0f ? x : alpha * x;
    case MNISTC_ACTIVATION_ELU:
      return x > 0.0f ? x : alpha * std::expm1(x);
    case MNISTC_ACTIVATION_SIGMOID:
      return 1.0f / (1.0f + std::exp(-x));
    case MNISTC_ACTIVATION_TANH:
      return std::tanh(x);
    case MNISTC_ACTIVATION_HARDSWISH:
      return x * std::min(std::max(x + 3.0f, 0.0f), 6.0f) / 6.0f;
    case MNISTC_ACTIVATION_GELU:
      return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
    case MNISTC_ACTIVATION_GELU_TANH:
      return 0.5f * x *
             (1.0f + std::tanh(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case MNISTC_ACTIVATION_SILU:
      return x / (1.0f + std::exp(-x));
    case MNISTC_ACTIVATION_HARDSIGMOID:
      return std::min(std::max(alpha * x + beta, 0.0f), 1.0f);
    // activations and element-wise math, with PyTorch's formulas.
    case MNISTC_ACTIVATION_MISH: {
      // tanh(log(1 + e)) = n / (n + 2) with n = e (e + 2), e = exp(x): one exp instead
      // of exp, log1p and tanh (20 times faster). Past 20, PyTorch's softplus is x and
      // tanh(x) is 1 in float.
      if (x > 20.0f) return x;
      const float e = std::exp(x), n = e * (e + 2.0f);
      return x * n / (n + 2.0f);
    }
    case MNISTC_ACTIVATION_SOFTPLUS:
      return x * alpha > beta ? x : std::log1p(std::exp(x * alpha)) / alpha;
    case MNISTC_ACTIVATION_SOFTSIGN:
      return x / (1.0f + std::fabs(x));
    case MNISTC_ACTIVATION_SELU:
      return 1.0507009873554804934f *
             (x > 0.0f ? x : 1.6732632423543772848f * std::expm1(x));
    case MNISTC_ACTIVATION_CELU:
      return x > 0.0f ? x : alpha * std::expm1(x / alpha);
    case MNISTC_ACTIVATION_EXP:
      return std::exp(x);
    case MNISTC_ACTIVATION_LOG:
      return std::log(x);
    case MNISTC_ACTIVATION_SQRT:
      return std::sqrt(x);
    case MNISTC_ACTIVATION_RSQRT:
      return 1.0f / std::sqrt(x);
    case MNISTC_ACTIVATION_NEG:
      return -x;
    case MNISTC_ACTIVATION_ABS:
      return std::fabs(x);
    case MNISTC_ACTIVATION_POW:
      return power(x, alpha);
    case MNISTC_ACTIVATION_RECIPROCAL:
      return 1.0f / x;
    default:
      return x;
  }
}

typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4)));

inline v8 load8(const float* p) { return *reinterpret_cast<const v8u*>(p); }
inline void store8(float* p, v8 v) { *reinterpret_cast<v8u*>(p) = v; }
inline v8 splat(float f) { return v8{f, f, f, f, f, f, f, f}; }
typedef int mask8 __attribute__((vector_size(32)));

// Interleaves within each 128-bit half, as AVX's unpcklps / unpckhps:
// unpack_low = a0 b0 a1 b1 | a4 b4 a5 b5, unpack_high = a2 b2 a3 b3 | a6 b6 a7 b7.
inline v8 unpack_low(v8 a, v8 b) {
  return __builtin_shuffle(a, b, mask8{0, 8, 1, 9, 4, 12, 5, 13});
}
inline v8 unpack_high(v8 a, v8 b) {
  return __builtin_shuffle(a, b, mask8{2, 10, 3, 11, 6, 14, 7, 15});
}
// The same for pairs of lanes: a0 a1 b0 b1 | a4 a5 b4 b5 and a2 a3 b2 b3 | a6 a7 b6 b7.
inline v8 unpack_pairs_low(v8 a, v8 b) {
  return __builtin_shuffle(a, b, mask8{0, 1, 8, 9, 4, 5, 12, 13});
}
inline v8 unpack_pairs_high(v8 a, v8 b) {
  return __builtin_shuffle(a, b, mask8{2, 3, 10, 11, 6, 7, 14, 15});
}

// Transposes the 8x8 matrix whose rows are r[0..7] in place.
inline void transpose8x8(v8 r[8]) {
  const mask8 halves_low{0, 1, 2, 3, 8, 9, 10, 11}, halves_high{4, 5, 6, 7, 12, 13, 14, 15};
  v8 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = unpack_low(r[i], r[i + 1]);
    t[i + 1] = unpack_high(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = unpack_pairs_low(t[i], t[i + 2]);
    u[i + 1] = unpack_pairs_high(t[i], t[i + 2]);
    u[i + 2] = unpack_pairs_low(t[i + 1], t[i + 3]);
    u[i + 3] = unpack_pairs_high(t[i + 1], t[i + 3]);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = __builtin_shuffle(u[i], u[i + 4], halves_low);
    r[i + 4] = __builtin_shuffle(u[i], u[i + 4], halves_high);
  }
}

// PyTorch's relu keeps NaN: only lanes known negative become 0 (`x > 0 ? x : 0` would
// zero NaN). The same two instructions as that form (compare, and-not).
inline v8 relu8(v8 x) { return x < 0.0f ? v8{} : x; }

// PyTorch's max: NaN wins.
inline float max_nan(float a, float b) { return (a > b || a != a) ? a : b; }
inline v8 max_nan(v8 a, v8 b) { return (a > b || a != a) ? a : b; }

// e^x in eight lanes, within about 2 ulp of std::exp where the result is a normal float:
// x = n ln2 + r with |r| <= ln2 / 2, e^r by a degree-6 polynomial (Cephes' expf
// coefficients), times 2^n as two powers of two built in the exponent bits, 2^(n/2) and
// 2^(n - n/2): each is a normal float for every n the clamp allows, so the product
// rounds once to what std::exp gives at the ends of the range: finite up to ln(FLT_MAX)
// = 88.72, +inf beyond (the clamp at 89 still overflows), subnormals down to -103.9 and 0
// below (the clamp at -105 gives 0). NaN stays NaN.
inline v8 exp8(v8 x) {
  const v8 clamped = x < -105.0f ? splat(-105.0f) : (x > 89.0f ? splat(89.0f) : x);
  const v8 round = splat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  const v8 n = (clamped * 1.44269504088896341f + round) - round;
  const v8 r = (clamped - n * 0.693359375f) + n * 2.12194440e-4f;  // ln 2 in two parts
  v8 p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
#if defined(__AVX512VL__)
  // p * 2^n in one instruction (vscalefps), rounded once as below, bit for bit (checked
  // on every 7th float); a NaN comes through the clamps and the polynomial. A third
  // faster GELU, softmax and sigmoid on AVX-512 machines.
  return __builtin_ia32_scalefps256_mask(p, n, p, static_cast<unsigned char>(0xFF));
#else
  const mask8 whole = __builtin_convertvector(n, mask8), half = whole >> 1;
  // A vector cast keeps the bits: 2^half and 2^(whole - half).
  const v8 scale_low = (v8)((half + 127) << 23), scale_high = (v8)((whole - half + 127) << 23);
  const v8 result = p * scale_low * scale_high;
  return x != x ? x : result;
#endif
}

// the gate functions of LSTM and GRU (kernels/recurrent.cpp), correct over the
// whole float range: exp8's overflow to inf and its floor near e^-87 saturate them at
// their limits, and NaN stays NaN.
inline v8 sigmoid8(v8 x) { return 1.0f / (1.0f + exp8(-x)); }
// tanh(x) = 1 - 2 / (e^2x + 1): within about 1e-7 of std::tanh everywhere (absolute).
inline v8 tanh8(v8 x) { return 1.0f - 2.0f / (exp8(x + x) + 1.0f); }

// Whether activate8 computes the kind in vector lanes (else it goes lane by lane).
// GELU in vectors (transformers' MLPs; scalar erf and tanh cost
// 15 ns an element, 4x the GEMM before them). inf, -inf and NaN come out as from the
// scalar formulas: +inf, NaN (-inf * 0) and NaN.
inline v8 gelu8(v8 x, bool tanh_form) {
  if (tanh_form) {
    // 0.5 (1 + tanh(u)) = sigmoid(2u): no cancellation for either sign of x.
    const v8 u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
    return x / (1.0f + exp8(-2.0f * u));
  }
  // Phi(x) = 0.5 (1 + erf(z)), z = x / sqrt(2), with erf(|z|) = 1 - P(t) exp(-z^2),
  // t = 1 / (1 + p |z|) (Abramowitz and Stegun 7.1.26, |error| <= 1.5e-7): the tail
  // h = 0.5 P(t) exp(-z^2) is Phi for x < 0 and 1 - Phi for x >= 0.
  const v8 z = x * 0.70710678118654752f;
  const v8 a = z < 0.0f ? -z : z;
  const v8 t = 1.0f / (1.0f + 0.3275911f * a);
  v8 poly = splat(1.061405429f);
  poly = poly * t - 1.453152027f;
  poly = poly * t + 1.421413741f;
  poly = poly * t - 0.284496736f;
  poly = poly * t + 0.254829592f;
  // Past z^2 = 75 the tail (below 1e-33) is 0: computed, it would go through denormal
  // products, which cost 3x the whole formula on this machine.
  const v8 squared = z * z;
  const v8 tail = squared > 75.0f ? v8{} : 0.5f * poly * t * exp8(-squared);
  return x * (x < 0.0f ? tail : 1.0f - tail);
}

inline bool has_vector_form(int64_t activation) {
  switch (activation) {
    case MNISTC_ACTIVATION_NONE:
    case MNISTC_ACTIVATION_RELU:
    case MNISTC_ACTIVATION_HARDTANH:
    case MNISTC_ACTIVATION_LEAKY_RELU:
    case MNISTC_ACTIVATION_SIGMOID:
    case MNISTC_ACTIVATION_SILU:
    case MNISTC_ACTIVATION_HARDSWISH:
    case MNISTC_ACTIVATION_HARDSIGMOID:
    case MNISTC_ACTIVATION_SOFTSIGN:
    case MNISTC_ACTIVATION_NEG:
    case MNISTC_ACTIVATION_ABS:
    case MNISTC_ACTIVATION_RECIPROCAL:
    case MNISTC_ACTIVATION_EXP:
    case MNISTC_ACTIVATION_GELU:
    case MNISTC_ACTIVATION_GELU_TANH:
      return true;
    default:
      return false;
  }
}

// `activate` on eight values. The clamps are written as `activate`'s std::max / std::min
// are (`x < lo ? lo : x`, `hi < x ? hi : x`), so that a NaN comes through the same way.
__attribute__((always_inline)) inline v8 activate8(v8 x, int64_t activation, float alpha, float beta) {
  switch (activation) {
    case MNISTC_ACTIVATION_NONE:
      return x;
    case MNISTC_ACTIVATION_RELU:
      return relu8(x);
    case MNISTC_ACTIVATION_HARDTANH: {
      const v8 low = x < alpha ? splat(alpha) : x;
      return beta < low ? splat(beta) : low;
    }
    case MNISTC_ACTIVATION_LEAKY_RELU:
      return x >= 0.0f ? x : alpha * x;
    case MNISTC_ACTIVATION_SIGMOID:
      return 1.0f / (1.0f + exp8(-x));
    case MNISTC_ACTIVATION_SILU:
      return x / (1.0f + exp8(-x));
    case MNISTC_ACTIVATION_HARDSWISH: {
      const v8 shifted = x + 3.0f;
      const v8 low = shifted < 0.0f ? v8{} : shifted;
      return x * (6.0f < low ? splat(6.0f) : low) / 6.0f;
    }
    case MNISTC_ACTIVATION_HARDSIGMOID: {
      const v8 line = alpha * x + beta;
      const v8 low = line < 0.0f ? v8{} : line;
      return 1.0f < low ? splat(1.0f) : low;
    }
    // -0.0 < 0 is false, so abs keeps a -0.0 (a zero either way) and a NaN.
    case MNISTC_ACTIVATION_SOFTSIGN:
      return x / (1.0f + (x < 0.0f ? -x : x));
    case MNISTC_ACTIVATION_NEG:
      return -x;
    case MNISTC_ACTIVATION_ABS:
      return x < 0.0f ? -x : x;
    case MNISTC_ACTIVATION_RECIPROCAL:
      return 1.0f / x;
    case MNISTC_ACTIVATION_EXP:
      return exp8(x);

    case MNISTC_ACTIVATION_GELU:
      return gelu8(x, false);
    case MNISTC_ACTIVATION_GELU_TANH:
      return gelu8(x, true);
    default: {
      float lanes[8];
      std::memcpy(lanes, &x, sizeof lanes);
      for (float& lane : lanes) lane = activate(lane, activation, alpha, beta);
      std::memcpy(&x, lanes, sizeof lanes);
      return x;
    }
  }
}

// output[i] = activate(input[i]) for i < count (in place if they are the same): whole
// vectors through activate8 where the kind has a vector form, the rest one by one.
inline void activate_all(const float* input, float* output, int64_t count,
                         int64_t activation, float alpha, float beta) {
  int64_t i = 0;
  if (has_vector_form(activation))
    for (; i + 8 <= count; i += 8)
      store8(output + i, activate8(load8(input + i), activation, alpha, beta));
  for (; i < count; ++i) output[i] = activate(input[i], activation, alpha, beta);
}

inline void activate_all(float* values, int64_t count, int64_t activation, float alpha,
                         float beta) {
  if (activation == MNISTC_ACTIVATION_NONE) return;
  activate_all(values, values, count, activation, alpha, beta);
}

}  // namespace mnistc

// Scratch of the calling thread (kernels/scratch.cpp). A compiled model defines
// mnistc_scratch over storage that plan-memory sized from each kernel's `scratch`
// formula (kernels/abi.py), and stops the program when asked for more than planned;
// without a model (the kernel tests), a weak definition grows buffers on demand.
extern "C" float* mnistc_scratch(int64_t slot, int64_t floats);

namespace mnistc {

// The most floats any thread has asked of each slot (mnistc_scratch_high_water reads it:
// the tests compare it with the plan).
inline std::atomic<int64_t> scratch_high_water[MNISTC_SCRATCH_SLOTS];

// `floats` of scratch in slot `slot` (< MNISTC_SCRATCH_SLOTS) of the calling thread:
// no allocation per call. A kernel that needs two buffers at once asks for two slots;
// the GEMM core (gemm.cpp) takes slot 0 on every thread it runs on.
inline float* scratch(std::size_t floats, int slot = 0) {
  const int64_t asked = static_cast<int64_t>(floats);
  std::atomic<int64_t>& mark = scratch_high_water[slot];
  int64_t seen = mark.load(std::memory_order_relaxed);
  while (asked > seen && !mark.compare_exchange_weak(seen, asked, std::memory_order_relaxed)) {
  }
  return mnistc_scratch(slot, asked);
}

}  // namespace mnistc
