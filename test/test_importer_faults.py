"""Damaged model files: refused with one message naming what is wrong, never imported as
garbage, never an internal error or a traceback (issue 9, items 2, 3, 12 and 13)."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from faulty_models import (
    SAMPLE_SHAPE,
    entry_names,
    replace_entry,
    rewrite_zip,
    save_exported,
    save_onnx,
    save_torchscript,
    tiny_net,
    tiny_onnx,
)

from mnistc.importers import import_model
from mnistc.importers.common import ImportError_
from mnistc.models.mnist_cnn import BUNDLED_MODEL
from mnistc.tools.mnistc import main

TORCHSCRIPT_STORAGES = {"data/0": "conv.weight", "data/1": "conv.bias", "data/2": "fc.weight", "data/3": "fc.bias"}
EXPORT_STORAGES = {
    "data/weights/weight_0": "conv.weight", "data/weights/weight_1": "conv.bias",
    "data/weights/weight_2": "fc.weight", "data/weights/weight_3": "fc.bias",
}  # fmt: skip


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    folder = tmp_path_factory.mktemp("originals")
    return {
        "pt": save_torchscript(folder / "tiny.pt"),
        "pt2": save_exported(folder / "tiny.pt2"),
        "onnx": save_onnx(folder / "tiny.onnx"),
    }


def compile_nn(path, capfd, *extra) -> tuple[int, str]:
    """`mnistc compile PATH --emit nn` in-process: (exit code, everything on stderr)."""
    try:
        code = main(["compile", str(path), "--emit", "nn", "-o", str(path.with_suffix(".mlir")), *extra])
    except SystemExit as e:
        code = e.code
    return code, capfd.readouterr().err


def assert_one_clear_error(code: int, err: str, *fragments: str) -> None:
    assert code == 1, err
    assert err.startswith("mnistc: error: "), err
    assert err.count("mnistc: error:") == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err


def test_intact_models_import(originals):
    """The baseline the damaged copies are compared with: each imports."""
    for path in originals.values():
        imported = import_model(path, SAMPLE_SHAPE)
        assert any(op.name == "nn.conv2d" for op in imported.module.walk())


@pytest.mark.parametrize("length", [0, 4])
@pytest.mark.parametrize("entry", sorted(TORCHSCRIPT_STORAGES))
def test_short_torchscript_storage_is_refused_by_name(entry, length, originals, tmp_path):
    """Item 2: torch.jit.load fills a storage from a shorter entry without complaint."""
    original = originals["pt"]
    data = _entry(original, entry)
    damaged = replace_entry(original, tmp_path / "damaged.pt", entry, data[:length])
    with pytest.raises(ImportError_, match=rf"tensor '{TORCHSCRIPT_STORAGES[entry]}'.*{entry} holds {length} bytes"):
        import_model(damaged, SAMPLE_SHAPE)


def test_bundled_model_with_data_1_cut_to_64_bytes(tmp_path, capfd):
    """Item 2 exactly as reported: the bundled model, `data/1` cut to 64 bytes."""
    damaged = replace_entry(BUNDLED_MODEL, tmp_path / "cut.pt", "data/1", _entry(BUNDLED_MODEL, "data/1")[:64])
    code, err = compile_nn(damaged, capfd)
    assert_one_clear_error(code, err, "holds 64 bytes", "truncated or corrupt")
    assert re.search(r"tensor '[\w.]+'", err), err
    assert not damaged.with_suffix(".mlir").exists()


def test_torchscript_view_past_its_storage_is_refused(originals, tmp_path):
    """A storage offset in data.pkl that moves conv.weight's view past its storage."""
    pickled = _entry(originals["pt"], "data.pkl")
    # conv.weight's rebuild call: (persistent storage, offset 0 as BININT1 0, sizes ...)
    marker = b"K\x12tQ"  # numel 18, end of the storage tuple, BINPERSID
    at = pickled.index(marker) + len(marker)
    at = pickled.index(b"K\x00", at)
    damaged_pickle = pickled[:at] + b"K\x05" + pickled[at + 2 :]
    damaged = replace_entry(originals["pt"], tmp_path / "offset.pt", "data.pkl", damaged_pickle)
    with pytest.raises(ImportError_, match=r"tensor 'conv.weight'"):
        import_model(damaged, SAMPLE_SHAPE)


