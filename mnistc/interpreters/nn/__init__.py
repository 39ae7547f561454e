"""Reference semantics of the `nn` dialect in NumPy, through xDSL's interpreter.

One module per op family, named as in `dialects/nn/`: each has plain NumPy functions
(used by the constant-folding passes too) and an `InterpreterFunctions` class with an
`@impl` per op; `NNFunctions` registers them together, and `run_function` executes an
`nn`-level module without g++. The functions compute in float64 and round to float32
once, so they are a sharper reference than the float32 kernels they check.
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.interpreter import Interpreter, register_impls
from xdsl.ir import SSAValue

from mnistc import weights as weight_files
from mnistc.dialects import nn
from mnistc.interpreters.nn.activation import ActivationFunctions
from mnistc.interpreters.nn.conv import ConvFunctions
from mnistc.interpreters.nn.elementwise import ElementwiseFunctions
from mnistc.interpreters.nn.linear import LinearFunctions
from mnistc.interpreters.nn.norm import NormFunctions
from mnistc.interpreters.nn.pool import PoolFunctions
from mnistc.interpreters.nn.quant import QuantFunctions


from mnistc.interpreters.nn.recurrent import RecurrentFunctions
from mnistc.interpreters.nn.reduce import ReduceFunctions
from mnistc.interpreters.nn.resample import ResampleFunctions
from mnistc.interpreters.nn.shape import ShapeFunctions
from mnistc.interpreters.nn.softmax import SoftmaxFunctions
from mnistc.interpreters.nn.weight import WeightFunctions
from mnistc.interpreters.nn.matmul import MatmulFunctions


@register_impls
class NNFunctions(
    WeightFunctions,
    ConvFunctions,
    LinearFunctions,
    PoolFunctions,
    ActivationFunctions,
    NormFunctions,
    ElementwiseFunctions,
    ShapeFunctions,
    SoftmaxFunctions,
    ReduceFunctions,
    ResampleFunctions,
    QuantFunctions,
    MatmulFunctions,
    RecurrentFunctions,
):
    """Runs `nn` ops on NumPy arrays; weights come from the given weight file."""


def run_function(
    module: ModuleOp, sample: np.ndarray, weights: weight_files.WeightFile | None = None,
    entry: str = "forward",
) -> np.ndarray:  # fmt: skip
    """Run an `nn`-level function on one sample ([1, C, H, W]); return its result."""
    from xdsl.interpreters.func import FuncFunctions  # the package imports every dialect's

    interpreter = Interpreter(module)
    interpreter.register_implementations(FuncFunctions())
    if weights is None:
        weights = weight_files.load(module)
    interpreter.register_implementations(NNFunctions(weights))
    (result,) = interpreter.call_op(entry, (np.asarray(sample, dtype=np.float32),))
    return result


def evaluate(
    module: ModuleOp, sample: np.ndarray, weights: weight_files.WeightFile, entry: str = "forward"
) -> dict[SSAValue, np.ndarray]:
    """Every value of the entry function on one sample: for finding where results diverge."""
    interpreter = Interpreter(module)
    interpreter.register_implementations(NNFunctions(weights))
    function = next(
        op for op in module.ops if isinstance(op, func.FuncOp) and op.sym_name.data == entry
    )
    values: dict[SSAValue, np.ndarray] = {function.body.block.args[0]: sample.astype(np.float32)}
    for op in function.body.block.ops:
        if isinstance(op, func.ReturnOp):
            break
        results = interpreter.run_op(op, tuple(values[v] for v in op.operands))
        values.update(zip(op.results, results))
    return values


BATCH_SAFE = (
    nn.Conv2DOp, nn.LinearOp, nn.MaxPool2DOp, nn.AvgPool2DOp, nn.AdaptiveAvgPool2DOp,
    nn.ActivationOp, nn.BinaryOp, nn.BatchNormOp, nn.SoftmaxBase, nn.DropoutOp,
    nn.QuantizeOp, nn.DequantizeOp, nn.QConv2DOp, nn.QLinearOp,
)  # fmt: skip
"""Ops whose reference function maps a leading batch of any size sample by sample; the
others (views, which read their result shape from the IR, and the rest) run once per
sample in `evaluate_batch`."""


def evaluate_batch(
    module: ModuleOp, samples: np.ndarray, weights: weight_files.WeightFile, entry: str = "forward"
) -> dict[SSAValue, np.ndarray]:
    """Every value of the entry function on a batch of samples ([N, C, H, W]): each op
    runs once on the whole batch where it can, so calibration and per-layer comparisons
    cost a few large NumPy calls instead of N small ones. Values that do not depend on
    the input (weights) keep their own shape."""
    interpreter = Interpreter(module)
    interpreter.register_implementations(NNFunctions(weights))
    function = next(
        op for op in module.ops if isinstance(op, func.FuncOp) and op.sym_name.data == entry
    )
    argument = function.body.block.args[0]
    values: dict[SSAValue, np.ndarray] = {argument: np.asarray(samples, dtype=np.float32)}
    batched = {argument}
    for op in function.body.block.ops:
        if isinstance(op, func.ReturnOp):
            break
        args = tuple(values[v] for v in op.operands)
        if not any(v in batched for v in op.operands):
            results = interpreter.run_op(op, args)
        elif isinstance(op, BATCH_SAFE):
            results = interpreter.run_op(op, args)
            batched.update(op.results)
        else:
            per_sample = [
                interpreter.run_op(
                    op, tuple(a[i : i + 1] if v in batched else a for v, a in zip(op.operands, args))
                )
                for i in range(len(samples))
            ]
            results = tuple(np.concatenate(parts) for parts in zip(*per_sample))
            batched.update(op.results)
        values.update(zip(op.results, results))
    return values


def run_batch(
    module: ModuleOp, inputs: np.ndarray, weights: weight_files.WeightFile | None = None
) -> np.ndarray:
    """Run the per-sample function over a batch, as the compiled executable does."""
    weights = weight_files.load(module) if weights is None else weights
    return np.concatenate([run_function(module, sample[None], weights) for sample in inputs])
