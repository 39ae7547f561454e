"""One op family, one file of the same name, at every level (dialects/nn/__init__.py
lists the families)."""

from __future__ import annotations

from pathlib import Path

import pytest

import mnistc.interpreters.nn
import mnistc.lowering.nn_to_cpu
from mnistc.dialects import nn
from mnistc.kernels import KERNEL_DIR, SHARED_CORES
from mnistc.toolchain import KERNEL_LIBRARY_SOURCES

LEVELS = {
    "dialect": Path(nn.__file__).parent,
    "interpreter": Path(mnistc.interpreters.nn.__file__).parent,
    "lowering": Path(mnistc.lowering.nn_to_cpu.__file__).parent,
}
SHARED = {"__init__", "base", "common"}
"""Modules beside the families: the package itself and what its families share."""


@pytest.mark.parametrize("level", LEVELS)
def test_each_level_has_one_module_per_family_and_no_other(level):
    modules = {p.stem for p in LEVELS[level].glob("*.py")} - SHARED
    assert modules == set(nn.FAMILIES)


def test_every_op_is_defined_in_its_family_module():
    families = {op.__module__.rsplit(".", 1)[-1] for op in nn.NN.operations}
    assert families == set(nn.FAMILIES)


def test_every_kernel_source_is_named_after_a_family():
    """`kernels/<family>.cpp` or `kernels/<family>/*.cpp`, besides the shared cores; every
    family but `weight` (no kernel: a weight is a pointer into the embedded blob) has one."""
    families = {
        Path(source).parts[0].removesuffix(".cpp")
        for source in KERNEL_LIBRARY_SOURCES
        if source not in SHARED_CORES
    }
    assert families == set(nn.FAMILIES) - {"weight"}
    assert all((KERNEL_DIR / s).is_file() for s in KERNEL_LIBRARY_SOURCES)
