// Transposed convolution (see kernels.hpp), per group as a GEMM on the GEMM core
// (kernels/gemm.hpp) then a scatter:
//   columns[(k, i, j), h*W + w] = sum over c of weight[c, k, i, j] * input[c, h, w]
// A is the group's weight [C/groups][K/groups * KH * KW] read transposed, packed into MR
// panels at run time (a pass over the weight, small beside the GEMM: one multiply-add in
// H*W); B is the group's input read as the matrix [C/groups][H*W]. Then every output
// channel gathers its KH*KW rows of `columns` into its plane at stride (col2im, a row at
// a time in thread scratch), adds the bias and applies the activation.
#include "kernels.hpp"

#include <algorithm>

#include "gemm.hpp"

using namespace mnistc;

namespace {

constexpr int64_t MR = MNISTC_GEMM_MR;

// packed[p][c][q] = weight[c][p * MR + q] for the R rows of A = weight^T, zero past R.
void pack_transposed(const float* weight, int64_t channels, int64_t R, float* packed) {
  const int64_t panels = (R + MR - 1) / MR;
  for (int64_t p = 0; p < panels; ++p) {
    const int64_t rows = std::min(MR, R - p * MR);
    for (int64_t c = 0; c < channels; ++c, packed += MR) {
      const float* w = weight + c * R + p * MR;
      for (int64_t q = 0; q < rows; ++q) packed[q] = w[q];
      for (int64_t q = rows; q < MR; ++q) packed[q] = 0.0f;
    }
  }
}

// The input indices [begin, end) whose output index h*stride + offset lies in [0, size).
inline void valid_inputs(int64_t offset, int64_t stride, int64_t size, int64_t inputs,
                         int64_t& begin, int64_t& end) {
  begin = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  end = size - 1 - offset < 0 ? 0 : std::min(inputs, (size - 1 - offset) / stride + 1);
  if (end < begin) end = begin;
}

inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

struct TransposeGeometry {
  int64_t H, W, OH, OW, KH, KW, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
};

// The floats of col2im's row buffer: stride_w phases of ceil(OW / stride_w) columns.
inline int64_t line_floats(const TransposeGeometry& g) {
  return (g.OW + g.stride_w - 1) / g.stride_w * g.stride_w;
}

// out[OH][OW] = bias + the sum of filter f's KH*KW rows of `columns` [.][H*W], each
// landing at stride where its taps fall (col2im). Row by row: the output columns of one
// phase (ow mod stride_w) are contiguous in `line`, so every tap's input row adds to it
// as one contiguous vector loop, and the output row is written once. (Adding straight
// into the output at stride made loads and stores alias: 2-4x slower, by alignment.)
void col2im(const float* columns, int64_t f, const TransposeGeometry& g, float bias,
            float* line, float* out) {
  const int64_t HW = g.H * g.W, s = g.stride_w, phase_size = line_floats(g) / s;
  for (int64_t oh = 0; oh < g.OH; ++oh, out += g.OW) {
    std::fill(line, line + s * phase_size, 0.0f);
    for (int64_t i = 0; i < g.KH; ++i) {
      const int64_t from = oh + g.pad_h - i * g.dilation_h;
      if (from < 0 || from % g.stride_h != 0 || from / g.stride_h >= g.H) continue;
      const int64_t h = from / g.stride_h;
      for (int64_t j = 0; j < g.KW; ++j) {
        const int64_t offset = j * g.dilation_w - g.pad_w;
        int64_t w_begin, w_end;
        valid_inputs(offset, s, g.OW, g.W, w_begin, w_end);
        const int64_t phase = offset - floor_div(offset, s) * s;
        float* target = line + phase * phase_size + floor_div(offset, s);
        const float* source = columns + ((f * g.KH + i) * g.KW + j) * HW + h * g.W;
#pragma omp simd
        for (int64_t w = w_begin; w < w_end; ++w) target[w] += source[w];
      }
    }
    for (int64_t phase = 0; phase < s; ++phase) {
      const float* sums = line + phase * phase_size;
      for (int64_t q = 0, ow = phase; ow < g.OW; ++q, ow += s) out[ow] = bias + sums[q];
    }
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
  const int64_t channels = C / groups, filters = K / groups;
  const int64_t R = filters * KH * KW, HW = H * W;
  const TransposeGeometry g{H,     W,     OH,         OW,        KH,
                            KW,    stride_h, stride_w, pad_h, pad_w,
                            dilation_h, dilation_w};
  // Slot 1 (the GEMM core takes slot 0): the packed A, then the columns.
  const int64_t packed_size = (R + MR - 1) / MR * MR * channels;
  float* packed = scratch(packed_size + R * HW, 1);
  float* columns = packed + packed_size;
  const Epilogue none{nullptr, nullptr, MNISTC_ACTIVATION_NONE, 0.0f, 0.0f};
  for (int64_t group = 0; group < groups; ++group) {
    pack_transposed(weight + group * channels * R, channels, R, packed);
    gemm(packed, MatrixSource(input + group * channels * HW, HW), columns, HW, R, HW,
         channels, none);
#pragma omp parallel if (filters * OH * OW > 4096)
    {
      float* line = scratch(line_floats(g), 0);  // the GEMM's slot, free again
#pragma omp for schedule(static)
      for (int64_t f = 0; f < filters; ++f) {
        const int64_t k = group * filters + f;
        float* out = output + k * OH * OW;
        col2im(columns, f, g, bias ? bias[k] : 0.0f, line, out);
        activate_all(out, OH * OW, activation, alpha, beta);
      }
    }
  }
}

}  // extern "C"
