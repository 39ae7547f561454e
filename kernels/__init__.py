"""The C++ OpenMP kernels (kernels.hpp / kernels.cpp) and the executable's main."""

from pathlib import Path

KERNEL_DIR = Path(__file__).parent
