"""The import cache (mnistc/importers/cache.py): same IR as a fresh import, no torch on a
hit, and never a stale or damaged entry."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from conftest import save_scripted
from models import MODELS, build

from mnistc.driver import print_ir
from mnistc.importers import import_model
from mnistc.importers.cache import import_model_cached


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTC_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "mnistc" / "imports"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_hit_gives_the_imported_ir_and_weights(name, private_cache, saved_model):
    path, shape = saved_model(name)
    fresh = import_model(path, shape)
    stored = import_model_cached(path, shape)
    assert len(list(private_cache.iterdir())) == 1
    hit = import_model_cached(path, shape)
    assert print_ir(hit.module) == print_ir(stored.module) == print_ir(fresh.module)
    assert hit.weights.data() == fresh.weights.data()


def test_a_changed_file_is_imported_again(tmp_path, private_cache):
    path = tmp_path / "m.pt"
    save_scripted(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3)), path)
    first = import_model_cached(path, (1, 2, 2))
    save_scripted(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 5)), path)
    second = import_model_cached(path, (1, 2, 2))
    assert "-> tensor<1x3xf32>" in print_ir(first.module)
    assert "-> tensor<1x5xf32>" in print_ir(second.module)
    assert len(list(private_cache.iterdir())) == 2


def test_a_damaged_entry_is_imported_again(tmp_path, private_cache):
    model, shape = build(min(MODELS))
    path = save_scripted(model, tmp_path / "m.pt")
    fresh = print_ir(import_model_cached(path, shape).module)
    (entry,) = private_cache.iterdir()
    (entry / "nn.mlir").write_text("builtin.module { nn.broken")
    assert print_ir(import_model_cached(path, shape).module) == fresh


def test_an_emptied_weight_file_is_imported_again(tmp_path, private_cache, capsys):
    """A file cut after it was cached is found by its manifest, not trusted."""
    model, shape = build(min(MODELS))
    path = save_scripted(model, tmp_path / "m.pt")
    fresh = import_model_cached(path, shape).weights.data()
    (entry,) = private_cache.iterdir()
    (entry / "weights.bin").write_bytes(b"")
    assert import_model_cached(path, shape).weights.data() == fresh
    assert "import cache entry" in capsys.readouterr().err
    assert (entry / "weights.bin").read_bytes() == fresh  # and the entry is whole again


def test_a_repeated_compile_does_not_import_torch(tmp_path, private_cache, seed_kernels):
    seed_kernels(tmp_path / "cache")  # the imports are what this is about
    model, shape = build("lenet")
    path = save_scripted(model, tmp_path / "m.pt")
    script = (
        "import sys\n"
        "from mnistc.driver import CompileOptions, compile_model\n"
        f"compile_model({str(path)!r}, {str(tmp_path / 'out')!r}, CompileOptions(sample_shape={shape}))\n"
        "print('torch' in sys.modules)\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
        for _ in range(2)
    ]
    assert [run.returncode for run in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    assert [run.stdout.split() for run in runs] == [["True"], ["False"]]
