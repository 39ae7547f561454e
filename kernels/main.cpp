// The executable's entry point: `MODEL [--max-batch N] [--chunk N] INPUT.bin OUTPUT.bin`.
//
// INPUT, a regular file or a pipe, holds N samples of float32 (N >= 1), raw or as a
// float32 .npy array (by its name); OUTPUT gets N rows of the model's output, raw or
// .npy likewise. The input is read, run and written a chunk of samples at
// a time, so memory does not grow with the input, which is refused beyond --max-batch
// samples. An OUTPUT that is a regular file or absent (through symlinks: their target)
// is written to a unique temporary file in its directory and renamed into place when
// complete, so on any error it is left as it was; a device, FIFO or socket is written
// through.
#include <fcntl.h>
#include <omp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "model_api.hpp"

namespace {

constexpr int64_t kThreadedBatch = 4;
// Defaults of --max-batch and --chunk, in bytes of input.
constexpr int64_t kMaxInputBytes = int64_t{4} << 30;
constexpr int64_t kChunkBytes = int64_t{4} << 20;
constexpr int64_t kMaxChunkBytes = int64_t{1} << 30;
constexpr int kMaxSymlinks = 40;

int fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
}

std::string describe_errno() { return std::strerror(errno); }

int64_t sample_bytes() { return sizeof(float) * mnistc_model_input_size(); }

// A model imported whole (model_api.hpp) runs exactly one input of its fixed shape.
bool imported_whole() { return mnistc_model_imported_whole()[0] != '\0'; }

std::string whole_input_refusal(const char* path, const std::string& holds) {
  return "input '" + std::string(path) + "' " + holds + ": the model takes exactly one " +
         mnistc_model_input_shape() + " tensor (float32 = " + std::to_string(sample_bytes()) +
         " bytes), its fixed input shape (imported whole: " + mnistc_model_imported_whole() + ")";
}
int64_t samples_in(int64_t bytes) { return std::max<int64_t>(1, bytes / sample_bytes()); }

// Fills `size` bytes unless the end comes first; the count read, or -1 on an error.
int64_t read_fully(int fd, char* data, int64_t size) {
  int64_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, data + done, static_cast<size_t>(size - done));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    done += n;
  }
  return done;
}

bool write_fully(int fd, const char* data, int64_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, static_cast<size_t>(size));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= n;
  }
  return true;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// NumPy's .npy format (version 1.0 written; 1.0-3.0 read): magic, version, header length,
// then a Python dict literal naming dtype, order and shape, padded to 64 bytes.
constexpr char kNpyMagic[] = "\x93NUMPY";

std::string npy_header(int64_t rows, int64_t columns) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                     std::to_string(rows) + ", " + std::to_string(columns) + "), }";
  const size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::string header(kNpyMagic, 6);
  header += '\x01';
  header += '\x00';
  header += static_cast<char>(dict.size() & 0xff);
  header += static_cast<char>(dict.size() >> 8);
  return header + dict;
}

