// LSTM and GRU layers (see kernels.hpp). Per direction, the input projection of every
// step is one GEMM on the GEMM core (gemm.hpp: the weight packed at compile time as its
// A, the sequence read transposed as its B, b_ih in the epilogue); then each step is a
// GEMV of the packed recurrent weight by h (panels of MNISTC_RECURRENT_ROWS gate rows:
// one vector accumulator per panel, no horizontal sums) and the gate math on vectors of
// eight hidden units (sigmoid8, tanh8). The steps are sequential, so one sample runs on
// one thread but for its GEMMs; a batch runs one sample per thread.
#include "kernels.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "gemm.hpp"
#include "kernel_support.hpp"

using namespace mnistc;

namespace {

constexpr int64_t ROWS = MNISTC_RECURRENT_ROWS;
static_assert(ROWS == 8, "a panel of the recurrent weight is one vector of gate rows");
constexpr int64_t MR = MNISTC_GEMM_MR, NR = MNISTC_GEMM_NR;

int64_t round_up(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

// B = X^T for a sequence X [T][F]: row k of B is feature k, column j is step j.
class SequenceSource final : public BSource {
 public:
  SequenceSource(const float* x, int64_t F) : x_(x), F_(F) {}
  void pack(int64_t k0, int64_t kc, int64_t j0, int64_t n, float* panels) const override {
    for (int64_t q = 0; q < n; q += NR, panels += kc * NR) {
      const int64_t width = std::min(NR, n - q);
      for (int64_t jj = 0; jj < NR; ++jj) {
        const float* step = x_ + (j0 + q + jj) * F_ + k0;
        for (int64_t k = 0; k < kc; ++k) panels[k * NR + jj] = jj < width ? step[k] : 0.0f;
      }
    }
  }

 private:
  const float* x_;
  int64_t F_;
};

// The compile-time layout (mnistc/transforms/packing.py) of D stacked [rows][K] weights:
// [D][ceil(rows / mr)][K][mr], zero past the last row; for the kernel's unpacked form.
void pack_panels(const float* weight, float* packed, int64_t D, int64_t rows, int64_t K,
                 int64_t mr) {
  const int64_t padded = round_up(rows, mr);
  for (int64_t d = 0; d < D; ++d)
    for (int64_t r = 0; r < padded; ++r)
      for (int64_t k = 0; k < K; ++k)
        packed[((d * padded + r - r % mr) * K + k * mr) + r % mr] =
            r < rows ? weight[(d * rows + r) * K + k] : 0.0f;
}

// P panels of the GEMV from panel p: P independent FMA chains sharing each broadcast of
// h[k] (eight keep both FMA pipes busy through the four-cycle latency).
template <int P>
inline void gemv_group(const float* packed, const float* h, float* out, int64_t p, int64_t H) {
  const float* w = packed + p * H * ROWS;
  v8 acc[P] = {};
  for (int64_t k = 0; k < H; ++k, w += ROWS) {
    const v8 hk = splat(h[k]);
#pragma GCC unroll 8
    for (int i = 0; i < P; ++i) acc[i] += load8(w + i * H * ROWS) * hk;
  }
#pragma GCC unroll 8
  for (int i = 0; i < P; ++i) store8(out + (p + i) * ROWS, acc[i]);
}

// out[panels * ROWS] = packed weight [panels][H][ROWS] . h[H], eight panels at a time.
void gemv_panels(const float* packed, const float* h, float* out, int64_t panels,
                 int64_t H) {
  int64_t p = 0;
  for (; p + 8 <= panels; p += 8) gemv_group<8>(packed, h, out, p, H);
  for (; p + 4 <= panels; p += 4) gemv_group<4>(packed, h, out, p, H);
  for (; p < panels; ++p) gemv_group<1>(packed, h, out, p, H);
}

// `count` (1 to 8) floats as a vector, zero past them; and back.
inline v8 load_lanes(const float* p, int64_t count) {
  if (count == 8) return load8(p);
  float lanes[8] = {};
  std::memcpy(lanes, p, count * sizeof(float));
  return load8(lanes);
}
inline void store_lanes(float* p, v8 v, int64_t count) {
  if (count == 8) return store8(p, v);
  float lanes[8];
  store8(lanes, v);
  std::memcpy(p, lanes, count * sizeof(float));
}

// One layer's buffers and sizes, as in kernels.hpp (gates: 4 for LSTM, 3 for GRU).
struct Layer {
  const float *input, *weight_ih, *weight_hh, *bias_ih, *bias_hh, *h0, *c0;
  int64_t T, F, H, D, gates;
};

// The recurrent state and the step's gate inputs, in the calling thread's scratch slot 1
// (the GEMM core uses slot 0).
struct Workspace {
  float *x_gates, *by_step, *h_gates, *h, *c, *zero;
};

// One step's gate math at hidden units [j, j + count): x gates (the input projection with
// b_ih, and b_hh where it only adds) and h gates (the recurrent product) of the step, at
// their gate blocks H apart; `bias_n` is GRU's b_hn, which the reset gate scales.
template <bool LSTM>
inline void gate_step(const float* xg, const float* hg, const float* bias_n, float* h,
                      float* c, int64_t H, int64_t j, int64_t count) {
  auto x = [&](int gate) { return load_lanes(xg + gate * H + j, count); };
  auto r = [&](int gate) { return load_lanes(hg + gate * H + j, count); };
  if constexpr (LSTM) {
    const v8 i = sigmoid8(x(0) + r(0)), f = sigmoid8(x(1) + r(1));
    const v8 g = tanh8(x(2) + r(2)), o = sigmoid8(x(3) + r(3));
    const v8 cell = f * load_lanes(c + j, count) + i * g;
    store_lanes(c + j, cell, count);
    store_lanes(h + j, o * tanh8(cell), count);
  } else {
    const v8 reset = sigmoid8(x(0) + r(0)), update = sigmoid8(x(1) + r(1));
    const v8 n = tanh8(x(2) + reset * (r(2) + load_lanes(bias_n + j, count)));
    store_lanes(h + j, (1.0f - update) * n + update * load_lanes(h + j, count), count);
  }
}

// Direction d of the layer: writes every step's h into `output` (rows of D * H floats,
// this direction's half) and leaves the final state in w.h and w.c.
template <bool LSTM>
void run_direction(const Layer& l, const float* packed_ih, const float* packed_hh,
                   int64_t d, const Workspace& w, float* output) {
  const int64_t G = l.gates * l.H, T = l.T, H = l.H;
  const Epilogue bias{l.bias_ih ? l.bias_ih + d * G : nullptr, nullptr,
                      MNISTC_ACTIVATION_NONE, 0.0f, 0.0f};
  gemm(packed_ih, SequenceSource(l.input, l.F), w.x_gates, T, G, T, l.F, bias);
  // [G][T] to [T][G], writing rows (strided stores would cost a cache line each), plus
  // b_hh where it only adds: every LSTM gate, GRU's r and z (not n, which r scales)
  const float* bias_hh = l.bias_hh ? l.bias_hh + d * G : w.zero;
  const int64_t added = LSTM ? G : 2 * H;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t g = 0; g < G; ++g)
      w.by_step[t * G + g] = w.x_gates[g * T + t] + (g < added ? bias_hh[g] : 0.0f);
  std::fill(w.h, w.h + round_up(H, 8), 0.0f);
  std::fill(w.c, w.c + round_up(H, 8), 0.0f);
  if (l.h0) std::memcpy(w.h, l.h0 + d * H, H * sizeof(float));
  if (LSTM && l.c0) std::memcpy(w.c, l.c0 + d * H, H * sizeof(float));
  const int64_t panels = round_up(G, ROWS) / ROWS;
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = d == 0 ? s : T - 1 - s;
    gemv_panels(packed_hh, w.h, w.h_gates, panels, H);
    for (int64_t j = 0; j < H; j += 8)
      gate_step<LSTM>(w.by_step + t * G, w.h_gates, bias_hh + 2 * H, w.h, w.c, H, j,
                      std::min<int64_t>(8, H - j));
    std::memcpy(output + t * l.D * H + d * H, w.h, H * sizeof(float));
  }
}

