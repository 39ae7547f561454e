"""`mnistc run`: real inputs of every kind give the compiled model's answers, printed."""

from __future__ import annotations

import gzip
import io
import re
import struct

import numpy as np
import pytest

from mnistc.driver import CompileOptions, compile_model
from mnistc.errors import MnistcError
from mnistc.models.mnist_cnn import BUNDLED_MODEL
from mnistc.preprocessing import Preprocessing
from mnistc.run import run
from mnistc.runtime import CompiledModel


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The bundled model as a library and as an executable."""
    directory = tmp_path_factory.mktemp("run")
    compile_model(BUNDLED_MODEL, directory / "libmnist.so", CompileOptions(shared=True))
    compile_model(BUNDLED_MODEL, directory / "mnist", CompileOptions())
    return directory / "libmnist.so", directory / "mnist"


@pytest.fixture(scope="module")
def pixels():
    """Seven random 'digits' of bytes, as an idx file would hold them."""
    return np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)


def as_declared(pixels):
    """The bundled model's declared preprocessing (its mnist_cnn.preprocessing.json)."""
    return pixels.astype(np.float32) * np.float32(1 / 255)


def expected_lines(library, pixels, names, top=3):
    outputs = CompiledModel(library)(as_declared(pixels[:, None]))
    probabilities = np.exp(outputs - outputs.max(1, keepdims=True))
    probabilities /= probabilities.sum(1, keepdims=True)
    lines = []
    for name, p in zip(names, probabilities):
        best = np.argsort(-p, kind="stable")[:top]
        lines.append(f"{name}: " + ", ".join(f"{c} ({p[c]:.3f})" for c in best))
    return outputs, lines


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def test_an_integer_npy_goes_through_the_declared_preprocessing(built, pixels, tmp_path):
    library, _ = built
    np.save(tmp_path / "digits.npy", pixels)
    lines: list[str] = []
    outputs = run(library, [tmp_path / "digits.npy"], log=lines.append, output=tmp_path / "out.npy")
    expected, want = expected_lines(library, pixels, [f"digits.npy[{i}]" for i in range(7)])
    assert lines == want
    np.testing.assert_array_equal(outputs, expected)
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), expected)


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_an_mnist_idx_file_gives_the_same_answers(built, pixels, tmp_path, name):
    library, _ = built
    write_idx(tmp_path / name, pixels)
    lines: list[str] = []
    run(library, [tmp_path / name], top=1, log=lines.append)
    assert lines == expected_lines(library, pixels, [f"{name}[{i}]" for i in range(7)], top=1)[1]


def test_raw_float32_and_npy_float_are_taken_as_they_are_through_the_executable(built, pixels, tmp_path):
    library, executable = built
    floats = as_declared(pixels[:3, None])
    floats.tofile(tmp_path / "three.bin")
    np.save(tmp_path / "three.npy", floats.astype(np.float64))
    outputs = run(executable, [tmp_path / "three.bin", tmp_path / "three.npy"], log=lambda _: None)
    reference = CompiledModel(library)(floats)
    np.testing.assert_array_equal(outputs, np.concatenate([reference, reference]))


def test_a_png_is_read_as_grayscale_at_the_model_size(built, pixels, tmp_path):
    Image = pytest.importorskip("PIL.Image")
    library, _ = built
    Image.fromarray(pixels[0]).convert("RGB").save(tmp_path / "digit.png")
    lines: list[str] = []
    run(library, [tmp_path / "digit.png"], log=lines.append)
    assert lines == expected_lines(library, pixels[:1], ["digit.png"])[1]


def test_explicit_preprocessing_replaces_the_declared_one(built, pixels, tmp_path):
    library, _ = built
    np.save(tmp_path / "d.npy", pixels[:2])
    prep = Preprocessing(scale=1 / 255, mean=(0.1307,), std=(0.3081,))
    outputs = run(library, [tmp_path / "d.npy"], prep=prep, log=lambda _: None)
    normalised = (as_declared(pixels[:2, None]) - np.float32(0.1307)) / np.float32(0.3081)
    np.testing.assert_array_equal(outputs, CompiledModel(library)(normalised))


