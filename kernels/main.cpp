// The executable's entry point: `MODEL INPUT.bin OUTPUT.bin`.
//
// INPUT holds N samples of float32 (N = file size / sample size, N >= 1); OUTPUT gets
// N rows of the model's output. On any error nothing is written to OUTPUT: the result
// goes to a temporary file that is renamed into place only when complete.
#include <omp.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "model_api.hpp"

namespace {

constexpr int64_t kThreadedBatch = 4;

int fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
}

std::string describe_errno() { return std::strerror(errno); }

bool read_file(const char* path, std::vector<char>& data, std::string& error) {
  FILE* f = std::fopen(path, "rb");
  if (!f) {
    error = std::string("cannot open input '") + path + "': " + describe_errno();
    return false;
  }
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0)
    data.insert(data.end(), buffer, buffer + n);
  const bool ok = !std::ferror(f);
  std::fclose(f);
  if (!ok) error = std::string("cannot read input '") + path + "'";
  return ok;
}

bool write_file_atomically(const char* path, const float* data, size_t count,
                           std::string& error) {
  const std::string temporary = std::string(path) + ".partial";
  FILE* f = std::fopen(temporary.c_str(), "wb");
  if (!f) {
    error = std::string("cannot write output '") + path + "': " + describe_errno();
    return false;
  }
  const bool written = std::fwrite(data, sizeof(float), count, f) == count;
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed || std::rename(temporary.c_str(), path) != 0) {
    error = std::string("cannot write output '") + path + "': " + describe_errno();
    std::remove(temporary.c_str());
    return false;
  }
  return true;
}

int usage(const char* program) {
  std::fprintf(
      stderr,
      "usage: %s INPUT.bin OUTPUT.bin\n"
      "       %s --bench N INPUT.bin\n"
      "       %s --profile N INPUT.bin\n"
      "  INPUT: N samples of %s float32 values; OUTPUT: N x %lld float32 values\n"
      "  --bench N: run N times on INPUT's batch; print per-inference latency\n"
      "  --profile N: run N times on INPUT's batch; print the time of each kernel call\n",
      program, program, program, mnistc_model_input_shape(),
      static_cast<long long>(mnistc_model_output_size()));
  return 2;
}

bool read_batch(const char* path, std::vector<float>& input, int64_t& batch,
                std::string& error) {
  std::vector<char> bytes;
  if (!read_file(path, bytes, error)) return false;
  const size_t sample_bytes = sizeof(float) * mnistc_model_input_size();
  if (bytes.empty() || bytes.size() % sample_bytes != 0) {
    error = std::string("input '") + path + "' has " + std::to_string(bytes.size()) +
            " bytes, not a positive multiple of one sample (" + mnistc_model_input_shape() +
            " float32 = " + std::to_string(sample_bytes) + " bytes)";
    return false;
  }
  batch = static_cast<int64_t>(bytes.size() / sample_bytes);
  input.resize(bytes.size() / sizeof(float));
  std::memcpy(input.data(), bytes.data(), bytes.size());
  return true;
}

// The batch of an input file with room for its output, run once to warm up.
struct Workload {
  std::vector<float> input, output;
  int64_t batch = 0;

  bool load(const char* path, std::string& error) {
    if (!read_batch(path, input, batch, error)) return false;
    output.resize(static_cast<size_t>(batch * mnistc_model_output_size()));
    run();
    return true;
  }
  void run() { mnistc_model_run(input.data(), output.data(), batch); }
};

// Median and 90th percentile of `runs` timed inferences, in microseconds per inference
// of the whole batch and per sample.
int bench(long runs, const char* path) {
  Workload work;
  std::string error;
  if (!work.load(path, error)) return fail(error);
  std::vector<double> times;
  for (long i = 0; i < runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    work.run();
    const auto end = std::chrono::steady_clock::now();
    times.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2];
  const double p90 = times[std::min(times.size() - 1, times.size() * 9 / 10)];
  std::printf("batch %lld, %ld runs: median %.1f us (%.1f us/sample), p90 %.1f us\n",
              static_cast<long long>(work.batch), runs, median, median / work.batch, p90);
  return 0;
}

// Wall time of each kernel call over `runs` inferences, per run and as a share of the
// total, in the order of the generated code.
int profile(long runs, const char* path) {
  Workload work;
  std::string error;
  if (!work.load(path, error)) return fail(error);
  mnistc_model_profile(1);
  for (long i = 0; i < runs; ++i) work.run();
  mnistc_model_profile(0);
  double total = 0.0;
  for (int64_t i = 0; i < mnistc_model_profile_count(); ++i)
    total += mnistc_model_profile_seconds(i);
  std::printf(
      "batch %lld, %ld runs, %d threads: %.1f us per run in kernels (summed over "
      "threads)\n",
      static_cast<long long>(work.batch), runs, omp_get_max_threads(), total / runs * 1e6);
  std::printf("%4s %10s %7s  %s\n", "#", "us/run", "share", "kernel -> output");
  for (int64_t i = 0; i < mnistc_model_profile_count(); ++i) {
    const double seconds = mnistc_model_profile_seconds(i);
    std::printf("%4lld %10.1f %6.1f%%  %s\n", static_cast<long long>(i),
                seconds / runs * 1e6, total > 0 ? 100.0 * seconds / total : 0.0,
                mnistc_model_profile_name(i));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 &&
      (std::strcmp(argv[1], "--bench") == 0 || std::strcmp(argv[1], "--profile") == 0)) {
    char* end = nullptr;
    const long runs = std::strtol(argv[2], &end, 10);
    if (*end != '\0' || runs < 1)
      return fail(std::string(argv[1]) + " needs a positive count, got '" + argv[2] + "'");
    return argv[1][2] == 'b' ? bench(runs, argv[3]) : profile(runs, argv[3]);
  }
  if (argc != 3 || argv[1][0] == '-') return usage(argv[0]);
  std::vector<float> input;
  int64_t batch = 0;
  std::string error;
  if (!read_batch(argv[1], input, batch, error)) return fail(error);
  // A one-shot run on a few samples finishes before extra threads pay for their start
  // (measured: 4.9 ms on one thread against 15.7 ms on two for one image, whole
  // process); OMP_NUM_THREADS, when set, decides.
  if (batch < kThreadedBatch && std::getenv("OMP_NUM_THREADS") == nullptr)
    omp_set_num_threads(1);
  std::vector<float> output(static_cast<size_t>(batch * mnistc_model_output_size()));
  if (mnistc_model_run(input.data(), output.data(), batch) != 0)
    return fail("the model failed to run");
  if (!write_file_atomically(argv[2], output.data(), output.size(), error))
    return fail(error);
  return 0;
}