// The whole layer: packs the weights first when `packed` is 0 (-O0). An LSTM writes
// each direction's final c after the T steps, as row T.
template <bool LSTM>
void run_layer(const Layer& l, bool packed, float* output) {
  const int64_t G = l.gates * l.H, Hp = round_up(l.H, 8);
  const int64_t ih_size = round_up(G, MR) * l.F, hh_size = round_up(G, ROWS) * l.H;
  const int64_t work = 2 * l.T * G + round_up(G, ROWS) + 2 * Hp + G;
  float* next = scratch(work + (packed ? 0 : l.D * (ih_size + hh_size)), 1);
  auto take = [&](int64_t floats) { return std::exchange(next, next + floats); };
  Workspace w;
  w.x_gates = take(l.T * G), w.by_step = take(l.T * G), w.h_gates = take(round_up(G, ROWS));
  w.h = take(Hp), w.c = take(Hp), w.zero = take(G);
  std::fill(w.zero, w.zero + G, 0.0f);
  const float *weight_ih = l.weight_ih, *weight_hh = l.weight_hh;
  if (!packed) {
    float* packed_ih = take(l.D * ih_size);
    float* packed_hh = take(l.D * hh_size);
    pack_panels(l.weight_ih, packed_ih, l.D, G, l.F, MR);
    pack_panels(l.weight_hh, packed_hh, l.D, G, l.H, ROWS);
    weight_ih = packed_ih, weight_hh = packed_hh;
  }
  for (int64_t d = 0; d < l.D; ++d) {
    run_direction<LSTM>(l, weight_ih + d * ih_size, weight_hh + d * hh_size, d, w, output);
    if (LSTM) std::memcpy(output + (l.T * l.D + d) * l.H, w.c, l.H * sizeof(float));
  }
}

}  // namespace

extern "C" {

void mnistc_lstm(const float* input, const float* weight_ih, const float* weight_hh,
                 const float* bias_ih, const float* bias_hh, const float* h0, const float* c0,
                 float* output, int64_t T, int64_t F, int64_t H, int64_t directions,
                 int64_t packed) {
  const Layer layer{input, weight_ih, weight_hh, bias_ih, bias_hh, h0, c0,
                    T,     F,         H,         directions, 4};
  run_layer<true>(layer, packed != 0, output);
}

void mnistc_gru(const float* input, const float* weight_ih, const float* weight_hh,
                const float* bias_ih, const float* bias_hh, const float* h0, float* output,
                int64_t T, int64_t F, int64_t H, int64_t directions, int64_t packed) {
  const Layer layer{input, weight_ih, weight_hh, bias_ih, bias_hh, h0, nullptr,
                    T,     F,         H,         directions, 3};
  run_layer<false>(layer, packed != 0, output);
}

}  // extern "C"
