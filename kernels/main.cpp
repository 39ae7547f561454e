// The executable's entry point: `MODEL [--max-batch N] [--chunk N] INPUT.bin OUTPUT.bin`.
//
// INPUT, a regular file or a pipe, holds N samples of float32 (N >= 1), raw or as a
// float32 .npy array (by its name); OUTPUT gets N rows of the model's output, raw or
// .npy likewise. A model of several inputs and outputs takes one INPUT per input and one
// OUTPUT per output, in order (`x.bin mask.bin y.bin z.bin`) or by name (`mask=m.bin`),
// each input holding the same N samples of its own shape. The input is read, run and written a chunk of samples at
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
constexpr int kMaxOutputs = 64;  // outputs whose temporary files a signal removes

int fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
}

std::string describe_errno() { return std::strerror(errno); }

int64_t input_count() { return mnistc_model_num_inputs(); }
int64_t output_count() { return mnistc_model_num_outputs(); }

// Bytes of one sample of every input together: what --chunk and --max-batch count in.
int64_t sample_bytes() {
  int64_t bytes = 0;
  for (int64_t i = 0; i < input_count(); ++i) bytes += sizeof(float) * mnistc_model_input_size_of(i);
  return bytes;
}

// A model imported whole (model_api.hpp) runs exactly one input of its fixed shape.
bool imported_whole() { return mnistc_model_imported_whole()[0] != '\0'; }

// `shape` and `bytes`: the input's own (each input of a model of several has its own).
std::string whole_input_refusal(const std::string& label, const std::string& shape, int64_t bytes,
                                const std::string& holds) {
  return label + " " + holds + ": the model takes exactly one " + shape + " tensor (float32 = " +
         std::to_string(bytes) + " bytes), its fixed input shape (imported whole: " +
         mnistc_model_imported_whole() + ")";
}
int64_t samples_in(int64_t bytes) { return std::max<int64_t>(1, bytes / sample_bytes()); }

// How messages name input or output i: its file for a model of one input (as always),
// else its name and file.
std::string describe(const char* kind, int64_t i, const char* path) {
  const int64_t count = kind[0] == 'i' ? input_count() : output_count();
  if (count == 1) return std::string(kind) + " '" + path + "'";
  const char* name = kind[0] == 'i' ? mnistc_model_input_name(i) : mnistc_model_output_name(i);
  return std::string(kind) + " '" + name + "' (" + path + ")";
}

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
  Input(const char* path, int64_t index, int64_t max_batch)
      : path_(path),
        label_(describe("input", index, path)),
        size_of_sample_(mnistc_model_input_size_of(index)),
        shape_(mnistc_model_input_shape_of(index)),
        max_batch_(max_batch) {}
  ~Input() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool open(std::string& error) {
    fd_ = ::open(path_, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd_ < 0 || ::fstat(fd_, &st) != 0) {
      error = "cannot open " + label_ + ": " + describe_errno();
      return false;
    }
    if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
      error = label_ + " is not a regular file or pipe";
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
      error = "cannot read " + label_ + ": " + describe_errno();
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
  const std::string& label() const { return label_; }

 private:
  bool open_npy(std::string& error) {
    int64_t elements = 0;
    if (!read_npy_header(fd_, header_, elements, error)) {
      error = label_ + ": " + error;
      return false;
    }
    if (imported_whole() && elements != size_of_sample_) {
      error = whole_input_refusal(label_, shape_, sample_bytes(),
                                  "is an array of " + std::to_string(elements) + " elements");
      return false;
    }
    if (elements <= 0 || elements % size_of_sample_ != 0) {
      error = label_ + " is an array of " + std::to_string(elements) +
              " elements, not a positive multiple of one sample (" + shape_ + ")";
      return false;
    }
    declared_ = elements / size_of_sample_;
    return true;
  }

  bool check_size(int64_t bytes, std::string& error) const {
    if (imported_whole() && bytes != sample_bytes()) {
      error = whole_input_refusal(label_, shape_, sample_bytes(),
                                  "has " + std::to_string(bytes) + " bytes");
      return false;
    }
    if (declared_ >= 0 && bytes != declared_ * sample_bytes()) {
      error = label_ + " holds " + std::to_string(bytes) +
              " bytes of data; its .npy header declares " + std::to_string(declared_) +
              " samples (" + std::to_string(declared_ * sample_bytes()) + " bytes)";
      return false;
    }
    if (bytes > 0 && bytes % sample_bytes() == 0) return true;
    error = label_ + " has " + std::to_string(bytes) +
            " bytes, not a positive multiple of one sample (" + shape_ +
            " float32 = " + std::to_string(sample_bytes()) + " bytes)";
    return false;
  }

  bool check_limit(int64_t bytes, std::string& error) const {
    if ((bytes + sample_bytes() - 1) / sample_bytes() <= max_batch_) return true;
    if (imported_whole()) {
      error = whole_input_refusal(label_, shape_, sample_bytes(), "holds more than one input");
      return false;
    }
    error = label_ + " holds more than " +
            std::to_string(max_batch_) + " samples, the limit; --max-batch N raises it";
    return false;
  }

  int64_t sample_bytes() const { return sizeof(float) * size_of_sample_; }

  const char* path_;
  std::string label_;
  int64_t size_of_sample_;
  std::string shape_;
  int64_t max_batch_;
  int fd_ = -1;
  int64_t size_ = -1, read_ = 0;
  int64_t header_ = 0, declared_ = -1;  // an .npy input's header bytes and samples
  bool ended_ = false;
};