@pytest.mark.parametrize("length", [0, 64])
@pytest.mark.parametrize("entry", ["data/weights/weight_0", "data/weights/weight_2"])
def test_short_exported_weight_is_refused_by_name(entry, length, originals, tmp_path):
    """Item 2 for .pt2: an emptied entry used to load as zeros."""
    original = originals["pt2"]
    damaged = replace_entry(original, tmp_path / "damaged.pt2", entry, _entry(original, entry)[:length])
    with pytest.raises(ImportError_, match=rf"tensor '{EXPORT_STORAGES[entry]}'.*holds {length}"):
        import_model(damaged)


def test_onnx_raw_data_must_match_its_dims(tmp_path):
    """Item 2 for ONNX: raw_data shorter or longer than dims × element size."""
    for change, name in ((lambda raw: raw[:64], "short"), (lambda raw: raw + b"\0" * 4, "long")):
        model = tiny_onnx()
        weight = next(t for t in model.graph.initializer if t.name == "fc.weight")
        weight.raw_data = change(weight.raw_data)
        with pytest.raises(ImportError_, match=r"fc\.weight.*(raw_data|too small)"):
            import_model(save_onnx(tmp_path / f"{name}.onnx", model))


def test_onnx_external_data_outside_or_short_is_refused(tmp_path):
    """External data: a file shorter than the tensor, or a path out of the model's folder."""
    import onnx

    saved = tmp_path / "ext" / "model.onnx"
    saved.parent.mkdir()
    onnx.save(tiny_onnx(), str(saved), save_as_external_data=True, location="model.data", size_threshold=0)
    data = saved.with_name("model.data")
    data.write_bytes(data.read_bytes()[:100])
    with pytest.raises(ImportError_, match=r"fc\.weight|conv\.bias|exceeds"):
        import_model(saved)
    model = onnx.load(str(saved), load_external_data=False)
    for entry in model.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = "../outside.data"
    (tmp_path / "outside.data").write_bytes(b"\0" * 4096)
    onnx.save(model, str(saved))
    with pytest.raises(ImportError_, match="outside"):
        import_model(saved)


@pytest.mark.parametrize("data_type", ["INT32", "INT64", "BOOL", "UINT8"])
def test_onnx_initializer_of_integer_type_is_refused(data_type, tmp_path, capfd):
    """Item 3: a float initializer retyped as an integer (ONNX Runtime refuses it too)."""
    from onnx import TensorProto

    model = tiny_onnx()
    weight = next(t for t in model.graph.initializer if t.name == "conv.weight")
    itemsize = {"INT32": 4, "INT64": 8, "BOOL": 1, "UINT8": 1}[data_type]
    weight.data_type = getattr(TensorProto, data_type)
    weight.raw_data = weight.raw_data[: 18 * itemsize].ljust(18 * itemsize, b"\0")
    code, err = compile_nn(save_onnx(tmp_path / "retyped.onnx", model), capfd)
    assert_one_clear_error(code, err, "tensor 'conv.weight' has element type", "floating-point")


def test_torchscript_integer_parameter_is_refused(tmp_path):
    """Item 3 for TorchScript: every storage type changed to IntStorage (same element
    size). Saved without requires_grad, which torch itself refuses on integers."""
    import torch

    model = tiny_net()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    original = tmp_path / "frozen.pt"
    torch.jit.save(torch.jit.script(model), str(original))
    pickled = _entry(original, "data.pkl")
    retyped = pickled.replace(b"ctorch\nFloatStorage\n", b"ctorch\nIntStorage\n")
    assert retyped != pickled
    damaged = replace_entry(original, tmp_path / "int.pt", "data.pkl", retyped)
    with pytest.raises(ImportError_, match=r"tensor '[\w.]+' has element type int32"):
        import_model(damaged, SAMPLE_SHAPE)


