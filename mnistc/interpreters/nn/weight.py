"""Reference semantics of the `weight` family: reads the tensor from the weight file, or
fills it with a splat's value."""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl

from mnistc import weights as weight_files
from mnistc.dialects import nn


class WeightFunctions(InterpreterFunctions):
    """Weights come from the weight file given to the interpreter."""

    def __init__(self, weights: weight_files.WeightFile):
        super().__init__()
        self.weights = weights

    @impl(nn.WeightOp)
    def run_weight(self, interpreter: Interpreter, op: nn.WeightOp, args: tuple[Any, ...]):
        dtype = weight_files.dtype_of_type(nn.element_type_of(op.result))
        return (self.weights.read(op.offset.value.data, nn.shape_of(op.result), dtype),)

    @impl(nn.SplatOp)
    def run_splat(self, interpreter: Interpreter, op: nn.SplatOp, args: tuple[Any, ...]):
        return (np.full(nn.shape_of(op.result), op.value.value.data, dtype=np.float32),)