// The temporary output files, one per output, removed if a signal ends the process
// before their rename.
char g_temporaries[kMaxOutputs][4096];

void remove_temporary_and_reraise(int signal) {
  for (char* temporary : g_temporaries)
    if (temporary[0] != '\0') ::unlink(temporary);
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
  Output(const char* path, int64_t index)
      : path_(path), label_(describe("output", index, path)), temporary_(g_temporaries[index]) {}
  Output(Output&& other) noexcept
      : path_(other.path_), label_(other.label_), target_(other.target_),
        temporary_(other.temporary_), fd_(other.fd_) {
    other.fd_ = -1;
    other.temporary_ = nullptr;
  }
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
    if (temporary.size() >= sizeof g_temporaries[0]) return failed(std::strerror(ENAMETOOLONG), error);
    std::snprintf(temporary_, sizeof g_temporaries[0], "%s", temporary.c_str());
    fd_ = ::mkostemp(temporary_, O_CLOEXEC);
    if (fd_ < 0) {
      const std::string reason = describe_errno();
      temporary_[0] = '\0';
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

  // Closes the output (a failed close, such as a full disk, abandons it).
  bool close(std::string& error) {
    const int fd = fd_;
    fd_ = -1;
    if (fd >= 0 && ::close(fd) != 0) {
      const std::string reason = describe_errno();
      abandon();
      return failed(reason, error);
    }
    return true;
  }

  // A closed regular file: renamed into place.
  bool place(std::string& error) {
    if (temporary_[0] != '\0' && std::rename(temporary_, target_.c_str()) != 0) {
      const std::string reason = describe_errno();
      abandon();
      return failed(reason, error);
    }
    temporary_[0] = '\0';
    return true;
  }

  void abandon() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (temporary_ == nullptr) return;
    if (temporary_[0] != '\0') ::unlink(temporary_);
    temporary_[0] = '\0';
  }

 private:
  static mode_t current_umask() {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    return mask;
  }

  bool failed(const std::string& reason, std::string& error) const {
    error = "cannot write " + label_ + ": " + reason;
    return false;
  }

  const char* path_;
  std::string label_;
  std::string target_;
  char* temporary_;  // this output's entry of g_temporaries
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
  if (input_count() > 1 || output_count() > 1) {
    std::fprintf(stderr, "This model takes %lld inputs and gives %lld outputs: give one INPUT per input,\n"
                 "then one OUTPUT per output, in this order or as NAME=FILE:\n",
                 static_cast<long long>(input_count()), static_cast<long long>(output_count()));
    for (int64_t i = 0; i < input_count(); ++i)
      std::fprintf(stderr, "  input %s: %s\n", mnistc_model_input_name(i), mnistc_model_input_shape_of(i));
    for (int64_t i = 0; i < output_count(); ++i)
      std::fprintf(stderr, "  output %s: %s\n", mnistc_model_output_name(i), mnistc_model_output_shape_of(i));
  }
  return 2;
}

