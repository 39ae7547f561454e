"""The `weight` family: constant tensors kept in the model's weight file, and splats."""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import (
    I64,
    Float64Type,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    f32,
    f64,
    i64,
)
from xdsl.ir import Attribute
from xdsl.irdl import IRDLOperation, irdl_op_definition, prop_def, result_def, traits_def
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from mnistc.dialects.nn.base import FloatTensor, StoredTensor, tensor


@irdl_op_definition
class WeightOp(IRDLOperation):
    """A constant tensor stored in the model's weight file.

    `key` names the tensor (its module path in the source model), `offset` is its byte
    offset in the little-endian weight file named by the module's `nn.weights_file`
    attribute. Keeping the data out of the IR keeps it readable. The element type says
    how the bytes read: float32, or int8 weights and int32 biases of quantized layers.
    """

    name = "nn.weight"

    key = prop_def(StringAttr)
    offset = prop_def(IntegerAttr[I64])
    result = result_def(StoredTensor)

    traits = traits_def(Pure())
    assembly_format = "$key `offset` $offset attr-dict `:` type($result)"

    def __init__(
        self, key: str, offset: int, shape: Sequence[int], element_type: Attribute = f32
    ):
        super().__init__(
            properties={"key": StringAttr(key), "offset": IntegerAttr(offset, i64)},
            result_types=[tensor(shape, element_type)],
        )

    def verify_(self) -> None:
        if self.offset.value.data < 0 or self.offset.value.data % 4:
            raise VerifyException("weight offset must be a non-negative multiple of 4")


@irdl_op_definition
class SplatOp(IRDLOperation):
    """A constant tensor whose elements all hold `value` (ONNX's `ConstantOfShape`).

    Only the value is kept, so a large fill costs nothing in the IR, the weight file or
    the executable; the lowering fills a buffer once, when the model first runs.
    """

    name = "nn.splat"

    value = prop_def(FloatAttr[Float64Type])
    result = result_def(FloatTensor)

    traits = traits_def(Pure())
    assembly_format = "$value attr-dict `:` type($result)"

    def __init__(self, value: float, shape: Sequence[int]):
        super().__init__(
            properties={"value": FloatAttr(float(value), f64)}, result_types=[tensor(shape)]
        )


OPS = (SplatOp, WeightOp)
"""The family's ops, as the `NN` dialect lists them."""

__all__ = ["SplatOp", "WeightOp"]
