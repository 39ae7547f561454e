// Products of two run-time tensors and fused attention, on the GEMM core (gemm.hpp):
// the left operand is packed at run time as the GEMM's A, the right one read as its B.
#include <omp.h>

#include <algorithm>
#include <limits>

#include "gemm.hpp"
#include "kernel_support.hpp"
#include "kernels.hpp"

using namespace mnistc;

namespace {

// Below this many multiply-adds in all, one thread does the whole batch (as gemm.cpp).
constexpr double kParallelWork = 1 << 18;

// Query rows per attention block (kernels/abi.py says why).
constexpr int64_t QUERY_BLOCK = MNISTC_ATTENTION_QUERY_BLOCK;

const Epilogue kPlain{nullptr, nullptr, MNISTC_ACTIVATION_NONE, 0.0f, 0.0f};

// row[j] = softmax(row + mask)[j] / scale over j < keys, where keys = `visible` first
// ones count and the others are hidden (0), as a -inf mask would make them; returns the
// scale, 1 / the row's sum, which the caller applies to the row's product with the
// values (EV columns, not S). A NaN anywhere in the visible part makes the scale NaN, as
// PyTorch makes the row; so does a row masked whole (-inf - -inf).
float softmax_row(float* row, const float* mask, int64_t keys, int64_t visible) {
  const int64_t vector_end = visible - visible % 8;
  if (mask)
    for (int64_t j = 0; j < visible; ++j) row[j] += mask[j];
  // The maximum skips NaNs (one vmaxps, in two chains: the NaN-keeping select waited on
  // its compares, a fifth of the kernel's softmax time): a NaN still makes its row NaN,
  // through its exponential in the sum.
  const v8 lowest = splat(-std::numeric_limits<float>::infinity());
  v8 max8[2] = {lowest, lowest};
  int64_t j = 0;
  for (; j + 16 <= vector_end; j += 16)
    for (int c = 0; c < 2; ++c) {
      const v8 x = load8(row + j + 8 * c);
      max8[c] = x > max8[c] ? x : max8[c];
    }
  if (j < vector_end) max8[1] = load8(row + j) > max8[1] ? load8(row + j) : max8[1];
  float max_value = -std::numeric_limits<float>::infinity();
  for (int l = 0; l < 8; ++l) max_value = std::max({max_value, max8[0][l], max8[1][l]});
  for (j = vector_end; j < visible; ++j) max_value = row[j] > max_value ? row[j] : max_value;
  // exp8 clamps below -87 (a denormal at most); an exact 0 there, as a -inf mask gives.
  v8 sum8{};
  for (int64_t j = 0; j < vector_end; j += 8) {
    const v8 shifted = load8(row + j) - max_value;
    const v8 e = shifted < -87.0f ? v8{} : exp8(shifted);
    store8(row + j, e);
    sum8 += e;
  }
  float sum = 0.0f;
  for (int l = 0; l < 8; ++l) sum += sum8[l];
  for (int64_t j = vector_end; j < visible; ++j) {
    row[j] = std::exp(row[j] - max_value);
    sum += row[j];
  }
  std::fill(row + visible, row + keys, 0.0f);
  return 1.0f / sum;
}

// row[j] *= scale for j < n.
void scale_row(float* row, int64_t n, float scale) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) store8(row + j, load8(row + j) * scale);
  for (; j < n; ++j) row[j] *= scale;
}

}  // namespace

extern "C" {

void mnistc_matmul(const float* lhs, const float* rhs, float* output, int64_t d0,
                   int64_t d1, int64_t d2, int64_t l0, int64_t l1, int64_t l2, int64_t r0,
                   int64_t r1, int64_t r2, int64_t M, int64_t K, int64_t N) {
  const int64_t batch = d0 * d1 * d2;
  // Batch indices in parallel (each GEMM on one thread) when there are several; a single
  // product is threaded by the GEMM itself.
#pragma omp parallel for schedule(static) if (batch > 1 && double(batch) * M * N * K >= kParallelWork)
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t i0 = b / (d1 * d2), i1 = b / d2 % d1, i2 = b % d2;
    float* packed = scratch(packed_a_size(M, K), 1);
    pack_a(lhs + i0 * l0 + i1 * l1 + i2 * l2, K, 1, M, K, 1.0f, packed);
    gemm(packed, MatrixSource(rhs + i0 * r0 + i1 * r1 + i2 * r2, N), output + b * M * N, N,
         M, N, K, kPlain);
  }
}

void mnistc_attention(const float* query, const float* key, const float* value,
                      const float* mask, float* output, int64_t batch, int64_t L, int64_t S,
                      int64_t E, int64_t EV, int64_t mask_batch_stride,
                      int64_t mask_row_stride, int64_t causal, float scale) {
  const int64_t blocks = (L + QUERY_BLOCK - 1) / QUERY_BLOCK, jobs = batch * blocks;
  const double work = double(batch) * L * S * (E + EV);
  const bool parallel = jobs > 1 && work >= kParallelWork && !omp_in_parallel();
  // Each thread takes a contiguous run of (batch index, query block) jobs and packs a
  // batch index's keys and values once for all its blocks (repacked per block, they cost
  // a third of the kernel at 197 tokens).
#pragma omp parallel if (parallel)
  {
    const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
    const int64_t job_end = (thread + 1) * jobs / threads;
    const int64_t keys_size = packed_b_size(S, E), values_size = packed_b_size(EV, S);
    const int64_t rows_max = std::min(QUERY_BLOCK, L);
    float* packed_keys = scratch(keys_size + values_size + packed_a_size(rows_max, E) +
                                     rows_max * S + packed_a_size(rows_max, S), 1);
    float* packed_values = packed_keys + keys_size;
    float* packed_query = packed_values + values_size;
    int64_t packed_for = -1;  // the batch index whose keys and values are packed
    for (int64_t job = thread * jobs / threads; job < job_end; ++job) {
      const int64_t b = job / blocks, first = job % blocks * QUERY_BLOCK;
      const int64_t rows = std::min(QUERY_BLOCK, L - first);
      if (b != packed_for) {
        TransposedSource(key + b * S * E, E).pack(0, E, 0, S, packed_keys);
        MatrixSource(value + b * S * EV, EV).pack(0, S, 0, EV, packed_values);
        packed_for = b;
      }
      float* scores = packed_query + packed_a_size(rows, E);
      float* packed_scores = scores + rows * S;
      // scores = (query * scale) . key^T
      pack_a(query + (b * L + first) * E, E, 1, rows, E, scale, packed_query);
      gemm(packed_query, PackedSource(packed_keys, E), scores, S, rows, S, E, kPlain);
      float row_scales[QUERY_BLOCK];
      for (int64_t i = 0; i < rows; ++i) {
        const int64_t q = first + i;
        const float* row_mask =
            mask ? mask + b * mask_batch_stride + q * mask_row_stride : nullptr;
        row_scales[i] = softmax_row(scores + i * S, row_mask, S, causal ? std::min(S, q + 1) : S);
      }
      // output rows = softmax . value, each row scaled after the product
      float* out = output + (b * L + first) * EV;
      pack_a(scores, S, 1, rows, S, 1.0f, packed_scores);
      gemm(packed_scores, PackedSource(packed_values, S), out, EV, rows, EV, S, kPlain);
      for (int64_t i = 0; i < rows; ++i) scale_row(out + i * EV, EV, row_scales[i]);
    }
  }
}

}  // extern "C"
