// The executable's entry point: `MODEL INPUT.bin OUTPUT.bin`.
//
// INPUT holds N samples of float32 (N = file size / sample size, N >= 1); OUTPUT gets
// N rows of the model's output. On any error nothing is written to OUTPUT: the result
// goes to a temporary file that is renamed into place only when complete.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "model_api.hpp"

namespace {

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

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(
        stderr,
        "usage: %s INPUT.bin OUTPUT.bin\n"
        "  INPUT: N samples of %s float32 values; OUTPUT: N x %lld float32 values\n",
        argv[0], mnistc_model_input_shape(),
        static_cast<long long>(mnistc_model_output_size()));
    return 2;
  }
  std::vector<char> bytes;
  std::string error;
  if (!read_file(argv[1], bytes, error)) return fail(error);
  const size_t sample_bytes = sizeof(float) * mnistc_model_input_size();
  if (bytes.empty() || bytes.size() % sample_bytes != 0) {
    return fail(std::string("input '") + argv[1] + "' has " + std::to_string(bytes.size()) +
                " bytes, not a positive multiple of one sample (" +
                mnistc_model_input_shape() + " float32 = " + std::to_string(sample_bytes) +
                " bytes)");
  }
  const int64_t batch = static_cast<int64_t>(bytes.size() / sample_bytes);
  std::vector<float> input(bytes.size() / sizeof(float));
  std::memcpy(input.data(), bytes.data(), bytes.size());
  std::vector<float> output(static_cast<size_t>(batch * mnistc_model_output_size()));
  if (mnistc_model_run(input.data(), output.data(), batch) != 0)
    return fail("the model failed to run");
  if (!write_file_atomically(argv[2], output.data(), output.size(), error))
    return fail(error);
  return 0;
}
