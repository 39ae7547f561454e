// The GEMM core that the convolution kernels share (internal: not part of the C ABI).
//
// C[M x N] = A[M x K] . B[K x N], BLIS style. A is packed in panels of MNISTC_GEMM_MR
// rows, [ceil(M / MR)][K][MR], zero-filled past row M: at compile time when it holds the
// weights (mnistc/transforms/packing.py:pack_gemm_weight), at run time by pack_a when it
// is a tensor (token matrices of linear layers, matmul and attention). B is packed at run time, block by block,
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

// B is the transpose of a row-major matrix X [N][K] (rows `stride` floats apart):
// B[k][j] = X[j][k], as K^T in attention's Q . K^T.
class TransposedSource final : public BSource {
 public:
  TransposedSource(const float* x, int64_t stride) : x_(x), stride_(stride) {}
  void pack(int64_t k0, int64_t kc, int64_t j0, int64_t n, float* panels) const override;

 private:
  const float* x_;
  int64_t stride_;
};

// B packed ahead of time (a weight, mnistc/transforms/packing.py:pack_gemm_b):
// [ceil(N / NR)][K][NR], zero-filled past column N. The driver reads its panels in place.
class PackedSource final : public BSource {
 public:
  PackedSource(const float* panels, int64_t K) : panels_(panels), K_(K) {}
  void pack(int64_t k0, int64_t kc, int64_t j0, int64_t n, float* panels) const override;
  // The panel of columns [j, j + NR) from row k0 (j a multiple of NR).
  const float* panel(int64_t k0, int64_t j) const {
    return panels_ + ((j / MNISTC_GEMM_NR) * K_ + k0) * MNISTC_GEMM_NR;
  }

 private:
  const float* panels_;
  int64_t K_;
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

// What happens to C after the reduction: C[i][j] = act(C + bias[i] + column_bias[j] +
// residual[i][j]); C and the residual are row-major with rows `ldc` floats apart.
struct Epilogue {
  const float* bias;      // [M] or null
  const float* residual;  // [M][ldc] or null
  int64_t activation;
  float alpha, beta;
  const float* column_bias = nullptr;  // [N] or null: a linear layer's bias on tokens
};

// A [M x K], element (i, k) at a[i * row_stride + k * col_stride], times `scale`, into
// the GEMM's A layout [ceil(M / MR)][K][MR], zero-filled past row M.
void pack_a(const float* a, int64_t row_stride, int64_t col_stride, int64_t M, int64_t K,
            float scale, float* packed);

// Floats that pack_a writes for M rows of K.
inline int64_t packed_a_size(int64_t M, int64_t K) {
  return (M + MNISTC_GEMM_MR - 1) / MNISTC_GEMM_MR * MNISTC_GEMM_MR * K;
}

// Floats of a B of N columns and K rows packed whole as PackedSource reads it:
// [ceil(N / NR)][K][NR] (a BSource's pack(0, K, 0, N, ...) writes that).
inline int64_t packed_b_size(int64_t N, int64_t K) {
  return (N + MNISTC_GEMM_NR - 1) / MNISTC_GEMM_NR * MNISTC_GEMM_NR * K;
}

// C = A . B with the epilogue; parallel over threads unless already inside a parallel
// region. `packed_a` as above.
void gemm(const float* packed_a, const BSource& b, float* c, int64_t ldc, int64_t M,
          int64_t N, int64_t K, const Epilogue& epilogue);

}  // namespace mnistc
