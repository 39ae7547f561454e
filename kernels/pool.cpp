// Max, average and adaptive average pooling over NCHW (see kernels.hpp).
//
// Max and average pooling share one walk over each output row: the columns whose window
// lies wholly inside the input (the interior) go 8 at a time with no bounds checks,
// reading stride-2 windows through an even/odd deinterleave; the few border columns,
// whose windows reach into the padding, go one by one with checks. Each output value
// combines its taps in the same order on either path (rows, then columns), so a sum is
// rounded the same way wherever its column falls.
#include "kernels.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernel_support.hpp"

using namespace mnistc;

namespace {

// PyTorch's max pooling: NaN wins, a padded position never does.
struct MaxOp {
  static float init() { return -std::numeric_limits<float>::infinity(); }
  static v8 init8() { return splat(init()); }
  static float combine(float acc, float v) { return max_nan(v, acc); }
  static v8 combine(v8 acc, v8 v) { return max_nan(v, acc); }
};

// Average pooling's sum; the division by the window's count follows.
struct SumOp {
  static float init() { return 0.0f; }
  static v8 init8() { return v8{}; }
  static float combine(float acc, float v) { return acc + v; }
  static v8 combine(v8 acc, v8 v) { return acc + v; }
};

struct Window {
  int64_t H, W, OH, OW, KH, KW, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;

  // The output columns [interior_begin, interior_end) whose window has every tap inside
  // the input row.
  int64_t interior_begin() const {
    return std::min((pad_w + stride_w - 1) / stride_w, interior_end());
  }
  int64_t interior_end() const {
    const int64_t last_start = W - 1 + pad_w - (KW - 1) * dilation_w;
    return last_start < 0 ? 0 : std::min(OW, last_start / stride_w + 1);
  }
  // The taps kh of output row oh that fall inside the input: [begin, end).
  int64_t rows_begin(int64_t oh) const {
    const int64_t above = pad_h - oh * stride_h;  // padded rows above the window's top
    return above <= 0 ? 0 : std::min(KH, (above + dilation_h - 1) / dilation_h);
  }
  int64_t rows_end(int64_t oh) const {
    const int64_t below = H - 1 - (oh * stride_h - pad_h);
    return below < 0 ? 0 : std::min(KH, below / dilation_h + 1);
  }
};

// Lanes 0, 2, .., 14 (even) and 1, 3, .., 15 (odd) of p[0 .. 15].
inline void deinterleave(const float* p, v8& even, v8& odd) {
  const v8 a = load8(p), b = load8(p + 8);
  even = __builtin_shuffle(a, b, mask8{0, 2, 4, 6, 8, 10, 12, 14});
  odd = __builtin_shuffle(a, b, mask8{1, 3, 5, 7, 9, 11, 13, 15});
}

// p[0], p[2], .., p[14], reading no further than p[14].
inline v8 even_lanes(const float* p) {
  const v8 a = load8(p), b = load8(p + 7);
  return __builtin_shuffle(a, b, mask8{0, 2, 4, 6, 9, 11, 13, 15});
}

// Op over the window taps of the 8 interior output columns from ow of output row oh,
// in the input rows of taps [kh0, kh1). kStride is the column stride, or 0 for any other
// (read from `w`).
template <class Op, int kStride>
inline v8 reduce_interior8(const float* in, int64_t oh, int64_t ow, int64_t kh0,
                           int64_t kh1, const Window& w) {
  v8 acc = Op::init8();
  for (int64_t kh = kh0; kh < kh1; ++kh) {
    const float* p = in + (oh * w.stride_h - w.pad_h + kh * w.dilation_h) * w.W +
                     ow * w.stride_w - w.pad_w;
    if (kStride == 1) {
      for (int64_t kw = 0; kw < w.KW; ++kw)
        acc = Op::combine(acc, load8(p + kw * w.dilation_w));
    } else if (kStride == 2) {
      int64_t kw = 0;
      if (w.dilation_w == 1)  // taps kw and kw + 1 are the even and odd lanes of one read
        for (; kw + 1 < w.KW; kw += 2) {
          v8 even, odd;
          deinterleave(p + kw, even, odd);
          acc = Op::combine(Op::combine(acc, even), odd);
        }
      for (; kw < w.KW; ++kw) acc = Op::combine(acc, even_lanes(p + kw * w.dilation_w));
    } else {
      const int64_t s = w.stride_w;
      for (int64_t kw = 0; kw < w.KW; ++kw) {
        const float* q = p + kw * w.dilation_w;
        acc = Op::combine(acc, v8{q[0], q[s], q[2 * s], q[3 * s], q[4 * s], q[5 * s],
                                  q[6 * s], q[7 * s]});
      }
    }
  }
  return acc;
}

// Op over the taps of output (oh, ow) that lie inside the input, and their count.
template <class Op>
inline float reduce_checked(const float* in, int64_t oh, int64_t ow, int64_t kh0,
                            int64_t kh1, const Window& w, int64_t& count) {
  float acc = Op::init();
  count = 0;
  const int64_t iw0 = ow * w.stride_w - w.pad_w;
  for (int64_t kh = kh0; kh < kh1; ++kh) {
    const float* row = in + (oh * w.stride_h - w.pad_h + kh * w.dilation_h) * w.W;
    for (int64_t kw = 0; kw < w.KW; ++kw) {
      const int64_t iw = iw0 + kw * w.dilation_w;
      if (iw < 0 || iw >= w.W) continue;
      acc = Op::combine(acc, row[iw]);
      ++count;
    }
  }
  return acc;
}

// One output row of one channel plane. finish(value, ow, count) turns the combined taps
// of column ow (count of them inside the input) into the output value; finish8 the same
// for 8 interior columns from ow.
template <class Op, int kStride, class Finish, class Finish8>
void pool_row(const float* in, float* out, int64_t oh, const Window& w, Finish finish,
              Finish8 finish8) {
  const int64_t kh0 = w.rows_begin(oh), kh1 = w.rows_end(oh);
  const int64_t begin = w.interior_begin(), end = w.interior_end();
  int64_t vector_begin = end, vector_end = end;
  if (end - begin >= 8) {
    vector_begin = begin;
    // The last 8 columns end at `end`, overlapping the previous group rather than
    // leaving a scalar tail: each output is a function of the input, written twice alike.
    for (int64_t ow = begin;; ow = std::min(ow + 8, end - 8)) {
      store8(out + ow, finish8(reduce_interior8<Op, kStride>(in, oh, ow, kh0, kh1, w), ow));
      if (ow == end - 8) break;
    }
  }
  for (int64_t ow = 0; ow < w.OW; ++ow) {
    if (ow == vector_begin) ow = vector_end;
    if (ow >= w.OW) break;
    int64_t count;
    const float value = reduce_checked<Op>(in, oh, ow, kh0, kh1, w, count);
    out[ow] = finish(value, ow, count);
  }
}

// Calls pool_row for every row of every plane with the column stride as a constant
// where it has a vector form.
template <class Op, class MakeFinish>
void pool_planes(const float* input, float* output, int64_t C, const Window& w,
                 MakeFinish make_finish) {
#pragma omp parallel for collapse(2) schedule(static) if (C * w.OH * w.OW > 4096)
  for (int64_t c = 0; c < C; ++c)
    for (int64_t oh = 0; oh < w.OH; ++oh) {
      const float* in = input + c * w.H * w.W;
      float* out = output + (c * w.OH + oh) * w.OW;
      auto [finish, finish8] = make_finish(oh);
      if (w.stride_w == 1)
        pool_row<Op, 1>(in, out, oh, w, finish, finish8);
      else if (w.stride_w == 2)
        pool_row<Op, 2>(in, out, oh, w, finish, finish8);
      else
        pool_row<Op, 0>(in, out, oh, w, finish, finish8);
    }
}

// The mean of x[0..n): four vector accumulators, so that the adds do not wait on each
// other and each partial sum holds n/32 values (a smaller rounding error than one chain).
inline float mean(const float* x, int64_t n) {
  v8 acc[4] = {};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int j = 0; j < 4; ++j) acc[j] += load8(x + i + 8 * j);
  for (; i + 8 <= n; i += 8) acc[0] += load8(x + i);
  const v8 total = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  float sum = 0.0f;
  for (int l = 0; l < 8; ++l) sum += total[l];
  for (; i < n; ++i) sum += x[i];
  return sum / static_cast<float>(n);
}

}  // namespace