def test_emptied_debug_pkl_compiles_without_locations(originals, tmp_path, capfd):
    """Item 12: the source locations are lost, not the compile (it was an internal error)."""
    emptied = lambda name, data: b"" if name.endswith(".debug_pkl") else data  # noqa: E731
    damaged = rewrite_zip(originals["pt"], tmp_path / "nodebug.pt", emptied)
    code, err = compile_nn(damaged, capfd, "--input-shape", ",".join(map(str, SAMPLE_SHAPE)))
    assert code == 0, err
    intact = import_model(originals["pt"], SAMPLE_SHAPE)
    assert damaged.with_suffix(".mlir").read_text().count("nn.conv2d") == sum(
        op.name == "nn.conv2d" for op in intact.module.walk()
    )


@pytest.mark.parametrize(
    "attribute, value, message",
    [
        ("strides", [1, 0], "stride must be two integers >= 1, got [1, 0]"),
        ("strides", [-1, 1], "stride must be two integers >= 1, got [-1, 1]"),
        ("strides", [1], "stride must be two integers >= 1, got [1]"),
        ("dilations", [0, 1], "dilation must be two integers >= 1, got [0, 1]"),
        ("group", 0, "groups (0) must divide"),
        ("group", -2, "groups (-2) must divide"),
        ("pads", [0, -1, 0, -1], "padding must be two integers >= 0"),
    ],
)
def test_onnx_conv_attribute_out_of_range_is_refused(attribute, value, message, tmp_path, capfd):
    """Item 12: `strides=[1,0]` was a ZeroDivisionError (exit 3)."""
    from onnx import helper

    model = tiny_onnx()
    conv = model.graph.node[0]
    kept = [a for a in conv.attribute if a.name != attribute]
    del conv.attribute[:]
    conv.attribute.extend([*kept, helper.make_attribute(attribute, value)])
    code, err = compile_nn(save_onnx(tmp_path / "attr.onnx", model), capfd)
    assert_one_clear_error(code, err, "Conv at node 'conv'", message)


@pytest.mark.parametrize("stride", ["[1, 0]", "[0, 0]", "[-1, 1]"])
def test_torchscript_conv_stride_out_of_range_is_refused(stride, originals, tmp_path, capfd):
    """Item 12 for TorchScript: the conv call in the archive's code edited to a bad stride."""
    entry = next(  # conv.py, unless torch mangled the class name for an earlier script
        n for n in entry_names(originals["pt"])
        if n.startswith("code/") and n.endswith(".py") and b"torch.conv2d(" in _entry(originals["pt"], n)
    )  # fmt: skip
    code_text = _entry(originals["pt"], entry).decode()
    edited = code_text.replace("bias, [1, 1],", f"bias, {stride},")
    assert edited != code_text
    damaged = replace_entry(originals["pt"], tmp_path / "stride.pt", entry, edited.encode())
    code, err = compile_nn(damaged, capfd, "--input-shape", ",".join(map(str, SAMPLE_SHAPE)))
    assert_one_clear_error(code, err, "aten::conv2d", f"stride must be two integers >= 1, got {stride}")


def test_corrupt_pt2_prints_one_line_and_no_torch_log(originals, tmp_path):
    """Item 13: torch.export.load logs a 15-line traceback as a warning before it raises
    (here on an emptied `.data/version`). torch's log handler holds the stderr of the
    moment torch was imported, so this runs the CLI in a process of its own."""
    damaged = replace_entry(originals["pt2"], tmp_path / "corrupt.pt2", ".data/version", b"")
    result = subprocess.run(
        [sys.executable, "-m", "mnistc.tools.mnistc", "compile", str(damaged), "--emit", "nn"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert_one_clear_error(result.returncode, result.stderr, "corrupt.pt2", "version")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def _entry(path, name: str) -> bytes:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        full = next(n for n in archive.namelist() if n.split("/", 1)[-1] == name)
        return archive.read(full)


def test_emptied_storage_of_torchscript_compile_exit_code(originals, tmp_path, capfd):
    """Item 2 through the CLI: an emptied storage exits 1 with the tensor's name."""
    damaged = replace_entry(originals["pt"], tmp_path / "empty.pt", "data/2", b"")
    code, err = compile_nn(damaged, capfd, "--input-shape", ",".join(map(str, SAMPLE_SHAPE)))
    assert_one_clear_error(code, err, "tensor 'fc.weight'", "holds 0 bytes")
    assert not np.any([p.suffix == ".mlir" for p in tmp_path.iterdir()])
