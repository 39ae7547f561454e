// Element-wise activations; the same `activate` serves the conv and linear epilogues
// (kernel_support.hpp).
#include "kernels.hpp"

#include "kernel_support.hpp"

using namespace mnistc;

extern "C" {

void mnistc_activation(const float* input, float* output, int64_t count, int64_t activation,
                       float alpha, float beta) {
#pragma omp parallel for schedule(static) if (count > 65536)
  for (int64_t i = 0; i < count; ++i)
    output[i] = activate(input[i], activation, alpha, beta);
}

}  // extern "C"