extern "C" {

void mnistc_max_pool2d(const float* input, float* output, int64_t C, int64_t H, int64_t W,
                       int64_t OH, int64_t OW, int64_t KH, int64_t KW, int64_t stride_h,
                       int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t dilation_h,
                       int64_t dilation_w) {
  const Window w{H,        W,        OH,    OW,    KH,         KW,
                 stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w};
  pool_planes<MaxOp>(input, output, C, w, [](int64_t) {
    return std::make_pair([](float value, int64_t, int64_t) { return value; },
                          [](v8 value, int64_t) { return value; });
  });
}

void mnistc_avg_pool2d(const float* input, float* output, int64_t C, int64_t H, int64_t W,
                       int64_t OH, int64_t OW, int64_t KH, int64_t KW, int64_t stride_h,
                       int64_t stride_w, int64_t pad_h, int64_t pad_w,
                       int64_t count_include_pad, int64_t divisor) {
  const Window w{H, W, OH, OW, KH, KW, stride_h, stride_w, pad_h, pad_w, 1, 1};
  pool_planes<SumOp>(input, output, C, w, [&](int64_t oh) {
    // PyTorch's count: the window clipped to the padded input, or to the input.
    const int64_t h0 = oh * stride_h - pad_h, h1 = std::min(h0 + KH, H + pad_h);
    const int64_t rows = count_include_pad ? h1 - h0 : w.rows_end(oh) - w.rows_begin(oh);
    auto finish = [=](float sum, int64_t ow, int64_t inside) {
      const int64_t w0 = ow * stride_w - pad_w, w1 = std::min(w0 + KW, W + pad_w);
      const int64_t count = divisor             ? divisor
                            : count_include_pad ? rows * (w1 - w0)
                                                : inside;
      return sum / static_cast<float>(count);
    };
    // Interior columns span KW input columns, inside the input and the padded input.
    const float interior_count = static_cast<float>(divisor ? divisor : rows * KW);
    auto finish8 = [=](v8 sum, int64_t) { return sum / splat(interior_count); };
    return std::make_pair(finish, finish8);
  });
}

void mnistc_adaptive_avg_pool2d(const float* input, float* output, int64_t C, int64_t H,
                                int64_t W, int64_t OH, int64_t OW) {
#pragma omp parallel for schedule(static) if (C * H * W > 65536)
  for (int64_t c = 0; c < C; ++c) {
    const float* in = input + c * H * W;
    if (OH == 1 && OW == 1) {  // global pooling (squeeze-excite blocks, classifier heads)
      output[c] = mean(in, H * W);
      continue;
    }
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t h0 = oh * H / OH, h1 = ((oh + 1) * H + OH - 1) / OH;
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w0 = ow * W / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
        float sum = 0.0f;
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) sum += in[ih * W + iw];
        output[(c * OH + oh) * OW + ow] = sum / static_cast<float>((h1 - h0) * (w1 - w0));
      }
    }
  }
}

}  // extern "C"
