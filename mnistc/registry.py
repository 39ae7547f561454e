"""Lazy registries of the dialects, passes and targets, shared by `mnistc-opt` and `mnistc`.

One small factory per entry, alphabetical, so importing the registry imports nothing
heavy and adding an entry is one function and one line.
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.ir import Dialect
from xdsl.passes import ModulePass
from xdsl.utils.target import Target


def get_all_dialects() -> dict[str, Callable[[], Dialect]]:
    def get_cpu():
        from mnistc.dialects.cpu import CPU

        return CPU

    def get_nn():
        from mnistc.dialects.nn import NN

        return NN

    return {"cpu": get_cpu, "nn": get_nn}


def get_all_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    def get_convert_nn_to_cpu():
        from mnistc.lowering.convert_nn_to_cpu import ConvertNnToCpuPass

        return ConvertNnToCpuPass

    def get_fold_batch_norm():
        from mnistc.transforms.fold_batch_norm import FoldBatchNormPass

        return FoldBatchNormPass

    def get_fold_constants():
        from mnistc.transforms.fold_constants import FoldConstantsPass

        return FoldConstantsPass

    def get_fold_layer_norm():
        from mnistc.transforms.fold_layer_norm import FoldLayerNormPass

        return FoldLayerNormPass

    def get_fold_qdq():
        from mnistc.transforms.fold_qdq import FoldQdqPass

        return FoldQdqPass

    def get_fuse_activation():
        from mnistc.transforms.fuse_activation import FuseActivationPass

        return FuseActivationPass

    def get_fuse_attention():
        from mnistc.transforms.fuse_attention import FuseAttentionPass

        return FuseAttentionPass

    def get_fuse_conv_max_pool():
        from mnistc.transforms.fuse_conv_max_pool import FuseConvMaxPoolPass

        return FuseConvMaxPoolPass

    def get_fuse_residual_add():
        from mnistc.transforms.fuse_residual_add import FuseResidualAddPass

        return FuseResidualAddPass

    def get_pack_weights():
        from mnistc.transforms.pack_weights import PackWeightsPass

        return PackWeightsPass

    def get_plan_memory():
        from mnistc.memory.plan_memory import PlanMemoryPass

        return PlanMemoryPass

    def get_quantize():
        from mnistc.transforms.quantize import QuantizePass

        return QuantizePass

    def get_remove_dropout():
        from mnistc.transforms.remove_dropout import RemoveDropoutPass

        return RemoveDropoutPass

    def get_transposed_linear_to_conv():
        from mnistc.transforms.transposed_linear_to_conv import TransposedLinearToConvPass

        return TransposedLinearToConvPass

    return {
        "convert-nn-to-cpu": get_convert_nn_to_cpu,
        "fold-batch-norm": get_fold_batch_norm,
        "fold-constants": get_fold_constants,
        "fold-layer-norm": get_fold_layer_norm,
        "fold-qdq": get_fold_qdq,
        "fuse-activation": get_fuse_activation,
        "fuse-attention": get_fuse_attention,
        "fuse-conv-max-pool": get_fuse_conv_max_pool,
        "fuse-residual-add": get_fuse_residual_add,
        "pack-weights": get_pack_weights,
        "plan-memory": get_plan_memory,
        "quantize": get_quantize,
        "remove-dropout": get_remove_dropout,
        "transposed-linear-to-conv": get_transposed_linear_to_conv,
    }


def get_all_targets() -> dict[str, Callable[[], type[Target]]]:
    def get_cpp():
        from mnistc.targets.cpp import CppTarget

        return CppTarget

    def get_mlir():
        from mnistc.ir import LocatedMLIRTarget

        return LocatedMLIRTarget

    return {"cpp": get_cpp, "mlir": get_mlir}


def all_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    """xDSL's passes (dce, cse, canonicalize, ...) and mnistc's, as pipelines see them."""
    from xdsl.transforms import get_all_passes as get_upstream_passes

    return {**get_upstream_passes(), **get_all_passes()}
