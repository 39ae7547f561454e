"""The caches (mnistc/cache.py): entries checked against their manifest, damaged ones
replaced, races settled by rename, a relative MNISTC_CACHE_DIR, `mnistc cache`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mnistc import cache
from mnistc.cache import MANIFEST, Cache
from mnistc.verify import run_executable

NAMES = ("a.bin", "b.txt")


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTC_CACHE_DIR", str(tmp_path / "cache"))
    return Cache("test", "test", max_bytes=1 << 20)


def writer(payload: bytes):
    def fill(scratch):
        (scratch / "a.bin").write_bytes(payload)
        (scratch / "b.txt").write_text("b")

    return fill


def test_a_stored_entry_is_found_with_its_manifest(private_cache):
    stored = private_cache.store("k", NAMES, writer(b"x" * 100))
    assert private_cache.lookup("k", NAMES) == stored
    manifest = json.loads((stored / MANIFEST).read_text())["files"]
    assert manifest["a.bin"]["size"] == 100 and len(manifest["a.bin"]["sha256"]) == 64
    assert private_cache.lookup("other", NAMES) is None
    assert [p.name for p in private_cache.directory().iterdir()] == ["k"]  # no scratch left


@pytest.mark.parametrize(
    "damage",
    [
        lambda e: (e / "a.bin").write_bytes(b""),  # emptied
        lambda e: (e / "a.bin").write_bytes(b"y" * 100),  # same size, other bytes
        lambda e: (e / "b.txt").unlink(),
        lambda e: (e / MANIFEST).write_text("{"),
        lambda e: (e / MANIFEST).unlink(),  # an entry of an older mnistc, or half copied
    ],
)
def test_a_damaged_entry_is_reported_and_replaced(private_cache, damage, capsys):
    entry = private_cache.store("k", NAMES, writer(b"x" * 100))
    damage(entry)
    assert private_cache.lookup("k", NAMES) is None
    assert "is damaged: replacing it" in capsys.readouterr().err
    assert private_cache.store("k", NAMES, writer(b"z" * 7)) == entry
    assert private_cache.lookup("k", NAMES) == entry
    assert (entry / "a.bin").read_bytes() == b"z" * 7


def test_the_loser_of_a_race_uses_the_winners_entry(private_cache):
    def slow_fill(scratch):
        private_cache.store("k", NAMES, writer(b"winner"))  # another process, faster
        writer(b"loser")(scratch)

    entry = private_cache.store("k", NAMES, slow_fill)
    assert (entry / "a.bin").read_bytes() == b"winner"
    assert private_cache.lookup("k", NAMES) == entry
    assert [p.name for p in private_cache.directory().iterdir()] == ["k"]


def test_racing_processes_all_get_one_intact_entry(tmp_path):
    script = (
        "import sys, time\n"
        "from mnistc.cache import Cache\n"
        "def fill(scratch):\n"
        "    time.sleep(0.2)  # all four are building at once\n"
        "    (scratch / 'a.bin').write_bytes(sys.argv[1].encode() * 100_000)\n"
        "    (scratch / 'b.txt').write_text('b')\n"
        "entry = Cache('test', 'test', 1 << 30).store('k', ('a.bin', 'b.txt'), fill)\n"
        "print((entry / 'a.bin').read_bytes()[:1].decode())\n"
    )
    env = {**os.environ, "MNISTC_CACHE_DIR": str(tmp_path)}
    runs = [subprocess.Popen([sys.executable, "-c", script, str(i)], stdout=subprocess.PIPE, env=env, text=True)
            for i in range(4)]  # fmt: skip
    seen = {run.communicate()[0].strip() for run in runs}
    assert [run.returncode for run in runs] == [0] * 4
    assert len(seen) == 1 and seen <= {"0", "1", "2", "3"}
    directory = tmp_path / "mnistc" / "test"
    assert [p.name for p in directory.iterdir()] == ["k"]
    assert cache.intact_files(directory / "k", NAMES) == set(NAMES)


def age(entry, seconds):
    then = time.time() - seconds
    os.utime(entry / MANIFEST, (then, then))


def test_prune_by_age_and_least_recently_used(private_cache):
    entries = {k: private_cache.store(k, NAMES, writer(b"x" * 1000)) for k in "abcd"}
    for seconds, key in enumerate("abcd"):
        age(entries[key], 10 * 86400 - seconds * 3 * 86400)  # a: 10 days ... d: 1 day
    assert private_cache.lookup("a", NAMES)  # a use makes `a` the most recent
    removed = private_cache.prune(older_than=5 * 86400)
    assert [e.path.name for e in removed] == ["b"]  # 7 days; c is 4 days old
    removed = private_cache.prune(max_bytes=2600)
    assert sorted(e.path.name for e in removed) == ["c"]
    assert sorted(e.path.name for e in private_cache.entries()) == ["a", "d"]


def test_a_store_keeps_the_cache_within_its_bound(tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTC_CACHE_DIR", str(tmp_path))
    small = Cache("test", "test", max_bytes=2500)
    for i, key in enumerate("abc"):
        age(small.store(key, NAMES, writer(b"x" * 1000)), 100 - i)
    assert sorted(e.path.name for e in small.entries()) == ["b", "c"]
    huge = small.store("d", NAMES, writer(b"x" * 5000))  # never prunes what it just stored
    assert [e.path for e in small.entries()] == [huge]


def mnistc(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "mnistc.tools.mnistc", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=env,
    )  # fmt: skip


def test_cache_command_info_prune_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTC_CACHE_DIR", str(tmp_path))
    for key in "abc":
        age(cache.IMPORTS.store(key, NAMES, writer(b"x" * 300_000)), 86400 * (ord("d") - ord(key)))
    age(cache.KERNELS.store("k", NAMES, writer(b"x" * 100_000)), 0)
    info = mnistc("cache", "info")
    assert info.returncode == 0, info.stderr
    assert f"cache directory: {tmp_path / 'mnistc'}" in info.stdout
    assert "kernels: 1 entries, 0.1 MB" in info.stdout and "imports: 3 entries, 0.9 MB" in info.stdout
    older = mnistc("cache", "prune", "--older-than", "2.5")
    assert older.returncode == 0 and "removed 1 entries" in older.stderr
    assert sorted(e.path.name for e in cache.IMPORTS.entries()) == ["b", "c"]
    smaller = mnistc("cache", "prune", "--max-size", "0.5M")
    assert smaller.returncode == 0 and "removed 1 entries" in smaller.stderr
    assert [e.path.name for e in cache.IMPORTS.entries()] == ["c"] and cache.KERNELS.entries()
    cleared = mnistc("cache", "clear")
    assert cleared.returncode == 0 and "removed 2 entries" in cleared.stderr
    assert not list((tmp_path / "mnistc").iterdir())
    bad = mnistc("cache", "prune", "--max-size", "lots")
    assert bad.returncode != 0 and "is not a size" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow  # rebuilds kernel objects
def test_relative_cache_dir_and_a_damaged_kernel_object(tmp_path):
    """From an empty cache named relative to the working directory (issue 9, item 9),
    then with one cached object emptied (item 10): only that object is compiled again.
    The one test that builds the kernels afresh."""
    env = {**os.environ, "MNISTC_CACHE_DIR": "rel/cache"}
    first = mnistc("compile", "-o", "m1", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    (entry,) = (tmp_path / "rel/cache/mnistc/kernels").iterdir()
    (entry / "conv/winograd.o").write_bytes(b"")
    second = mnistc("compile", "-o", "m2", "--keep-build", cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    assert f"kernel cache entry {entry} is damaged" in second.stderr
    compiled = [line for line in (tmp_path / "m2.build/build.sh").read_text().splitlines() if " -c " in line]
    assert [Path(line.split(" -c ")[1].split()[0]).name for line in compiled] == [
        "winograd.cpp", "model.cpp"
    ]  # fmt: skip
    assert cache.intact_files(entry, ["linear.o", "conv/winograd.o", "main.o"]) == {
        "linear.o", "conv/winograd.o", "main.o"
    }  # fmt: skip
    images = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(run_executable(tmp_path / "m2", images), run_executable(tmp_path / "m1", images))
