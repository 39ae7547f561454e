"""The `shape` family: ops that move or reinterpret elements without arithmetic
(reshape, transpose, slice, expand, concat, pad2d) and dropout, the identity at inference.

transpose, slice and expand are the three strided reads every shape op of the front
ends decomposes into (chunk, split, select, narrow, unbind, repeat, pixel and channel
shuffles, Gather, Tile, DepthToSpace), with reshape and concat; they run on one kernel.

reshape, transpose, slice, expand and dropout take int8 tensors too (the quantized IR,
`quant.py`): they keep their input's element type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import (
    I64,
    DenseArrayBase,
    Float64Type,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    f64,
    i64,
)
from xdsl.ir import SSAValue
from xdsl.irdl import (
    IRDLOperation,
    VarConstraint,
    base,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.pattern_rewriter import RewritePattern
from xdsl.traits import HasCanonicalizationPatternsTrait, Pure
from xdsl.utils.exceptions import VerifyException

from mnistc.dialects.nn.base import (
    ExactTensor,
    FloatTensor,
    element_type_of,
    tensor,
    verify_rank,
    verify_result_shape,
    verify_same_element_type,
)
from mnistc.dialects.shapes import shape_of


@irdl_op_definition
class DropoutOp(IRDLOperation):
    """Dropout with probability `p`: the identity at inference, kept so imports are faithful."""

    name = "nn.dropout"

    T: ClassVar = VarConstraint("T", ExactTensor)
    input = operand_def(T)
    output = result_def(T)
    p = prop_def(FloatAttr[Float64Type])

    traits = traits_def(Pure())
    assembly_format = "$input `p` $p attr-dict `:` type($input)"

    def __init__(self, input: SSAValue, p: float):
        super().__init__(
            operands=[input],
            result_types=[input.type],
            properties={"p": FloatAttr(p, f64)},
        )

    def verify_(self) -> None:
        if not 0.0 <= self.p.value.data <= 1.0:
            raise VerifyException(f"dropout probability {self.p.value.data} not in [0, 1]")


PAD_MODES = ("constant", "reflect", "replicate")
"""How pad2d fills the border: with `value`; mirrored about the edge pixel (PyTorch's
reflect, ONNX's reflect); repeating the edge pixel (replicate, ONNX's edge)."""


@irdl_op_definition
class Pad2DOp(IRDLOperation):
    """Padding of the last two dimensions: `pads` = [top, left, bottom, right], filled
    with `value` or, with a `mode` (PAD_MODES), from the input's own edge."""

    name = "nn.pad2d"

    input = operand_def(FloatTensor)
    output = result_def(FloatTensor)
    pads = prop_def(DenseArrayBase.constr(i64))
    value = prop_def(FloatAttr[Float64Type])
    mode = opt_prop_def(StringAttr)
    """Absent: constant."""

    traits = traits_def(Pure())
    assembly_format = (
        "$input `pads` $pads (`mode` $mode^)? `value` $value attr-dict "
        "`:` type($input) `->` type($output)"
    )

    def __init__(
        self, input: SSAValue, pads: Sequence[int], value: float = 0.0, mode: str = "constant"
    ):
        *lead, h, w = shape_of(input)
        top, left, bottom, right = pads
        super().__init__(
            operands=[input],
            result_types=[tensor((*lead, h + top + bottom, w + left + right))],
            properties={
                "pads": DenseArrayBase.from_list(i64, list(pads)),
                "value": FloatAttr(value, f64),
                "mode": None if mode == "constant" else StringAttr(mode),
            },
        )

    @property
    def pad_mode(self) -> str:
        return "constant" if self.mode is None else self.mode.data

    def verify_(self) -> None:
        pads = self.pads.get_values()
        if len(pads) != 4 or min(pads) < 0:
            raise VerifyException(f"pads must be 4 integers >= 0, got {list(pads)}")
        *lead, h, w = verify_rank("pad2d input", self.input, 4)
        top, left, bottom, right = pads
        if self.pad_mode not in PAD_MODES:
            raise VerifyException(
                f"pad mode '{self.pad_mode}' (supported: {', '.join(PAD_MODES)})"
            )
        if self.pad_mode == "reflect" and (max(top, bottom) >= h or max(left, right) >= w):
            raise VerifyException(
                f"reflect padding {list(pads)} must be smaller than the input's H and W "
                f"({h}, {w})"
            )
        verify_result_shape(self, (*lead, h + top + bottom, w + left + right))


