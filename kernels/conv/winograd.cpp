// Winograd F(4x4, 3x3) convolution (Lavin & Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2016): each 4x4 block of output pixels ("tile") costs 36
// multiplications per input/output channel pair instead of 144. The input is first
// zero-padded and moved channels last; then, per block of kBlockTiles tiles (the blocks
// shared out among threads), three steps with 8 channels per vector:
//   1. input transform: the 6x6 patch d of each tile
//      -> V[p][tile][c] = (B^T d B)[p] for the 36 positions p;
//   2. 36 independent GEMMs M[p] = V[p] . U[p], U being the weight transformed and packed
//      at compile time (mnistc/transforms/packing.py:pack_winograd_weight);
//   3. output transform: A^T M A per tile, then bias, residual and activation, and
//      optionally a 2x2 max pool, written back channels first.
#include <algorithm>
#include <cstring>

#include "kernel_support.hpp"
#include "kernels.hpp"

using namespace mnistc;

namespace {

constexpr int64_t kTile = 4;           // output pixels per tile side
constexpr int64_t kPatch = kTile + 2;  // input pixels per tile side
constexpr int64_t kPositions = kPatch * kPatch;
constexpr int64_t kTileRows = 6;                  // tiles per GEMM register block
constexpr int64_t kColumns = MNISTC_WINOGRAD_NR;  // output channels per GEMM block
static_assert(MNISTC_CHANNEL_BLOCK == 8, "the packed weight holds one v8 of input channels per block");
// Tiles transformed, multiplied and transformed back together: a block's V and M stay in
// L1/L2 next to the transformed weight U, and small blocks share out well among threads
// at batch 1 (measured against blocks of 12, 18 and all 36 tiles of MNIST's conv2).
constexpr int64_t kBlockTiles = kTileRows;

inline int64_t round_up(int64_t value, int64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

// r = B^T d for one column of six vectors.
inline void input_transform_1d(const v8 d[6], v8 r[6]) {
  const v8 four = splat(4.0f), five = splat(5.0f), two = splat(2.0f);
  const v8 t1 = d[4] - four * d[2], t2 = d[3] - four * d[1];
  const v8 t3 = d[4] - d[2], t4 = two * (d[3] - d[1]);
  r[0] = four * d[0] - five * d[2] + d[4];
  r[1] = t1 + t2;
  r[2] = t1 - t2;
  r[3] = t3 + t4;
  r[4] = t3 - t4;
  r[5] = four * d[1] - five * d[3] + d[5];
}

// o = A^T m for one column of six vectors.
inline void output_transform_1d(const v8 m[6], v8 o[4]) {
  const v8 a = m[1] + m[2], b = m[1] - m[2], c = m[3] + m[4], e = m[3] - m[4];
  o[0] = m[0] + a + c;
  o[1] = b + splat(2.0f) * e;
  o[2] = a + splat(4.0f) * c;
  o[3] = b + splat(8.0f) * e + m[5];
}

struct Geometry {
  int64_t C, H, W, K, OH, OW, pad_h, pad_w;
  int64_t CP, KP;     // channels rounded up to whole vectors / GEMM blocks
  int64_t TH, TW, T;  // tiles down, across, in all
  int64_t HP, WP;     // the padded input covers every tile's patch
};

// The input, zero-padded and channels last: padded[y][x][c] for y < HP, x < WP, c < CP.
// Whole blocks of 8 channels x 8 pixels move through a transpose in registers.
void pad_channels_last(const Geometry& g, const float* input, float* padded) {
  const int64_t row_size = g.WP * g.CP;
#pragma omp for schedule(static)
  for (int64_t y = 0; y < g.HP; ++y) {
    float* row = padded + y * row_size;
    const int64_t iy = y - g.pad_h;
    if (iy < 0 || iy >= g.H || g.C != g.CP) {
      std::fill(row, row + row_size, 0.0f);
      if (iy < 0 || iy >= g.H) continue;
    } else {
      std::fill(row, row + g.pad_w * g.CP, 0.0f);
      std::fill(row + (g.pad_w + g.W) * g.CP, row + row_size, 0.0f);
    }
    const float* in = input + iy * g.W;
    float* interior = row + g.pad_w * g.CP;
    const int64_t plane = g.H * g.W;
    int64_t c = 0;
    for (; c + 8 <= g.C; c += 8) {
      int64_t x = 0;
      for (; x + 8 <= g.W; x += 8) {
        v8 block[8];
        for (int l = 0; l < 8; ++l) block[l] = load8(in + (c + l) * plane + x);
        transpose8x8(block);
        for (int j = 0; j < 8; ++j) store8(interior + (x + j) * g.CP + c, block[j]);
      }
      for (; x < g.W; ++x)
        for (int l = 0; l < 8; ++l) interior[x * g.CP + c + l] = in[(c + l) * plane + x];
    }
    for (; c < g.C; ++c)
      for (int64_t x = 0; x < g.W; ++x) interior[x * g.CP + c] = in[c * plane + x];
  }
}

// v[p * position_stride + c] = (B^T d B)[p] for the patch d of tile t, every channel.
__attribute__((always_inline)) inline void transform_input_tile(const Geometry& g,
                                                                const float* padded,
                                                                int64_t t, float* v,
                                                                int64_t position_stride) {
  const int64_t y0 = t / g.TW * kTile, x0 = t % g.TW * kTile;
  for (int64_t c = 0; c < g.CP; c += 8) {
    v8 d[kPatch][kPatch], columns[kPatch][kPatch];
    for (int i = 0; i < kPatch; ++i)
      for (int j = 0; j < kPatch; ++j)
        d[j][i] = load8(padded + ((y0 + i) * g.WP + x0 + j) * g.CP + c);
    for (int j = 0; j < kPatch; ++j) input_transform_1d(d[j], columns[j]);
    for (int i = 0; i < kPatch; ++i) {
      v8 row[kPatch], out[kPatch];
      for (int j = 0; j < kPatch; ++j) row[j] = columns[j][i];
      input_transform_1d(row, out);
      for (int j = 0; j < kPatch; ++j)
        store8(v + (i * kPatch + j) * position_stride + c, out[j]);
    }
  }
}

// V[p][b][c] for the tiles first .. first + count - 1 (b = tile - first).
void transform_input(const Geometry& g, const float* padded, int64_t first, int64_t count,
                     float* V) {
  for (int64_t b = 0; b < count; ++b)
    transform_input_tile(g, padded, first + b, V + b * g.CP, count * g.CP);
}

// Keeps v in a register where it is used: g++ would otherwise fold the loads of a GEMM's
// B row into every FMA that reads it, twice the loads per FMA (256 channels at 8x8: 391
// against 217 us). With AVX only: without it a v8 is two SSE registers.
inline void in_register(v8& v) {
#ifdef __AVX__
  asm("" : "+x"(v));
#else
  (void)v;
#endif
}

// The 36 (times column blocks) GEMMs of a Winograd step: for each position p and block
// cb of kColumns output channels, M_p,cb (+)= A_p . B_p,cb, over `rows` tiles. A_p has
// row stride `lda`, B_p,cb is a packed panel [depth][kColumns], M_p,cb has row stride
// `ldm`.
struct PositionGemms {
  const float* A;
  int64_t a_position_stride, lda;
  const float* B;
  int64_t b_position_stride, b_block_stride;
  float* M;
  int64_t m_position_stride, ldm;
  int64_t depth, column_blocks;
};

// The GEMMs of kGroup consecutive positions from p, for rows row .. row + kRows - 1 and
// column block cb, together: kGroup x kRows x 2 accumulators, so that a block of one or
// two rows still has enough independent FMA chains to hide the FMA latency. With
// `accumulate`, M's values are the starting sums (a reduction split into chunks).
template <int kRows, int kGroup>
__attribute__((always_inline)) inline void winograd_gemm_block(const PositionGemms& o,
                                                               int64_t p, int64_t cb,
                                                               int64_t row,
                                                               bool accumulate) {
  const float* A[kGroup];
  const float* B[kGroup];
  float* M[kGroup];
  v8 acc[kGroup][kRows][2];
  for (int q = 0; q < kGroup; ++q) {
    A[q] = o.A + (p + q) * o.a_position_stride + row * o.lda;
    B[q] = o.B + (p + q) * o.b_position_stride + cb * o.b_block_stride;
    M[q] = o.M + (p + q) * o.m_position_stride + row * o.ldm + cb * kColumns;
#pragma GCC unroll 6
    for (int r = 0; r < kRows; ++r) {
      acc[q][r][0] = accumulate ? load8(M[q] + r * o.ldm) : v8{};
      acc[q][r][1] = accumulate ? load8(M[q] + r * o.ldm + 8) : v8{};
    }
  }
  const int64_t lda = o.lda;
  for (int64_t k = 0; k < o.depth; ++k) {
#pragma GCC unroll 4
    for (int q = 0; q < kGroup; ++q) {
      v8 b0 = load8(B[q] + k * kColumns), b1 = load8(B[q] + k * kColumns + 8);
      in_register(b0);
      in_register(b1);
#pragma GCC unroll 6
      for (int r = 0; r < kRows; ++r) {
        const v8 x = splat(A[q][r * lda + k]);
        acc[q][r][0] += x * b0;
        acc[q][r][1] += x * b1;
      }
    }
  }
  for (int q = 0; q < kGroup; ++q)
#pragma GCC unroll 6
    for (int r = 0; r < kRows; ++r) {
      store8(M[q] + r * o.ldm, acc[q][r][0]);
      store8(M[q] + r * o.ldm + 8, acc[q][r][1]);
    }
}

template <int kRows>
void multiply_row_block(const PositionGemms& o, int64_t row, bool accumulate) {
  constexpr int kGroup = kRows == 1 ? 4 : kRows <= 3 ? 2 : 1;  // 36 positions: no tail
  static_assert(kPositions % kGroup == 0);
  for (int64_t p = 0; p < kPositions; p += kGroup)
    for (int64_t cb = 0; cb < o.column_blocks; ++cb)
      winograd_gemm_block<kRows, kGroup>(o, p, cb, row, accumulate);
}

// Every position's GEMMs, in register blocks of at most kTileRows rows; the row count
// is dispatched once per block, outside the loops over positions.
void multiply(const PositionGemms& o, int64_t rows, bool accumulate) {
  for (int64_t row = 0; row < rows; row += kTileRows) {
    using RowBlock = void (*)(const PositionGemms&, int64_t, bool);
    static constexpr RowBlock kRowBlocks[kTileRows] = {
        multiply_row_block<1>, multiply_row_block<2>, multiply_row_block<3>,
        multiply_row_block<4>, multiply_row_block<5>, multiply_row_block<6>};
    kRowBlocks[std::min(rows - row, kTileRows) - 1](o, row, accumulate);
  }
}

// Stores four vectors of 8 channels, one per pixel of a tile row, as four pixels of each
// of 8 channel planes: a 4x8 transpose in registers, then 16-byte stores.
inline void store_row_transposed(const v8 pixels[kTile], float* out, int64_t plane) {
  const v8 t0 = unpack_low(pixels[0], pixels[1]), t1 = unpack_high(pixels[0], pixels[1]);
  const v8 t2 = unpack_low(pixels[2], pixels[3]), t3 = unpack_high(pixels[2], pixels[3]);
  const v8 low = unpack_pairs_low(t0, t2), high = unpack_pairs_high(t0, t2);
  const v8 low1 = unpack_pairs_low(t1, t3), high1 = unpack_pairs_high(t1, t3);
  // low = channels 0 | 4, high = 1 | 5, low1 = 2 | 6, high1 = 3 | 7.
  const v8* by_channel[4] = {&low, &high, &low1, &high1};
  for (int l = 0; l < 4; ++l) {
    const float* lanes = reinterpret_cast<const float*>(by_channel[l]);
    std::memcpy(out + l * plane, lanes, 4 * sizeof(float));
    std::memcpy(out + (l + 4) * plane, lanes + 4, 4 * sizeof(float));
  }
}

// out = A^T m A for one tile and 8 output channels, plus the bias.
inline void inverse_transform(const float* M, int64_t position_stride, v8 bias,
                              v8 out[kTile][kTile]) {
  v8 rows_out[kPatch][kTile];
  for (int i = 0; i < kPatch; ++i) {
    v8 m[kPatch];
    for (int j = 0; j < kPatch; ++j) m[j] = load8(M + (i * kPatch + j) * position_stride);
    output_transform_1d(m, rows_out[i]);
  }
  for (int j = 0; j < kTile; ++j) {
    v8 column[kPatch], pixels[kTile];
    for (int i = 0; i < kPatch; ++i) column[i] = rows_out[i][j];
    output_transform_1d(column, pixels);
    for (int i = 0; i < kTile; ++i) out[i][j] = pixels[i] + bias;
  }
}

// The 2x2 stride-2 max pool of a tile's activated outputs, written as 2x2 pixels of up
// to 8 channel planes of the pooled [K, OH/2, OW/2] output.
inline void store_pooled(const v8 out[kTile][kTile], const Geometry& g, int64_t y0,
                         int64_t x0, int64_t k0, int64_t lanes, float* output) {
  const int64_t POH = g.OH / 2, POW = g.OW / 2, plane = POH * POW;
  const int64_t rows = std::min<int64_t>(2, POH - y0 / 2);
  const int64_t columns = std::min<int64_t>(2, POW - x0 / 2);
  float* corner = output + (k0 * POH + y0 / 2) * POW + x0 / 2;
  for (int64_t a = 0; a < rows; ++a) {
    v8 pooled[2];
    for (int b = 0; b < 2; ++b)
      pooled[b] = max_nan(max_nan(out[2 * a][2 * b], out[2 * a][2 * b + 1]),
                          max_nan(out[2 * a + 1][2 * b], out[2 * a + 1][2 * b + 1]));
    // Pairs (column 0, column 1) per channel: channels 0 1 | 4 5, then 2 3 | 6 7.
    const v8 pairs[2] = {unpack_low(pooled[0], pooled[1]),
                         unpack_high(pooled[0], pooled[1])};
    const float* values = reinterpret_cast<const float*>(pairs);
    constexpr int kChannelOf[8] = {0, 1, 4, 5, 2, 3, 6, 7};
    for (int pair = 0; pair < 8; ++pair) {
      const int l = kChannelOf[pair];
      if (l >= lanes) continue;
      float* out_row = corner + l * plane + a * POW;
      if (columns == 2)
        std::memcpy(out_row, values + 2 * pair, 2 * sizeof(float));
      else if (columns == 1)  // the tile's right half lies past the floored output
        out_row[0] = values[2 * pair];
    }
  }
}

// The outputs of tiles first .. first + count - 1 and channels k_begin .. k_end - 1 from
// M[p][b][k - k_begin] (row stride ldm), with bias, residual, activation and pool.
__attribute__((always_inline)) inline void transform_output(
    const Geometry& g, const float* M, int64_t first, int64_t count, int64_t ldm,
    int64_t k_begin, int64_t k_end, const float* bias, const float* residual, float* output,
    int64_t activation, float alpha, float beta, bool pool) {
  const int64_t plane = g.OH * g.OW;
  const bool vector_activation = has_vector_form(activation);
  for (int64_t b = 0; b < count; ++b) {
    const int64_t t = first + b;
    const int64_t y0 = t / g.TW * kTile, x0 = t % g.TW * kTile;
    const int64_t rows = std::min(kTile, g.OH - y0), columns = std::min(kTile, g.OW - x0);
    for (int64_t k0 = k_begin; k0 < k_end; k0 += 8) {
      const int64_t lanes = std::min<int64_t>(8, k_end - k0);
      v8 bias8 = {};
      if (bias && lanes == 8)
        bias8 = load8(bias + k0);
      else if (bias)
        std::memcpy(&bias8, bias + k0, lanes * sizeof(float));
      v8 out[kTile][kTile];
      inverse_transform(M + b * ldm + k0 - k_begin, count * ldm, bias8, out);
      if (pool) {  // the pass fusing the pool guarantees: no residual
        for (auto& row : out)
          for (v8& x : row) x = activate8(x, activation, alpha, beta);
        store_pooled(out, g, y0, x0, k0, lanes, output);
        continue;
      }
      float* corner = output + (k0 * g.OH + y0) * g.OW + x0;
      if (vector_activation && !residual && lanes == 8 && rows == kTile &&
          columns == kTile) {
        for (int i = 0; i < kTile; ++i) {
          for (int j = 0; j < kTile; ++j)
            out[i][j] = activate8(out[i][j], activation, alpha, beta);
          store_row_transposed(out[i], corner + i * g.OW, plane);
        }
        continue;
      }
      for (int64_t l = 0; l < lanes; ++l)
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t j = 0; j < columns; ++j) {
            const int64_t offset = l * plane + i * g.OW + j;
            float value = out[i][j][l];
            if (residual) value += residual[corner - output + offset];
            corner[offset] = activate(value, activation, alpha, beta);
          }
    }
  }
}

// The tile and padding geometry of a convolution.
Geometry geometry(int64_t C, int64_t H, int64_t W, int64_t K, int64_t OH, int64_t OW,
                  int64_t pad_h, int64_t pad_w) {
  Geometry g{C, H, W, K, OH, OW, pad_h, pad_w};
  g.CP = round_up(C, MNISTC_CHANNEL_BLOCK);
  g.KP = round_up(K, kColumns);
  g.TH = (OH + kTile - 1) / kTile;
  g.TW = (OW + kTile - 1) / kTile;
  g.T = g.TH * g.TW;
  g.HP = g.TH * kTile + 2;
  g.WP = g.TW * kTile + 2;
  return g;
}

// r = G g for one column of three vectors (G of packing.py's WINOGRAD_G).
inline void weight_transform_1d(const v8 w[3], v8 r[6]) {
  const v8 sum = w[0] + w[2];
  const v8 quarter = splat(0.25f), minus_sixth = splat(-1.0f / 6.0f);
  const v8 outer = splat(1.0f / 24.0f) * w[0] + splat(1.0f / 6.0f) * w[2];
  const v8 middle = splat(1.0f / 12.0f) * w[1];
  r[0] = quarter * w[0];
  r[1] = minus_sixth * (sum + w[1]);
  r[2] = minus_sixth * (sum - w[1]);
  r[3] = outer + middle;
  r[4] = outer - middle;
  r[5] = w[2];
}

// Input channels whose weight is transformed together in conv2d_winograd_raw: 36 x 64 x 16
// floats (147 KB) of U stay in L2 until the GEMMs of all tiles have read them.
constexpr int64_t kRawChannelChunk = 64;

// A stride between the 36 positions of U or V that is not a multiple of 4 KB: the 36
// vectors that one transform stores would otherwise share one set of the L1 cache.
inline constexpr int64_t position_stride(int64_t floats) { return floats + 16; }

// U's stride between positions: a constant, so that the 36 stores of a transform address
// U with immediate offsets rather than 36 pointers spilled to the stack.
constexpr int64_t kRawPositionStride = position_stride(kRawChannelChunk * kColumns);

// U[p * kRawPositionStride + c * kColumns + k] = (G g G^T)[p] for channels c < count of
// one panel of the raw weight, [c][3 x 3][kColumns] (see mnistc_conv2d_winograd_raw).
void transform_weight_panel(const float* raw, int64_t count, float* U) {
  constexpr int64_t kChannelFloats = 9 * kColumns, kAhead = 4;  // channels prefetched ahead
  for (int64_t c = 0; c < count; ++c) {
    // The raw weight streams from memory once per call: ask for it ahead of use.
    for (int64_t line = 0; line < kChannelFloats; line += 16)
      __builtin_prefetch(raw + (c + kAhead) * kChannelFloats + line);
    for (int64_t half = 0; half < kColumns; half += 8) {
      const float* w = raw + c * kChannelFloats + half;
      v8 columns[3][kPatch];
      for (int j = 0; j < 3; ++j) {
        const v8 column[3] = {load8(w + j * kColumns), load8(w + (3 + j) * kColumns),
                              load8(w + (6 + j) * kColumns)};
        weight_transform_1d(column, columns[j]);
      }
      for (int i = 0; i < kPatch; ++i) {
        const v8 row[3] = {columns[0][i], columns[1][i], columns[2][i]};
        v8 out[kPatch];
        weight_transform_1d(row, out);
        for (int j = 0; j < kPatch; ++j)
          store8(U + (i * kPatch + j) * kRawPositionStride + c * kColumns + half, out[j]);
      }
    }
  }
}

}  // namespace

