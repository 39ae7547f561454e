"""Outputs the user names (mnistc.outputs, `mnistc compile -o`, `--emit ... -o`): symlinks
followed to their target, devices and FIFOs written through, regular files replaced
atomically under unique temporary names, even when racing or when the disk is full."""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

import pytest
import torch
from conftest import save_scripted
from file_faults import fifo_reader, null_device, small_filesystem

from mnistc.errors import MnistcError
from mnistc.outputs import output_path, write_bytes
from mnistc.tools.mnistc import main

ELF = b"\x7fELF"


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_symlink_is_followed_and_kept(tmp_path):
    (tmp_path / "target").write_bytes(b"old")
    (tmp_path / "link").symlink_to("target")
    write_bytes(tmp_path / "link", b"new")
    assert (tmp_path / "link").is_symlink()
    assert (tmp_path / "target").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "target"]


def test_dangling_symlink_creates_its_target(tmp_path):
    (tmp_path / "link").symlink_to("sub/target")
    (tmp_path / "sub").mkdir()
    write_bytes(tmp_path / "link", b"new")
    assert (tmp_path / "link").is_symlink()
    assert (tmp_path / "sub" / "target").read_bytes() == b"new"


def test_fifo_is_written_through(tmp_path):
    with fifo_reader(tmp_path / "fifo") as received:
        write_bytes(tmp_path / "fifo", b"through")
    assert received == [b"through"]


def test_device_stays_a_device(tmp_path):
    device = null_device(tmp_path)
    write_bytes(device, b"discarded")
    assert stat.S_ISCHR(device.lstat().st_mode)


def test_directory_is_refused(tmp_path):
    with pytest.raises(MnistcError, match="it is a directory"):
        write_bytes(tmp_path, b"x")


def test_failure_keeps_the_old_file_and_no_temporary(tmp_path):
    (tmp_path / "out").write_bytes(b"old")
    with pytest.raises(RuntimeError), output_path(tmp_path / "out") as partial:
        partial.write_bytes(b"half")
        raise RuntimeError("the writer failed")
    assert (tmp_path / "out").read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [tmp_path / "out"]


def test_modes_as_open_would_give_them(tmp_path):
    (tmp_path / "kept").write_bytes(b"old")
    (tmp_path / "kept").chmod(0o600)
    write_bytes(tmp_path / "kept", b"new")
    write_bytes(tmp_path / "new", b"new")
    with output_path(tmp_path / "exe", executable=True) as partial:
        partial.write_bytes(ELF)
    mode = lambda name: stat.S_IMODE((tmp_path / name).stat().st_mode)  # noqa: E731
    assert mode("kept") == 0o600
    assert mode("new") == 0o666 & ~umask()
    assert mode("exe") == (0o666 & ~umask()) | (0o444 & ~umask()) >> 2


def test_racing_writers_all_succeed_with_one_whole_result(tmp_path):
    out = tmp_path / "out"
    contents = [bytes([i]) * 200_000 for i in range(24)]
    errors: list[BaseException] = []

    def write(data: bytes) -> None:
        try:
            write_bytes(out, data)
        except BaseException as e:  # noqa: BLE001 - collected and reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(data,)) for data in contents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert out.read_bytes() in contents
    assert list(tmp_path.iterdir()) == [out]


def test_full_filesystem_keeps_the_old_file(tmp_path):
    with small_filesystem(tmp_path / "small", "64k") as small:
        (small / "out").write_bytes(b"old")
        with pytest.raises(OSError) as failure:
            write_bytes(small / "out", b"\0" * 1_000_000)
        assert failure.value.errno == errno.ENOSPC
        assert (small / "out").read_bytes() == b"old"
        assert list(small.iterdir()) == [small / "out"]


# `mnistc compile -o` and `mnistc compile --emit nn -o`, on one small model.


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 10))
    return save_scripted(module, tmp_path_factory.mktemp("model") / "tiny.pt")


def compile_to(model: Path, output: Path | str, *flags: str) -> None:
    assert main(["compile", str(model), *flags, "-o", str(output)]) == 0


def test_compile_through_a_symlink(model, tmp_path):
    (tmp_path / "target").write_bytes(b"old")
    (tmp_path / "link").symlink_to("target")
    compile_to(model, tmp_path / "link")
    assert (tmp_path / "link").is_symlink()
    assert (tmp_path / "target").read_bytes().startswith(ELF)
    assert os.access(tmp_path / "target", os.X_OK)


def test_compile_into_a_fifo(model, tmp_path):
    with fifo_reader(tmp_path / "fifo") as received:
        compile_to(model, tmp_path / "fifo")
    assert received[0].startswith(ELF)


def test_compile_into_a_device(model, tmp_path):
    device = null_device(tmp_path)
    compile_to(model, device)
    assert stat.S_ISCHR(device.lstat().st_mode)


def test_library_into_a_device_gets_no_header_beside_it(model, tmp_path):
    device = null_device(tmp_path)
    compile_to(model, device, "--shared")
    assert stat.S_ISCHR(device.lstat().st_mode)
    assert not device.with_suffix(".h").exists()


def test_compile_into_a_full_filesystem_keeps_the_old_output(model, tmp_path, capsys):
    with small_filesystem(tmp_path / "small", "64k") as small:
        (small / "exe").write_bytes(b"old")
        with pytest.raises(SystemExit) as exit:
            compile_to(model, small / "exe", "-q")  # no step timings (a slow host) first
        assert exit.value.code == 1
        assert capsys.readouterr().err.startswith("mnistc: error:")
        assert (small / "exe").read_bytes() == b"old"
        assert list(small.iterdir()) == [small / "exe"]


def test_emit_through_a_symlink(model, tmp_path):
    """The weight file goes beside the file the stage lands in, named after it: `-o
    /dev/stdout` redirected to x.mlir gives x.weights.bin, not a file in /dev."""
    (tmp_path / "dev").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "dev" / "stdout").symlink_to(tmp_path / "out" / "stage.mlir")
    compile_to(model, tmp_path / "dev" / "stdout", "--emit", "nn")
    assert (tmp_path / "dev" / "stdout").is_symlink()
    assert (tmp_path / "out" / "stage.mlir").read_text().startswith("builtin.module")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["stage.mlir", "stage.weights.bin"]
    assert [p.name for p in (tmp_path / "dev").iterdir()] == ["stdout"]


def test_emit_into_a_fifo(model, tmp_path, monkeypatch):
    """The weight file the stage names goes to the working directory, not into the FIFO's."""
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    with fifo_reader(tmp_path / "fifo") as received:
        compile_to(model, tmp_path / "fifo", "--emit", "nn")
    assert received[0].startswith(b'builtin.module attributes {nn.weights_file = "tiny.weights')
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["tiny.weights.bin"]


def test_emit_into_a_device(model, tmp_path, monkeypatch):
    device = null_device(tmp_path)
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    compile_to(model, device, "--emit", "nn")
    assert stat.S_ISCHR(device.lstat().st_mode)
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["tiny.weights.bin"]
