// Softmax and log-softmax over the middle axis of [outer, axis, inner] (see kernels.hpp).
#include "kernels.hpp"

#include <cmath>
#include <limits>

#include "kernel_support.hpp"

using namespace mnistc;

namespace {

template <bool kLog>
void softmax_impl(const float* input, float* output, int64_t outer, int64_t axis,
                  int64_t inner) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < inner; ++j) {
      const float* in = input + o * axis * inner + j;
      float* out = output + o * axis * inner + j;
      float max_value = -std::numeric_limits<float>::infinity();
      // A NaN max makes the whole row NaN, as in PyTorch; so does a +inf or an all -inf
      // row, through inf - inf.
      for (int64_t a = 0; a < axis; ++a) max_value = max_nan(max_value, in[a * inner]);
      float sum = 0.0f;
      for (int64_t a = 0; a < axis; ++a) sum += std::exp(in[a * inner] - max_value);
      if (kLog) {
        const float log_sum = std::log(sum);
        for (int64_t a = 0; a < axis; ++a)
          out[a * inner] = in[a * inner] - max_value - log_sum;
      } else {
        const float scale = 1.0f / sum;
        for (int64_t a = 0; a < axis; ++a)
          out[a * inner] = std::exp(in[a * inner] - max_value) * scale;
      }
    }
  }
}

}  // namespace

extern "C" {

void mnistc_softmax(const float* input, float* output, int64_t outer, int64_t axis,
                    int64_t inner) {
  softmax_impl<false>(input, output, outer, axis, inner);
}

void mnistc_log_softmax(const float* input, float* output, int64_t outer, int64_t axis,
                        int64_t inner) {
  softmax_impl<true>(input, output, outer, axis, inner);
}

}  // extern "C"
