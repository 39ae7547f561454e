// Kernels that move elements without arithmetic: padding, concatenation blocks, copies,
// strided copies (transposes, slices, expansions) (see kernels.hpp).
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

namespace {

// One output row of `count` elements read from `input` by `stride`: a block copy when the
// row is contiguous in the input, a fill when it is broadcast.
inline void copy_row(const float* input, float* output, int64_t count, int64_t stride) {
  if (stride == 1) {
    std::copy(input, input + count, output);
  } else if (stride == 0) {
    std::fill(output, output + count, *input);
  } else {
    for (int64_t i = 0; i < count; ++i) output[i] = input[i * stride];
  }
}

// A [rows, cols] output whose rows are contiguous in the input (row stride 1, column
// stride `stride`): a transpose, done in tiles so that both sides stay in cache.
inline void transpose_tiles(const float* input, float* output, int64_t rows, int64_t cols,
                            int64_t stride) {
  constexpr int64_t kTile = 16;
  for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
    const int64_t r1 = std::min(rows, r0 + kTile);
    for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
      const int64_t c1 = std::min(cols, c0 + kTile);
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) output[r * cols + c] = input[r + c * stride];
    }
  }
}

// Padding from the plane's own edge (reflect or replicate): the input index that
// padded index p (in [-before, size + after)) reads.
inline int64_t edge_source(int64_t p, int64_t size, bool reflect) {
  if (p < 0) return reflect ? -p : 0;
  if (p >= size) return reflect ? 2 * (size - 1) - p : size - 1;
  return p;
}

}  // namespace

extern "C" {

void mnistc_copy_strided(const float* input, float* output, int64_t d0, int64_t d1,
                         int64_t d2, int64_t d3, int64_t d4, int64_t d5, int64_t s0,
                         int64_t s1, int64_t s2, int64_t s3, int64_t s4, int64_t s5,
                         int64_t offset, int64_t out_offset) {
  input += offset;
  output += out_offset;
  const bool tiled = s4 == 1 && s5 != 1 && s5 != 0 && d4 > 1;
  const int64_t total = d0 * d1 * d2 * d3 * d4 * d5;
  if (tiled) {
#pragma omp parallel for collapse(4) schedule(static) if (total > 65536)
    for (int64_t i0 = 0; i0 < d0; ++i0)
      for (int64_t i1 = 0; i1 < d1; ++i1)
        for (int64_t i2 = 0; i2 < d2; ++i2)
          for (int64_t i3 = 0; i3 < d3; ++i3)
            transpose_tiles(input + i0 * s0 + i1 * s1 + i2 * s2 + i3 * s3,
                            output + (((i0 * d1 + i1) * d2 + i2) * d3 + i3) * d4 * d5, d4, d5,
                            s5);
    return;
  }
#pragma omp parallel for collapse(5) schedule(static) if (total > 65536)
  for (int64_t i0 = 0; i0 < d0; ++i0)
    for (int64_t i1 = 0; i1 < d1; ++i1)
      for (int64_t i2 = 0; i2 < d2; ++i2)
        for (int64_t i3 = 0; i3 < d3; ++i3)
          for (int64_t i4 = 0; i4 < d4; ++i4)
            copy_row(input + i0 * s0 + i1 * s1 + i2 * s2 + i3 * s3 + i4 * s4,
                     output + ((((i0 * d1 + i1) * d2 + i2) * d3 + i3) * d4 + i4) * d5, d5, s5);
}

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
