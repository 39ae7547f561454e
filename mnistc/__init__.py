"""mnistc: a PyTorch model compiler on xDSL.

Model file → importer → `nn` IR → passes → `cpu` loop/call IR → memory plan → C++ →
g++ → executable. `mnistc.driver` runs it end to end; each stage lives in the
sub-package named after it.
"""

__version__ = "0.1.0"


def compile(module, example_input, **options):
    """Export an in-memory `torch.nn.Module` with torch.export and compile it.

    Returns a `mnistc.runtime.CompiledModel`: call it on NumPy arrays of samples shaped
    like `example_input[0]`. Keyword options are those of `mnistc.driver.CompileOptions`.
    """
    import tempfile
    from pathlib import Path

    import torch

    from mnistc.driver import Compilation, CompileOptions, compile_model
    from mnistc.importers.torch_export import import_exported
    from mnistc.runtime import CompiledModel

    program = torch.export.export(module.eval(), (example_input[:1],))
    compilation = Compilation.from_imported(import_exported(program))
    directory = Path(tempfile.mkdtemp(prefix="mnistc-"))
    library = directory / "libmodel.so"
    compile_model(compilation, library, CompileOptions(shared=True, **options))
    return CompiledModel(library)
