// conv2d_depthwise, the fast path for depthwise convolutions (one channel per group,
// multiplier 1) with 3x3 or 5x5 windows, stride 1 or 2 and dilation 1 that pack-weights
// chooses (see kernels.hpp).
//
// Each channel is a small independent convolution, too little work per weight for the
// register tiles of the GEMM-like kernels (conv2d_packed would leave 3 of its 4 channel
// rows idle). Here a thread takes whole channels: it copies the channel's input into a
// zero-padded plane in its scratch (for stride 2, each row split into its even and odd
// columns, so that every tap reads 8 consecutive floats), a chunk of rows at a time just
// before they are read, then computes ROWS output rows x 8 output columns at a time with
// the accumulators in registers: each input row of the window is loaded once and feeds
// every output row it is a tap row of. The bias starts the sums; the residual and the
// activations of one or two vector instructions (ReLU, hardtanh) are applied in registers
// before the one store, the others to each stored tile of rows.
#include "kernels.hpp"

#include <algorithm>

#include "kernel_support.hpp"

using namespace mnistc;

namespace {

constexpr int64_t V = 8;  // output columns per vector

inline int64_t round_up(int64_t n, int64_t multiple) {
  return (n + multiple - 1) / multiple * multiple;
}

// Where a channel's zero-padded input lives in scratch: `rows` padded rows of `pitch`
// floats. For stride 2 a row holds its even padded columns then its odd ones, `half`
// floats each (pitch = 2 * half); padded column x is at (x & 1) * half + x / 2.
struct Plane {
  int64_t rows, pitch, half;
};

// Wide enough that every vector load of every output column block stays in the row (the
// 8 lanes of the last block may run past OW: their results are not stored, and a tap
// reads at most K - 1 < 8 columns further), and that the input and the 8 lanes of its
// last vector store fit.
Plane plane_layout(int64_t W, int64_t OH, int64_t OW, int64_t K, int64_t stride,
                   int64_t pad_w) {
  const int64_t rows = stride * (OH - 1) + K, columns = round_up(OW, V) + V;
  if (stride == 1) return {rows, round_up(std::max(columns, pad_w + W + V), V), 0};
  const int64_t half = round_up(std::max(columns, (pad_w + W + 1) / 2 + V), V);
  return {rows, 2 * half, half};
}

// p[0, count) then zeros, for count < 8, element by element: at the end of a tensor.
// Out of line, as a rare path that the vector loops should not make room for.
[[gnu::noinline, gnu::cold]] v8 load_at_end(const float* p, int64_t count) {
  float lanes[V] = {};
  for (int64_t j = 0; j < count; ++j) lanes[j] = p[j];
  return load8(lanes);
}

// p[0, count) then zeros, for count <= 8: the one vector load, its lanes past count (the
// next row's) dropped, when those 8 floats lie before `end`, the end of the tensor.
inline v8 load_upto(const float* p, int64_t count, const float* end) {
  if (p + V > end) return load_at_end(p, count);
  const v8 lane{0, 1, 2, 3, 4, 5, 6, 7};
  return lane < splat(static_cast<float>(count)) ? load8(p) : v8{};
}

// out[0, count) = x[0, count), for count < 8, without a call to memcpy: at the end of a
// channel's output.
inline void store_upto(float* out, v8 x, int64_t count) {
#pragma GCC unroll 8
  for (int j = 0; j < V - 1; ++j)
    if (j < count) out[j] = x[j];
}

// Copies input row `in` (W floats) to padded row `row` from padded column pad_w, whole
// vectors at a time (the layout leaves room for the last one).
void copy_row(const float* in, const float* input_end, float* row, int64_t W, int64_t pad_w,
              const Plane& plane) {
  if (plane.half == 0) {
    int64_t i = 0;
    for (; i + V <= W; i += V) store8(row + pad_w + i, load8(in + i));
    if (i < W) store8(row + pad_w + i, load_upto(in + i, W - i, input_end));
    return;
  }
  // Input column w is padded column pad_w + w: the even input columns go to one half and
  // the odd ones to the other, which ones depending on the parity of pad_w.
  const int64_t parity = pad_w & 1;
  float* evens = row + parity * plane.half + pad_w / 2;
  float* odds = row + (1 - parity) * plane.half + (pad_w + 1) / 2;
  const auto deinterleave = [&](int64_t i, v8 a, v8 b) {
    store8(evens + i, __builtin_shuffle(a, b, mask8{0, 2, 4, 6, 8, 10, 12, 14}));
    store8(odds + i, __builtin_shuffle(a, b, mask8{1, 3, 5, 7, 9, 11, 13, 15}));
  };
  int64_t i = 0;  // input columns 2i, 2i + 1 are evens[i], odds[i]
  for (; 2 * i + 2 * V <= W; i += V)
    deinterleave(i, load8(in + 2 * i), load8(in + 2 * i + V));
  const int64_t rest = W - 2 * i;
  if (rest > V)
    deinterleave(i, load8(in + 2 * i), load_upto(in + 2 * i + V, rest - V, input_end));
  else if (rest > 0)
    deinterleave(i, load_upto(in + 2 * i, rest, input_end), v8{});
}

// One channel's input [H, W] and where its padded rows go.
struct Source {
  const float* in;
  const float* input_end;  // the end of the input tensor
  int64_t H, W, pad_h, pad_w;
};

// Padded rows [from, to) of the plane that hold input rows (the padding stays zero from
// the first channel on).
[[gnu::noinline]] void fill_rows(const Source& src, float* plane_data, const Plane& plane,
                                 int64_t from, int64_t to) {
  const int64_t first = std::max<int64_t>(from - src.pad_h, 0);
  const int64_t end = std::min(to - src.pad_h, src.H);
  for (int64_t h = first; h < end; ++h)
    copy_row(src.in + h * src.W, src.input_end, plane_data + (h + src.pad_h) * plane.pitch,
             src.W, src.pad_w, plane);
}

struct Epilogue {
  const float* residual;  // this channel's plane [OH, OW], or null
  const float* residual_end;  // the end of the residual tensor
  int64_t size;  // OH * OW
  int64_t activation;
  float alpha, beta;
};

// The activations that finish applies in registers (one or two vector instructions);
// channel applies the others to each tile of rows once stored.
inline bool in_registers(int64_t activation) {
  return activation == MNISTC_ACTIVATION_NONE || activation == MNISTC_ACTIVATION_RELU ||
         activation == MNISTC_ACTIVATION_HARDTANH;
}

// x + residual, activated if in_registers, for the `count` <= 8 columns of one output row
// at `out`, `offset` floats into the channel's plane. A partial row is stored as 8 lanes
// when they stay in the plane: the extra ones land on the next rows' first columns, which
// output_rows writes later.
[[gnu::always_inline]] inline void finish(v8 x, float* out, const float* residual,
                                          int64_t offset, int64_t count,
                                          const Epilogue& e) {
  if (residual)
    x += count == V ? load8(residual) : load_upto(residual, count, e.residual_end);
  if (e.activation == MNISTC_ACTIVATION_RELU) {
    x = relu8(x);
  } else if (e.activation == MNISTC_ACTIVATION_HARDTANH) {
    // x first, as std::max and std::min in activate(): NaN comes through.
    const v8 lo = splat(e.alpha), hi = splat(e.beta);
    x = x < lo ? lo : x;
    x = hi < x ? hi : x;
  }
  if (count == V || offset + V <= e.size)
    store8(out, x);
  else
    store_upto(out, x, count);
}

// Output rows per register tile, by window and stride: enough rows to reuse each loaded
// input row several times, few enough that accumulators, inputs and (for 3x3) the
// weights stay in registers. Measured on mobilenet_v2's and efficientnet_b0's layers.
template <int K, int S>
constexpr int kRows = S == 2 && K == 5 ? 3 : 4;

// Output rows [oh0, oh0 + ROWS) of one channel: for each block of 8 columns, ROWS
// accumulators (started at the bias) take every tap from the input rows
// S*oh0 .. S*(oh0+ROWS-1) + K-1, each row loaded once as K shifted vectors. A partial
// last block comes first, and the rows top to bottom, so that what its whole-vector store
// spills onto the following rows is overwritten later (see finish).
template <int K, int S, int ROWS>
[[gnu::always_inline]] inline void output_rows(const float* plane_data, const Plane& plane,
                                               const v8* w, float bias, int64_t oh0,
                                               int64_t OW, float* out, const Epilogue& e) {
  constexpr int IN_ROWS = S * (ROWS - 1) + K;
  const float* top = plane_data + S * oh0 * plane.pitch;
  v8 taps[K * K];  // locals, which the compiler keeps in registers when they fit
#pragma GCC unroll 25
  for (int i = 0; i < K * K; ++i) taps[i] = w[i];
  const int64_t last = (OW - 1) / V * V;
  const bool partial = OW - last < V;
  for (int64_t block = 0; block * V < OW; ++block) {
    const int64_t ow = !partial ? block * V : block == 0 ? last : (block - 1) * V;
    v8 acc[ROWS];
#pragma GCC unroll 8
    for (int o = 0; o < ROWS; ++o) acc[o] = splat(bias);
#pragma GCC unroll 16
    for (int r = 0; r < IN_ROWS; ++r) {
      const float* row = top + r * plane.pitch + ow;
      v8 x[K];
#pragma GCC unroll 5
      for (int kw = 0; kw < K; ++kw)
        x[kw] = S == 1 ? load8(row + kw) : load8(row + (kw & 1) * plane.half + kw / 2);
#pragma GCC unroll 8
      for (int o = 0; o < ROWS; ++o) {
        const int kh = r - S * o;
        if (kh < 0 || kh >= K) continue;
#pragma GCC unroll 5
        for (int kw = 0; kw < K; ++kw) acc[o] += taps[kh * K + kw] * x[kw];
      }
    }
    const int64_t count = std::min(V, OW - ow);
#pragma GCC unroll 8
    for (int o = 0; o < ROWS; ++o) {
      const int64_t offset = (oh0 + o) * OW + ow;
      const float* residual = e.residual ? e.residual + offset : nullptr;
      finish(acc[o], out + offset, residual, offset, count, e);
    }
  }
}

// The last `rows` < ROWS output rows of a channel, as one tile.
template <int K, int S, int ROWS>
void remaining_rows(int64_t rows, const float* plane_data, const Plane& plane, const v8* w,
                    float bias, int64_t oh0, int64_t OW, float* out, const Epilogue& e) {
  if constexpr (ROWS > 0) {
    if (rows == ROWS)
      output_rows<K, S, ROWS>(plane_data, plane, w, bias, oh0, OW, out, e);
    else
      remaining_rows<K, S, ROWS - 1>(rows, plane_data, plane, w, bias, oh0, OW, out, e);
  }
}

// Floats of the plane copied at a time: a part of the L1 cache, where the tiles that
// follow find them.
constexpr int64_t kFillChunk = 4096;

// One channel's output plane [OH, OW]. The input rows go into the plane a chunk at a time,
// just before the tiles that read them.
template <int K, int S>
void channel(const Source& src, float* plane_data, const Plane& plane, const float* weight,
             float bias, int64_t OH, int64_t OW, float* out, const Epilogue& e) {
  constexpr int ROWS = kRows<K, S>;
  v8 w[K * K];
  for (int i = 0; i < K * K; ++i) w[i] = splat(weight[i]);
  const int64_t chunk_rows = std::max<int64_t>(kFillChunk / plane.pitch, 1);
  int64_t oh = 0, filled = 0;
  const auto fill_to = [&](int64_t end) {
    if (end <= filled) return;
    end = std::min(std::max(end, filled + chunk_rows), plane.rows);
    fill_rows(src, plane_data, plane, filled, end);
    filled = end;
  };
  const auto activate_rows = [&](int64_t from, int64_t to) {
    if (!in_registers(e.activation))
      activate_all(out + from * OW, (to - from) * OW, e.activation, e.alpha, e.beta);
  };
  for (; oh + ROWS <= OH; oh += ROWS) {
    fill_to(S * (oh + ROWS - 1) + K);
    output_rows<K, S, ROWS>(plane_data, plane, w, bias, oh, OW, out, e);
    activate_rows(oh, oh + ROWS);
  }
  fill_to(plane.rows);
  if (oh < OH) {
    remaining_rows<K, S, ROWS - 1>(OH - oh, plane_data, plane, w, bias, oh, OW, out, e);
    activate_rows(oh, OH);
  }
}

template <int K, int S>
void depthwise(const float* input, const float* weight, const float* bias,
               const float* residual, float* output, int64_t C, int64_t H, int64_t W,
               int64_t OH, int64_t OW, int64_t pad_h, int64_t pad_w, int64_t activation,
               float alpha, float beta) {
  const Plane plane = plane_layout(W, OH, OW, K, S, pad_w);
#pragma omp parallel if (C * OH * OW > 4096)
  {
    float* plane_data = scratch(plane.rows * plane.pitch);
    std::fill(plane_data, plane_data + plane.rows * plane.pitch, 0.0f);
#pragma omp for schedule(static)
    for (int64_t c = 0; c < C; ++c) {
      const Source src{input + c * H * W, input + C * H * W, H, W, pad_h, pad_w};
      const Epilogue e{residual ? residual + c * OH * OW : nullptr,
                       residual ? residual + C * OH * OW : nullptr, OH * OW, activation,
                       alpha, beta};
      channel<K, S>(src, plane_data, plane, weight + c * K * K, bias ? bias[c] : 0.0f, OH,
                    OW, output + c * OH * OW, e);
    }
  }
}

}  // namespace

extern "C" void mnistc_conv2d_depthwise(const float* input, const float* weight,
                                        const float* bias, const float* residual,
                                        float* output, int64_t C, int64_t H, int64_t W,
                                        int64_t K, int64_t OH, int64_t OW, int64_t KH,
                                        int64_t KW, int64_t stride_h, int64_t stride_w,
                                        int64_t pad_h, int64_t pad_w, int64_t activation,
                                        float alpha, float beta) {
  (void)K, (void)KW, (void)stride_w;  // = C, KH and stride_h: checked by pack-weights
  const auto run = stride_h == 1 ? (KH == 3 ? depthwise<3, 1> : depthwise<5, 1>)
                                 : (KH == 3 ? depthwise<3, 2> : depthwise<5, 2>);
  run(input, weight, bias, residual, output, C, H, W, OH, OW, pad_h, pad_w, activation,
      alpha, beta);
}
