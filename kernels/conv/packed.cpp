// conv2d_packed, the fast path for stride-1 convolutions that pack-weights chooses: a
// register-blocked micro-kernel on the zero-padded input (see kernels.hpp).
#include "kernels.hpp"

#include <algorithm>
#include <cstring>

#include "kernel_support.hpp"

using namespace mnistc;

namespace {

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
  // Planned scratch like the padded input (slot 1, two floats per entry).
  int64_t* offsets = reinterpret_cast<int64_t*>(scratch(2 * R, 1));
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
            if (columns == NR && has_vector_form(activation)) {
              for (int64_t v = 0; v < NR / 8; ++v) {
                v8 x = acc[i][v] + b;
                if (res) x += load8(res + 8 * v);
                store8(out + 8 * v, activate8(x, activation, alpha, beta));
              }
              continue;
            }
            float values[NR];
            std::memcpy(values, acc[i], sizeof values);
            for (int64_t j = 0; j < columns; ++j) values[j] += b + (res ? res[j] : 0.0f);
            activate_all(values, out, columns, activation, alpha, beta);
          }
        }
      }
    }
  }
}

}  // extern "C"
