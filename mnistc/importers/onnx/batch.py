"""How the constants an ONNX graph computes from `Shape` scale with the batch.

The `nn` IR is per sample (batch 1): `Shape` of a run-time tensor folds to the shape of
one sample, whose first size is the batch. Each constant folded from it carries an
array of degrees, one per element: the element is its folded value times batch**k
(`UNKNOWN_DEGREE` when it is not of that form, `Add` of the batch and 1). A run-time op
may take a multiple of the batch only as the first size of a shape (`Reshape`,
`Expand`, `Tile`), where run on one sample it gives the sample's share; anywhere else
the op is refused, never compiled with the batch folded to 1 (as the aten front ends'
`BatchSize`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mnistc.importers.onnx.graph import Unsupported
from mnistc.importers.shape_ops import BATCH_SIZE_REFUSAL, NO_BATCH


UNKNOWN_DEGREE = 1 << 20
"""The degree of an element computed from the batch in a way not tracked."""

DATA_MOVES = {
    "Cast": (0,), "Expand": (0,), "Flatten": (0,), "Gather": (0,), "GatherElements": (0,),
    "Identity": (0,), "Reshape": (0,), "Slice": (0,), "Squeeze": (0,), "Tile": (0,),
    "Transpose": (0,), "Unsqueeze": (0,), "Concat": None,
}  # fmt: skip
"""Ops that move elements without computing, and which inputs are their data (None:
all): run on the degrees, they place them where the values go."""

BATCH_SECOND_STATES = {"LSTM": (5, 6), "GRU": (5,)}
"""Initial states [D, N, H] of the recurrent ops (by input index): created for the batch
(`ConstantOfShape`, `Expand` of a learned state), the same for every sample, so their
value folded at batch 1 is each sample's."""

SHAPE_INPUT = {"Reshape": 1, "Expand": 1, "Tile": 1}
"""Run-time ops whose input (by index) is a shape, whose first size may be a multiple of
the batch."""


def _saturated(degrees: np.ndarray) -> np.ndarray:
    return np.where(np.abs(degrees) >= UNKNOWN_DEGREE // 2, UNKNOWN_DEGREE, degrees)


def _first_size_only(degrees: np.ndarray) -> bool:
    """A shape whose first size is a multiple of the batch, and no other size depends on it."""
    return degrees.ndim == 1 and degrees.size > 0 and degrees[0] == 1 and not degrees[1:].any()


def one_size_only(degrees: np.ndarray) -> bool:
    """A shape one of whose sizes is a multiple of the batch, and no other size depends
    on it (multi-head attention's [L, N*H, D])."""
    return degrees.ndim == 1 and int(np.count_nonzero(degrees)) == 1 and int(degrees.max()) == 1


@dataclass
class BatchDegrees:
    """The degrees of the constants that depend on the batch, by value name."""

    degrees: dict[str, np.ndarray] = field(default_factory=dict)

    def record_shape(self, node, attrs: dict, rank: int, batch_dim: int = 0) -> None:
        """`Shape` (from `start` to `end`) or `Size` of a run-time tensor of `rank` dims
        whose batch is dimension `batch_dim` (`NO_BATCH` in a model imported whole, whose
        shapes are all constants)."""
        if batch_dim == NO_BATCH:
            return
        if node.op_type == "Size":
            self.degrees[node.output[0]] = np.array(1, dtype=np.int64)
            return
        first = np.zeros(rank, dtype=np.int64)
        first[batch_dim] = 1
        self.degrees[node.output[0]] = first[attrs.get("start", 0) : attrs.get("end", rank)]

    def record_constant_of_shape(self, node, value: np.ndarray) -> None:
        """`ConstantOfShape` of a shape computed from the batch: the sample's share when
        only its first size is a multiple of the batch, else unknown, so that no
        run-time op takes it."""
        shape = self.degrees.get(node.input[0])
        if shape is not None and shape.any() and not _first_size_only(shape):
            self.degrees[node.output[0]] = np.broadcast_to(np.int64(UNKNOWN_DEGREE), np.shape(value))

    def depends(self, node) -> bool:
        return any(self._tainted(name) for name in node.input)

    def _tainted(self, name: str) -> bool:
        degrees = self.degrees.get(name)
        return degrees is not None and bool(np.any(degrees))

    def propagate(self, node, inputs: list, results: list, fold: Callable[[list], list]) -> None:
        """The degrees of a folded node's outputs: moved like the values (`fold` on the
        degrees), added by `Mul`, subtracted by `Div`, unknown through anything else."""
        if not self.depends(node):
            return
        names = [n for n in node.input if n]
        present = [v for v in inputs if v is not None]
        data = DATA_MOVES.get(node.op_type, ())
        if node.op_type in DATA_MOVES:
            moved = [
                self._of(name, value) if data is None or i in data else value
                for i, (name, value) in enumerate(zip(names, present))
            ]
            outputs = [np.asarray(o).astype(np.int64) for o in fold(moved)]
        elif node.op_type in ("Mul", "Div") and len(names) == 2:
            a, b = (self._of(n, v) for n, v in zip(names, present))
            combined = a + b if node.op_type == "Mul" else a - b
            outputs = [_saturated(np.broadcast_to(combined, np.shape(results[0])).copy())]
        elif node.op_type == "Neg":
            outputs = [self._of(names[0], present[0])]
        else:
            outputs = [np.full(np.shape(r), UNKNOWN_DEGREE, dtype=np.int64) for r in results]
        for name, degrees in zip(node.output, outputs):
            self.degrees[name] = _saturated(degrees)

    def _of(self, name: str, value) -> np.ndarray:
        degrees = self.degrees.get(name)
        return degrees if degrees is not None else np.zeros(np.shape(value), dtype=np.int64)

    def check_run_time_use(self, node) -> None:
        """Refuse a run-time op that takes a value computed from the batch other than as
        the first size of its shape input."""
        for index, name in enumerate(node.input):
            if not self._tainted(name):
                continue
            if SHAPE_INPUT.get(node.op_type) == index and _first_size_only(self.degrees[name]):
                continue
            if node.op_type == "Reshape" and index == 1 and one_size_only(self.degrees[name]):
                continue  # the converter places the batch there (Graph.batch_dim_of_shape)
            if index in BATCH_SECOND_STATES.get(node.op_type, ()):
                continue
            raise Unsupported(BATCH_SIZE_REFUSAL)
