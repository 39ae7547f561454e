// Transposed convolution (see kernels.hpp), per group as a GEMM then a scatter:
//   columns[(k, i, j), h*W + w] = sum over c of weight[c, k, i, j] * input[c, h, w]
// (the weight of a group is already [C/groups][K/groups * KH * KW], so each channel's row
// of the GEMM's left operand is contiguous), computed by a register-blocked micro-kernel
// of 6 rows x 16 columns; then every output channel gathers its KH*KW rows of `columns`
// into its plane at stride (col2im), adds the bias and applies the activation.
#include "kernels.hpp"

#include <algorithm>
#include <cstring>

#include "kernel_support.hpp"

using namespace mnistc;

namespace {

constexpr int64_t kRows = 6;      // rows of `columns` per register tile
constexpr int64_t kCols = 16;     // columns per register tile (two vectors)
constexpr int64_t kColBlock = 64; // columns per parallel work item

// The input indices [begin, end) whose output index h*stride + offset lies in [0, size).
inline void valid_inputs(int64_t offset, int64_t stride, int64_t size, int64_t inputs,
                         int64_t& begin, int64_t& end) {
  begin = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  end = size - 1 - offset < 0 ? 0 : std::min(inputs, (size - 1 - offset) / stride + 1);
  if (end < begin) end = begin;
}

// columns[q, 0:16] = sum over c of w[c*R + q] * x[c, 0:16], for q < MR.
template <int64_t MR>
inline void tile(const float* w, int64_t R, const float* x, int64_t stride, int64_t C,
                 float* columns) {
  v8 acc[MR][2] = {};
  for (int64_t c = 0; c < C; ++c) {
    const v8 x0 = load8(x + c * stride), x1 = load8(x + c * stride + 8);
    for (int64_t q = 0; q < MR; ++q) {
      const v8 wq = splat(w[c * R + q]);
      acc[q][0] += wq * x0;
      acc[q][1] += wq * x1;
    }
  }
  for (int64_t q = 0; q < MR; ++q) {
    store8(columns + q * stride, acc[q][0]);
    store8(columns + q * stride + 8, acc[q][1]);
  }
}

inline void tile_rows(int64_t rows, const float* w, int64_t R, const float* x, int64_t stride,
                      int64_t C, float* columns) {
  switch (rows) {
    case 6: return tile<6>(w, R, x, stride, C, columns);
    case 5: return tile<5>(w, R, x, stride, C, columns);
    case 4: return tile<4>(w, R, x, stride, C, columns);
    case 3: return tile<3>(w, R, x, stride, C, columns);
    case 2: return tile<2>(w, R, x, stride, C, columns);
    default: return tile<1>(w, R, x, stride, C, columns);
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
  const int64_t stride = (HW + kCols - 1) / kCols * kCols;  // padded row length
  float* x = scratch(channels * stride, 0);
  float* columns = scratch(R * stride, 1);
  const int64_t row_blocks = (R + kRows - 1) / kRows;
  const int64_t col_blocks = (stride + kColBlock - 1) / kColBlock;
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t c = 0; c < channels; ++c) {
      std::memcpy(x + c * stride, input + (g * channels + c) * HW, HW * sizeof(float));
      std::fill(x + c * stride + HW, x + (c + 1) * stride, 0.0f);
    }
    const float* w = weight + g * channels * R;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t rb = 0; rb < row_blocks; ++rb) {
      for (int64_t cb = 0; cb < col_blocks; ++cb) {
        const int64_t r = rb * kRows, rows = std::min(kRows, R - r);
        const int64_t end = std::min(stride, (cb + 1) * kColBlock);
        for (int64_t col = cb * kColBlock; col < end; col += kCols)
          tile_rows(rows, w + r, R, x + col, stride, channels, columns + r * stride + col);
      }
    }
#pragma omp parallel for schedule(static)
    for (int64_t f = 0; f < filters; ++f) {
      const int64_t k = g * filters + f;
      float* out = output + k * OH * OW;
      std::fill(out, out + OH * OW, bias ? bias[k] : 0.0f);
      for (int64_t i = 0; i < KH; ++i) {
        int64_t h_begin, h_end;
        const int64_t row_offset = i * dilation_h - pad_h;
        valid_inputs(row_offset, stride_h, OH, H, h_begin, h_end);
        for (int64_t j = 0; j < KW; ++j) {
          const float* rows = columns + ((f * KH + i) * KW + j) * stride;
          int64_t w_begin, w_end;
          const int64_t col_offset = j * dilation_w - pad_w;
          valid_inputs(col_offset, stride_w, OW, W, w_begin, w_end);
          for (int64_t h = h_begin; h < h_end; ++h) {
            float* target = out + (h * stride_h + row_offset) * OW + col_offset;
            const float* source = rows + h * W;
            if (stride_w == 1) {
#pragma omp simd
              for (int64_t v = w_begin; v < w_end; ++v) target[v] += source[v];
            } else {
              for (int64_t v = w_begin; v < w_end; ++v) target[v * stride_w] += source[v];
            }
          }
        }
      }
      activate_all(out, OH * OW, activation, alpha, beta);
    }
  }
}

}  // extern "C"