// The value text after `'key':` in a header dict, up to the next top-level comma.
std::string npy_field(const std::string& dict, const std::string& key) {
  const size_t at = dict.find("'" + key + "'");
  if (at == std::string::npos) return "";
  size_t start = dict.find(':', at);
  if (start == std::string::npos) return "";
  ++start;
  int depth = 0;
  size_t end = start;
  for (; end < dict.size(); ++end) {
    const char c = dict[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if ((c == ',' && depth == 0) || (c == '}' && depth <= 0)) break;
  }
  std::string value = dict.substr(start, end - start);
  value.erase(0, value.find_first_not_of(' '));
  value.erase(value.find_last_not_of(' ') + 1);
  return value;
}

// Reads an .npy header from `fd`: its length in bytes and the elements its shape holds;
// false with `error` set unless it is little-endian float32 in C order.
bool read_npy_header(int fd, int64_t& header_bytes, int64_t& elements, std::string& error) {
  char fixed[12];
  const int64_t got = read_fully(fd, fixed, 10);
  if (got < 6 || std::memcmp(fixed, kNpyMagic, 6) != 0) {
    error = "not an .npy file (no NumPy magic string)";
    return false;
  }
  if (got < 10) {
    error = "a truncated or oversized .npy header";
    return false;
  }
  const int major = static_cast<unsigned char>(fixed[6]);
  int64_t length = static_cast<unsigned char>(fixed[8]) | static_cast<unsigned char>(fixed[9]) << 8;
  header_bytes = 10;
  if (major >= 2) {
    if (read_fully(fd, fixed + 10, 2) != 2) {
      error = "a truncated .npy header";
      return false;
    }
    length |= int64_t{static_cast<unsigned char>(fixed[10])} << 16 |
              int64_t{static_cast<unsigned char>(fixed[11])} << 24;
    header_bytes = 12;
  }
  std::string dict(static_cast<size_t>(std::min<int64_t>(length, 1 << 20)), '\0');
  if (length > (1 << 20) || read_fully(fd, dict.data(), length) != length) {
    error = "a truncated or oversized .npy header";
    return false;
  }
  header_bytes += length;
  const std::string descr = npy_field(dict, "descr");
  if (descr != "'<f4'" && descr != "'float32'") {
    error = "an .npy array of dtype " + descr + ": only float32 ('<f4') is read; convert it "
            "with astype(np.float32) (or use `mnistc run`, which converts)";
    return false;
  }
  if (npy_field(dict, "fortran_order") != "False") {
    error = "an .npy array in Fortran order: save a C-ordered array (np.ascontiguousarray)";
    return false;
  }
  const std::string shape = npy_field(dict, "shape");
  if (shape.size() < 2 || shape.front() != '(' || shape.back() != ')') {
    error = "an .npy header without a shape";
    return false;
  }
  elements = 1;
  for (size_t i = 1; i + 1 < shape.size();) {
    char* end = nullptr;
    const long long d = std::strtoll(shape.c_str() + i, &end, 10);
    if (end == shape.c_str() + i) break;
    elements *= d;
    i = static_cast<size_t>(end - shape.c_str());
    while (i + 1 < shape.size() && (shape[i] == ',' || shape[i] == ' ')) ++i;
  }
  return true;
}

// An input file or pipe, read in whole samples. A regular file's size is checked when
// opened; a pipe's as it is read, stopping at the limit rather than reading on.
class Input {
 public:
  Input(const char* path, int64_t max_batch) : path_(path), max_batch_(max_batch) {}
  ~Input() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool open(std::string& error) {
    fd_ = ::open(path_, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd_ < 0 || ::fstat(fd_, &st) != 0) {
      error = "cannot open input '" + std::string(path_) + "': " + describe_errno();
      return false;
    }
    if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
      error = "input '" + std::string(path_) + "' is not a regular file or pipe";
      return false;
    }
    if (ends_with(path_, ".npy") && !open_npy(error)) return false;
    if (S_ISREG(st.st_mode)) {
      size_ = st.st_size - header_;
      return check_size(size_, error) && check_limit(size_, error);
    }
    return declared_ < 0 || check_limit(declared_ * sample_bytes(), error);
  }

  // Reads up to `samples` samples into `data`: the count read, 0 at the end, or -1 with
  // `error` set on a read error, a partial sample at the end, or more than the limit.
  int64_t read(float* data, int64_t samples, std::string& error) {
    const int64_t remaining = max_batch_ - read_ / sample_bytes();  // one more shows excess
    const int64_t wanted = remaining < samples ? remaining + 1 : samples;
    const int64_t n = read_fully(fd_, reinterpret_cast<char*>(data), wanted * sample_bytes());
    if (n < 0) {
      error = "cannot read input '" + std::string(path_) + "': " + describe_errno();
      return -1;
    }
    read_ += n;
    ended_ = n < wanted * sample_bytes();
    if (!check_limit(read_, error)) return -1;
    if (ended_ && !check_size(read_, error)) return -1;
    return n / sample_bytes();
  }

  // The samples of a regular file or an .npy header; -1 for a raw pipe, whose size shows
  // only when read.
  int64_t batch() const {
    if (declared_ >= 0) return declared_;
    return size_ < 0 ? -1 : size_ / sample_bytes();
  }
  bool ended() const { return ended_; }

 private:
  bool open_npy(std::string& error) {
    int64_t elements = 0;
    if (!read_npy_header(fd_, header_, elements, error)) {
      error = "input '" + std::string(path_) + "': " + error;
      return false;
    }
    if (imported_whole() && elements != mnistc_model_input_size()) {
      error = whole_input_refusal(path_, "is an array of " + std::to_string(elements) + " elements");
      return false;
    }
    if (elements <= 0 || elements % mnistc_model_input_size() != 0) {
      error = "input '" + std::string(path_) + "' is an array of " + std::to_string(elements) +
              " elements, not a positive multiple of one sample (" +
              mnistc_model_input_shape() + ")";
      return false;
    }
    declared_ = elements / mnistc_model_input_size();
    return true;
  }

  bool check_size(int64_t bytes, std::string& error) const {
    if (imported_whole() && bytes != sample_bytes()) {
      error = whole_input_refusal(path_, "has " + std::to_string(bytes) + " bytes");
      return false;
    }
    if (declared_ >= 0 && bytes != declared_ * sample_bytes()) {
      error = "input '" + std::string(path_) + "' holds " + std::to_string(bytes) +
              " bytes of data; its .npy header declares " + std::to_string(declared_) +
              " samples (" + std::to_string(declared_ * sample_bytes()) + " bytes)";
      return false;
    }
    if (bytes > 0 && bytes % sample_bytes() == 0) return true;
    error = "input '" + std::string(path_) + "' has " + std::to_string(bytes) +
            " bytes, not a positive multiple of one sample (" + mnistc_model_input_shape() +
            " float32 = " + std::to_string(sample_bytes()) + " bytes)";
    return false;
  }

  bool check_limit(int64_t bytes, std::string& error) const {
    if ((bytes + sample_bytes() - 1) / sample_bytes() <= max_batch_) return true;
    if (imported_whole()) {
      error = whole_input_refusal(path_, "holds more than one input");
      return false;
    }
    error = "input '" + std::string(path_) + "' holds more than " +
            std::to_string(max_batch_) + " samples, the limit; --max-batch N raises it";
    return false;
  }

  const char* path_;
  int64_t max_batch_;
  int fd_ = -1;
  int64_t size_ = -1, read_ = 0;
  int64_t header_ = 0, declared_ = -1;  // an .npy input's header bytes and samples
  bool ended_ = false;
};

