// The GEMM core (see gemm.hpp): B sources, the register-blocked micro-kernel and the
// cache-blocked driver.
#include "gemm.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>

namespace mnistc {

namespace {

constexpr int64_t MR = MNISTC_GEMM_MR, NR = MNISTC_GEMM_NR, KC = MNISTC_GEMM_KC;
static_assert(NR % 8 == 0, "NR must be whole vectors");

// A's block: MC_PANELS panels of MR x KC (about 150 KB at 6 x 256) stay in L2 while every
// B panel of the block passes through L1.
constexpr int64_t MC_PANELS = 24;
// B's block: KC x NC floats (384 KB at 256 x 384) stay in L2 while A's blocks stream.
constexpr int64_t NC = MNISTC_GEMM_NC;
static_assert(NC % NR == 0, "NC must be whole panels");

// Below this many multiply-adds, threads cost more than they save.
constexpr double kParallelWork = 1 << 18;

// The MR x NR register tile: c = (first ? 0 : c) + A panel . B panel over kc steps. On
// the last KC block `last` holds the epilogue, with `bias` and `residual` at this tile.
struct TileEpilogue {
  const float* bias;      // MR values or null
  const float* residual;  // MR rows of ldc floats, or null
  int64_t activation;
  float alpha, beta;
  const float* column_bias;  // NR values or null
};

// NV vectors of 8 columns: NR / 8, or 1 for a narrow tail; ROWS rows of the A panel's
// MR: all of them, or the rows left in the last panel (the panel's zero rows would be
// wasted multiply-adds: an eighth of them at 16 tokens).
template <int NV, int ROWS = MR>
inline void micro_kernel(const float* a, const float* b, int64_t kc, float* c, int64_t ldc,
                         bool first, const TileEpilogue* last) {
  v8 acc[ROWS][NV];
#pragma GCC unroll 8
  for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = first ? v8{} : load8(c + i * ldc + 8 * v);
  for (int64_t k = 0; k < kc; ++k, a += MR, b += NR) {
    v8 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = load8(b + 8 * v);
#pragma GCC unroll 8
    for (int i = 0; i < ROWS; ++i) {
      const v8 x = splat(a[i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] += x * bv[v];
    }
  }
  if (!last) {
    for (int i = 0; i < ROWS; ++i)
      for (int v = 0; v < NV; ++v) store8(c + i * ldc + 8 * v, acc[i][v]);
    return;
  }
  const bool relu = last->activation == MNISTC_ACTIVATION_RELU;
  // Activations with a vector form act on the registers (GELU after a transformer's
  // linear layer: a call per row of the tile cost 3x the activation itself).
  const bool in_registers = !relu && has_vector_form(last->activation);
  for (int i = 0; i < ROWS; ++i) {
    const v8 bias = splat(last->bias ? last->bias[i] : 0.0f);
    for (int v = 0; v < NV; ++v) {
      v8 x = acc[i][v] + bias;
      if (last->column_bias) x += load8(last->column_bias + 8 * v);
      if (last->residual) x += load8(last->residual + i * ldc + 8 * v);
      if (in_registers) x = activate8(x, last->activation, last->alpha, last->beta);
      store8(c + i * ldc + 8 * v, relu ? relu8(x) : x);
    }
    if (!relu && !in_registers)
      activate_all(c + i * ldc, 8 * NV, last->activation, last->alpha, last->beta);
  }
}

// Whether a panel's first m rows run in place with a kernel of m rows (else the full
// kernel into a buffer): all but 4. Below 5 rows the accumulators are too few to hide
// the FMA latency, and at 4 the narrower kernel costs what 6 rows do (measured 3% more
// with the copy out of the buffer); at 1-3 and 5 it saves 5-10%.
inline bool in_place_rows(int64_t m) { return m == MR || m != 4; }

// The micro-kernel on the first m (<= ROWS) rows of a panel, in place.
template <int NV, int ROWS = MR>
inline void rows_in_place(int64_t m, const float* a, const float* b, int64_t kc, float* c,
                          int64_t ldc, bool first, const TileEpilogue* last) {
  if constexpr (ROWS > 1)
    if (m < ROWS) return rows_in_place<NV, ROWS - 1>(m, a, b, kc, c, ldc, first, last);
  micro_kernel<NV, ROWS>(a, b, kc, c, ldc, first, last);
}

// One tile of C at rows [i0, i0 + m) and columns [j0, j0 + n): in place when its columns
// are whole (and in_place_rows), else through an MR x NR buffer so that nothing outside C is read or written. Tails of at
// most 8 columns run the one-vector kernel (a 7x7 map is 3 x 16 + 1 columns).
void tile(const float* a, const float* b, int64_t kc, float* c, int64_t ldc, int64_t i0,
          int64_t j0, int64_t m, int64_t n, bool first, bool last, const Epilogue& e) {
  float* at = c + i0 * ldc + j0;
  const float* residual = e.residual ? e.residual + i0 * ldc + j0 : nullptr;
  const float* bias = e.bias ? e.bias + i0 : nullptr;
  const float* column_bias = e.column_bias ? e.column_bias + j0 : nullptr;
  if ((n == NR || n == 8) && in_place_rows(m)) {
    const TileEpilogue epilogue{bias, residual, e.activation, e.alpha, e.beta, column_bias};
    if (n == NR)
      rows_in_place<NR / 8>(m, a, b, kc, at, ldc, first, last ? &epilogue : nullptr);
    else
      rows_in_place<1>(m, a, b, kc, at, ldc, first, last ? &epilogue : nullptr);
    return;
  }
  alignas(32) float buffer[MR * NR] = {};
  if (!first)
    for (int64_t i = 0; i < m; ++i)
      std::memcpy(buffer + i * NR, at + i * ldc, n * sizeof(float));
  if (n <= 8)
    micro_kernel<1>(a, b, kc, buffer, NR, first, nullptr);
  else
    micro_kernel<NR / 8>(a, b, kc, buffer, NR, first, nullptr);
  for (int64_t i = 0; i < m; ++i) {
    float* out = at + i * ldc;
    const float* sums = buffer + i * NR;
    if (!last) {
      std::memcpy(out, sums, n * sizeof(float));
      continue;
    }
    const float shift = bias ? bias[i] : 0.0f;
    const float* res = residual ? residual + i * ldc : nullptr;
    for (int64_t j = 0; j < n; ++j)
      out[j] = sums[j] + shift + (column_bias ? column_bias[j] : 0.0f) + (res ? res[j] : 0.0f);
    // In vectors where the activation has a vector form, as the whole tiles are.
    activate_all(out, n, e.activation, e.alpha, e.beta);
  }
}

// C's columns [n0, n1) and A's panels [p0, p1): one thread's share.
void gemm_block(const float* packed_a, const BSource& source, float* c, int64_t ldc,
                int64_t M, int64_t K, int64_t n0, int64_t n1, int64_t p0, int64_t p1,
                const Epilogue& e) {
  // A pre-packed B (a weight) is read in place; any other is packed block by block.
  const auto* prepacked = dynamic_cast<const PackedSource*>(&source);
  float* block = prepacked ? nullptr : scratch(KC * ((n1 - n0 + NR - 1) / NR) * NR);
  for (int64_t k0 = 0; k0 < K; k0 += KC) {
    const int64_t kc = std::min(KC, K - k0);
    const bool first = k0 == 0, last = k0 + kc == K;
    if (!prepacked) source.pack(k0, kc, n0, n1 - n0, block);
    for (int64_t m0 = p0; m0 < p1; m0 += MC_PANELS) {
      const int64_t m1 = std::min(p1, m0 + MC_PANELS);
      for (int64_t j = n0; j < n1; j += NR) {
        const float* b =
            prepacked ? prepacked->panel(k0, j) : block + (j - n0) / NR * kc * NR;
        for (int64_t p = m0; p < m1; ++p)
          tile(packed_a + (p * K + k0) * MR, b, kc, c, ldc, p * MR, j,
               std::min(MR, M - p * MR), std::min(NR, n1 - j), first, last, e);
      }
    }
  }
}

}  // namespace

void gemm(const float* packed_a, const BSource& b, float* c, int64_t ldc, int64_t M,
          int64_t N, int64_t K, const Epilogue& epilogue) {
  const int64_t panels = (M + MR - 1) / MR;
  int64_t threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (double(M) * N * K < kParallelWork) threads = 1;
  // Columns split first (each share packs its own B); A's panels too when there are
  // fewer column shares than threads (small maps), at the cost of packing B twice.
  const int64_t per_thread = (N + threads - 1) / threads;
  const int64_t n_chunk = std::min(NC, (per_thread + NR - 1) / NR * NR);
  const int64_t n_jobs = (N + n_chunk - 1) / n_chunk;
  const int64_t m_jobs = n_jobs >= threads ? 1 : std::min(panels, threads / n_jobs);
  const int64_t p_chunk = (panels + m_jobs - 1) / m_jobs;
#pragma omp parallel for schedule(static) if (threads > 1)
  for (int64_t job = 0; job < n_jobs * m_jobs; ++job) {
    const int64_t n0 = job / m_jobs * n_chunk, p0 = job % m_jobs * p_chunk;
    gemm_block(packed_a, b, c, ldc, M, K, n0, std::min(N, n0 + n_chunk), p0,
               std::min(panels, p0 + p_chunk), epilogue);
  }
}

void MatrixSource::pack(int64_t k0, int64_t kc, int64_t j0, int64_t n,
                        float* panels) const {
  for (int64_t q = 0; q < n; q += NR, panels += kc * NR) {
    const int64_t width = std::min(NR, n - q);
    const float* row = b_ + k0 * stride_ + j0 + q;
    float* out = panels;
    if (width == NR) {
      for (int64_t k = 0; k < kc; ++k, row += stride_, out += NR)
        for (int64_t v = 0; v < NR; v += 8) store8(out + v, load8(row + v));
      continue;
    }
    for (int64_t k = 0; k < kc; ++k, row += stride_, out += NR) {
      std::memcpy(out, row, width * sizeof(float));
      std::fill(out + width, out + NR, 0.0f);
    }
  }
}

void TransposedSource::pack(int64_t k0, int64_t kc, int64_t j0, int64_t n,
                            float* panels) const {
  // Eight rows of X at a time become eight columns of the panel: 8x8 transposes in
  // registers where whole, one element at a time at the edges.
  for (int64_t q = 0; q < n; q += NR, panels += kc * NR) {
    const int64_t width = std::min(NR, n - q);
    for (int64_t c = 0; c < NR; c += 8) {
      const int64_t columns = std::max<int64_t>(0, std::min<int64_t>(8, width - c));
      const float* rows = x_ + (j0 + q + c) * stride_ + k0;
      int64_t k = 0;
      if (columns == 8)
        for (; k + 8 <= kc; k += 8) {
          v8 r[8];
          for (int i = 0; i < 8; ++i) r[i] = load8(rows + i * stride_ + k);
          transpose8x8(r);
          for (int i = 0; i < 8; ++i) store8(panels + (k + i) * NR + c, r[i]);
        }
      for (; k < kc; ++k)
        for (int64_t i = 0; i < 8; ++i)
          panels[k * NR + c + i] = i < columns ? rows[i * stride_ + k] : 0.0f;
    }
  }
}

void PackedSource::pack(int64_t k0, int64_t kc, int64_t j0, int64_t n,
                        float* panels) const {
  for (int64_t q = 0; q < n; q += NR, panels += kc * NR)
    std::memcpy(panels, panel(k0, j0 + q), kc * NR * sizeof(float));
}

namespace {

// Columns [k0, k0 + 8 * groups) of a whole panel (MR rows of unit column stride) into the
// packed layout: eight columns at a time by an 8x8 transpose in registers (rows past MR
// are don't-cares), each column's MR values stored as one vector of 8 whose last 8 - MR
// lanes the next column's store overwrites. So the last store reaches 8 - MR floats past
// column k0 + 8 * groups - 1: the caller leaves at least one column after the run.
void pack_panel_columns(const float* const* rows, int64_t k0, int64_t groups, float scale,
                        float* packed) {
  static_assert(MR <= 8, "a panel's column must fit one vector");
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t k = k0 + 8 * g;
    v8 r[8];
    for (int64_t i = 0; i < 8; ++i) r[i] = i < MR ? load8(rows[i] + k) * scale : v8{};
    transpose8x8(r);
    for (int64_t c = 0; c < 8; ++c) store8(packed + (k + c) * MR, r[c]);
  }
}

}  // namespace

void pack_a(const float* a, int64_t row_stride, int64_t col_stride, int64_t M, int64_t K,
            float scale, float* packed) {
  for (int64_t p = 0; p < M; p += MR, packed += K * MR) {
    const int64_t rows = std::min(MR, M - p);
    if (rows == MR && col_stride == 1) {
      // The panel's MR rows read side by side, its columns written in order; whole
      // groups of eight columns in vectors while a column follows them (the vector
      // stores reach past their last column), the rest one by one.
      const float* row[MR];
      for (int64_t i = 0; i < MR; ++i) row[i] = a + (p + i) * row_stride;
      const int64_t groups = (K - 1) / 8;
      pack_panel_columns(row, 0, groups, scale, packed);
      for (int64_t k = 8 * groups; k < K; ++k)
#pragma GCC unroll 8
        for (int64_t i = 0; i < MR; ++i) packed[k * MR + i] = row[i][k] * scale;
      continue;
    }
    for (int64_t i = 0; i < MR; ++i) {
      if (i >= rows) {
        for (int64_t k = 0; k < K; ++k) packed[k * MR + i] = 0.0f;
        continue;
      }
      const float* row = a + (p + i) * row_stride;
      for (int64_t k = 0; k < K; ++k) packed[k * MR + i] = row[k * col_stride] * scale;
    }
  }
}

namespace {

// out[t] = in[2t] for t < length (a multiple of 8): the taps of a stride-2 convolution
// (the 7x7 stems), two vectors in, one out.
inline void gather_even(const float* in, float* out, int64_t length) {
  const mask8 even{0, 2, 4, 6, 8, 10, 12, 14};
  for (int64_t t = 0; t < length; t += 8)
    store8(out + t, __builtin_shuffle(load8(in + 2 * t), load8(in + 2 * t + 8), even));
}

}  // namespace

void Im2colSource::pack(int64_t k0, int64_t kc, int64_t j0, int64_t n,
                        float* panels) const {
  const ConvGeometry& g = g_;
  // Per row r = (c, kh, kw) of the block: where its taps start (divisions once per block).
  struct Tap {
    const float* plane;
    int64_t dh, dw;
  };
  Tap taps[KC];
  for (int64_t r = k0; r < k0 + kc; ++r) {
    const int64_t c = r / (g.KH * g.KW), kh = r / g.KW % g.KH, kw = r % g.KW;
    taps[r - k0] = Tap{input_ + c * g.H * g.W, kh * g.dilation_h - g.pad_h,
                       kw * g.dilation_w - g.pad_w};
  }
  const int64_t sw = g.stride_w;
  for (int64_t q = 0; q < n; q += NR, panels += kc * NR) {
    const int64_t width = std::min(NR, n - q);
    if (width < NR)
      for (int64_t r = 0; r < kc; ++r)
        std::fill(panels + r * NR + width, panels + (r + 1) * NR, 0.0f);
    // The panel's columns as runs along one output row.
    for (int64_t column = 0; column < width;) {
      const int64_t j = j0 + q + column, oh = j / g.OW, ow = j % g.OW;
      const int64_t length = std::min(width - column, g.OW - ow);
      float* out = panels + column;
      for (int64_t r = 0; r < kc; ++r, out += NR) {
        const Tap& tap = taps[r];
        const int64_t h = oh * g.stride_h + tap.dh;
        if (h < 0 || h >= g.H) {
          std::fill(out, out + length, 0.0f);
          continue;
        }
        const float* row = tap.plane + h * g.W;
        const int64_t w0 = ow * sw + tap.dw;
        if (w0 >= 0 && w0 + (length - 1) * sw < g.W) {
          if (sw == 1)
            for (int64_t t = 0; t < length; ++t) out[t] = row[w0 + t];
          else if (sw == 2 && length % 8 == 0 && w0 + 2 * length <= g.W)
            gather_even(row + w0, out, length);
          else
            for (int64_t t = 0; t < length; ++t) out[t] = row[w0 + t * sw];
          continue;
        }
        for (int64_t t = 0; t < length; ++t) {
          const int64_t w = w0 + t * sw;
          out[t] = w >= 0 && w < g.W ? row[w] : 0.0f;
        }
      }
      column += length;
    }
  }
}

}  // namespace mnistc
