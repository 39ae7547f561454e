// Element-wise activations; the same `activate` serves the conv and linear epilogues
// (kernel_support.hpp). Also the gated linear unit, which halves its input.
#include "kernels.hpp"

#include <algorithm>

#include "kernel_support.hpp"

using namespace mnistc;

extern "C" {

void mnistc_activation(const float* input, float* output, int64_t count, int64_t activation,
                       float alpha, float beta) {
  constexpr int64_t BLOCK = 4096;  // per thread task: whole vectors
  const int64_t blocks = (count + BLOCK - 1) / BLOCK;
#pragma omp parallel for schedule(static) if (count > 65536)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t first = b * BLOCK;
    activate_all(input + first, output + first, std::min(BLOCK, count - first), activation,
                 alpha, beta);
  }
}

void mnistc_glu(const float* input, float* output, int64_t outer, int64_t half) {
#pragma omp parallel for schedule(static) if (outer * half > 65536)
  for (int64_t o = 0; o < outer; ++o) {
    const float* a = input + o * 2 * half;
    const float* b = a + half;
    float* out = output + o * half;
    int64_t i = 0;
    for (; i + 8 <= half; i += 8)
      store8(out + i, load8(a + i) / (1.0f + exp8(-load8(b + i))));
    for (; i < half; ++i) out[i] = a[i] / (1.0f + std::exp(-b[i]));
  }
}

}  // extern "C"
