// Resizing by interpolation (see kernels.hpp): the source taps of every output row and
// column are computed once, then each plane is sampled row by row.
#include "kernels.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace {

struct Taps {
  std::vector<int64_t> first, second;
  std::vector<float> weight;  // of `second`; 0 for the nearest modes
};

inline float rounded(float x, int64_t mode) {
  switch (mode) {
    case MNISTC_RESIZE_NEAREST_CEIL: return std::ceil(x);
    case MNISTC_RESIZE_NEAREST_ROUND_PREFER_FLOOR: return std::ceil(x - 0.5f);
    case MNISTC_RESIZE_NEAREST_ROUND_PREFER_CEIL: return std::floor(x + 0.5f);
    default: return std::floor(x);
  }
}

Taps taps(int64_t out, int64_t in, int64_t mode, bool divide, float scale, float shift,
          float offset) {
  Taps t{std::vector<int64_t>(out), std::vector<int64_t>(out), std::vector<float>(out)};
  for (int64_t i = 0; i < out; ++i) {
    const float shifted = static_cast<float>(i) + shift;
    const float scaled = divide ? shifted / scale : shifted * scale;
    float x = scaled + offset;
    if (mode == MNISTC_RESIZE_LINEAR) {
      x = std::min(std::max(x, 0.0f), static_cast<float>(in - 1));
      const int64_t first = static_cast<int64_t>(x);
      t.first[i] = first;
      t.second[i] = std::min(first + 1, in - 1);
      t.weight[i] = x - static_cast<float>(first);
    } else {
      const float r = std::min(std::max(rounded(x, mode), 0.0f), static_cast<float>(in - 1));
      t.first[i] = t.second[i] = static_cast<int64_t>(r);
      t.weight[i] = 0.0f;
    }
  }
  return t;
}

}  // namespace

extern "C" {

void mnistc_resize2d(const float* input, float* output, int64_t C, int64_t H, int64_t W,
                     int64_t OH, int64_t OW, int64_t mode, int64_t divide, float scale_h,
                     float scale_w,
                     float shift_h, float shift_w, float offset_h, float offset_w) {
  const Taps rows = taps(OH, H, mode, divide, scale_h, shift_h, offset_h);
  const Taps cols = taps(OW, W, mode, divide, scale_w, shift_w, offset_w);
  const bool linear = mode == MNISTC_RESIZE_LINEAR;
#pragma omp parallel for schedule(static) if (C * OH * OW > 65536)
  for (int64_t c = 0; c < C; ++c) {
    const float* plane = input + c * H * W;
    std::vector<float> row(W);
    for (int64_t oh = 0; oh < OH; ++oh) {
      float* out = output + (c * OH + oh) * OW;
      const float* top = plane + rows.first[oh] * W;
      if (!linear) {
        for (int64_t ow = 0; ow < OW; ++ow) out[ow] = top[cols.first[ow]];
        continue;
      }
      const float* bottom = plane + rows.second[oh] * W;
      const float lh = rows.weight[oh];
#pragma omp simd
      for (int64_t w = 0; w < W; ++w) row[w] = (1.0f - lh) * top[w] + lh * bottom[w];
      for (int64_t ow = 0; ow < OW; ++ow) {
        const float lw = cols.weight[ow];
        out[ow] = (1.0f - lw) * row[cols.first[ow]] + lw * row[cols.second[ow]];
      }
    }
  }
}

}  // extern "C"