// The temporary output file, removed if a signal ends the process before the rename.
char g_temporary[4096];

void remove_temporary_and_reraise(int signal) {
  if (g_temporary[0] != '\0') ::unlink(g_temporary);
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The file `path` names once symlinks are followed; `exists` tells whether it does.
bool resolve_symlinks(std::string path, std::string& target, struct stat& st, bool& exists,
                      std::string& error) {
  for (int hops = 0; hops <= kMaxSymlinks; ++hops) {
    if (::lstat(path.c_str(), &st) != 0) {
      exists = false;
      target = path;
      if (errno == ENOENT) return true;
      error = describe_errno();
      return false;
    }
    if (!S_ISLNK(st.st_mode)) {
      exists = true;
      target = path;
      return true;
    }
    std::vector<char> link(static_cast<size_t>(std::max<off_t>(st.st_size, 255)) + 1);
    const ssize_t n = ::readlink(path.c_str(), link.data(), link.size() - 1);
    if (n < 0) {
      error = describe_errno();
      return false;
    }
    const std::string next(link.data(), static_cast<size_t>(n));
    path = next[0] == '/' ? next : directory_of(path) + "/" + next;
  }
  error = std::strerror(ELOOP);
  return false;
}

// The output: a regular file (or a new one) is replaced atomically through a unique
// temporary file beside it, so racing runs and failures never leave a partial file;
// anything else (a device, FIFO or socket) is opened and written through.
class Output {
 public:
  explicit Output(const char* path) : path_(path) {}
  ~Output() { abandon(); }

  bool open(std::string& error) {
    struct stat st;
    if (::stat(path_, &st) == 0 && !S_ISREG(st.st_mode)) {
      // Opened by its own name: /dev/stdout's link to a pipe names no file to resolve.
      if (S_ISDIR(st.st_mode)) return failed(std::strerror(EISDIR), error);
      fd_ = ::open(path_, O_WRONLY | O_CLOEXEC);
      return fd_ >= 0 || failed(describe_errno(), error);
    }
    std::string target, reason;
    bool exists = false;
    if (!resolve_symlinks(path_, target, st, exists, reason)) return failed(reason, error);
    const size_t slash = target.rfind('/');
    const std::string name = slash == std::string::npos ? target : target.substr(slash + 1);
    std::string temporary = directory_of(target) + "/." + name + ".XXXXXX";
    if (temporary.size() >= sizeof g_temporary) return failed(std::strerror(ENAMETOOLONG), error);
    std::snprintf(g_temporary, sizeof g_temporary, "%s", temporary.c_str());
    fd_ = ::mkostemp(g_temporary, O_CLOEXEC);
    if (fd_ < 0) {
      const std::string reason = describe_errno();
      g_temporary[0] = '\0';
      return failed(reason, error);
    }
    target_ = target;
    if (::fchmod(fd_, exists ? (st.st_mode & 07777) : (0666 & ~current_umask())) != 0) {
      const std::string reason = describe_errno();
      abandon();
      return failed(reason, error);
    }
    return true;
  }

  bool write(const float* data, int64_t count, std::string& error) {
    return write_bytes(reinterpret_cast<const char*>(data), count * sizeof(float), error);
  }

  bool write_bytes(const char* data, int64_t size, std::string& error) {
    if (write_fully(fd_, data, size)) return true;
    const std::string reason = describe_errno();
    abandon();
    return failed(reason, error);
  }

  // Closes the output and, for a regular file, renames it into place.
  bool commit(std::string& error) {
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0 ||
        (g_temporary[0] != '\0' && std::rename(g_temporary, target_.c_str()) != 0)) {
      const std::string reason = describe_errno();
      abandon();
      return failed(reason, error);
    }
    g_temporary[0] = '\0';
    return true;
  }

  void abandon() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (g_temporary[0] != '\0') ::unlink(g_temporary);
    g_temporary[0] = '\0';
  }

 private:
  static mode_t current_umask() {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    return mask;
  }

  bool failed(const std::string& reason, std::string& error) const {
    error = "cannot write output '" + std::string(path_) + "': " + reason;
    return false;
  }

  const char* path_;
  std::string target_;
  int fd_ = -1;
};

