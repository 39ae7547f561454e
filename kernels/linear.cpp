// The fully connected layer: GEMVs with eight FMA chains (see kernels.hpp).
#include "kernels.hpp"

#include <algorithm>
#include <cstring>

#include "gemm.hpp"
#include "kernel_support.hpp"

using namespace mnistc;

namespace {

// How far ahead (in floats) gemv asks for each weight row: it pays when the weights come
// from DRAM (fc1 with every cache flushed: 157-165 us against 174-177 without; 64 or 256
// ahead no better) and costs nothing when they come from L3.
constexpr int64_t kPrefetchAhead = 128;

// output = activation(W x + bias) for one input row: a GEMV that streams W once. Eight
// weight rows at a time, one vector accumulator each: eight independent FMA chains, and
// each vector of x loaded once for eight rows, so x (36 KB for MNIST's fc1, more than L1)
// is re-read from L2 half as often as with four rows. MNIST's fc1 (9216 -> 128), L2
// flushed between calls: 58.6-59.5 us against 63-64.8 us with four rows of two vectors.
void gemv(const float* x, const float* weight, const float* bias, float* output, int64_t IN,
          int64_t OUT, int64_t activation, float alpha, float beta) {
  constexpr int64_t ROWS = 8;
  const int64_t blocks = (OUT + ROWS - 1) / ROWS;
  const int64_t vector_end = IN - IN % 8;
#pragma omp parallel for schedule(static) if (IN * OUT > 32768)
  for (int64_t block = 0; block < blocks; ++block) {
    const int64_t o0 = block * ROWS;
    const int64_t rows = std::min(ROWS, OUT - o0);
    const float* w[ROWS];
    for (int64_t r = 0; r < ROWS; ++r) w[r] = weight + (o0 + std::min(r, rows - 1)) * IN;
    v8 acc[ROWS] = {};
    for (int64_t i = 0; i < vector_end; i += 8) {
      const v8 xv = load8(x + i);
#pragma GCC unroll 8
      for (int64_t r = 0; r < ROWS; ++r) {
        __builtin_prefetch(w[r] + i + kPrefetchAhead);  // never faults, even past the end
        acc[r] += load8(w[r] + i) * xv;
      }
    }
    for (int64_t r = 0; r < rows; ++r) {
      float lanes[8];
      std::memcpy(lanes, &acc[r], sizeof lanes);
      float sum = 0.0f;
      for (float lane : lanes) sum += lane;
      for (int64_t i = vector_end; i < IN; ++i) sum += x[i] * w[r][i];
      const int64_t o = o0 + r;
      output[o] = activate(sum + (bias ? bias[o] : 0.0f), activation, alpha, beta);
    }
  }
}

}  // namespace

extern "C" {

void mnistc_linear(const float* input, const float* weight, const float* bias,
                   float* output, int64_t M, int64_t IN, int64_t OUT, int64_t activation,
                   float alpha, float beta) {
  if (M == 1) return gemv(input, weight, bias, output, IN, OUT, activation, alpha, beta);
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

}  // extern "C"

// linear layers on token matrices run on the GEMM core.
extern "C" void mnistc_linear_gemm(const float* input, const float* packed_weight,
                                   const float* bias, float* output, int64_t M, int64_t IN,
                                   int64_t OUT, int64_t activation, float alpha,
                                   float beta) {
  float* packed_input = scratch(packed_a_size(M, IN), 1);
  pack_a(input, IN, 1, M, IN, 1.0f, packed_input);
  const Epilogue epilogue{nullptr, nullptr, activation, alpha, beta, bias};
  gemm(packed_input, PackedSource(packed_weight, IN), output, OUT, M, OUT, IN, epilogue);
}
