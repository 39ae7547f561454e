// conv2d_im2col, the fast path for strided convolutions that pack-weights chooses: the
// input unrolled into an im2col matrix, then the packed stride-1 kernel as a 1x1
// convolution over it (see kernels.hpp).
#include <algorithm>

#include "kernel_support.hpp"
#include "kernels.hpp"

using namespace mnistc;

namespace {

// Row r = (c, kh, kw) of the matrix holds, for every output pixel, the input element
// that tap reads (0 over the padding): columns[r][oh][ow].
void unroll(const float* input, float* columns, int64_t C, int64_t H, int64_t W, int64_t OH,
            int64_t OW, int64_t KH, int64_t KW, int64_t stride_h, int64_t stride_w,
            int64_t pad_h, int64_t pad_w, int64_t dilation_h, int64_t dilation_w) {
  const int64_t rows = C * KH * KW, plane = OH * OW;
#pragma omp parallel for schedule(static) if (rows * plane > 16384)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t c = r / (KH * KW), kh = r / KW % KH, kw = r % KW;
    for (int64_t oh = 0; oh < OH; ++oh) {
      float* out = columns + r * plane + oh * OW;
      const int64_t h = oh * stride_h - pad_h + kh * dilation_h;
      if (h < 0 || h >= H) {
        std::fill(out, out + OW, 0.0f);
        continue;
      }
      const float* in = input + (c * H + h) * W;
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w = ow * stride_w - pad_w + kw * dilation_w;
        out[ow] = w >= 0 && w < W ? in[w] : 0.0f;
      }
    }
  }
}

}  // namespace

extern "C" void mnistc_conv2d_im2col(const float* input, const float* packed_weight,
                                     const float* bias, const float* residual, float* output,
                                     int64_t C, int64_t H, int64_t W, int64_t K, int64_t OH,
                                     int64_t OW, int64_t KH, int64_t KW, int64_t stride_h,
                                     int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                     int64_t dilation_h, int64_t dilation_w,
                                     int64_t activation, float alpha, float beta) {
  const int64_t rows = C * KH * KW;
  // Slot 1: conv2d_packed copies its input into slot 0.
  float* columns = scratch(rows * OH * OW, 1);
  unroll(input, columns, C, H, W, OH, OW, KH, KW, stride_h, stride_w, pad_h, pad_w,
         dilation_h, dilation_w);
  mnistc_conv2d_packed(columns, packed_weight, bias, residual, output, rows, OH, OW, K, OH,
                       OW, 1, 1, 0, 0, 1, 1, 1, activation, alpha, beta);
}