int usage(const char* program) {
  std::fprintf(
      stderr,
      "usage: %s [--max-batch N] [--chunk N] INPUT.bin OUTPUT.bin\n"
      "       %s --bench N [--max-batch N] INPUT.bin\n"
      "       %s --profile N [--max-batch N] INPUT.bin\n"
      "       %s --info\n"
      "  INPUT: N samples of %s float32 values, a regular file or a pipe; raw, or\n"
      "    a float32 .npy array when its name ends in .npy\n"
      "  OUTPUT: N x %lld float32 values (an .npy array when its name ends in .npy);\n"
      "    a regular file (or a symlink's target) is replaced atomically when complete,\n"
      "    a device or FIFO is written through\n"
      "  --max-batch N: refuse an input of more than N samples (default %lld, 4 GiB)\n"
      "  --chunk N: read, run and write N samples at a time (default %lld, 4 MiB)\n"
      "  --bench N: run N times on INPUT's batch; print per-inference latency\n"
      "  --profile N: run N times on INPUT's batch; print the time of each kernel call\n"
      "  --info: print the sample shape, outputs per sample, declared preprocessing and\n"
      "    planned peak memory, weights + threads x (arena + kernel scratch) (JSON)\n",
      program, program, program, program, mnistc_model_input_shape(),
      static_cast<long long>(mnistc_model_output_size()),
      static_cast<long long>(samples_in(kMaxInputBytes)),
      static_cast<long long>(samples_in(kChunkBytes)));
  return 2;
}

