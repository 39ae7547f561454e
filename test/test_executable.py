"""The compiled executable's contract: the seed's usage, batches, and bad input."""

from __future__ import annotations

import os
import re
import stat
import subprocess

import numpy as np
import pytest
import torch
from conftest import assert_matches_torch
from file_faults import fifo_reader, null_device, small_filesystem

from mnistc.driver import CompileOptions, compile_model
from mnistc.errors import MnistcError
from mnistc.models.mnist_cnn import BUNDLED_MODEL

SAMPLE_BYTES = 28 * 28 * 4


@pytest.fixture(scope="module")
def executable(tmp_path_factory):
    path = tmp_path_factory.mktemp("exe") / "mnist_model"
    compile_model(BUNDLED_MODEL, path, CompileOptions())
    return path


def run(executable, *args, cwd=None):
    return subprocess.run([str(executable), *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_seed_usage(executable, tmp_path):
    """np.random.randn(28, 28).tofile('test_input.bin'); ./mnist_model test_input.bin output.bin"""
    image = np.random.randn(28, 28).astype(np.float32)
    image.tofile(tmp_path / "test_input.bin")
    result = run(executable, "test_input.bin", "output.bin", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    output = np.fromfile(tmp_path / "output.bin", dtype=np.float32)
    assert output.shape == (10,)
    model = torch.jit.load(str(BUNDLED_MODEL))
    with torch.no_grad():
        expected = model(torch.from_numpy(image).view(1, 1, 28, 28)).numpy()
    assert_matches_torch(output[None], expected)


@pytest.mark.parametrize("batch", [1, 2, 7, 33])
def test_any_batch(executable, tmp_path, batch):
    inputs = np.random.default_rng(batch).random((batch, 1, 28, 28), dtype=np.float32)
    inputs.tofile(tmp_path / "in.bin")
    assert run(executable, tmp_path / "in.bin", tmp_path / "out.bin").returncode == 0
    output = np.fromfile(tmp_path / "out.bin", dtype=np.float32).reshape(batch, 10)
    with torch.no_grad():
        expected = torch.jit.load(str(BUNDLED_MODEL))(torch.from_numpy(inputs)).numpy()
    assert_matches_torch(output, expected)


@pytest.mark.parametrize("size", [0, 1, SAMPLE_BYTES - 4, SAMPLE_BYTES + 4, 3 * SAMPLE_BYTES + 2])
def test_wrong_input_size(executable, tmp_path, size):
    (tmp_path / "in.bin").write_bytes(b"\0" * size)
    result = run(executable, tmp_path / "in.bin", tmp_path / "out.bin")
    assert result.returncode != 0
    assert "not a positive multiple of one sample (1x28x28 float32 = 3136 bytes)" in result.stderr
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "out.bin").exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "in.bin"]


def test_failed_run_keeps_previous_output(executable, tmp_path):
    (tmp_path / "out.bin").write_bytes(b"previous")
    (tmp_path / "in.bin").write_bytes(b"\0" * 5)
    assert run(executable, tmp_path / "in.bin", tmp_path / "out.bin").returncode != 0
    assert (tmp_path / "out.bin").read_bytes() == b"previous"


def test_missing_input(executable, tmp_path):
    result = run(executable, tmp_path / "absent.bin", tmp_path / "out.bin")
    assert result.returncode != 0
    assert "cannot open input" in result.stderr and "absent.bin" in result.stderr
    assert not (tmp_path / "out.bin").exists()


def test_unwritable_output(executable, tmp_path):
    np.zeros((1, 28, 28), np.float32).tofile(tmp_path / "in.bin")
    result = run(executable, tmp_path / "in.bin", tmp_path / "no-such-dir" / "out.bin")
    assert result.returncode != 0
    assert "cannot write output" in result.stderr


@pytest.mark.parametrize("args", [[], ["only-one"], ["a", "b", "c"]])
def test_wrong_arguments(executable, args):
    result = run(executable, *args)
    assert result.returncode != 0
    assert result.stderr.startswith("usage:")


def test_executable_is_self_contained(executable, tmp_path):
    """No weight file or kernel library is needed next to the executable at run time."""
    moved = tmp_path / "moved_model"
    moved.write_bytes(executable.read_bytes())
    moved.chmod(0o755)
    np.zeros((1, 28, 28), np.float32).tofile(tmp_path / "in.bin")
    assert run(moved, "in.bin", "out.bin", cwd=tmp_path).returncode == 0
    libraries = subprocess.run(["ldd", str(moved)], capture_output=True, text=True).stdout
    assert "mnistc" not in libraries


def needed_libraries(path) -> set[str]:
    dynamic = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True).stdout
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.*?)\]", dynamic))


