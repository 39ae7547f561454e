// Reductions (sum, mean, max, min) of a dense rank-4 tensor over any of its dims (see
// kernels.hpp). The lowering merges neighbouring dims, so any rank and any set of dims
// reaches this kernel as at most four alternating kept and reduced dims.
#include "kernels.hpp"

#include <limits>

#include "kernel_support.hpp"

using namespace mnistc;

namespace {

struct Sum {
  static float init() { return 0.0f; }
  static float combine(float a, float b) { return a + b; }
  static v8 combine(v8 a, v8 b) { return a + b; }
};
struct Max {
  static float init() { return -std::numeric_limits<float>::infinity(); }
  static float combine(float a, float b) { return max_nan(a, b); }
  static v8 combine(v8 a, v8 b) { return max_nan(a, b); }
};
struct Min {
  static float init() { return std::numeric_limits<float>::infinity(); }
  static float combine(float a, float b) { return (a < b || a != a) ? a : b; }
  static v8 combine(v8 a, v8 b) { return (a < b || a != a) ? a : b; }
};

// acc[i] = combine(acc[i], row[i]) for i < n: the reduction across rows.
template <class Op>
void combine_rows(float* acc, const float* row, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) store8(acc + i, Op::combine(load8(acc + i), load8(row + i)));
  for (; i < n; ++i) acc[i] = Op::combine(acc[i], row[i]);
}

// The reduction of one contiguous row, eight lanes at a time.
template <class Op>
float reduce_row(const float* row, int64_t n) {
  float result = Op::init();
  int64_t i = 0;
  if (n >= 16) {
    v8 a = load8(row), b = load8(row + 8);
    for (i = 16; i + 16 <= n; i += 16) {
      a = Op::combine(a, load8(row + i));
      b = Op::combine(b, load8(row + i + 8));
    }
    a = Op::combine(a, b);
    for (int lane = 0; lane < 8; ++lane) result = Op::combine(result, a[lane]);
  }
  for (; i < n; ++i) result = Op::combine(result, row[i]);
  return result;
}

template <class Op>
void reduce_impl(const float* input, float* output, const int64_t d[4], const int64_t r[4],
                 float scale) {
  // Kept extent and reduced extent of the three outer dims; the last dim is a row.
  int64_t kept[3], reduced[3];
  for (int i = 0; i < 3; ++i) {
    kept[i] = r[i] ? 1 : d[i];
    reduced[i] = r[i] ? d[i] : 1;
  }
  const int64_t stride[3] = {d[1] * d[2] * d[3], d[2] * d[3], d[3]};
  const int64_t row = d[3], out_row = r[3] ? 1 : d[3];
  const int64_t outputs = kept[0] * kept[1] * kept[2];
#pragma omp parallel for schedule(static) if (outputs * row > 65536)
  for (int64_t o = 0; o < outputs; ++o) {
    const int64_t o2 = o % kept[2], o1 = (o / kept[2]) % kept[1], o0 = o / (kept[2] * kept[1]);
    float* out = output + o * out_row;
    for (int64_t i = 0; i < out_row; ++i) out[i] = Op::init();
    for (int64_t j0 = 0; j0 < reduced[0]; ++j0)
      for (int64_t j1 = 0; j1 < reduced[1]; ++j1)
        for (int64_t j2 = 0; j2 < reduced[2]; ++j2) {
          const float* in = input + (o0 + j0) * stride[0] + (o1 + j1) * stride[1] +
                            (o2 + j2) * stride[2];
          if (r[3])
            out[0] = Op::combine(out[0], reduce_row<Op>(in, row));
          else
            combine_rows<Op>(out, in, row);
        }
    if (scale != 1.0f)
      for (int64_t i = 0; i < out_row; ++i) out[i] /= scale;
  }
}

}  // namespace

extern "C" {

void mnistc_reduce(const float* input, float* output, int64_t op, int64_t d0, int64_t d1,
                   int64_t d2, int64_t d3, int64_t r0, int64_t r1, int64_t r2, int64_t r3) {
  const int64_t d[4] = {d0, d1, d2, d3}, r[4] = {r0, r1, r2, r3};
  float count = 1.0f;
  for (int i = 0; i < 4; ++i)
    if (r[i]) count *= static_cast<float>(d[i]);
  switch (op) {
    case MNISTC_REDUCE_SUM:
      return reduce_impl<Sum>(input, output, d, r, 1.0f);
    case MNISTC_REDUCE_MEAN:
      return reduce_impl<Sum>(input, output, d, r, count);
    case MNISTC_REDUCE_MAX:
      return reduce_impl<Max>(input, output, d, r, 1.0f);
    default:
      return reduce_impl<Min>(input, output, d, r, 1.0f);
  }
}

}  // extern "C"
