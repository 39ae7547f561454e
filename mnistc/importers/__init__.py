"""Front ends: model files → `nn` dialect, chosen by the file's suffix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mnistc.importers.common import ImportedModel


def import_model(path: str | Path, sample_shape: Sequence[int] | None = None) -> ImportedModel:
    """`.onnx` through the ONNX importer, `.pt2` (torch.export.save) through torch.export,
    anything else as TorchScript."""
    suffix = Path(path).suffix.lower()
    if suffix == ".onnx":
        from mnistc.importers.onnx import import_onnx

        return import_onnx(path, sample_shape)
    if suffix == ".pt2":
        from mnistc.importers.torch_export import import_exported, load_exported

        return import_exported(load_exported(path), sample_shape)
    from mnistc.importers.torchscript import import_torchscript

    return import_torchscript(path, sample_shape)