extern "C" void mnistc_conv2d_winograd(const float* input, const float* packed_weight,
                                       const float* bias, const float* residual,
                                       float* output, int64_t C, int64_t H, int64_t W,
                                       int64_t K, int64_t OH, int64_t OW, int64_t pad_h,
                                       int64_t pad_w, int64_t pool, int64_t activation,
                                       float alpha, float beta) {
  const Geometry g = geometry(C, H, W, K, OH, OW, pad_h, pad_w);
  float* padded = scratch(g.HP * g.WP * g.CP, 0);
  const int64_t blocks = (g.T + kBlockTiles - 1) / kBlockTiles;
#pragma omp parallel
  {
    pad_channels_last(g, input, padded);
    float* V = scratch(kPositions * kBlockTiles * (g.CP + g.KP), 1);
    float* M = V + kPositions * kBlockTiles * g.CP;
#pragma omp for schedule(static)
    for (int64_t block = 0; block < blocks; ++block) {
      const int64_t first = block * kBlockTiles;
      const int64_t count = std::min(kBlockTiles, g.T - first);
      transform_input(g, padded, first, count, V);
      const int64_t column_blocks = g.KP / kColumns;
      multiply({V, count * g.CP, g.CP, packed_weight, column_blocks * g.CP * kColumns,
                g.CP * kColumns, M, count * g.KP, g.KP, g.CP, column_blocks},
               count, false);
      transform_output(g, M, first, count, g.KP, 0, g.K, bias, residual, output, activation,
                       alpha, beta, pool == 2);
    }
  }
}

