// The general convolution: any stride, padding, dilation and groups (see kernels.hpp).
#include "kernels.hpp"

#include <algorithm>

#include "kernel_support.hpp"

using namespace mnistc;

namespace {

// First output index whose input index o*stride + offset is >= 0.
inline int64_t first_valid(int64_t offset, int64_t stride) {
  return offset >= 0 ? 0 : (-offset + stride - 1) / stride;
}

// One past the last output index whose input index o*stride + offset is < size.
inline int64_t end_valid(int64_t offset, int64_t stride, int64_t size, int64_t out) {
  if (size - 1 - offset < 0) return 0;
  return std::min(out, (size - 1 - offset) / stride + 1);
}

}  // namespace

extern "C" {

void mnistc_conv2d(const float* input, const float* weight, const float* bias,
                   const float* residual, float* output, int64_t C, int64_t H, int64_t W,
                   int64_t K, int64_t OH, int64_t OW, int64_t KH, int64_t KW,
                   int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                   int64_t dilation_h, int64_t dilation_w, int64_t groups,
                   int64_t activation, float alpha, float beta) {
  const int64_t channels_per_group = C / groups;
  const int64_t filters_per_group = K / groups;
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < K; ++k) {
    float* out = output + k * OH * OW;
    const float initial = bias ? bias[k] : 0.0f;
    for (int64_t i = 0; i < OH * OW; ++i) out[i] = initial;
    const int64_t first_channel = (k / filters_per_group) * channels_per_group;
    for (int64_t c = 0; c < channels_per_group; ++c) {
      const float* in = input + (first_channel + c) * H * W;
      const float* w = weight + (k * channels_per_group + c) * KH * KW;
      for (int64_t kh = 0; kh < KH; ++kh) {
        const int64_t row_offset = kh * dilation_h - pad_h;
        const int64_t oh_begin = first_valid(row_offset, stride_h);
        const int64_t oh_end = end_valid(row_offset, stride_h, H, OH);
        for (int64_t kw = 0; kw < KW; ++kw) {
          const float wv = w[kh * KW + kw];
          const int64_t col_offset = kw * dilation_w - pad_w;
          const int64_t ow_begin = first_valid(col_offset, stride_w);
          const int64_t ow_end = end_valid(col_offset, stride_w, W, OW);
          for (int64_t oh = oh_begin; oh < oh_end; ++oh) {
            const float* in_row = in + (oh * stride_h + row_offset) * W + col_offset;
            float* out_row = out + oh * OW;
            if (stride_w == 1) {
#pragma omp simd
              for (int64_t ow = ow_begin; ow < ow_end; ++ow) out_row[ow] += wv * in_row[ow];
            } else {
              for (int64_t ow = ow_begin; ow < ow_end; ++ow)
                out_row[ow] += wv * in_row[ow * stride_w];
            }
          }
        }
      }
    }
    if (residual) {
      const float* res = residual + k * OH * OW;
      for (int64_t i = 0; i < OH * OW; ++i) out[i] += res[i];
    }
    activate_all(out, OH * OW, activation, alpha, beta);
  }
}

}  // extern "C"