def test_a_static_build_needs_only_libc_and_computes_the_same(executable, tmp_path):
    """`--static` links OpenMP's runtime in (issue 14, item 6); the default needs
    libgomp.so.1 beside libc."""
    assert "libgomp.so.1" in needed_libraries(executable)
    static = tmp_path / "static_model"
    compile_model(BUNDLED_MODEL, static, CompileOptions(static=True))
    glibc = {"libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2"}  # the loader: glibc's TLS
    assert needed_libraries(static) <= glibc
    np.random.default_rng(3).random((5, 1, 28, 28), dtype=np.float32).tofile(tmp_path / "in.bin")
    for threads in ("1", "2"):
        env = {**os.environ, "OMP_NUM_THREADS": threads}
        for exe, out in ((executable, "a.bin"), (static, "b.bin")):
            subprocess.run([str(exe), "in.bin", out], cwd=tmp_path, check=True, env=env)
        assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()


def test_static_is_refused_for_a_library(tmp_path):
    with pytest.raises(MnistcError, match="--static builds an optimised executable"):
        compile_model(BUNDLED_MODEL, tmp_path / "lib.so", CompileOptions(static=True, shared=True))


def test_npy_in_and_out_match_raw_float32(executable, tmp_path):
    """A name ending in .npy reads or writes a float32 NumPy array (issue 14)."""
    samples = np.random.default_rng(8).random((3, 1, 28, 28), dtype=np.float32)
    samples.tofile(tmp_path / "in.bin")
    np.save(tmp_path / "in.npy", samples)
    np.save(tmp_path / "one.npy", samples[0, 0])
    for args in (("in.bin", "raw.bin"), ("in.npy", "out.npy"), ("in.bin", "from_raw.npy"), ("one.npy", "one_out.npy")):
        assert run(executable, *args, cwd=tmp_path).returncode == 0
    raw = np.fromfile(tmp_path / "raw.bin", np.float32).reshape(3, 10)
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), raw)
    np.testing.assert_array_equal(np.load(tmp_path / "from_raw.npy"), raw)
    np.testing.assert_array_equal(np.load(tmp_path / "one_out.npy"), raw[:1])


@pytest.mark.parametrize("make, message", [
    (lambda p: np.save(p / "x.npy", np.zeros((2, 1, 28, 28))), "dtype '<f8': only float32 ('<f4') is read"),
    (lambda p: np.save(p / "x.npy", np.asfortranarray(np.zeros((28, 28, 2), np.float32))), "in Fortran order"),
    (lambda p: np.save(p / "x.npy", np.zeros((2, 27, 28), np.float32)), "an array of 1512 elements, not a positive multiple"),
    (lambda p: (p / "x.npy").write_bytes(b"\x93NUMPY\x01\x00"), "a truncated or oversized .npy header"),
    (lambda p: (p / "x.npy").write_bytes(b"P5 28 28"), "not an .npy file"),
    (lambda p: (p / "x.npy").write_bytes(npy_bytes(np.zeros((2, 1, 28, 28), np.float32))[:-8]),
     "holds 6264 bytes of data; its .npy header declares 2 samples"),
])  # fmt: skip
def test_bad_npy_input_is_refused_and_output_untouched(executable, tmp_path, make, message):
    make(tmp_path)
    (tmp_path / "out.npy").write_bytes(b"old")
    result = run(executable, "x.npy", "out.npy", cwd=tmp_path)
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert (tmp_path / "out.npy").read_bytes() == b"old"


def npy_bytes(array) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_npy_output_from_a_raw_pipe_is_refused(executable, tmp_path):
    """The .npy header needs the sample count first, which a raw pipe does not give."""
    data = np.zeros((2, 1, 28, 28), np.float32).tobytes()
    result = subprocess.run([str(executable), "/dev/stdin", str(tmp_path / "o.npy")], input=data, capture_output=True)
    assert result.returncode == 1 and b"an .npy OUTPUT needs the number of samples first" in result.stderr


# The input: a regular file or a pipe, within --max-batch, streamed in chunks.


