// The GEMM core that the convolution kernels share (internal: not part of the C ABI).
//
// C[M x N] = A[M x K] . B[K x N], BLIS style. A holds the weights, packed at compile time
// (mnistc/transforms/packing.py:pack_gemm_weight) in panels of MNISTC_GEMM_MR rows:
// [ceil(M / MR)][K][MR], zero-filled past row M. B is packed at run time, block by block,
// into panels of MNISTC_GEMM_KC x MNISTC_GEMM_NR from a BSource, which reads whatever B
// really is (a row-major matrix, or an im2col view gathered straight from a convolution's
// input) so that no whole B matrix is ever built. The loops block for the caches:
//
//   for each NC-column block of B (a thread's share):
//     for each KC-row block: pack B's block (KC x NC, in L2)
//       for each MC-row block of A (MC x KC, in L2):
//         for each NR panel of B (KC x NR, in L1):
//           for each MR panel of A: the MR x NR register tile += A panel . B panel
//
// The epilogue (after the last KC block) adds the bias and the residual and applies the
// activation. Every element is summed in the same order whatever the thread count, so
// results are bitwise identical across thread counts.
#pragma once

#include <cstdint>

#include "kernel_support.hpp"

namespace mnistc {

// Where B comes from: packs rows [k0, k0 + kc) and columns [j0, j0 + n) into
// ceil(n / NR) consecutive panels of kc rows of MNISTC_GEMM_NR floats, zero past column n.
class BSource {
 public:
  virtual void pack(int64_t k0, int64_t kc, int64_t j0, int64_t n, float* panels) const = 0;

 protected:
  ~BSource() = default;
};

// B is a row-major matrix [K][N] with rows `stride` floats apart.
class MatrixSource final : public BSource {
 public:
  MatrixSource(const float* b, int64_t stride) : b_(b), stride_(stride) {}
  void pack(int64_t k0, int64_t kc, int64_t j0, int64_t n, float* panels) const override;

 private:
  const float* b_;
  int64_t stride_;
};

// B is the im2col matrix of a convolution, read from its NCHW input [C][H][W]: row
// r = (c, kh, kw) (C * KH * KW rows), column j = (oh, ow) (OH * OW columns), zero where
// the tap falls on the padding.
struct ConvGeometry {
  int64_t C, H, W, OH, OW, KH, KW, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
};

class Im2colSource final : public BSource {
 public:
  Im2colSource(const float* input, const ConvGeometry& g) : input_(input), g_(g) {}
  void pack(int64_t k0, int64_t kc, int64_t j0, int64_t n, float* panels) const override;

 private:
  const float* input_;
  ConvGeometry g_;
};

// What happens to C after the reduction: C[i][j] = act(C + bias[i] + residual[i][j]);
// C and the residual are row-major with rows `ldc` floats apart.
struct Epilogue {
  const float* bias;      // [M] or null
  const float* residual;  // [M][ldc] or null
  int64_t activation;
  float alpha, beta;
};

// C = A . B with the epilogue; parallel over threads unless already inside a parallel
// region. `packed_a` as above.
void gemm(const float* packed_a, const BSource& b, float* c, int64_t ldc, int64_t M,
          int64_t N, int64_t K, const Epilogue& epilogue);

}  // namespace mnistc
