// Batch norm and local response normalisation, on [C, inner] (see kernels.hpp).
#include "kernels.hpp"

#include <algorithm>
#include <cmath>

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