@irdl_op_definition
class ConcatOp(IRDLOperation):
    """Concatenation along `dim`."""

    name = "nn.concat"

    inputs = var_operand_def(FloatTensor)
    output = result_def(FloatTensor)
    dim = prop_def(IntegerAttr[I64])

    traits = traits_def(Pure())
    assembly_format = (
        "$inputs `dim` $dim attr-dict `:` type($inputs) `->` type($output)"
    )

    def __init__(self, inputs: Sequence[SSAValue], dim: int):
        shapes = [shape_of(v) for v in inputs]
        dim %= len(shapes[0])
        shape = list(shapes[0])
        shape[dim] = sum(s[dim] for s in shapes)
        super().__init__(
            operands=[inputs],
            result_types=[tensor(shape)],
            properties={"dim": IntegerAttr(dim, i64)},
        )

    def verify_(self) -> None:
        if not self.inputs:
            raise VerifyException("concat needs at least one input")
        shapes = [shape_of(v) for v in self.inputs]
        dim = self.dim.value.data
        if not 0 <= dim < len(shapes[0]):
            raise VerifyException(f"dim {dim} out of range for rank {len(shapes[0])}")
        for shape in shapes:
            if len(shape) != len(shapes[0]) or any(
                a != b for i, (a, b) in enumerate(zip(shape, shapes[0])) if i != dim
            ):
                raise VerifyException(
                    f"concat inputs {[list(s) for s in shapes]} differ outside dim {dim}"
                )
        expected = list(shapes[0])
        expected[dim] = sum(s[dim] for s in shapes)
        verify_result_shape(self, expected)


class ReshapeOpHasCanonicalizationPatterns(HasCanonicalizationPatternsTrait):
    @classmethod
    def get_canonicalization_patterns(cls) -> tuple[RewritePattern, ...]:
        from mnistc.transforms.canonicalization_patterns.nn import (
            ComposeReshapes,
            RemoveIdentityReshape,
        )

        from mnistc.transforms.canonicalization_patterns.nn import SinkReshape

        return (RemoveIdentityReshape(), ComposeReshapes(), SinkReshape())


@irdl_op_definition
class ReshapeOp(IRDLOperation):
    """Reinterpret the elements (row-major) under a new static shape: flatten, view."""

    name = "nn.reshape"

    input = operand_def(ExactTensor)
    output = result_def(ExactTensor)

    traits = traits_def(Pure(), ReshapeOpHasCanonicalizationPatterns())
    assembly_format = "$input attr-dict `:` type($input) `->` type($output)"

    def __init__(self, input: SSAValue, shape: Sequence[int]):
        super().__init__(operands=[input], result_types=[tensor(shape, element_type_of(input))])

    def verify_(self) -> None:
        verify_same_element_type(self)
        src, dst = self.input.type, self.output.type
        assert isinstance(src, TensorType) and isinstance(dst, TensorType)
        if src.element_count() != dst.element_count():
            raise VerifyException(
                f"reshape from {list(src.get_shape())} to {list(dst.get_shape())} "
                "changes the number of elements"
            )


