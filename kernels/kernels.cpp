// The OpenMP kernels: general ones for every shape, fast paths chosen by the compiler
// (conv2d_packed). See kernels.hpp for the contracts.
#include "kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

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

template <bool kLog>
void softmax_impl(const float* input, float* output, int64_t outer, int64_t axis,
                  int64_t inner) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < inner; ++j) {
      const float* in = input + o * axis * inner + j;
      float* out = output + o * axis * inner + j;
      float max_value = -std::numeric_limits<float>::infinity();
      // A NaN max makes the whole row NaN, as in PyTorch; so does a +inf or an all -inf
      // row, through inf - inf.
      for (int64_t a = 0; a < axis; ++a) max_value = max_nan(max_value, in[a * inner]);
      float sum = 0.0f;
      for (int64_t a = 0; a < axis; ++a) sum += std::exp(in[a * inner] - max_value);
      if (kLog) {
        const float log_sum = std::log(sum);
        for (int64_t a = 0; a < axis; ++a)
          out[a * inner] = in[a * inner] - max_value - log_sum;
      } else {
        const float scale = 1.0f / sum;
        for (int64_t a = 0; a < axis; ++a)
          out[a * inner] = std::exp(in[a * inner] - max_value) * scale;
      }
    }
  }
}

// One output row of a 2x2, stride-2 max pool from input rows `top` and `bottom`.
inline void max_pool_2x2_row(const float* top, const float* bottom, float* out,
                             int64_t OW) {
  int64_t ow = 0;
  for (; ow + 8 <= OW; ow += 8) {
    const v8 a = max_nan(load8(top + 2 * ow), load8(bottom + 2 * ow));
    const v8 b = max_nan(load8(top + 2 * ow + 8), load8(bottom + 2 * ow + 8));
    const v8 even = __builtin_shuffle(a, b, mask8{0, 2, 4, 6, 8, 10, 12, 14});
    const v8 odd = __builtin_shuffle(a, b, mask8{1, 3, 5, 7, 9, 11, 13, 15});
    store8(out + ow, max_nan(even, odd));
  }
  for (; ow < OW; ++ow)
    out[ow] = max_nan(max_nan(top[2 * ow], top[2 * ow + 1]),
                      max_nan(bottom[2 * ow], bottom[2 * ow + 1]));
}

// acc[i][v] = sum_r a[r][i] * b[offsets[r] + 8v], for MR rows and NV vectors of 8 columns.
template <int NV>
inline void conv_micro_kernel(const float* a, const float* b, const int64_t* offsets,
                              int64_t R, v8 acc[MNISTC_CONV_MR][MNISTC_CONV_NR / 8]) {
  v8 c[MNISTC_CONV_MR][NV] = {};
  for (int64_t r = 0; r < R; ++r, a += MNISTC_CONV_MR) {
    const float* row = b + offsets[r];
    v8 bv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) bv[v] = load8(row + 8 * v);
#pragma GCC unroll 4
    for (int i = 0; i < MNISTC_CONV_MR; ++i) {
      const v8 x = splat(a[i]);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) c[i][v] += x * bv[v];
    }
  }
  for (int i = 0; i < MNISTC_CONV_MR; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = c[i][v];
}

}  // namespace

