// Threads under contention: each run of a model picks between all its OpenMP threads and
// one, by the recent latency of each choice.
//
// An OpenMP team waits at every barrier for its slowest thread. When the machine is
// oversubscribed (another process, or a second model server, wants the same cores), a
// worker thread is often descheduled for a whole time slice, and a 0.1 ms inference takes
// tens of milliseconds. Waiting passively (OMP_WAIT_POLICY=passive, GOMP_SPINCOUNT) only
// lessens that and slows the uncontended case: the barrier still needs the worker. One
// thread never waits for another. So the governor treats the two choices as the arms of a
// bandit: it runs the one whose recent tail latency (the second largest of its last
// kWindow runs, about a p90) is lower, and now and then tries the other (see History), so
// it notices when the machine frees up or fills. Threads are an implementation detail of
// a run: the kernels give bitwise-identical results at every thread count.
//
// OMP_DYNAMIC=false (OpenMP's "never adjust the number of threads") turns it off: every
// run then uses omp_get_max_threads() threads.
//
// Internal to generated code; not part of the C ABI. The policy (ThreadGovernor) has no
// clock and no OpenMP in it, so a test can drive it with made-up times.
#pragma once

#include <omp.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace mnistc {

class ThreadGovernor {
 public:
  static constexpr int kWindow = 8;             // runs remembered per choice, and per try
  static constexpr int64_t kExplore = 32;       // a try at least every kExplore runs
  static constexpr int64_t kMaxExplore = 2048;  // and at most every kMaxExplore runs
  static constexpr double kHopeless = 4.0;      // a try starting this much slower stops
  static constexpr int64_t kBatchSizes = 8;     // batch sizes followed at once

  struct Choice {
    bool all_threads;  // else one thread
    bool warm_up;      // the first run of a try (it wakes the threads): not recorded
    bool ends_try;     // the last run of a try
  };

  // How to run the next inference of `batch` samples, given `threads` (> 1) threads.
  Choice choose(int64_t batch, int threads) {
    std::lock_guard<std::mutex> lock(mutex_);
    History& history = slots_[batch % kBatchSizes];
    if (history.batch != batch || history.threads != threads) history = History{batch, threads};
    return history.choose();
  }

  // The wall time of a run made as `choice` said.
  void record(int64_t batch, int threads, Choice choice, double seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    History& history = slots_[batch % kBatchSizes];
    if (history.batch == batch && history.threads == threads) history.record(choice, seconds);
  }

 private:
  struct Arm {
    std::array<double, kWindow> seconds{};
    int64_t count = 0;

    void add(double value) { seconds[count++ % kWindow] = value; }

    // About the 90th percentile of the last runs: the second largest of up to kWindow.
    // Without runs, infinite.
    double score() const {
      const int n = static_cast<int>(std::min<int64_t>(count, kWindow));
      if (n == 0) return HUGE_VAL;
      std::array<double, kWindow> sorted = seconds;
      std::sort(sorted.begin(), sorted.begin() + n);
      return sorted[std::max(0, n - 2)];
    }
  };

  // The runs of one batch size on one thread count. It starts on all threads (OpenMP's
  // own behaviour). A try runs the other choice 1 + kWindow times and replaces that
  // choice's record, so it reflects the machine of now; if it then scores better, it
  // becomes the choice. A try that lost doubles the wait for the next one (up to
  // kMaxExplore runs): trying a losing choice costs. When the choice changes, the other
  // one is tried again kExplore runs later: a passing disturbance is undone soon.
  struct History {
    int64_t batch = -1;
    int threads = 0;
    std::array<Arm, 2> arms{};  // [0]: one thread, [1]: all threads
    bool all = true;            // the choice
    int64_t runs = 0, interval = kExplore, next_try = kExplore;
    int try_left = 0;

    Choice choose() {
      ++runs;
      if (try_left > 0) {
        --try_left;
        return {!all, false, try_left == 0};
      }
      if (runs < next_try) return {all, false, false};
      try_left = kWindow;
      arms[all ? 0 : 1] = Arm{};
      return {!all, true, false};
    }

    void record(Choice choice, double seconds) {
      const Arm& chosen = arms[all ? 1 : 0];
      const Arm& other = arms[all ? 0 : 1];
      if (choice.warm_up) {
        if (seconds > kHopeless * chosen.score()) end_try(false);
        return;
      }
      arms[choice.all_threads ? 1 : 0].add(seconds);
      if (choice.ends_try) {
        end_try(other.score() < chosen.score());
      } else if (try_left == 0 && chosen.count >= kWindow && chosen.score() > other.score()) {
        all = !all;  // the choice got slower than the other did in its last try
        interval = kExplore;
        next_try = runs + interval;
      }
    }

    void end_try(bool won) {
      try_left = 0;
      if (won) all = !all;
      interval = won ? kExplore : std::min(2 * interval, kMaxExplore);
      next_try = runs + interval;
    }
  };

  std::mutex mutex_;
  std::array<History, kBatchSizes> slots_{};
};

// False when the user set OMP_DYNAMIC=false: the thread count is then theirs alone.
inline bool thread_governor_enabled() {
  const char* dynamic = std::getenv("OMP_DYNAMIC");
  if (dynamic == nullptr) return true;
  for (const char* no : {"false", "FALSE", "False", "0", "no", "NO", "off", "OFF"})
    if (std::strcmp(dynamic, no) == 0) return false;
  return true;
}

// Runs `run` (one inference of `batch` samples) on the threads the governor picks. The
// thread count is set for the calling thread only (an OpenMP ICV), and restored.
template <class Run>
void run_governed(ThreadGovernor& governor, int64_t batch, Run run) {
  static const bool enabled = thread_governor_enabled();
  const int threads = omp_get_max_threads();
  if (!enabled || threads <= 1 || omp_in_parallel()) {
    run();
    return;
  }
  const ThreadGovernor::Choice choice = governor.choose(batch, threads);
  if (!choice.all_threads) omp_set_num_threads(1);
  const auto start = std::chrono::steady_clock::now();
  run();
  const auto end = std::chrono::steady_clock::now();
  if (!choice.all_threads) omp_set_num_threads(threads);
  governor.record(batch, threads, choice, std::chrono::duration<double>(end - start).count());
}

}  // namespace mnistc