// Opens every input and checks that the files hold the same number of samples; the
// common count, or -1 for raw pipes (known only when read), or -2 with `error` set.
int64_t open_inputs(std::vector<Input>& inputs, std::string& error) {
  int64_t batch = -1;
  const Input* first = nullptr;
  for (Input& input : inputs) {
    if (!input.open(error)) return -2;
    if (input.batch() < 0) continue;
    if (first != nullptr && input.batch() != batch) {
      error = "the inputs hold different numbers of samples: " + first->label() + " " +
              std::to_string(batch) + ", " + input.label() + " " + std::to_string(input.batch());
      return -2;
    }
    first = &input;
    batch = input.batch();
  }
  return batch;
}

// Reads up to `samples` samples of every input; the count read (the same for all), 0 at
// the end, -1 with `error` set.
int64_t read_inputs(std::vector<Input>& inputs, std::vector<std::vector<float>>& data,
                    int64_t samples, std::string& error) {
  int64_t n = -1;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int64_t got = inputs[i].read(data[i].data(), samples, error);
    if (got < 0) return -1;
    if (n >= 0 && got != n) {
      error = "the inputs hold different numbers of samples: " + inputs[0].label() +
              " has " + std::to_string(n) + " where " + inputs[i].label() + " has " +
              std::to_string(got) + " (in a chunk of " + std::to_string(samples) + ")";
      return -1;
    }
    n = got;
  }
  return n;
}

std::vector<const float*> pointers(const std::vector<std::vector<float>>& data) {
  std::vector<const float*> result;
  for (const auto& d : data) result.push_back(d.data());
  return result;
}

std::vector<float*> pointers(std::vector<std::vector<float>>& data) {
  std::vector<float*> result;
  for (auto& d : data) result.push_back(d.data());
  return result;
}

std::vector<std::vector<float>> buffers(int64_t count, int64_t samples, int64_t (*size_of)(int64_t)) {
  std::vector<std::vector<float>> result;
  for (int64_t i = 0; i < count; ++i) result.emplace_back(static_cast<size_t>(samples * size_of(i)));
  return result;
}

// The whole batch of the inputs with room for the outputs, run once to warm up.
struct Workload {
  std::vector<std::vector<float>> input, output;
  int64_t batch = 0;

  bool load(const std::vector<const char*>& paths, int64_t max_batch, std::string& error) {
    std::vector<Input> sources;
    sources.reserve(paths.size());  // an Input owns its descriptor: never copied
    for (size_t i = 0; i < paths.size(); ++i) sources.emplace_back(paths[i], i, max_batch);
    const int64_t declared = open_inputs(sources, error);
    if (declared == -2) return false;
    const int64_t chunk = declared > 0 ? declared : samples_in(kChunkBytes);
    input.resize(sources.size());
    while (!sources[0].ended() && batch != declared) {
      for (size_t i = 0; i < sources.size(); ++i)
        input[i].resize(static_cast<size_t>((batch + chunk) * mnistc_model_input_size_of(i)));
      std::vector<std::vector<float>> parts = buffers(input_count(), chunk, mnistc_model_input_size_of);
      const int64_t n = read_inputs(sources, parts, chunk, error);
      if (n < 0) return false;
      for (size_t i = 0; i < sources.size(); ++i)
        std::copy(parts[i].begin(), parts[i].begin() + n * mnistc_model_input_size_of(i),
                  input[i].begin() + batch * mnistc_model_input_size_of(i));
      batch += n;
      if (n == 0) break;
    }
    for (size_t i = 0; i < sources.size(); ++i)
      input[i].resize(static_cast<size_t>(batch * mnistc_model_input_size_of(i)));
    output = buffers(output_count(), batch, mnistc_model_output_size_of);
    run();
    return true;
  }
  void run() {
    const std::vector<const float*> in = pointers(static_cast<const std::vector<std::vector<float>>&>(input));
    const std::vector<float*> out = pointers(output);
    mnistc_model_run_n(in.data(), out.data(), batch);
  }
};

