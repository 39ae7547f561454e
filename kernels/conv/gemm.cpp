// conv2d_gemm, the fast path that pack-weights chooses for convolutions with one group
// or a few (not depthwise) that Winograd does not take: one GEMM per group on the GEMM
// core (kernels/gemm.hpp), B gathered from the input as im2col panels, or read as a
// plain matrix for 1x1 stride-1 convolutions without padding (see kernels.hpp).
#include "kernels.hpp"

#include "gemm.hpp"

using namespace mnistc;

extern "C" void mnistc_conv2d_gemm(const float* input, const float* packed_weight,
                                   const float* bias, const float* residual, float* output,
                                   int64_t C, int64_t H, int64_t W, int64_t K, int64_t OH,
                                   int64_t OW, int64_t KH, int64_t KW, int64_t stride_h,
                                   int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                   int64_t dilation_h, int64_t dilation_w, int64_t groups,
                                   int64_t activation, float alpha, float beta) {
  const int64_t Cg = C / groups, Kg = K / groups, R = Cg * KH * KW, P = OH * OW;
  const int64_t panels = (Kg + MNISTC_GEMM_MR - 1) / MNISTC_GEMM_MR;
  const bool pointwise = KH == 1 && KW == 1 && stride_h == 1 && stride_w == 1 &&
                         pad_h == 0 && pad_w == 0;
  const ConvGeometry geometry{Cg,       H,        W,     OH,    OW,         KH,        KW,
                              stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w};
  for (int64_t g = 0; g < groups; ++g) {
    const float* group_input = input + g * Cg * H * W;
    const Epilogue epilogue{bias ? bias + g * Kg : nullptr,
                            residual ? residual + g * Kg * P : nullptr, activation, alpha,
                            beta};
    const float* a = packed_weight + g * panels * R * MNISTC_GEMM_MR;
    float* c = output + g * Kg * P;
    if (pointwise)
      gemm(a, MatrixSource(group_input, P), c, P, Kg, P, R, epilogue);
    else
      gemm(a, Im2colSource(group_input, geometry), c, P, Kg, P, R, epilogue);
  }
}