extern "C" {

void mnistc_conv2d_packed(const float* input, const float* packed_weight, const float* bias,
                          const float* residual, float* output, int64_t C, int64_t H,
                          int64_t W, int64_t K, int64_t OH, int64_t OW, int64_t KH,
                          int64_t KW, int64_t pad_h, int64_t pad_w, int64_t dilation_h,
                          int64_t dilation_w, int64_t groups, int64_t activation,
                          float alpha, float beta) {
  constexpr int64_t MR = MNISTC_CONV_MR, NR = MNISTC_CONV_NR;
  const int64_t Cg = C / groups, Kg = K / groups;
  const int64_t R = Cg * KH * KW;
  const int64_t panels = (Kg + MR - 1) / MR;
  // Zero-padded input, with NR floats of slack so full-width loads stay inside.
  const int64_t HP = H + 2 * pad_h, WP = W + 2 * pad_w;
  const int64_t padded_size = C * HP * WP + NR;
  float* padded = scratch(padded_size);
  std::fill(padded, padded + padded_size, 0.0f);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t h = 0; h < H; ++h)
      std::copy(input + (c * H + h) * W, input + (c * H + h + 1) * W,
                padded + (c * HP + h + pad_h) * WP + pad_w);
  // offsets[r] for r = (c, kh, kw): where that tap starts, relative to the output pixel.
  thread_local std::vector<int64_t> offset_table;
  offset_table.resize(R);
  int64_t* offsets = offset_table.data();
  for (int64_t c = 0, r = 0; c < Cg; ++c)
    for (int64_t kh = 0; kh < KH; ++kh)
      for (int64_t kw = 0; kw < KW; ++kw, ++r)
        offsets[r] = (c * HP + kh * dilation_h) * WP + kw * dilation_w;
  const int64_t segments = (OW + NR - 1) / NR;
#pragma omp parallel for collapse(3) schedule(static)
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t panel = 0; panel < panels; ++panel) {
      for (int64_t oh = 0; oh < OH; ++oh) {
        const float* a = packed_weight + (g * panels + panel) * R * MR;
        const float* group_input = padded + g * Cg * HP * WP;
        for (int64_t s = 0; s < segments; ++s) {
          const int64_t ow0 = s * NR;
          const int64_t columns = std::min(NR, OW - ow0);
          v8 acc[MR][NR / 8];
          const float* b = group_input + oh * WP + ow0;
          if (columns > 16)
            conv_micro_kernel<3>(a, b, offsets, R, acc);
          else if (columns > 8)
            conv_micro_kernel<2>(a, b, offsets, R, acc);
          else
            conv_micro_kernel<1>(a, b, offsets, R, acc);
          for (int64_t i = 0; i < MR; ++i) {
            const int64_t k = panel * MR + i;
            if (k >= Kg) break;
            const int64_t channel = g * Kg + k;
            const float b = bias ? bias[channel] : 0.0f;
            const int64_t offset = (channel * OH + oh) * OW + ow0;
            float* out = output + offset;
            const float* res = residual ? residual + offset : nullptr;
            if (columns == NR) {
              for (int64_t v = 0; v < NR / 8; ++v) {
                v8 x = acc[i][v] + b;
                if (res) x += load8(res + 8 * v);
                store8(out + 8 * v, activation == MNISTC_ACTIVATION_RELU ? relu8(x) : x);
              }
              if (activation != MNISTC_ACTIVATION_RELU)
                activate_all(out, columns, activation, alpha, beta);
              continue;
            }
            float values[NR];
            std::memcpy(values, acc[i], sizeof values);
            for (int64_t j = 0; j < columns; ++j)
              out[j] =
                  activate(values[j] + b + (res ? res[j] : 0.0f), activation, alpha, beta);
          }
        }
      }
    }
  }
}

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

void mnistc_linear(const float* input, const float* weight, const float* bias,
                   float* output, int64_t M, int64_t IN, int64_t OUT, int64_t activation,
                   float alpha, float beta) {
  // Four weight rows at a time, two vector accumulators each: eight independent FMA
  // chains, and each input vector loaded once for four rows. The rows of a block serve
  // every input row while they are in cache: the weights are read once per call.
  constexpr int64_t ROWS = 4;
  const int64_t blocks = (OUT + ROWS - 1) / ROWS;
  const int64_t vector_end = IN - IN % 16;
#pragma omp parallel for schedule(static) if (M * IN * OUT > 32768)
  for (int64_t block = 0; block < blocks; ++block) {
    const int64_t o0 = block * ROWS;
    const int64_t rows = std::min(ROWS, OUT - o0);
    const float* w[ROWS];
    for (int64_t r = 0; r < ROWS; ++r) w[r] = weight + (o0 + std::min(r, rows - 1)) * IN;
    for (int64_t m = 0; m < M; ++m) {
      const float* x = input + m * IN;
      v8 acc[ROWS][2] = {};
      for (int64_t i = 0; i < vector_end; i += 16) {
        const v8 x0 = load8(x + i), x1 = load8(x + i + 8);
#pragma GCC unroll 4
        for (int64_t r = 0; r < ROWS; ++r) {
          acc[r][0] += load8(w[r] + i) * x0;
          acc[r][1] += load8(w[r] + i + 8) * x1;
        }
      }
      for (int64_t r = 0; r < rows; ++r) {
        float lanes[8];
        std::memcpy(lanes, &acc[r][0], sizeof lanes);
        float sum = 0.0f;
        for (int l = 0; l < 8; ++l) sum += lanes[l] + acc[r][1][l];
        for (int64_t i = vector_end; i < IN; ++i) sum += x[i] * w[r][i];
        const int64_t o = o0 + r;
        output[m * OUT + o] =
            activate(sum + (bias ? bias[o] : 0.0f), activation, alpha, beta);
      }
    }
  }
}

