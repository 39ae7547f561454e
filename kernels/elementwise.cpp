// Binary element-wise ops with broadcast strides (see kernels.hpp).
#include "kernels.hpp"

#include "kernel_support.hpp"

using namespace mnistc;

namespace {

// out[i] = op(a[i * la], b[i * lb]) for i < n. The lowering merges dimensions so that
// the innermost one is long, and then each operand is dense (stride 1) or broadcast
// (stride 0) along it, as in a residual add or a channel scale x[C,H*W] * s[C,1]:
// those run as vectors; any other stride element by element. `op` takes floats or v8.
template <class Op>
inline void binary_row(const float* a, int64_t la, const float* b, int64_t lb, float* out,
                       int64_t n, Op op) {
  int64_t i = 0;
  if (la == 1 && lb == 1) {
    for (; i + 8 <= n; i += 8) store8(out + i, op(load8(a + i), load8(b + i)));
  } else if (la == 1 && lb == 0) {
    const v8 bv = splat(b[0]);
    for (; i + 8 <= n; i += 8) store8(out + i, op(load8(a + i), bv));
  } else if (la == 0 && lb == 1) {
    const v8 av = splat(a[0]);
    for (; i + 8 <= n; i += 8) store8(out + i, op(av, load8(b + i)));
  }
  for (; i < n; ++i) out[i] = op(a[i * la], b[i * lb]);
}

template <class Op>
void binary(const float* lhs, const float* rhs, float* output, int64_t d0, int64_t d1,
            int64_t d2, int64_t d3, int64_t l0, int64_t l1, int64_t l2, int64_t l3,
            int64_t r0, int64_t r1, int64_t r2, int64_t r3, Op op) {
#pragma omp parallel for collapse(3) schedule(static) if (d0 * d1 * d2 * d3 > 65536)
  for (int64_t i0 = 0; i0 < d0; ++i0)
    for (int64_t i1 = 0; i1 < d1; ++i1)
      for (int64_t i2 = 0; i2 < d2; ++i2)
        binary_row(lhs + i0 * l0 + i1 * l1 + i2 * l2, l3, rhs + i0 * r0 + i1 * r1 + i2 * r2,
                   r3, output + ((i0 * d1 + i1) * d2 + i2) * d3, d3, op);
}

}  // namespace

extern "C" {

void mnistc_binary(const float* lhs, const float* rhs, float* output, int64_t op,
                   int64_t d0, int64_t d1, int64_t d2, int64_t d3, int64_t l0, int64_t l1,
                   int64_t l2, int64_t l3, int64_t r0, int64_t r1, int64_t r2, int64_t r3) {
  if (op == MNISTC_BINARY_ADD)
    binary(lhs, rhs, output, d0, d1, d2, d3, l0, l1, l2, l3, r0, r1, r2, r3,
           [](auto x, auto y) { return x + y; });
  else if (op == MNISTC_BINARY_MUL)
    binary(lhs, rhs, output, d0, d1, d2, d3, l0, l1, l2, l3, r0, r1, r2, r3,
           [](auto x, auto y) { return x * y; });
  else  // PyTorch's prelu: a NaN x fails `x >= 0` and stays NaN through x * y
    binary(lhs, rhs, output, d0, d1, d2, d3, l0, l1, l2, l3, r0, r1, r2, r3,
           [](auto x, auto y) { return x >= 0.0f ? x : x * y; });
}

}  // extern "C"