// Winograd F(4x4, 3x3) for maps of few tiles, on the weight as it is: each panel of
// kColumns output channels is transformed when its GEMMs need it (a quarter of the
// bytes of U to read from memory, where U would be used by only a few tiles), and
// the input of every tile is transformed once, up front.
extern "C" void mnistc_conv2d_winograd_raw(const float* input, const float* raw_weight,
                                           const float* bias, const float* residual,
                                           float* output, int64_t C, int64_t H, int64_t W,
                                           int64_t K, int64_t OH, int64_t OW, int64_t pad_h,
                                           int64_t pad_w, int64_t pool, int64_t activation,
                                           float alpha, float beta) {
  const Geometry g = geometry(C, H, W, K, OH, OW, pad_h, pad_w);
  // The padded input, then V[p][t][c] for every tile: shared by all threads.
  const int64_t v_stride = position_stride(g.T * g.CP);
  float* padded = scratch(g.HP * g.WP * g.CP + kPositions * v_stride, 0);
  float* V = padded + g.HP * g.WP * g.CP;
  const int64_t panels = g.KP / kColumns;
  const int64_t chunk = std::min(kRawChannelChunk, g.CP);
#pragma omp parallel
  {
    pad_channels_last(g, input, padded);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < g.T; ++t)
      transform_input_tile(g, padded, t, V + t * g.CP, v_stride);
    float* U = scratch(kPositions * (kRawPositionStride + g.T * kColumns), 1);
    float* M = U + kPositions * kRawPositionStride;
#pragma omp for schedule(static)
    for (int64_t panel = 0; panel < panels; ++panel) {
      for (int64_t c0 = 0; c0 < g.CP; c0 += chunk) {
        const int64_t count = std::min(chunk, g.CP - c0);
        transform_weight_panel(raw_weight + (panel * g.CP + c0) * 9 * kColumns, count, U);
        multiply({V + c0, v_stride, g.CP, U, kRawPositionStride, 0, M, g.T * kColumns,
                  kColumns, count, 1},
                 g.T, c0 > 0);
      }
      const int64_t k_begin = panel * kColumns;
      transform_output(g, M, 0, g.T, kColumns, k_begin, std::min(g.K, k_begin + kColumns),
                       bias, residual, output, activation, alpha, beta, pool == 2);
    }
  }
}
