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


FLOP_CASES = {
    # kernel: (the PyTorch op whose FLOPs it computes, its arguments, the kernel's params)
    "conv2d": ("conv2d", dict(x=(6, 11, 9), w=(4, 3, 3, 2), stride=(2, 1), padding=(1, 0), groups=2), {}),
    "conv2d_gemm": ("conv2d", dict(x=(5, 8, 8), w=(7, 5, 1, 1), stride=1, padding=0, groups=1), {}),
    "conv2d_packed": ("conv2d", dict(x=(3, 9, 9), w=(5, 3, 5, 5), stride=1, padding=2, groups=1), {}),
    "conv2d_depthwise": ("conv2d", dict(x=(8, 10, 10), w=(8, 1, 3, 3), stride=2, padding=1, groups=8), {}),
    "conv2d_winograd": ("conv2d", dict(x=(16, 12, 12), w=(24, 16, 3, 3), stride=1, padding=1, groups=1), {"pool": 2}),
    "conv2d_winograd_raw": ("conv2d", dict(x=(16, 6, 6), w=(8, 16, 3, 3), stride=1, padding=0, groups=1), {"pool": 0}),
    "conv_transpose2d": ("conv_transpose2d", dict(x=(6, 5, 7), w=(6, 2, 4, 3), stride=(2, 3), padding=(1, 0), groups=3), {}),
}


def _params_of(kind: str, args: dict, output: tuple, extra: dict) -> dict:
    """The kernel parameters (kernels/abi.py names) of one PyTorch convolution."""
    (c, h, w), (k_or_c, _, kh, kw), groups = args["x"], args["w"], args["groups"]
    k = output[0]
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    stride, padding = pair(args["stride"]), pair(args["padding"])
    return {
        "C": c, "H": h, "W": w, "K": k, "OH": output[1], "OW": output[2], "KH": kh, "KW": kw,
        "stride_h": stride[0], "stride_w": stride[1], "pad_h": padding[0], "pad_w": padding[1],
        "dilation_h": 1, "dilation_w": 1, "groups": groups, **extra,
    }  # fmt: skip


def test_flop_formulas_count_what_pytorch_counts():
    """Every convolution kernel's and linear's `flops` is PyTorch's own count of the
    operation it computes (torch.utils.flop_counter): direct-convolution FLOPs, Winograd
    included; kernels that move data declare none."""
    import torch
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    for name, (op, args, extra) in FLOP_CASES.items():
        x, w = torch.randn(1, *args["x"]), torch.randn(*args["w"])
        with FlopCounterMode(display=False) as counter:
            y = getattr(F, op)(x, w, stride=args["stride"], padding=args["padding"], groups=args["groups"])
        params = _params_of(op, args, tuple(y.shape[1:]), extra)
        assert abi.kernel(name).flop_count(params) == counter.get_total_flops(), name
    with FlopCounterMode(display=False) as counter:
        F.linear(torch.randn(3, 37), torch.randn(13, 37))
    assert abi.kernel("linear").flop_count(dict(M=3, IN=37, OUT=13)) == counter.get_total_flops()
    for name in ("copy", "max_pool2d", "binary", "resize2d"):
        assert abi.kernel(name).flops is None and abi.kernel(name).flop_count({}) == 0