// Median and 90th percentile of `runs` timed inferences, in microseconds per inference
// of the whole batch and per sample.
int bench(long runs, const std::vector<const char*>& paths, int64_t max_batch) {
  Workload work;
  std::string error;
  if (!work.load(paths, max_batch, error)) return fail(error);
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
int profile(long runs, const std::vector<const char*>& paths, int64_t max_batch) {
  Workload work;
  std::string error;
  if (!work.load(paths, max_batch, error)) return fail(error);
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

// Streams the inputs through the model into the outputs a chunk at a time. The first
// chunk is read before any output is opened, so an input too short or of the wrong size
// leaves them alone; every output is renamed into place only once all are complete.
int run(const std::vector<const char*>& input_paths, const std::vector<const char*>& output_paths,
        int64_t max_batch, int64_t chunk) {
  std::vector<Input> inputs;
  inputs.reserve(input_paths.size());  // an Input owns its descriptor: never copied
  for (size_t i = 0; i < input_paths.size(); ++i) inputs.emplace_back(input_paths[i], i, max_batch);
  std::string error;
  const int64_t batch = open_inputs(inputs, error);
  if (batch == -2) return fail(error);
  chunk = std::min(chunk, batch > 0 ? batch : max_batch);
  std::vector<std::vector<float>> samples = buffers(input_count(), chunk, mnistc_model_input_size_of);
  std::vector<std::vector<float>> results = buffers(output_count(), chunk, mnistc_model_output_size_of);
  int64_t n = read_inputs(inputs, samples, chunk, error);
  if (n < 0) return fail(error);
  choose_threads(batch > 0 ? batch : inputs[0].ended() ? n : chunk);
  std::vector<Output> outputs;
  outputs.reserve(output_paths.size());
  for (size_t i = 0; i < output_paths.size(); ++i) {
    if (ends_with(output_paths[i], ".npy") && batch < 0)
      return fail("an .npy OUTPUT needs the number of samples first: give a regular INPUT "
                  "file or an .npy INPUT");
  }
  for (size_t i = 0; i < output_paths.size(); ++i) {
    outputs.emplace_back(output_paths[i], i);
    if (!outputs[i].open(error)) return fail(error);
    if (ends_with(output_paths[i], ".npy")) {
      const std::string header = npy_header(batch, mnistc_model_output_size_of(i));
      if (!outputs[i].write_bytes(header.data(), static_cast<int64_t>(header.size()), error))
        return fail(error);
    }
  }
  const std::vector<const float*> in = pointers(static_cast<const std::vector<std::vector<float>>&>(samples));
  const std::vector<float*> out = pointers(results);
  for (; n > 0; n = read_inputs(inputs, samples, chunk, error)) {
    if (mnistc_model_run_n(in.data(), out.data(), n) != 0) return fail("the model failed to run");
    for (size_t i = 0; i < outputs.size(); ++i)
      if (!outputs[i].write(results[i].data(), n * mnistc_model_output_size_of(i), error)) return fail(error);
  }
  if (n < 0) return fail(error);
  // Every output closed first, so that a failure (a full disk shows at close) replaces none.
  for (Output& output : outputs)
    if (!output.close(error)) return fail(error);
  for (Output& output : outputs)
    if (!output.place(error)) return fail(error);
  return 0;
}

// What `mnistc run` needs to feed this executable, and the planned memory of a run on
// OMP_NUM_THREADS threads (see model_api.hpp), as one JSON object.
// A JSON string literal of `text` (names come from the model file).
std::string json_string(const std::string& text) {
  std::string result = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      result += '\\';
      result += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      result += escaped;
    } else {
      result += c;
    }
  }
  return result + "\"";
}

// A sample shape "CxHxW" as a JSON list "[C, H, W]".
std::string json_shape(std::string shape) {
  for (char& c : shape)
    if (c == 'x') c = ',';
  return "[" + shape + "]";
}