def _int_array(values: Sequence[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, [int(v) for v in values])


def transposed_shape(shape: Sequence[int], permutation: Sequence[int]) -> tuple[int, ...]:
    """Dimension i of the result is dimension permutation[i] of the input."""
    return tuple(shape[p] for p in permutation)


class TransposeOpHasCanonicalizationPatterns(HasCanonicalizationPatternsTrait):
    @classmethod
    def get_canonicalization_patterns(cls) -> tuple[RewritePattern, ...]:
        from mnistc.transforms.canonicalization_patterns.nn import (
            ComposeTransposes,
            TransposeAsReshape,
        )

        return (TransposeAsReshape(), ComposeTransposes())


@irdl_op_definition
class TransposeOp(IRDLOperation):
    """Permute the dimensions: result dimension i is input dimension `permutation[i]`
    (torch.permute, ONNX Transpose)."""

    name = "nn.transpose"

    input = operand_def(ExactTensor)
    output = result_def(ExactTensor)
    permutation = prop_def(DenseArrayBase.constr(i64))

    traits = traits_def(Pure(), TransposeOpHasCanonicalizationPatterns())
    assembly_format = (
        "$input `permutation` $permutation attr-dict `:` type($input) `->` type($output)"
    )

    def __init__(self, input: SSAValue, permutation: Sequence[int]):
        shape = shape_of(input)
        valid = sorted(permutation) == list(range(len(shape)))
        super().__init__(
            operands=[input],
            result_types=[
                tensor(
                    transposed_shape(shape, permutation) if valid else shape,
                    element_type_of(input),
                )
            ],
            properties={"permutation": _int_array(permutation)},
        )

    def verify_(self) -> None:
        shape, permutation = shape_of(self.input), self.permutation.get_values()
        if sorted(permutation) != list(range(len(shape))):
            raise VerifyException(
                f"permutation {list(permutation)} is not a permutation of the {len(shape)} "
                "dimensions"
            )
        verify_result_shape(self, transposed_shape(shape, permutation))
        verify_same_element_type(self)


class SliceOpHasCanonicalizationPatterns(HasCanonicalizationPatternsTrait):
    @classmethod
    def get_canonicalization_patterns(cls) -> tuple[RewritePattern, ...]:
        from mnistc.transforms.canonicalization_patterns.nn import RemoveIdentitySlice

        return (RemoveIdentitySlice(),)


@irdl_op_definition
class SliceOp(IRDLOperation):
    """A strided window: result[i...] = input[offsets[d] + i[d] * strides[d] ...], its
    sizes the result's (torch slicing and narrow, select, chunk, split, ONNX Slice).

    A stride may be negative (ONNX Slice walks backwards), never zero.
    """

    name = "nn.slice"

    input = operand_def(ExactTensor)
    output = result_def(ExactTensor)
    offsets = prop_def(DenseArrayBase.constr(i64))
    strides = prop_def(DenseArrayBase.constr(i64))

    traits = traits_def(Pure(), SliceOpHasCanonicalizationPatterns())
    assembly_format = (
        "$input `offsets` $offsets `strides` $strides attr-dict "
        "`:` type($input) `->` type($output)"
    )

    def __init__(
        self,
        input: SSAValue,
        offsets: Sequence[int],
        sizes: Sequence[int],
        strides: Sequence[int] | None = None,
    ):
        super().__init__(
            operands=[input],
            result_types=[tensor(sizes, element_type_of(input))],
            properties={
                "offsets": _int_array(offsets),
                "strides": _int_array(strides if strides is not None else [1] * len(sizes)),
            },
        )

    def verify_(self) -> None:
        verify_same_element_type(self)
        shape, sizes = shape_of(self.input), shape_of(self.output)
        offsets, strides = self.offsets.get_values(), self.strides.get_values()
        if not len(shape) == len(sizes) == len(offsets) == len(strides):
            raise VerifyException(
                f"slice of a rank-{len(shape)} input needs {len(shape)} offsets, strides and "
                f"result dimensions, got {len(offsets)}, {len(strides)} and {len(sizes)}"
            )
        for d, (n, offset, size, stride) in enumerate(zip(shape, offsets, sizes, strides)):
            last = offset + (size - 1) * stride
            if stride == 0 or size < 1 or not (0 <= offset < n and 0 <= last < n):
                raise VerifyException(
                    f"dim {d}: {size} elements from {offset} by {stride} do not fit in {n}"
                )


class ExpandOpHasCanonicalizationPatterns(HasCanonicalizationPatternsTrait):
    @classmethod
    def get_canonicalization_patterns(cls) -> tuple[RewritePattern, ...]:
        from mnistc.transforms.canonicalization_patterns.nn import RemoveIdentityExpand

        return (RemoveIdentityExpand(),)


@irdl_op_definition
class ExpandOp(IRDLOperation):
    """Broadcast dimensions of size 1 to the result's sizes (torch.expand, ONNX Expand);
    the rank is kept (a reshape adds leading dimensions first)."""

    name = "nn.expand"

    input = operand_def(ExactTensor)
    output = result_def(ExactTensor)

    traits = traits_def(Pure(), ExpandOpHasCanonicalizationPatterns())
    assembly_format = "$input attr-dict `:` type($input) `->` type($output)"

    def __init__(self, input: SSAValue, shape: Sequence[int]):
        super().__init__(operands=[input], result_types=[tensor(shape, element_type_of(input))])

    def verify_(self) -> None:
        verify_same_element_type(self)
        shape, result = shape_of(self.input), shape_of(self.output)
        if len(shape) != len(result) or any(a not in (1, b) for a, b in zip(shape, result)):
            raise VerifyException(f"cannot expand {list(shape)} to {list(result)}")


OPS = (DropoutOp, Pad2DOp, ConcatOp, ReshapeOp, TransposeOp, SliceOp, ExpandOp)
"""The family's ops, as the `NN` dialect lists them."""

__all__ = [
    "ConcatOp",
    "DropoutOp",
    "ExpandOp",
    "PAD_MODES",
    "Pad2DOp",
    "ReshapeOp",
    "SliceOp",
    "TransposeOp",
    "transposed_shape",
]
