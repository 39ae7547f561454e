// Element-wise activations; the same `activate` serves the conv and linear epilogues
// (kernel_support.hpp). Also the gated linear unit, which halves its input.
#include "kernels.hpp"

#include "kernel_support.hpp"

using namespace mnistc;

namespace {

// One loop per kind: with the kind a constant, `activate`'s switch folds away and g++
// vectorises the loop wherever the formula has vector instructions (relu, hardtanh,
// abs, neg, softsign, reciprocal, ...); libm calls stay scalar.
template <int64_t Kind>
void activate_range(const float* input, float* output, int64_t count, float alpha,
                    float beta) {
#pragma omp parallel for simd schedule(static) if (count > 65536)
  for (int64_t i = 0; i < count; ++i) output[i] = activate(input[i], Kind, alpha, beta);
}

template <int64_t... Kinds>
void dispatch(const float* input, float* output, int64_t count, int64_t activation,
              float alpha, float beta, std::integer_sequence<int64_t, Kinds...>) {
  bool done = ((activation == Kinds
                    ? (activate_range<Kinds>(input, output, count, alpha, beta), true)
                    : false) ||
               ...);
  if (done) return;
#pragma omp parallel for schedule(static) if (count > 65536)
  for (int64_t i = 0; i < count; ++i) output[i] = activate(input[i], activation, alpha, beta);
}

}  // namespace

extern "C" {

void mnistc_activation(const float* input, float* output, int64_t count, int64_t activation,
                       float alpha, float beta) {
  dispatch(input, output, count, activation, alpha, beta,
           std::make_integer_sequence<int64_t, MNISTC_ACTIVATION_COUNT>{});
}

void mnistc_glu(const float* input, float* output, int64_t outer, int64_t half) {
#pragma omp parallel for schedule(static) if (outer * half > 65536)
  for (int64_t o = 0; o < outer; ++o) {
    const float* a = input + o * 2 * half;
    const float* b = a + half;
    float* out = output + o * half;
    for (int64_t i = 0; i < half; ++i) out[i] = a[i] / (1.0f + std::exp(-b[i]));
  }
}

}  // extern "C"
