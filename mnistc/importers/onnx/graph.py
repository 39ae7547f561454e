"""What the ONNX converters share: the graph being imported, constants and splats,
attributes, padding."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from xdsl.builder import Builder
from xdsl.ir import SSAValue

from mnistc.dialects import nn
from mnistc.importers.common import MALFORMED_MODEL_ERRORS, ImportError_
from mnistc.importers.shape_ops import MovedBatch
from mnistc.weights import WeightFile, weight_op


class Unsupported(Exception):
    """The node is outside what its converter handles; the message says how."""


@dataclass
class Graph:
    builder: Builder
    weights: WeightFile
    opset: int
    batch: int
    """The batch size the model was exported with, if fixed (reshape targets carry it)."""
    values: dict[str, Any] = field(default_factory=dict)
    """ONNX value name → SSAValue (computed from the input) or np.ndarray (constant)."""
    weight_values: dict[str, SSAValue] = field(default_factory=dict)
    quantized_weights: dict[str, Any] = field(default_factory=dict)
    """Constant name → the int8 weight of a quantized model behind its float32 values
    (`quant.QuantizedConstant`), which `weight` builds as int8 where a converter uses it."""

    moved: MovedBatch = field(default_factory=MovedBatch)
    """The run-time tensors whose batch is not dimension 0 (LSTM and GRU)."""
    shape_degrees: dict[str, np.ndarray] = field(default_factory=dict)
    """The degrees in the batch size of the constants computed from `Shape`
    (`onnx.batch.BatchDegrees.degrees`)."""

    def batch_dim_of_shape(self, name: str) -> int | None:
        """The one size of a shape constant that the model computes as a multiple of the
        batch size (`batch.one_size_only`), if it does."""
        degrees = self.shape_degrees.get(name)
        if degrees is None or not degrees.any():
            return None
        return int(np.flatnonzero(degrees)[0])

    def tensor(self, name: str) -> SSAValue:
        value = self.values[name]
        if isinstance(value, SSAValue):
            return value
        if name not in self.weight_values:
            self.weight_values[name] = self.weight(name, value)
        return self.weight_values[name]

    def weight(self, name: str, value: Any) -> SSAValue:
        """A constant as an `nn.weight` in the weight file, or as an `nn.splat` when all
        its elements are one value held once (`ConstantOfShape`), or as an int8 weight
        when it is a quantized model's int8 weight unchanged (`quantized_weights`)."""
        quantized = self.quantized_weights.get(name)
        if quantized is not None and (weight := quantized.as_weight(self, value)) is not None:
            return weight
        array = float_array(name, value)
        if is_splat(array):
            return self.builder.insert(nn.SplatOp(float(array.flat[0]), array.shape)).result
        return self.builder.insert(weight_op(self.weights, name, array)).result

    def constant(self, name: str, what: str) -> np.ndarray:
        value = self.values.get(name)
        if not isinstance(value, np.ndarray):
            raise Unsupported(f"{what} must be a constant")
        return value

    def float_constant(self, name: str, what: str) -> np.ndarray:
        """A constant that becomes a weight: floating point, as ONNX's type rules require."""
        return float_array(name, self.constant(name, what))

    def insert(self, op) -> tuple[SSAValue]:
        return (self.builder.insert(op).results[0],)


def float_array(name: str, value: Any) -> np.ndarray:
    """A constant as float32, refusing integer and boolean tensors where a float tensor
    is required (ONNX Runtime refuses such a model; converting would hide the damage).
    A splat stays one value broadcast to its shape."""
    array = np.asarray(value)
    if not np.issubdtype(array.dtype, np.floating):
        raise ImportError_(
            f"tensor '{name}' has element type {array.dtype}, where a floating-point tensor "
            "is required"
        )
    if is_splat(array):
        return splat(array.flat[0].astype(np.float32), array.shape)
    return array.astype(np.float32)


def splat(value: Any, shape: Sequence[int]) -> np.ndarray:
    """A read-only array of `shape` whose elements are all `value`, stored once."""
    return np.broadcast_to(np.asarray(value).reshape(()), tuple(shape))


def is_splat(array: np.ndarray) -> bool:
    """An array made by `splat` (or a transpose or broadcast of one): no element stored
    twice. Such a constant becomes an `nn.splat`, never expanded."""
    return array.size > 1 and all(stride == 0 for stride in array.strides)


def scaled(array: np.ndarray, factor: float) -> np.ndarray:
    """array * factor, a splat staying a splat."""
    if factor == 1:
        return array
    return splat(array.flat[0] * np.float32(factor), array.shape) if is_splat(array) else array * factor


def constant_of_shape(node, shape: np.ndarray) -> np.ndarray:
    """ConstantOfShape: its value (a one-element tensor, 0.0 by default) as a splat."""
    from onnx import numpy_helper

    try:
        value = attributes(node).get("value")
        values = numpy_helper.to_array(value).reshape(-1) if value is not None else np.zeros(1, np.float32)
        dims = [int(d) for d in np.asarray(shape).reshape(-1)]
    except MALFORMED_MODEL_ERRORS + (AttributeError,) as e:
        raise ImportError_(f"ConstantOfShape at {where(node)}: {type(e).__name__}: {e}") from None
    if values.size != 1 or any(d < 0 for d in dims):
        raise ImportError_(
            f"ConstantOfShape at {where(node)}: a value of {values.size} elements, shape {dims}"
        )
    return splat(values[0], dims)


def attributes(node) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def decode(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def pair(values: Sequence[int] | None, default: int) -> tuple[int, int]:
    return tuple(values) if values else (default, default)


def where(node) -> str:
    return f"node '{node.name}'" if node.name else f"the node producing '{node.output[0]}'"


def symmetric_pads(pads: Sequence[int] | None) -> tuple[int, int]:
    if not pads:
        return (0, 0)
    top, left, bottom, right = pads
    if (top, left) != (bottom, right):
        raise Unsupported(f"asymmetric padding {list(pads)}")
    return (top, left)


def padded(g: Graph, x: SSAValue, pads: Sequence[int] | None, value: float):
    """(input, symmetric padding for the op): asymmetric ONNX pads become an explicit
    `nn.pad2d` with `value` (0 for convolutions, -inf for max pooling) and no op padding."""
    if not pads:
        return x, (0, 0)
    top, left, bottom, right = pads
    if (top, left) == (bottom, right):
        return x, (top, left)
    (padded,) = g.insert(nn.Pad2DOp(x, (top, left, bottom, right), value))
    return padded, (0, 0)


def same_pads(auto_pad: str, kernel, dilation) -> tuple[int, int] | None:
    if auto_pad in ("", "NOTSET"):
        return None
    if auto_pad == "VALID":
        return (0, 0)
    total = [d * (k - 1) for d, k in zip(dilation, kernel)]
    if any(t % 2 for t in total):
        raise Unsupported(f"auto_pad {auto_pad} with an even kernel extent")
    return (total[0] // 2, total[1] // 2)
