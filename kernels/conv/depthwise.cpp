// conv2d_depthwise, the fast path for depthwise convolutions (one input channel per
// group, any channel multiplier, stride, padding and dilation) that pack-weights
// chooses: each output plane accumulated row by row from its zero-padded input plane
// (see kernels.hpp). The register-blocked kernels would spend most of their tile on
// channels of other groups.
#include <algorithm>

#include "kernel_support.hpp"
#include "kernels.hpp"

using namespace mnistc;

namespace {

// out[ow] += w * row[ow * stride] for one tap; the unit stride is the loop g++ vectorises.
inline void accumulate(float* out, const float* row, float w, int64_t OW, int64_t stride) {
  if (stride == 1) {
    for (int64_t ow = 0; ow < OW; ++ow) out[ow] += w * row[ow];
  } else {
    for (int64_t ow = 0; ow < OW; ++ow) out[ow] += w * row[ow * stride];
  }
}

}  // namespace

extern "C" void mnistc_conv2d_depthwise(const float* input, const float* weight,
                                        const float* bias, const float* residual,
                                        float* output, int64_t C, int64_t H, int64_t W,
                                        int64_t K, int64_t OH, int64_t OW, int64_t KH,
                                        int64_t KW, int64_t stride_h, int64_t stride_w,
                                        int64_t pad_h, int64_t pad_w, int64_t dilation_h,
                                        int64_t dilation_w, int64_t activation, float alpha,
                                        float beta) {
  const int64_t HP = H + 2 * pad_h, WP = W + 2 * pad_w, multiplier = K / C;
#pragma omp parallel for schedule(static) if (K * OH * OW > 4096)
  for (int64_t k = 0; k < K; ++k) {
    const int64_t c = k / multiplier;
    float* padded = scratch(HP * WP);  // this thread's
    std::fill(padded, padded + HP * WP, 0.0f);
    for (int64_t h = 0; h < H; ++h)
      std::copy(input + (c * H + h) * W, input + (c * H + h + 1) * W,
                padded + (h + pad_h) * WP + pad_w);
    const float* taps = weight + k * KH * KW;
    for (int64_t oh = 0; oh < OH; ++oh) {
      float* out = output + (k * OH + oh) * OW;
      std::fill(out, out + OW, 0.0f);
      for (int64_t kh = 0; kh < KH; ++kh) {
        const float* row = padded + (oh * stride_h + kh * dilation_h) * WP;
        for (int64_t kw = 0; kw < KW; ++kw)
          accumulate(out, row + kw * dilation_w, taps[kh * KW + kw], OW, stride_w);
      }
      if (bias)
        for (int64_t ow = 0; ow < OW; ++ow) out[ow] += bias[k];
      if (residual) {
        const float* r = residual + (k * OH + oh) * OW;
        for (int64_t ow = 0; ow < OW; ++ow) out[ow] += r[ow];
      }
      activate_all(out, OW, activation, alpha, beta);
    }
  }
}