// [{"name": ..., "shape": [...]}, ...] of the inputs or outputs.
std::string json_signature(int64_t count, const char* (*name)(int64_t), const char* (*shape)(int64_t)) {
  std::string result = "[";
  for (int64_t i = 0; i < count; ++i)
    result += std::string(i ? ", " : "") + "{\"name\": " + json_string(name(i)) +
              ", \"shape\": " + json_shape(shape(i)) + "}";
  return result + "]";
}

int info() {
  const std::string shape = json_shape(mnistc_model_input_shape());
  const std::string inputs = json_signature(input_count(), mnistc_model_input_name, mnistc_model_input_shape_of);
  const std::string outputs = json_signature(output_count(), mnistc_model_output_name, mnistc_model_output_shape_of);
  const std::string preprocessing = mnistc_model_preprocessing();
  const long long weights = mnistc_model_weight_bytes(), buffers = mnistc_model_buffer_bytes(),
                  scratch = mnistc_model_scratch_bytes(), threads = omp_get_max_threads();
  std::printf("{\"input_shape\": %s, \"outputs\": %lld, \"imported_whole\": %s, "
              "\"inputs\": %s, \"output_shapes\": %s, \"preprocessing\": %s, "
              "\"memory\": {\"weights\": %lld, \"arena_per_thread\": %lld, "
              "\"scratch_per_thread\": %lld, \"threads\": %lld, \"peak\": %lld}}\n",
              shape.c_str(), static_cast<long long>(mnistc_model_output_size()),
              imported_whole() ? "true" : "false", inputs.c_str(), outputs.c_str(),
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

// Puts the arguments given as NAME=FILE (NAME an input's or output's name, for a model
// of several) at their place among the others, which fill the remaining places in order.
bool bind_by_name(std::vector<const char*>& paths, std::string& error) {
  if (input_count() == 1 && output_count() == 1) return true;
  const size_t inputs = static_cast<size_t>(input_count());
  const size_t places = inputs + static_cast<size_t>(output_count());
  std::vector<const char*> bound(places, nullptr), rest;
  for (const char* path : paths) {
    const char* equals = std::strchr(path, '=');
    size_t place = places;
    if (equals != nullptr) {
      const std::string name(path, static_cast<size_t>(equals - path));
      for (size_t i = 0; i < places && place == places; ++i) {
        const char* known = i < inputs ? mnistc_model_input_name(i) : mnistc_model_output_name(i - inputs);
        if (name == known) place = i;
      }
    }
    if (place == places) {
      rest.push_back(path);
    } else if (bound[place] != nullptr) {
      error = "'" + std::string(path, static_cast<size_t>(equals - path)) + "' is given twice";
      return false;
    } else {
      bound[place] = equals + 1;
    }
  }
  size_t next = 0;
  for (const char*& place : bound)
    if (place == nullptr && next < rest.size()) place = rest[next++];
  bound.insert(bound.end(), rest.begin() + next, rest.end());  // too many: usage
  bound.erase(std::remove(bound.begin(), bound.end(), nullptr), bound.end());
  paths = bound;
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
  if (!bind_by_name(paths, error)) return fail(error);
  const size_t inputs = static_cast<size_t>(input_count()), outputs = static_cast<size_t>(output_count());
  const std::vector<const char*> input_paths(paths.begin(), paths.begin() + std::min(inputs, paths.size()));
  if (mode != nullptr) {
    if (paths.size() != inputs) return usage(argv[0]);
    return std::strcmp(mode, "--bench") == 0 ? bench(runs, input_paths, max_batch)
                                             : profile(runs, input_paths, max_batch);
  }
  if (paths.size() != inputs + outputs) return usage(argv[0]);
  if (outputs > static_cast<size_t>(kMaxOutputs))
    return fail("this executable writes at most " + std::to_string(kMaxOutputs) + " outputs");
  if (chunk > samples_in(kMaxChunkBytes))
    return fail("--chunk may be at most " + std::to_string(samples_in(kMaxChunkBytes)) +
                " samples (1 GiB)");
  std::signal(SIGPIPE, SIG_IGN);
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) std::signal(signal, remove_temporary_and_reraise);
  return run(input_paths, std::vector<const char*>(paths.begin() + inputs, paths.end()), max_batch, chunk);
}