def test_device_input_is_refused_at_once(executable, tmp_path):
    result = subprocess.run(
        [str(executable), "/dev/zero", str(tmp_path / "out.bin")],
        capture_output=True, text=True, timeout=10,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == "error: input '/dev/zero' is not a regular file or pipe\n"
    assert list(tmp_path.iterdir()) == []


def test_endless_pipe_stops_at_the_limit(executable, tmp_path):
    zeros = subprocess.Popen(["cat", "/dev/zero"], stdout=subprocess.PIPE)
    try:
        result = subprocess.run(
            [str(executable), "--max-batch", "50", "/dev/stdin", str(tmp_path / "out.bin")],
            stdin=zeros.stdout, capture_output=True, text=True, timeout=20,
        )  # fmt: skip
    finally:
        zeros.kill()
        zeros.wait()
    assert result.returncode == 1
    assert "holds more than 50 samples, the limit; --max-batch N raises it" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_file_over_the_limit_is_refused(executable, tmp_path):
    np.zeros((6, 1, 28, 28), np.float32).tofile(tmp_path / "in.bin")
    result = run(executable, "--max-batch", "5", tmp_path / "in.bin", tmp_path / "out.bin")
    assert result.returncode == 1
    assert "holds more than 5 samples" in result.stderr
    assert not (tmp_path / "out.bin").exists()
    result = run(executable, "--max-batch", "6", tmp_path / "in.bin", tmp_path / "out.bin")
    assert result.returncode == 0


@pytest.mark.parametrize("option", ["--max-batch", "--chunk"])
def test_counts_must_be_positive(executable, tmp_path, option):
    result = run(executable, option, "0", tmp_path / "in.bin", tmp_path / "out.bin")
    assert result.returncode == 1
    assert result.stderr == f"error: {option} needs a positive count, got '0'\n"


def run_measured(executable, *args) -> tuple[int, int]:
    """Exit status and peak RSS (kB) of one run."""
    process = subprocess.Popen([str(executable), *map(str, args)], stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_maxrss


def test_streamed_input_matches_one_shot_in_bounded_memory(executable, tmp_path):
    """1,500 samples (4.7 MB) in chunks of 64 give the bytes of one batch, in the memory of
    one sample; read whole they would take about twice the input more."""
    inputs = np.random.default_rng(7).standard_normal((1500, 1, 28, 28), dtype=np.float32)
    inputs.tofile(tmp_path / "in.bin")
    inputs[:1].tofile(tmp_path / "one.bin")
    status, streamed_rss = run_measured(
        executable, "--chunk", "64", tmp_path / "in.bin", tmp_path / "streamed.bin"
    )
    assert status == 0
    status, one_rss = run_measured(executable, tmp_path / "one.bin", tmp_path / "one-out.bin")
    assert status == 0
    assert streamed_rss - one_rss < inputs.nbytes / 2 / 1024
    whole = run(executable, "--chunk", "1500", tmp_path / "in.bin", tmp_path / "whole.bin")
    assert whole.returncode == 0
    assert (tmp_path / "streamed.bin").read_bytes() == (tmp_path / "whole.bin").read_bytes()
    assert (tmp_path / "streamed.bin").stat().st_size == 1500 * 10 * 4


def test_pipe_input_matches_file_input(executable, tmp_path):
    inputs = np.random.default_rng(8).standard_normal((9, 1, 28, 28), dtype=np.float32)
    inputs.tofile(tmp_path / "in.bin")
    with open(tmp_path / "in.bin", "rb") as source:
        piped = subprocess.run(
            [str(executable), "--chunk", "4", "/dev/stdin", str(tmp_path / "piped.bin")],
            stdin=subprocess.Popen(["cat"], stdin=source, stdout=subprocess.PIPE).stdout,
            capture_output=True, text=True, timeout=20,
        )  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert run(executable, tmp_path / "in.bin", tmp_path / "file.bin").returncode == 0
    assert (tmp_path / "piped.bin").read_bytes() == (tmp_path / "file.bin").read_bytes()


def test_pipe_with_a_partial_sample_is_refused(executable, tmp_path):
    result = subprocess.run(
        [str(executable), "--chunk", "2", "/dev/stdin", str(tmp_path / "out.bin")],
        input=b"\0" * (5 * SAMPLE_BYTES + 4), capture_output=True, timeout=20,
    )  # fmt: skip
    assert result.returncode == 1
    assert b"has 15684 bytes, not a positive multiple of one sample" in result.stderr
    assert list(tmp_path.iterdir()) == []


# The output: symlinks followed, devices and FIFOs written through, regular files replaced
# under a unique temporary name.


@pytest.fixture
def image(tmp_path):
    """One image and the executable's output for it, written to a plain new file."""
    pixels = np.random.default_rng(9).standard_normal((1, 28, 28), dtype=np.float32)
    pixels.tofile(tmp_path / "in.bin")
    return tmp_path / "in.bin"


def expected_output(executable, image) -> bytes:
    out = image.with_name("expected.bin")
    assert run(executable, image, out).returncode == 0
    data = out.read_bytes()
    out.unlink()
    return data


def test_output_through_a_symlink(executable, image, tmp_path):
    expected = expected_output(executable, image)
    (tmp_path / "target.bin").write_bytes(b"old")
    (tmp_path / "target.bin").chmod(0o600)
    (tmp_path / "link.bin").symlink_to("target.bin")
    (tmp_path / "dangling.bin").symlink_to("new.bin")
    assert run(executable, image, tmp_path / "link.bin").returncode == 0
    assert run(executable, image, tmp_path / "dangling.bin").returncode == 0
    assert (tmp_path / "link.bin").is_symlink() and (tmp_path / "dangling.bin").is_symlink()
    assert (tmp_path / "target.bin").read_bytes() == expected
    assert (tmp_path / "new.bin").read_bytes() == expected
    assert stat.S_IMODE((tmp_path / "target.bin").stat().st_mode) == 0o600
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["dangling.bin", "in.bin", "link.bin", "new.bin", "target.bin"]


def test_output_into_a_fifo(executable, image, tmp_path):
    expected = expected_output(executable, image)
    with fifo_reader(tmp_path / "fifo") as received:
        assert run(executable, image, tmp_path / "fifo").returncode == 0
    assert received == [expected]


def test_output_into_a_device(executable, image, tmp_path):
    device = null_device(tmp_path)
    result = run(executable, image, device)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(device.lstat().st_mode)


def test_output_to_stdout_pipe(executable, image):
    """/proc/self/fd/1 (what /dev/stdout links to) links to a pipe that has no path; a
    writer that wrongly replaced it fails there rather than replace /dev/stdout."""
    expected = expected_output(executable, image)
    result = subprocess.run([str(executable), str(image), "/proc/self/fd/1"], capture_output=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected


def test_output_directory_is_refused(executable, image, tmp_path):
    result = run(executable, image, tmp_path)
    assert result.returncode == 1
    assert result.stderr == f"error: cannot write output '{tmp_path}': Is a directory\n"


def test_racing_runs_into_one_output(executable, tmp_path):
    """24 runs on the first 1..24 samples of one input race into one file: all succeed,
    and what is left is one run's complete output."""
    inputs = np.random.default_rng(10).standard_normal((24, 1, 28, 28), dtype=np.float32)
    inputs.tofile(tmp_path / "all.bin")
    assert run(executable, tmp_path / "all.bin", tmp_path / "all-out.bin").returncode == 0
    reference = (tmp_path / "all-out.bin").read_bytes()
    for n in range(1, 25):
        inputs[:n].tofile(tmp_path / f"in{n}.bin")
    out = tmp_path / "race" / "out.bin"
    out.parent.mkdir()
    runs = [
        subprocess.Popen(
            [str(executable), str(tmp_path / f"in{n}.bin"), str(out)], stderr=subprocess.PIPE
        )
        for n in range(1, 25)
    ]
    failures = [r.stderr.read() for r in runs if r.wait() != 0]
    assert failures == []
    result = out.read_bytes()
    assert len(result) % 40 == 0 and result == reference[: len(result)]
    assert list(out.parent.iterdir()) == [out]


def test_full_filesystem_keeps_the_old_output(executable, tmp_path):
    """The output (200 x 40 bytes) does not fit in the second page of an 8 KiB tmpfs."""
    np.zeros((200, 1, 28, 28), np.float32).tofile(tmp_path / "in.bin")
    with small_filesystem(tmp_path / "small", "8k") as small:
        (small / "out.bin").write_bytes(b"old")
        result = run(executable, tmp_path / "in.bin", small / "out.bin")
        assert result.returncode == 1
        assert "No space left on device" in result.stderr
        assert (small / "out.bin").read_bytes() == b"old"
        assert list(small.iterdir()) == [small / "out.bin"]
