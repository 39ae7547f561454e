"""What every `nn` family builds on: the tensor type, property builders, the sliding
window's output size and the verifier's shape checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.dialects.builtin import DenseArrayBase, Float32Type, TensorType, f32, i8, i32, i64
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import IRDLOperation, base, eq
from xdsl.traits import OpTrait
from xdsl.utils.exceptions import VerifyException

from mnistc.dialects.shapes import shape_of

FloatTensor = TensorType[Float32Type]

# int8 (the quantized IR: `quant.py`)
Int8Tensor = TensorType.constr(element_type=eq(i8))
"""Quantized activations and weights: their scale and zero point live on the ops."""
Int32Tensor = TensorType.constr(element_type=eq(i32))
"""A quantized layer's bias, in units of input_scale * weight_scale."""
ExactTensor = TensorType.constr(element_type=base(Float32Type) | eq(i8))
"""Operands of the ops that only move or compare elements (max pooling, the views), and
so run on int8 exactly as on float32."""
StoredTensor = TensorType.constr(element_type=base(Float32Type) | eq(i8) | eq(i32))
"""What the weight file holds: float32 weights, int8 weights and int32 biases."""



@dataclass(frozen=True)
class OneSample(OpTrait):
    """The op's kernel computes one image or sequence: its lowering reads dimension 0 of
    its input as the batch, of size 1 in the per-sample IR. A model imported whole must
    not give it more (`mnistc.importers.common.check_one_sample_ops`)."""

def tensor(shape: Sequence[int], element_type: Attribute = f32) -> TensorType:
    return TensorType(element_type, list(shape))


def element_type_of(value: SSAValue) -> Attribute:
    """The element type of a tensor value (f32, or i8 on the quantized path)."""
    assert isinstance(value.type, TensorType), value.type
    return value.type.element_type


def verify_same_element_type(op: IRDLOperation) -> None:
    """A view or max pool keeps its input's element type."""
    source, result = element_type_of(op.operands[0]), element_type_of(op.results[0])
    if source != result:
        raise VerifyException(f"result element type {result} differs from the input's {source}")


def pair(values: Sequence[int] | int) -> DenseArrayBase:
    if isinstance(values, int):
        values = (values, values)
    return DenseArrayBase.from_list(i64, list(values))


def window_output_size(
    size: int, kernel: int, stride: int, pad: int, dilation: int, ceil_mode: bool = False
) -> int:
    """Output length of a sliding window, with PyTorch's rules (ceil_mode included).

    Parameters out of range (a stride, dilation or kernel below 1) give 0 rather than a
    division by zero: builders can then construct the op and its verifier names the
    attribute that is wrong.
    """
    if stride < 1 or dilation < 1 or kernel < 1:
        return 0
    span = dilation * (kernel - 1) + 1
    numerator = size + 2 * pad - span
    if ceil_mode:
        out = -(-numerator // stride) + 1
        if (out - 1) * stride >= size + pad:
            out -= 1
        return out
    return numerator // stride + 1


def are_pairs(*values: Sequence[int]) -> bool:
    """Whether every per-dimension window parameter has one value for H and one for W."""
    return all(len(v) == 2 for v in values)


def verify_pair(name: str, values: tuple[int, ...], minimum: int) -> None:
    if len(values) != 2 or any(v < minimum for v in values):
        raise VerifyException(
            f"{name} must be two integers >= {minimum}, got {list(values)}"
        )


def verify_rank(what: str, value: SSAValue, rank: int) -> tuple[int, ...]:
    shape = shape_of(value)
    if len(shape) != rank:
        raise VerifyException(f"{what} must have rank {rank}, got shape {list(shape)}")
    return shape


def verify_result_shape(op: IRDLOperation, expected: Sequence[int]) -> None:
    actual = shape_of(op.results[0])
    if actual != tuple(expected):
        raise VerifyException(
            f"result shape {list(actual)} does not match the expected {list(expected)}"
        )
