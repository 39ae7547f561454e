"""The kernel contract (kernels/abi.py) is the one source of the C declarations."""

from __future__ import annotations

import re

from mnistc.kernels import KERNEL_DIR, abi
from mnistc.toolchain import KERNEL_LIBRARY_SOURCES


def test_header_is_generated_from_the_table():
    """kernels.hpp is exactly what `python -m mnistc.kernels.abi` prints: edit the table,
    then regenerate the header."""
    assert (KERNEL_DIR / "kernels.hpp").read_text() == abi.render_header()


def test_every_kernel_is_defined_once_in_the_sources():
    """Each declared kernel has one definition in the kernel sources (the family files
    that the library build compiles), and the sources define no `mnistc_` kernel that the
    table lacks."""
    sources = "".join((KERNEL_DIR / name).read_text() for name in KERNEL_LIBRARY_SOURCES)
    defined = re.findall(r"^(?:extern \"C\" )?void (mnistc_\w+)\(", sources, re.MULTILINE)
    assert sorted(defined) == sorted(k.symbol for k in abi.KERNELS.values())


def test_parameter_names_are_unique_per_kernel():
    for kernel in abi.KERNELS.values():
        names = [*kernel.inputs, *kernel.outputs, *kernel.params, *kernel.fparams]
        assert len(names) == len(set(names)), kernel.name
        assert kernel.optional <= set(kernel.inputs), kernel.name


def test_definitions_take_the_parameters_of_the_table():
    """The compiler checks the definitions' types against the generated header; this
    checks their names and order, so two int64_t parameters cannot trade places."""
    sources = "".join((KERNEL_DIR / name).read_text() for name in KERNEL_LIBRARY_SOURCES)
    definitions = re.findall(r"^(?:extern \"C\" )?void (mnistc_\w+)\(([^)]*)\)\s*\{", sources, re.MULTILINE)
    assert definitions
    for symbol, parameters in definitions:
        kernel = abi.kernel(symbol.removeprefix("mnistc_"))
        names = [p.split()[-1].lstrip("*") for p in parameters.split(",")]
        assert names == [*kernel.inputs, *kernel.outputs, *kernel.params, *kernel.fparams], symbol
