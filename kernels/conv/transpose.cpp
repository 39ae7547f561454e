// Transposed convolution (see kernels.hpp): each output channel is owned by one thread,
// which scatters every input row, weighted by each kernel tap, into the output rows the
// tap reaches. With stride 1 along W the row update is a contiguous axpy (vectorised);
// otherwise it writes every stride-th output pixel.
#include "kernels.hpp"

#include <algorithm>

#include "kernel_support.hpp"

using namespace mnistc;

namespace {

// The input indices [begin, end) whose output index h*stride + offset lies in [0, size).
inline void valid_inputs(int64_t offset, int64_t stride, int64_t size, int64_t inputs,
                         int64_t& begin, int64_t& end) {
  begin = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  end = size - 1 - offset < 0 ? 0 : std::min(inputs, (size - 1 - offset) / stride + 1);
  if (end < begin) end = begin;
}

// out[ow_i * stride + first] += w * in[i] for i in [begin, end).
inline void scatter_row(float* out, const float* in, float w, int64_t begin, int64_t end,
                        int64_t stride, int64_t offset) {
  if (stride == 1) {
    float* target = out + offset;
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) target[i] += w * in[i];
  } else {
    for (int64_t i = begin; i < end; ++i) out[i * stride + offset] += w * in[i];
  }
}

}  // namespace

extern "C" {

void mnistc_conv_transpose2d(const float* input, const float* weight, const float* bias,
                             float* output, int64_t C, int64_t H, int64_t W, int64_t K,
                             int64_t OH, int64_t OW, int64_t KH, int64_t KW,
                             int64_t stride_h, int64_t stride_w, int64_t pad_h,
                             int64_t pad_w, int64_t dilation_h, int64_t dilation_w,
                             int64_t groups, int64_t activation, float alpha, float beta) {
  const int64_t channels_per_group = C / groups;
  const int64_t filters_per_group = K / groups;
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < K; ++k) {
    float* out = output + k * OH * OW;
    std::fill(out, out + OH * OW, bias ? bias[k] : 0.0f);
    const int64_t group = k / filters_per_group, filter = k % filters_per_group;
    for (int64_t c = group * channels_per_group; c < (group + 1) * channels_per_group; ++c) {
      const float* in = input + c * H * W;
      const float* w = weight + (c * filters_per_group + filter) * KH * KW;
      for (int64_t i = 0; i < KH; ++i) {
        int64_t h_begin, h_end;
        const int64_t row_offset = i * dilation_h - pad_h;
        valid_inputs(row_offset, stride_h, OH, H, h_begin, h_end);
        for (int64_t j = 0; j < KW; ++j) {
          const float wv = w[i * KW + j];
          int64_t w_begin, w_end;
          const int64_t col_offset = j * dilation_w - pad_w;
          valid_inputs(col_offset, stride_w, OW, W, w_begin, w_end);
          for (int64_t h = h_begin; h < h_end; ++h)
            scatter_row(out + (h * stride_h + row_offset) * OW, in + h * W, wv, w_begin,
                        w_end, stride_w, col_offset);
        }
      }
    }
    activate_all(out, OH * OW, activation, alpha, beta);
  }
}

}  // extern "C"
