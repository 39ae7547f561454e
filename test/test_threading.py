"""Threads: bitwise the same results at every thread count and batch size, concurrent
calls of one CompiledModel, and the thread governor (kernels/thread_governor.hpp), which
runs each inference on all threads or one by their recent latency."""

from __future__ import annotations

import subprocess
import threading

import numpy as np
import pytest

from mnistc.driver import CompileOptions, compile_model
from mnistc.kernels import KERNEL_DIR
from mnistc.models.mnist_cnn import BUNDLED_MODEL
from mnistc.runtime import CompiledModel
from mnistc.verify import run_executable

BATCHES = (1, 3, 8)  # 8 >= 2 x 2 threads: samples run in parallel, else threads in kernels


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """The bundled model (packed, Winograd and linear kernels, all parallel) as an
    executable and as a library."""
    directory = tmp_path_factory.mktemp("threading")
    compile_model(BUNDLED_MODEL, directory / "model", CompileOptions())
    compile_model(BUNDLED_MODEL, directory / "libmodel.so", CompileOptions(shared=True))
    return directory / "model", CompiledModel(directory / "libmodel.so")


def images(batch: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((batch, 1, 28, 28), dtype=np.float32)


def test_executable_same_bits_at_one_and_two_threads(artifacts, monkeypatch):
    """OMP_DYNAMIC=false: the executable's governor keeps both threads."""
    executable, _ = artifacts
    monkeypatch.setenv("OMP_DYNAMIC", "false")
    for batch in BATCHES:
        outputs = {}
        for threads in (1, 2):
            monkeypatch.setenv("OMP_NUM_THREADS", str(threads))
            outputs[threads] = run_executable(executable, images(batch))
        np.testing.assert_array_equal(outputs[1], outputs[2], err_msg=f"batch {batch}")


def test_library_same_bits_at_one_and_two_threads(artifacts):
    """A few calls per batch size: the governor starts every batch size on all threads."""
    _, model = artifacts
    for batch in BATCHES:
        model.set_num_threads(1)
        one = model(images(batch))
        model.set_num_threads(2)
        np.testing.assert_array_equal(model(images(batch)), one, err_msg=f"batch {batch}")


def test_batch_equals_samples_one_by_one(artifacts):
    executable, model = artifacts
    inputs = images(8, seed=1)
    model.set_num_threads(2)
    one_by_one = np.concatenate([model(sample) for sample in inputs])
    np.testing.assert_array_equal(model(inputs), one_by_one)
    np.testing.assert_array_equal(model(inputs[:3]), one_by_one[:3])
    np.testing.assert_array_equal(run_executable(executable, inputs), one_by_one)


def test_concurrent_calls_of_one_model(artifacts):
    """6 Python threads call one CompiledModel at once (ctypes releases the GIL), with
    batches that take both parallel paths: the results are those of serial calls."""
    _, model = artifacts
    inputs = [images(BATCHES[i % len(BATCHES)], seed=10 + i) for i in range(6)]
    expected = [model(x) for x in inputs]
    start = threading.Barrier(len(inputs))
    results: list[list[np.ndarray]] = [[] for _ in inputs]

    def call(i: int) -> None:
        start.wait()
        for _ in range(15):
            results[i].append(model(inputs[i]))

    workers = [threading.Thread(target=call, args=(i,)) for i in range(len(inputs))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for i, outputs in enumerate(results):
        assert len(outputs) == 15
        for output in outputs:
            np.testing.assert_array_equal(output, expected[i])


# Drives ThreadGovernor with made-up run times (no clock, no threads): each scenario
# prints, per phase, the share of runs on all threads and the p90 of the simulated times.
GOVERNOR_DRIVER = r"""
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <algorithm>
#include "thread_governor.hpp"

using mnistc::ThreadGovernor;

// all: the time of a run on all threads (n = how many such runs so far); one: on one.
template <class All>
void phase(ThreadGovernor& g, const char* name, int runs, int64_t batch, All all, double one) {
  static long all_runs = 0;
  int on_all = 0;
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    const ThreadGovernor::Choice c = g.choose(batch, 2);
    const double t = c.all_threads ? all(all_runs++) : one;
    on_all += c.all_threads;
    g.record(batch, 2, c, t);
    times.push_back(t);
  }
  std::sort(times.begin(), times.end());
  std::printf("%s %.4f %.1f\n", name, double(on_all) / runs, times[runs * 9 / 10] * 1e6);
}

int main() {
  auto quiet = [](long) { return 100e-6; };
  auto contended = [](long n) { return n % 3 == 0 ? 30e-3 : 90e-6; };  // a stall in 3
  ThreadGovernor g;
  phase(g, "quiet", 10000, 1, quiet, 150e-6);
  phase(g, "contended-settle", 1000, 1, contended, 150e-6);
  phase(g, "contended", 20000, 1, contended, 150e-6);
  phase(g, "freed-settle", 20000, 1, quiet, 150e-6);
  phase(g, "freed", 5000, 1, quiet, 150e-6);
  ThreadGovernor h;  // batch sizes apart: batch 1 contended, batch 64 quiet
  for (int i = 0; i < 40; ++i) {
    phase(h, "mixed-contended", 200, 1, contended, 150e-6);
    phase(h, "mixed-quiet", 200, 64, [](long) { return 5e-3; }, 9e-3);
  }
  const char* settings[] = {nullptr, "false", "true"};
  for (const char* setting : settings) {
    if (setting) setenv("OMP_DYNAMIC", setting, 1); else unsetenv("OMP_DYNAMIC");
    std::printf("enabled-%s %d\n", setting ? setting : "unset", mnistc::thread_governor_enabled());
  }
}
"""


@pytest.fixture(scope="module")
def governor_report(tmp_path_factory) -> dict[str, list[tuple[float, ...]]]:
    directory = tmp_path_factory.mktemp("governor")
    (directory / "driver.cpp").write_text(GOVERNOR_DRIVER)
    subprocess.run(
        ["g++", "-std=c++17", "-O1", "-fopenmp", f"-I{KERNEL_DIR}", "driver.cpp", "-o", "driver"],
        cwd=directory, check=True, capture_output=True,
    )  # fmt: skip
    lines = subprocess.run([str(directory / "driver")], check=True, capture_output=True, text=True)
    report: dict[str, list[tuple[float, ...]]] = {}
    for line in lines.stdout.splitlines():
        name, *numbers = line.split()
        report.setdefault(name, []).append(tuple(map(float, numbers)))
    return report


def test_governor_keeps_all_threads_when_they_are_faster(governor_report):
    [(share, p90)] = governor_report["quiet"]
    assert share > 0.97 and p90 == 100.0


def test_governor_drops_to_one_thread_when_all_threads_stall(governor_report):
    """A stall in three runs on all threads: after settling, at most one run in 100 is
    tried on all threads, and the p90 is the one-thread time."""
    [(share, p90)] = governor_report["contended"]
    assert share < 0.01 and p90 == 150.0


def test_governor_returns_to_all_threads_when_the_machine_frees_up(governor_report):
    [(share, p90)] = governor_report["freed"]
    assert share > 0.97 and p90 == 100.0


def test_governor_follows_each_batch_size_apart(governor_report):
    """Batch 1 stalls on all threads, batch 64 gains from them, calls alternating in
    phases of 200: after settling, each keeps its own choice."""
    contended, quiet = governor_report["mixed-contended"], governor_report["mixed-quiet"]
    assert np.mean([share for share, _ in contended[10:]]) < 0.02
    assert np.mean([share for share, _ in quiet[10:]]) > 0.97


def test_governor_off_when_omp_dynamic_is_false(governor_report):
    """OMP_DYNAMIC=false, OpenMP's "never adjust the thread count", is the user's way to
    fix it; unset or true leaves the governor on."""
    assert governor_report["enabled-unset"] == [(1.0,)]
    assert governor_report["enabled-false"] == [(0.0,)]
    assert governor_report["enabled-true"] == [(1.0,)]
