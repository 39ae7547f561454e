// Batch norm and local response normalisation, on [C, inner] (see kernels.hpp).
#include "kernels.hpp"

#include <algorithm>
#include <cmath>

#include "kernel_support.hpp"

extern "C" {

void mnistc_batch_norm(const float* input, const float* mean, const float* var,
                       const float* gamma, const float* beta, float* output, int64_t C,
                       int64_t inner, float eps) {
#pragma omp parallel for schedule(static) if (C * inner > 65536)
  for (int64_t c = 0; c < C; ++c) {
    const float scale = gamma[c] / std::sqrt(var[c] + eps);
    const float shift = beta[c] - mean[c] * scale;
    for (int64_t i = 0; i < inner; ++i)
      output[c * inner + i] = input[c * inner + i] * scale + shift;
  }
}

void mnistc_lrn(const float* input, float* output, int64_t C, int64_t inner, int64_t size,
                float alpha, float beta, float bias) {
  const int64_t before = (size - 1) / 2, after = size - 1 - before;
#pragma omp parallel for schedule(static) if (C * inner > 65536)
  for (int64_t c = 0; c < C; ++c) {
    const int64_t first = std::max<int64_t>(0, c - before);
    const int64_t last = std::min<int64_t>(C - 1, c + after);
    for (int64_t i = 0; i < inner; ++i) {
      float sum = 0.0f;
      for (int64_t k = first; k <= last; ++k)
        sum += input[k * inner + i] * input[k * inner + i];
      output[c * inner + i] =
          input[c * inner + i] / std::pow(bias + alpha / size * sum, beta);
    }
  }
}

}  // extern "C"

// layer norm and group norm.
namespace {

using namespace mnistc;

// The sum of n contiguous values (or of their squared deviations from `mean`, with
// `deviations`), in four vector accumulators: one would wait on every add's latency
// (a layer norm's row of 192 took 15 us over 197 tokens, two thirds of it waiting).
template <bool deviations>
float row_sum(const float* x, int64_t n, float mean) {
  const v8 m = splat(mean);
  auto term = [&](int64_t i) {
    const v8 v = load8(x + i);
    if constexpr (deviations) return (v - m) * (v - m);
    return v;
  };
  v8 acc[4] = {};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int a = 0; a < 4; ++a) acc[a] += term(i + 8 * a);
  for (; i + 8 <= n; i += 8) acc[0] += term(i);
  const v8 total = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  float sum = 0.0f;
  for (int lane = 0; lane < 8; ++lane) sum += total[lane];
  for (; i < n; ++i) sum += deviations ? (x[i] - mean) * (x[i] - mean) : x[i];
  return sum;
}

// The mean and the biased variance of n contiguous values, two passes over them (the
// second on the deviations, so a large mean costs no precision).
void moments(const float* x, int64_t n, float* mean_out, float* var_out) {
  float mean = row_sum<false>(x, n, 0.0f) / static_cast<float>(n);
  if (!std::isfinite(mean)) {
    // An overflow of finite values (PyTorch's Welford mean has none): the sum in double.
    double wide = 0.0;
    for (int64_t i = 0; i < n; ++i) wide += x[i];
    mean = static_cast<float>(wide / static_cast<double>(n));
  }
  *mean_out = mean;
  *var_out = row_sum<true>(x, n, mean) / static_cast<float>(n);
}

// out[i] = (x[i] - mean) * rstd * w + b, with w and b per element (`per_element`) or one
// value for the whole row; a null weight is 1, a null bias 0.
void normalise(const float* x, float* out, int64_t n, float mean, float rstd,
               const float* weight, const float* bias, bool per_element) {
  const v8 m = splat(mean), s = splat(rstd);
  int64_t i = 0;
  if (per_element) {
    for (; i + 8 <= n; i += 8) {
      v8 y = (load8(x + i) - m) * s;
      if (weight) y *= load8(weight + i);
      if (bias) y += load8(bias + i);
      store8(out + i, y);
    }
    for (; i < n; ++i)
      out[i] = (x[i] - mean) * rstd * (weight ? weight[i] : 1.0f) + (bias ? bias[i] : 0.0f);
  } else {
    const float w = weight ? weight[0] : 1.0f, b = bias ? bias[0] : 0.0f;
    const v8 wv = splat(w), bv = splat(b);
    for (; i + 8 <= n; i += 8) store8(out + i, (load8(x + i) - m) * s * wv + bv);
    for (; i < n; ++i) out[i] = (x[i] - mean) * rstd * w + b;
  }
}

}  // namespace

extern "C" {

void mnistc_layer_norm(const float* input, const float* weight, const float* bias,
                       float* output, int64_t outer, int64_t inner, float eps) {
#pragma omp parallel for schedule(static) if (outer * inner > 65536)
  for (int64_t o = 0; o < outer; ++o) {
    float mean, var;
    moments(input + o * inner, inner, &mean, &var);
    normalise(input + o * inner, output + o * inner, inner, mean, 1.0f / std::sqrt(var + eps),
              weight, bias, true);
  }
}

void mnistc_group_norm(const float* input, const float* weight, const float* bias,
                       float* output, int64_t C, int64_t groups, int64_t inner, float eps) {
  const int64_t channels = C / groups;
#pragma omp parallel for schedule(static) if (C * inner > 65536)
  for (int64_t g = 0; g < groups; ++g) {
    const float* x = input + g * channels * inner;
    float mean, var;
    moments(x, channels * inner, &mean, &var);
    const float rstd = 1.0f / std::sqrt(var + eps);
    for (int64_t c = g * channels; c < (g + 1) * channels; ++c)
      normalise(input + c * inner, output + c * inner, inner, mean, rstd,
                weight ? weight + c : nullptr, bias ? bias + c : nullptr, false);
  }
}

}  // extern "C"
