"""Front ends: model files → `nn` dialect, chosen by the file's suffix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mnistc.importers.common import ImportedModel


def import_model(path: str | Path, sample_shape: Sequence[int] | None = None) -> ImportedModel:
    """`.onnx` files through the ONNX importer, anything else as TorchScript."""
    if Path(path).suffix.lower() == ".onnx":
        from mnistc.importers.onnx import import_onnx

        return import_onnx(path, sample_shape)
    from mnistc.importers.torchscript import import_torchscript

    return import_torchscript(path, sample_shape)