// The whole batch of an input with room for its output, run once to warm up.
struct Workload {
  std::vector<float> input, output;
  int64_t batch = 0;

  bool load(const char* path, int64_t max_batch, std::string& error) {
    Input source(path, max_batch);
    if (!source.open(error)) return false;
    const int64_t chunk = source.batch() > 0 ? source.batch() : samples_in(kChunkBytes);
    const int64_t size = mnistc_model_input_size();
    while (!source.ended() && batch != source.batch()) {
      input.resize(static_cast<size_t>((batch + chunk) * size));
      const int64_t n = source.read(input.data() + batch * size, chunk, error);
      if (n < 0) return false;
      batch += n;
    }
    input.resize(static_cast<size_t>(batch * size));
    output.resize(static_cast<size_t>(batch * mnistc_model_output_size()));
    run();
    return true;
  }
  void run() { mnistc_model_run(input.data(), output.data(), batch); }
};

// Median and 90th percentile of `runs` timed inferences, in microseconds per inference
// of the whole batch and per sample.
int bench(long runs, const char* path, int64_t max_batch) {
  Workload work;
  std::string error;
  if (!work.load(path, max_batch, error)) return fail(error);
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
int profile(long runs, const char* path, int64_t max_batch) {
  Workload work;
  std::string error;
  if (!work.load(path, max_batch, error)) return fail(error);
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
  std::printf("%4s %10s %7s %8s  %s\n", "#", "us/run", "share", "GFLOP/s", "kernel -> output");
  for (int64_t i = 0; i < mnistc_model_profile_count(); ++i) {
    const double seconds = mnistc_model_profile_seconds(i);
    const double flops = double(mnistc_model_profile_flops(i)) * work.batch * runs;
    char rate[16] = "-";
    if (flops > 0 && seconds > 0) std::snprintf(rate, sizeof rate, "%.1f", flops / seconds / 1e9);
    std::printf("%4lld %10.1f %6.1f%% %8s  %s\n", static_cast<long long>(i),
                seconds / runs * 1e6, total > 0 ? 100.0 * seconds / total : 0.0, rate,
                mnistc_model_profile_name(i));
  }
  return 0;
}

// A one-shot run on a few samples finishes before extra threads pay for their start
// (measured: 4.9 ms on one thread against 15.7 ms on two for one image, whole process);
// OMP_NUM_THREADS, when set, decides.
void choose_threads(int64_t batch) {
  if (batch < kThreadedBatch && std::getenv("OMP_NUM_THREADS") == nullptr)
    omp_set_num_threads(1);
}

// Streams INPUT through the model into OUTPUT a chunk at a time. The first chunk is read
// before OUTPUT is opened, so an input too short or of the wrong size leaves it alone.
int run(const char* input_path, const char* output_path, int64_t max_batch, int64_t chunk) {
  Input input(input_path, max_batch);
  std::string error;
  if (!input.open(error)) return fail(error);
  chunk = std::min(chunk, input.batch() > 0 ? input.batch() : max_batch);
  std::vector<float> samples(static_cast<size_t>(chunk * mnistc_model_input_size()));
  std::vector<float> results(static_cast<size_t>(chunk * mnistc_model_output_size()));
  int64_t n = input.read(samples.data(), chunk, error);
  if (n < 0) return fail(error);
  choose_threads(input.batch() > 0 ? input.batch() : input.ended() ? n : chunk);
  const bool npy_output = ends_with(output_path, ".npy");
  if (npy_output && input.batch() < 0)
    return fail("an .npy OUTPUT needs the number of samples first: give a regular INPUT "
                "file or an .npy INPUT");
  Output output(output_path);
  if (!output.open(error)) return fail(error);
  if (npy_output) {
    const std::string header = npy_header(input.batch(), mnistc_model_output_size());
    if (!output.write_bytes(header.data(), static_cast<int64_t>(header.size()), error))
      return fail(error);
  }
  for (; n > 0; n = input.read(samples.data(), chunk, error)) {
    if (mnistc_model_run(samples.data(), results.data(), n) != 0)
      return fail("the model failed to run");
    if (!output.write(results.data(), n * mnistc_model_output_size(), error)) return fail(error);
  }
  if (n < 0 || !output.commit(error)) return fail(error);
  return 0;
}

// What `mnistc run` needs to feed this executable, and the planned memory of a run on
// OMP_NUM_THREADS threads (see model_api.hpp), as one JSON object.
int info() {
  std::string shape = mnistc_model_input_shape();
  for (char& c : shape)
    if (c == 'x') c = ',';
  const std::string preprocessing = mnistc_model_preprocessing();
  const long long weights = mnistc_model_weight_bytes(), buffers = mnistc_model_buffer_bytes(),
                  scratch = mnistc_model_scratch_bytes(), threads = omp_get_max_threads();
  std::printf("{\"input_shape\": [%s], \"outputs\": %lld, \"imported_whole\": %s, "
              "\"preprocessing\": %s, "
              "\"memory\": {\"weights\": %lld, \"arena_per_thread\": %lld, "
              "\"scratch_per_thread\": %lld, \"threads\": %lld, \"peak\": %lld}}\n",
              shape.c_str(), static_cast<long long>(mnistc_model_output_size()),
              imported_whole() ? "true" : "false",
              preprocessing.empty() ? "null" : preprocessing.c_str(), weights, buffers,
              scratch, threads, weights + threads * (buffers + scratch));
  return 0;
}

bool parse_count(const char* option, const char* text, int64_t& count, std::string& error) {
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text, &end, 10);
  if (*end != '\0' || end == text || value < 1 || errno == ERANGE) {
    error = std::string(option) + " needs a positive count, got '" + text + "'";
    return false;
  }
  count = value;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t max_batch = samples_in(kMaxInputBytes), chunk = samples_in(kChunkBytes), runs = 0;
  const char* mode = nullptr;
  std::vector<const char*> paths;
  std::string error;
  if (argc == 2 && std::strcmp(argv[1], "--info") == 0) return info();
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      paths.push_back(argv[i]);
      continue;
    }
    int64_t* value = arg == "--max-batch" ? &max_batch
                     : arg == "--chunk"   ? &chunk
                     : arg == "--bench" || arg == "--profile" ? &runs
                                                              : nullptr;
    if (value == nullptr || i + 1 == argc) return usage(argv[0]);
    if (value == &runs) mode = argv[i];
    if (!parse_count(argv[i], argv[i + 1], *value, error)) return fail(error);
    ++i;
  }
  if (imported_whole()) max_batch = 1;
  if (mode != nullptr) {
    if (paths.size() != 1) return usage(argv[0]);
    return std::strcmp(mode, "--bench") == 0 ? bench(runs, paths[0], max_batch)
                                             : profile(runs, paths[0], max_batch);
  }
  if (paths.size() != 2) return usage(argv[0]);
  if (chunk > samples_in(kMaxChunkBytes))
    return fail("--chunk may be at most " + std::to_string(samples_in(kMaxChunkBytes)) +
                " samples (1 GiB)");
  std::signal(SIGPIPE, SIG_IGN);
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) std::signal(signal, remove_temporary_and_reraise);
  return run(paths[0], paths[1], max_batch, chunk);
}
