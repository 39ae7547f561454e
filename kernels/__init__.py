"""The C++ OpenMP kernels, one source file per op family (`<family>.cpp`, or a directory
`<family>/` for a family with several kernels; declared in kernels.hpp, generated from
abi.py), the cores several families share (SHARED_CORES), the helpers they share
(kernel_support.hpp) and the executable's main."""

from pathlib import Path

KERNEL_DIR = Path(__file__).parent

SHARED_CORES = ("gemm.cpp", "scratch.cpp")
"""Sources that are no family's kernels but the machinery several use: the GEMM core
(gemm.hpp) under convolutions and transposed convolutions, and the per-thread scratch
that plan-memory sizes (kernel_support.hpp's scratch())."""
