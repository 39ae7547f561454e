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

// decoders: padding from the plane's own edge (reflect or replicate).
namespace {

// The input index that padded index p (in [-before, size + after)) reads.
inline int64_t edge_source(int64_t p, int64_t size, bool reflect) {
  if (p < 0) return reflect ? -p : 0;
  if (p >= size) return reflect ? 2 * (size - 1) - p : size - 1;
  return p;
}

}  // namespace

extern "C" {

void mnistc_pad2d_edge(const float* input, float* output, int64_t C, int64_t H, int64_t W,
                       int64_t top, int64_t left, int64_t bottom, int64_t right,
                       int64_t reflect) {
  const int64_t OH = H + top + bottom, OW = W + left + right;
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t oh = 0; oh < OH; ++oh) {
      const float* in = input + (c * H + edge_source(oh - top, H, reflect)) * W;
      float* out = output + (c * OH + oh) * OW;
      for (int64_t ow = 0; ow < left; ++ow) out[ow] = in[edge_source(ow - left, W, reflect)];
      std::copy(in, in + W, out + left);
      for (int64_t ow = left + W; ow < OW; ++ow) out[ow] = in[edge_source(ow - left, W, reflect)];
    }
  }
}

}  // extern "C"
