// Max, average and adaptive average pooling over NCHW (see kernels.hpp).
#include "kernels.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernel_support.hpp"

using namespace mnistc;

namespace {

// One output row of a 2x2, stride-2 max pool from input rows `top` and `bottom`.
inline void max_pool_2x2_row(const float* top, const float* bottom, float* out,
                             int64_t OW) {
  int64_t ow = 0;
  for (; ow + 8 <= OW; ow += 8) {
    const v8 a = max_nan(load8(top + 2 * ow), load8(bottom + 2 * ow));
    const v8 b = max_nan(load8(top + 2 * ow + 8), load8(bottom + 2 * ow + 8));
    const v8 even = __builtin_shuffle(a, b, mask8{0, 2, 4, 6, 8, 10, 12, 14});
    const v8 odd = __builtin_shuffle(a, b, mask8{1, 3, 5, 7, 9, 11, 13, 15});
    store8(out + ow, max_nan(even, odd));
  }
  for (; ow < OW; ++ow)
    out[ow] = max_nan(max_nan(top[2 * ow], top[2 * ow + 1]),
                      max_nan(bottom[2 * ow], bottom[2 * ow + 1]));
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
#pragma omp parallel for schedule(static) if (C * OH * OW > 4096)
  for (int64_t c = 0; c < C; ++c) {
    const float* in = input + c * H * W;
    const bool inside = pad_h == 0 && pad_w == 0 && dilation_h == 1 && dilation_w == 1 &&
                        (OH - 1) * stride_h + KH <= H && (OW - 1) * stride_w + KW <= W;
    if (inside && KH == 2 && KW == 2 && stride_h == 2 && stride_w == 2) {
      for (int64_t oh = 0; oh < OH; ++oh)
        max_pool_2x2_row(in + 2 * oh * W, in + (2 * oh + 1) * W,
                         output + (c * OH + oh) * OW, OW);
      continue;
    }
    if (inside) {
      // Every window lies inside the input: no bounds checks.
      for (int64_t oh = 0; oh < OH; ++oh) {
        float* out = output + (c * OH + oh) * OW;
        for (int64_t ow = 0; ow < OW; ++ow)
          out[ow] = -std::numeric_limits<float>::infinity();
        for (int64_t kh = 0; kh < KH; ++kh) {
          const float* row = in + (oh * stride_h + kh) * W;
          for (int64_t kw = 0; kw < KW; ++kw)
            for (int64_t ow = 0; ow < OW; ++ow) {
              const float v = row[ow * stride_w + kw];
              out[ow] = (v > out[ow] || v != v) ? v : out[ow];
            }
        }
      }
      continue;
    }
    for (int64_t oh = 0; oh < OH; ++oh) {
      for (int64_t ow = 0; ow < OW; ++ow) {
        float best = -std::numeric_limits<float>::infinity();
        for (int64_t kh = 0; kh < KH; ++kh) {
          const int64_t ih = oh * stride_h - pad_h + kh * dilation_h;
          if (ih < 0 || ih >= H) continue;
          for (int64_t kw = 0; kw < KW; ++kw) {
            const int64_t iw = ow * stride_w - pad_w + kw * dilation_w;
            if (iw < 0 || iw >= W) continue;
            const float v = in[ih * W + iw];
            if (v > best || std::isnan(v)) best = v;
          }
        }
        output[(c * OH + oh) * OW + ow] = best;
      }
    }
  }
}

void mnistc_avg_pool2d(const float* input, float* output, int64_t C, int64_t H, int64_t W,
                       int64_t OH, int64_t OW, int64_t KH, int64_t KW, int64_t stride_h,
                       int64_t stride_w, int64_t pad_h, int64_t pad_w,
                       int64_t count_include_pad, int64_t divisor) {
#pragma omp parallel for schedule(static) if (C * OH * OW > 4096)
  for (int64_t c = 0; c < C; ++c) {
    const float* in = input + c * H * W;
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t h0 = oh * stride_h - pad_h;
      const int64_t h1 = std::min(h0 + KH, H + pad_h);
      const int64_t hb = std::max<int64_t>(h0, 0), he = std::min(h1, H);
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w0 = ow * stride_w - pad_w;
        const int64_t w1 = std::min(w0 + KW, W + pad_w);
        const int64_t wb = std::max<int64_t>(w0, 0), we = std::min(w1, W);
        float sum = 0.0f;
        for (int64_t ih = hb; ih < he; ++ih)
          for (int64_t iw = wb; iw < we; ++iw) sum += in[ih * W + iw];
        const int64_t count =
            divisor ? divisor
                    : (count_include_pad ? (h1 - h0) * (w1 - w0) : (he - hb) * (we - wb));
        output[(c * OH + oh) * OW + ow] = sum / static_cast<float>(count);
      }
    }
  }
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
