"""What every front end returns, and the error it raises."""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue

from mnistc.errors import MnistcError
from mnistc.weights import WeightFile

ENTRY = "forward"
"""The imported function's name (`main` would clash with C++)."""


class ImportError_(MnistcError):
    """The model cannot be imported; the message says why and where."""


@dataclass
class ImportedModel:
    """An `nn` module, the weight file it references, and where its values came from."""

    module: ModuleOp
    weights: WeightFile
    origins: dict[SSAValue, tuple[str, str]] = field(default_factory=dict)
    """Result of an `nn` op → (source value name, source location)."""
