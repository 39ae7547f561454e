// Binary element-wise ops with broadcast strides (see kernels.hpp). The innermost dim
// runs eight lanes at a time when each operand is dense or broadcast along it.
#include "kernels.hpp"

#include "kernel_support.hpp"

using namespace mnistc;

namespace {

struct Add {
  template <class T> static T apply(T a, T b) { return a + b; }
};
struct Mul {
  template <class T> static T apply(T a, T b) { return a * b; }
};
struct PRelu {
  static float apply(float a, float b) { return a >= 0.0f ? a : a * b; }
  static v8 apply(v8 a, v8 b) { return a >= 0.0f ? a : a * b; }
};
struct Sub {
  template <class T> static T apply(T a, T b) { return a - b; }
};
struct Div {
  template <class T> static T apply(T a, T b) { return a / b; }
};
// torch.maximum / torch.minimum: a NaN on either side wins.
struct Max {
  template <class T> static T apply(T a, T b) { return max_nan(a, b); }
};
struct Min {
  static float apply(float a, float b) { return (a < b || a != a) ? a : b; }
  static v8 apply(v8 a, v8 b) { return (a < b || a != a) ? a : b; }
};

template <class Op>
void row(const float* a, const float* b, float* out, int64_t n, int64_t sa, int64_t sb) {
  int64_t i = 0;
  if (sa == 1 && sb == 1) {
    for (; i + 8 <= n; i += 8) store8(out + i, Op::apply(load8(a + i), load8(b + i)));
  } else if (sa == 1 && sb == 0) {
    const v8 bv = splat(b[0]);
    for (; i + 8 <= n; i += 8) store8(out + i, Op::apply(load8(a + i), bv));
  } else if (sa == 0 && sb == 1) {
    const v8 av = splat(a[0]);
    for (; i + 8 <= n; i += 8) store8(out + i, Op::apply(av, load8(b + i)));
  }
  for (; i < n; ++i) out[i] = Op::apply(a[i * sa], b[i * sb]);
}

template <class Op>
void binary(const float* lhs, const float* rhs, float* output, const int64_t d[4],
            const int64_t l[4], const int64_t r[4]) {
#pragma omp parallel for collapse(2) schedule(static) if (d[0] * d[1] * d[2] * d[3] > 65536)
  for (int64_t i0 = 0; i0 < d[0]; ++i0)
    for (int64_t i1 = 0; i1 < d[1]; ++i1)
      for (int64_t i2 = 0; i2 < d[2]; ++i2)
        row<Op>(lhs + i0 * l[0] + i1 * l[1] + i2 * l[2], rhs + i0 * r[0] + i1 * r[1] + i2 * r[2],
                output + ((i0 * d[1] + i1) * d[2] + i2) * d[3], d[3], l[3], r[3]);
}

}  // namespace

extern "C" {

void mnistc_binary(const float* lhs, const float* rhs, float* output, int64_t op,
                   int64_t d0, int64_t d1, int64_t d2, int64_t d3, int64_t l0, int64_t l1,
                   int64_t l2, int64_t l3, int64_t r0, int64_t r1, int64_t r2, int64_t r3) {
  const int64_t d[4] = {d0, d1, d2, d3}, l[4] = {l0, l1, l2, l3}, r[4] = {r0, r1, r2, r3};
  switch (op) {
    case MNISTC_BINARY_ADD: return binary<Add>(lhs, rhs, output, d, l, r);
    case MNISTC_BINARY_MUL: return binary<Mul>(lhs, rhs, output, d, l, r);
    case MNISTC_BINARY_PRELU: return binary<PRelu>(lhs, rhs, output, d, l, r);
    case MNISTC_BINARY_SUB: return binary<Sub>(lhs, rhs, output, d, l, r);
    case MNISTC_BINARY_DIV: return binary<Div>(lhs, rhs, output, d, l, r);
    case MNISTC_BINARY_MAX: return binary<Max>(lhs, rhs, output, d, l, r);
    default: return binary<Min>(lhs, rhs, output, d, l, r);
  }
}

}  // extern "C"