def test_a_directory_streams_in_name_order_with_a_throughput_line(built, pixels, tmp_path):
    library, _ = built
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        np.save(folder / f"{i}.npy", pixels[i])
    lines: list[str] = []
    progress = io.StringIO()
    run(library, [folder], top=1, log=lines.append, progress_stream=progress, chunk=2)
    assert [line.split(":")[0] for line in lines] == ["0.npy[0]", "1.npy[0]", "2.npy[0]"]
    assert re.fullmatch(r"mnistc: 3 samples from 3 files in [\d.]+ s \(\d+ samples/s\)\n", progress.getvalue())


def test_a_large_file_streams_chunk_by_chunk_with_a_throughput_line(built, tmp_path):
    """A file of more samples than a chunk is read a chunk at a time (memory-mapped) and
    reported like a directory; the answers are those of one whole batch."""
    library, _ = built
    samples = np.random.default_rng(9).random((600, 1, 28, 28), dtype=np.float32)
    samples.tofile(tmp_path / "big.bin")
    progress = io.StringIO()
    outputs = run(library, [tmp_path / "big.bin"], log=lambda _: None, progress_stream=progress, chunk=256)
    np.testing.assert_array_equal(outputs, CompiledModel(library)(samples))
    assert re.fullmatch(r"mnistc: 600 samples from 1 files in [\d.]+ s \(\d+ samples/s\)\n", progress.getvalue())


def test_labels_name_the_classes(built, pixels, tmp_path):
    library, _ = built
    np.save(tmp_path / "d.npy", pixels[0])
    (tmp_path / "labels.txt").write_text("\n".join(f"digit {i}" for i in range(10)))
    lines: list[str] = []
    run(library, [tmp_path / "d.npy"], top=2, labels=tmp_path / "labels.txt", log=lines.append)
    assert re.fullmatch(r"d\.npy\[0\]: digit \d \([\d.]+\), digit \d \([\d.]+\)", lines[0])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: np.save(p / "x.npy", np.zeros((2, 28, 27), np.float32)),
         r"x\.npy: an array of shape \[2, 28, 27\], but the model takes samples of 1x28x28"),
        (lambda p: (p / "x.bin").write_bytes(b"\0" * 100),
         r"x\.bin: 100 bytes is not a whole number of 1x28x28 float32 samples"),
        (lambda p: write_idx(p / "labels-idx1-ubyte", np.zeros(5, np.uint8)),
         r"an array of shape \[5\], but the model takes samples of 1x28x28"),
        (lambda p: (p / "x-idx3-ubyte").write_bytes(b"\0\0\x08\x03" + struct.pack(">3I", 2, 28, 28) + b"\0" * 10),
         r"x-idx3-ubyte: 10 bytes of data for dimensions \[2, 28, 28\]"),
        (lambda p: (p / "x.npy").write_bytes(b"not an array"), r"x\.npy: not a readable \.npy file"),
        (lambda p: (p / "x.png").write_bytes(b"not an image"), r"x\.png: (not a readable image|reading images needs Pillow)"),
    ],
)
def test_bad_inputs_are_refused_with_one_message(built, tmp_path, make, message):
    library, _ = built
    make(tmp_path)
    (name,) = [p for p in tmp_path.iterdir()]
    with pytest.raises(MnistcError, match=message):
        run(library, [name], log=lambda _: None)


def test_the_cli_exits_1_without_a_traceback_on_a_missing_input(built, tmp_path, capsys):
    from mnistc.tools.mnistc import main

    library, _ = built
    with pytest.raises(SystemExit) as exit:
        main(["run", str(library), str(tmp_path / "missing.npy")])
    assert exit.value.code == 1
    err = capsys.readouterr().err
    assert "mnistc: error: " in err and "missing.npy: no such file or directory" in err
    assert "Traceback" not in err