void mnistc_max_pool2d(const float* input, float* output, int64_t C, int64_t H, int64_t W,
                       int64_t OH, int64_t OW, int64_t KH, int64_t KW, int64_t stride_h,
                       int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t dilation_h,
                       int64_t dilation_w) {
#pragma omp parallel for schedule(static) if (C * OH * OW > 4096)
  for (int64_t c = 0; c < C; ++c) {
    const float* in = input + c * H * W;
    const bool inside = pad_h == 0 && pad_w == 0 && dilation_h == 1 && dilation_w == 1 &&
                        (OH - 1) * stride_h + KH <= H && (OW - 1) * stride_w + KW <= W;
    if (inside && KH == 2 && KW == 2 && stride_h == 2 && stride_w == 2) {
      for (int64_t oh = 0; oh < OH; ++oh)
        max_pool_2x2_row(in + 2 * oh * W, in + (2 * oh + 1) * W,
                         output + (c * OH + oh) * OW, OW);
      continue;
    }
    if (inside) {
      // Every window lies inside the input: no bounds checks.
      for (int64_t oh = 0; oh < OH; ++oh) {
        float* out = output + (c * OH + oh) * OW;
        for (int64_t ow = 0; ow < OW; ++ow)
          out[ow] = -std::numeric_limits<float>::infinity();
        for (int64_t kh = 0; kh < KH; ++kh) {
          const float* row = in + (oh * stride_h + kh) * W;
          for (int64_t kw = 0; kw < KW; ++kw)
            for (int64_t ow = 0; ow < OW; ++ow) {
              const float v = row[ow * stride_w + kw];
              out[ow] = (v > out[ow] || v != v) ? v : out[ow];
            }
        }
      }
      continue;
    }
    for (int64_t oh = 0; oh < OH; ++oh) {
      for (int64_t ow = 0; ow < OW; ++ow) {
        float best = -std::numeric_limits<float>::infinity();
        for (int64_t kh = 0; kh < KH; ++kh) {
          const int64_t ih = oh * stride_h - pad_h + kh * dilation_h;
          if (ih < 0 || ih >= H) continue;
          for (int64_t kw = 0; kw < KW; ++kw) {
            const int64_t iw = ow * stride_w - pad_w + kw * dilation_w;
            if (iw < 0 || iw >= W) continue;
            const float v = in[ih * W + iw];
            if (v > best || std::isnan(v)) best = v;
          }
        }
        output[(c * OH + oh) * OW + ow] = best;
      }
    }
  }
}

void mnistc_activation(const float* input, float* output, int64_t count, int64_t activation,
                       float alpha, float beta) {
#pragma omp parallel for schedule(static) if (count > 65536)
  for (int64_t i = 0; i < count; ++i)
    output[i] = activate(input[i], activation, alpha, beta);
}

void mnistc_avg_pool2d(const float* input, float* output, int64_t C, int64_t H, int64_t W,
                       int64_t OH, int64_t OW, int64_t KH, int64_t KW, int64_t stride_h,
                       int64_t stride_w, int64_t pad_h, int64_t pad_w,
                       int64_t count_include_pad, int64_t divisor) {
#pragma omp parallel for schedule(static) if (C * OH * OW > 4096)
  for (int64_t c = 0; c < C; ++c) {
    const float* in = input + c * H * W;
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t h0 = oh * stride_h - pad_h;
      const int64_t h1 = std::min(h0 + KH, H + pad_h);
      const int64_t hb = std::max<int64_t>(h0, 0), he = std::min(h1, H);
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w0 = ow * stride_w - pad_w;
        const int64_t w1 = std::min(w0 + KW, W + pad_w);
        const int64_t wb = std::max<int64_t>(w0, 0), we = std::min(w1, W);
        float sum = 0.0f;
        for (int64_t ih = hb; ih < he; ++ih)
          for (int64_t iw = wb; iw < we; ++iw) sum += in[ih * W + iw];
        const int64_t count =
            divisor ? divisor
                    : (count_include_pad ? (h1 - h0) * (w1 - w0) : (he - hb) * (we - wb));
        output[(c * OH + oh) * OW + ow] = sum / static_cast<float>(count);
      }
    }
  }
}

