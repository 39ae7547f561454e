// Kernels that move elements without arithmetic: padding, concatenation blocks, copies
// (see kernels.hpp).
#include "kernels.hpp"

#include <algorithm>

extern "C" {

void mnistc_pad2d(const float* input, float* output, int64_t C, int64_t H, int64_t W,
                  int64_t top, int64_t left, int64_t bottom, int64_t right, float value) {
  const int64_t OH = H + top + bottom, OW = W + left + right;
  for (int64_t c = 0; c < C; ++c) {
    float* out = output + c * OH * OW;
    std::fill(out, out + OH * OW, value);
    for (int64_t h = 0; h < H; ++h)
      std::copy(input + (c * H + h) * W, input + (c * H + h + 1) * W,
                out + (h + top) * OW + left);
  }
}

void mnistc_copy_block(const float* input, float* output, int64_t outer, int64_t inner,
                       int64_t out_stride, int64_t offset) {
  for (int64_t o = 0; o < outer; ++o)
    std::copy(input + o * inner, input + (o + 1) * inner, output + o * out_stride + offset);
}

void mnistc_copy(const float* input, float* output, int64_t count) {
  std::copy(input, input + count, output);
}

}  // extern "C"
