// Binary element-wise ops with broadcast strides (see kernels.hpp).
#include "kernels.hpp"

extern "C" {

void mnistc_binary(const float* lhs, const float* rhs, float* output, int64_t op,
                   int64_t d0, int64_t d1, int64_t d2, int64_t d3, int64_t l0, int64_t l1,
                   int64_t l2, int64_t l3, int64_t r0, int64_t r1, int64_t r2, int64_t r3) {
#pragma omp parallel for collapse(2) schedule(static) if (d0 * d1 * d2 * d3 > 65536)
  for (int64_t i0 = 0; i0 < d0; ++i0) {
    for (int64_t i1 = 0; i1 < d1; ++i1) {
      for (int64_t i2 = 0; i2 < d2; ++i2) {
        const float* a = lhs + i0 * l0 + i1 * l1 + i2 * l2;
        const float* b = rhs + i0 * r0 + i1 * r1 + i2 * r2;
        float* out = output + ((i0 * d1 + i1) * d2 + i2) * d3;
        if (op == MNISTC_BINARY_ADD) {
          for (int64_t i3 = 0; i3 < d3; ++i3) out[i3] = a[i3 * l3] + b[i3 * r3];
        } else if (op == MNISTC_BINARY_MUL) {
          for (int64_t i3 = 0; i3 < d3; ++i3) out[i3] = a[i3 * l3] * b[i3 * r3];
        } else {
          for (int64_t i3 = 0; i3 < d3; ++i3) {
            const float x = a[i3 * l3];
            out[i3] = x >= 0.0f ? x : x * b[i3 * r3];
          }
        }
      }
    }
  }
}

}  // extern "C"
