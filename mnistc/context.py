"""The context that mnistc's pipelines run in: xDSL's, plus the weights they work on."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from xdsl.context import Context

from mnistc.weights import WeightStore


@dataclass
class MnistcContext(Context):
    """An xDSL `Context` that owns the pipeline's weight files.

    Passes that read or add weights take them from here (`mnistc.weights.of(ctx, module)`)
    rather than from a global, so two pipelines never share a buffer by accident and only
    the pipeline's owner (the driver, `mnistc-opt`) decides what reaches the disk.
    """

    weights: WeightStore = field(default_factory=WeightStore)

    @classmethod
    def extending(cls, ctx: Context, weights: WeightStore | None = None) -> MnistcContext:
        """`ctx`'s dialects and settings, with a weight store (a fresh one by default)."""
        base = {f.name: getattr(ctx, f.name) for f in fields(Context)}
        return cls(**base, weights=weights if weights is not None else WeightStore())

    def clone(self) -> MnistcContext:
        return MnistcContext.extending(super().clone(), self.weights.clone())