void mnistc_adaptive_avg_pool2d(const float* input, float* output, int64_t C, int64_t H,
                                int64_t W, int64_t OH, int64_t OW) {
#pragma omp parallel for schedule(static) if (C * H * W > 65536)
  for (int64_t c = 0; c < C; ++c) {
    const float* in = input + c * H * W;
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t h0 = oh * H / OH, h1 = ((oh + 1) * H + OH - 1) / OH;
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w0 = ow * W / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
        float sum = 0.0f;
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) sum += in[ih * W + iw];
        output[(c * OH + oh) * OW + ow] = sum / static_cast<float>((h1 - h0) * (w1 - w0));
      }
    }
  }
}

void mnistc_batch_norm(const float* input, const float* mean, const float* var,
                       const float* gamma, const float* beta, float* output, int64_t C,
                       int64_t inner, float eps) {
#pragma omp parallel for schedule(static) if (C * inner > 65536)
  for (int64_t c = 0; c < C; ++c) {
    const float scale = gamma[c] / std::sqrt(var[c] + eps);
    const float shift = beta[c] - mean[c] * scale;
    for (int64_t i = 0; i < inner; ++i)
      output[c * inner + i] = input[c * inner + i] * scale + shift;
  }
}

void mnistc_binary(const float* lhs, const float* rhs, float* output, int64_t op,
                   int64_t d0, int64_t d1, int64_t d2, int64_t d3, int64_t l0, int64_t l1,
                   int64_t l2, int64_t l3, int64_t r0, int64_t r1, int64_t r2, int64_t r3) {
#pragma omp parallel for collapse(2) schedule(static) if (d0 * d1 * d2 * d3 > 65536)
  for (int64_t i0 = 0; i0 < d0; ++i0) {
    for (int64_t i1 = 0; i1 < d1; ++i1) {
      for (int64_t i2 = 0; i2 < d2; ++i2) {
        const float* a = lhs + i0 * l0 + i1 * l1 + i2 * l2;
        const float* b = rhs + i0 * r0 + i1 * r1 + i2 * r2;
        float* out = output + ((i0 * d1 + i1) * d2 + i2) * d3;
        if (op == MNISTC_BINARY_ADD) {
          for (int64_t i3 = 0; i3 < d3; ++i3) out[i3] = a[i3 * l3] + b[i3 * r3];
        } else if (op == MNISTC_BINARY_MUL) {
          for (int64_t i3 = 0; i3 < d3; ++i3) out[i3] = a[i3 * l3] * b[i3 * r3];
        } else {
          for (int64_t i3 = 0; i3 < d3; ++i3) {
            const float x = a[i3 * l3];
            out[i3] = x >= 0.0f ? x : x * b[i3 * r3];
          }
        }
      }
    }
  }
}

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

void mnistc_lrn(const float* input, float* output, int64_t C, int64_t inner, int64_t size,
                float alpha, float beta, float bias) {
  const int64_t before = (size - 1) / 2, after = size - 1 - before;
#pragma omp parallel for schedule(static) if (C * inner > 65536)
  for (int64_t c = 0; c < C; ++c) {
    const int64_t first = std::max<int64_t>(0, c - before);
    const int64_t last = std::min<int64_t>(C - 1, c + after);
    for (int64_t i = 0; i < inner; ++i) {
      float sum = 0.0f;
      for (int64_t k = first; k <= last; ++k)
        sum += input[k * inner + i] * input[k * inner + i];
      output[c * inner + i] =
          input[c * inner + i] / std::pow(bias + alpha / size * sum, beta);
    }
  }
}

void mnistc_copy_block(const float* input, float* output, int64_t outer, int64_t inner,
                       int64_t out_stride, int64_t offset) {
  for (int64_t o = 0; o < outer; ++o)
    std::copy(input + o * inner, input + (o + 1) * inner, output + o * out_stride + offset);
}

void mnistc_softmax(const float* input, float* output, int64_t outer, int64_t axis,
                    int64_t inner) {
  softmax_impl<false>(input, output, outer, axis, inner);
}

void mnistc_log_softmax(const float* input, float* output, int64_t outer, int64_t axis,
                        int64_t inner) {
  softmax_impl<true>(input, output, outer, axis, inner);
}

void mnistc_copy(const float* input, float* output, int64_t count) {
  std::copy(input, input + count, output);
}

}  // extern "C"
