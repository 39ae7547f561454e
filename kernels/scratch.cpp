// Per-thread kernel scratch (see kernel_support.hpp): the high-water mark of every slot,
// the message when a kernel asks for more than the plan holds, and the scratch of a
// kernel library used without a compiled model (weak: a model's definition wins).
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "kernel_support.hpp"

// The most floats any thread has asked of `slot` since the last reset (`reset` != 0
// starts again from 0 after reading).
extern "C" int64_t mnistc_scratch_high_water(int64_t slot, int64_t reset) {
  std::atomic<int64_t>& mark = mnistc::scratch_high_water[slot];
  return reset ? mark.exchange(0) : mark.load();
}

// A kernel asked for more scratch than plan-memory reserved: a wrong formula in
// kernels/abi.py. Writing past the plan would corrupt memory, so stop here, loudly.
extern "C" [[noreturn]] void mnistc_scratch_exceeded(int64_t slot, int64_t floats,
                                                     int64_t planned) {
  std::fprintf(stderr,
               "mnistc: internal error: a kernel asked for %lld floats of scratch in slot "
               "%lld, the plan holds %lld (kernels/abi.py's scratch formula is wrong)\n",
               static_cast<long long>(floats), static_cast<long long>(slot),
               static_cast<long long>(planned));
  std::abort();
}

// 64-byte aligned, as a compiled model's slots (the int8 kernels load their panels with
// aligned loads): 16 floats more than asked, the start moved up to the next 64 bytes.
extern "C" __attribute__((weak)) float* mnistc_scratch(int64_t slot, int64_t floats) {
  thread_local std::vector<float> buffers[MNISTC_SCRATCH_SLOTS];
  std::vector<float>& buffer = buffers[slot];
  if (static_cast<int64_t>(buffer.size()) < floats + 16) buffer.resize(floats + 16);
  const auto address = reinterpret_cast<uintptr_t>(buffer.data());
  return buffer.data() + (-address & 63) / sizeof(float);
}
