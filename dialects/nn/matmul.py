"""The `matmul` family: products of two run-time tensors, and attention.

A matrix product whose right operand is a constant is a `linear` layer; these ops take
both operands at run time (transformers' Q . K^T and P . V), with NumPy's broadcasting
of the batch dimensions before the last two.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import I64, Float64Type, FloatAttr, IntegerAttr, f64, i64
from xdsl.ir import SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from mnistc.dialects.nn.base import FloatTensor, tensor, verify_result_shape
from mnistc.dialects.nn.elementwise import broadcast_shape
from mnistc.dialects.shapes import shape_of


def matmul_shape(lhs: Sequence[int], rhs: Sequence[int]) -> tuple[int, ...] | None:
    """[..., M, K] @ [..., K, N] → [broadcast(...), M, N]; None when they do not match."""
    if len(lhs) < 2 or len(rhs) < 2 or lhs[-1] != rhs[-2]:
        return None
    batch = broadcast_shape(lhs[:-2], rhs[:-2])
    return None if batch is None else (*batch, lhs[-2], rhs[-1])


@irdl_op_definition
class MatmulOp(IRDLOperation):
    """lhs [..., M, K] @ rhs [..., K, N], both run-time tensors of rank >= 2 (the
    importers reshape 1-D operands as torch.matmul and ONNX MatMul define them)."""

    name = "nn.matmul"

    lhs = operand_def(FloatTensor)
    rhs = operand_def(FloatTensor)
    output = result_def(FloatTensor)

    traits = traits_def(Pure())
    assembly_format = "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($output)"

    def __init__(self, lhs: SSAValue, rhs: SSAValue):
        shape = matmul_shape(shape_of(lhs), shape_of(rhs))
        super().__init__(operands=[lhs, rhs], result_types=[tensor(shape or ())])

    def verify_(self) -> None:
        shape = matmul_shape(shape_of(self.lhs), shape_of(self.rhs))
        if shape is None:
            raise VerifyException(
                f"matmul of {list(shape_of(self.lhs))} by {list(shape_of(self.rhs))}: "
                "both need rank >= 2, lhs's last size equal to rhs's second last and "
                "batch dimensions that broadcast"
            )
        verify_result_shape(self, shape)


@irdl_op_definition
class AttentionOp(IRDLOperation):
    """Scaled dot-product attention, softmax(q k^T * scale + mask) v, per batch index:
    q [..., L, E], k [..., S, E], v [..., S, EV] with the same batch dimensions, an
    optional additive mask broadcasting to [..., L, S] (a boolean mask becomes 0 and -inf
    at import), `causal` = 1 masks key j > query i (PyTorch's is_causal, top left)."""

    name = "nn.attention"

    query = operand_def(FloatTensor)
    key = operand_def(FloatTensor)
    value = operand_def(FloatTensor)
    mask = opt_operand_def(FloatTensor)
    output = result_def(FloatTensor)
    scale = prop_def(FloatAttr[Float64Type])
    causal = prop_def(IntegerAttr[I64])

    traits = traits_def(Pure())
    assembly_format = (
        "$query `,` $key `,` $value (`mask` $mask^)? `scale` $scale `causal` $causal "
        "attr-dict `:` type($query) `,` type($key) `,` type($value) (`,` type($mask)^)? "
        "`->` type($output)"
    )

    def __init__(
        self, query: SSAValue, key: SSAValue, value: SSAValue, mask: SSAValue | None,
        scale: float, causal: bool = False,
    ):  # fmt: skip
        q, v = shape_of(query), shape_of(value)
        super().__init__(
            operands=[query, key, value, mask],
            result_types=[tensor((*q[:-1], v[-1]) if q and v else ())],
            properties={"scale": FloatAttr(scale, f64), "causal": IntegerAttr(int(causal), i64)},
        )

    def verify_(self) -> None:
        q, k, v = shape_of(self.query), shape_of(self.key), shape_of(self.value)
        if min(len(q), len(k), len(v)) < 2 or not q[:-2] == k[:-2] == v[:-2]:
            raise VerifyException(
                f"attention needs q, k and v of rank >= 2 with the same batch dimensions, "
                f"got {list(q)}, {list(k)}, {list(v)}"
            )
        if q[-1] != k[-1] or k[-2] != v[-2]:
            raise VerifyException(
                f"attention of q {list(q)}, k {list(k)}, v {list(v)}: q and k need the "
                "same last size, k and v the same number of keys"
            )
        scores = (*q[:-1], k[-2])
        if self.mask is not None:
            mask = shape_of(self.mask)
            if len(mask) > len(scores) or broadcast_shape(mask, scores) != scores:
                raise VerifyException(
                    f"attention mask {list(mask)} does not broadcast to the scores {list(scores)}"
                )
        if self.causal.value.data not in (0, 1):
            raise VerifyException("causal must be 0 or 1")
        verify_result_shape(self, (*q[:-1], v[-1]))


OPS = (MatmulOp, AttentionOp)
"""The family's ops, as the `NN` dialect lists them."""

__all__ = ["AttentionOp", "MatmulOp", "matmul_shape"]
