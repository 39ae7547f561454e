// Binary element-wise ops with broadcast strides (see kernels.hpp).
#include "kernels.hpp"

#include <cmath>
#include <type_traits>

#include "kernel_support.hpp"

using namespace mnistc;

namespace {

// The activation of a binary op's result, with its parameters.
struct Epilogue {
  int64_t activation;
  float alpha, beta;
  v8 operator()(v8 x) const { return activate8(x, activation, alpha, beta); }
  float operator()(float x) const { return activate(x, activation, alpha, beta); }
};

// out[i] = act(op(a[i * la], b[i * lb])) for i < n. The lowering merges dimensions so
// that the innermost one is long, and then each operand is dense (stride 1) or broadcast
// (stride 0) along it, as in a residual add or a channel scale x[C,H*W] * s[C,1]: those
// run as vectors; any other stride element by element. `op` takes floats, and v8 too
// unless it has no vector form (powf): then every row runs element by element.
template <class Op>
inline void binary_row(const float* a, int64_t la, const float* b, int64_t lb, float* out,
                       int64_t n, Op op, Epilogue act) {
  int64_t i = 0;
  if constexpr (std::is_invocable_v<Op, v8, v8>) {
    if (has_vector_form(act.activation)) {
      if (la == 1 && lb == 1) {
        for (; i + 8 <= n; i += 8) store8(out + i, act(op(load8(a + i), load8(b + i))));
      } else if (la == 1 && lb == 0) {
        const v8 bv = splat(b[0]);
        for (; i + 8 <= n; i += 8) store8(out + i, act(op(load8(a + i), bv)));
      } else if (la == 0 && lb == 1) {
        const v8 av = splat(a[0]);
        for (; i + 8 <= n; i += 8) store8(out + i, act(op(av, load8(b + i))));
      }
    }
  }
  for (; i < n; ++i) out[i] = act(op(a[i * la], b[i * lb]));
}

template <class Op>
void binary(const float* lhs, const float* rhs, float* output, const int64_t d[4],
            const int64_t l[4], const int64_t r[4], Op op, Epilogue act) {
#pragma omp parallel for collapse(3) schedule(static) if (d[0] * d[1] * d[2] * d[3] > 65536)
  for (int64_t i0 = 0; i0 < d[0]; ++i0)
    for (int64_t i1 = 0; i1 < d[1]; ++i1)
      for (int64_t i2 = 0; i2 < d[2]; ++i2)
        binary_row(lhs + i0 * l[0] + i1 * l[1] + i2 * l[2], l[3],
                   rhs + i0 * r[0] + i1 * r[1] + i2 * r[2], r[3],
                   output + ((i0 * d[1] + i1) * d[2] + i2) * d[3], d[3], op, act);
}

}  // namespace

extern "C" {

void mnistc_binary(const float* lhs, const float* rhs, float* output, int64_t op,
                   int64_t d0, int64_t d1, int64_t d2, int64_t d3, int64_t l0, int64_t l1,
                   int64_t l2, int64_t l3, int64_t r0, int64_t r1, int64_t r2, int64_t r3,
                   int64_t activation, float alpha, float beta) {
  const int64_t d[4] = {d0, d1, d2, d3}, l[4] = {l0, l1, l2, l3}, r[4] = {r0, r1, r2, r3};
  const Epilogue act{activation, alpha, beta};
  if (op == MNISTC_BINARY_ADD)
    binary(lhs, rhs, output, d, l, r, [](auto x, auto y) { return x + y; }, act);
  else if (op == MNISTC_BINARY_MUL)
    binary(lhs, rhs, output, d, l, r, [](auto x, auto y) { return x * y; }, act);
  else if (op == MNISTC_BINARY_PRELU)  // a NaN x fails `x >= 0`, stays NaN through x * y
    binary(lhs, rhs, output, d, l, r, [](auto x, auto y) { return x >= 0.0f ? x : x * y; },
           act);
  // torch.maximum and torch.minimum: a NaN on either side wins.
  else if (op == MNISTC_BINARY_SUB)
    binary(lhs, rhs, output, d, l, r, [](auto x, auto y) { return x - y; }, act);
  else if (op == MNISTC_BINARY_DIV)
    binary(lhs, rhs, output, d, l, r, [](auto x, auto y) { return x / y; }, act);
  else if (op == MNISTC_BINARY_MAX)
    binary(lhs, rhs, output, d, l, r, [](auto x, auto y) { return max_nan(x, y); }, act);
  else if (op == MNISTC_BINARY_MIN)
    binary(lhs, rhs, output, d, l, r,
           [](auto x, auto y) { return (x < y || x != x) ? x : y; }, act);
  else  // C's powf, as PyTorch's pow of two tensors (std::pow, Sleef's pow in its vectors)
    binary(lhs, rhs, output, d, l, r, [](float x, float y) { return std::pow(x, y); }, act);
}

}  // extern "C"
