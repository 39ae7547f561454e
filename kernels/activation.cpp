// Element-wise activations; the same `activate` serves the conv and linear epilogues
// (kernel_support.hpp).
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

}  // extern "C"
