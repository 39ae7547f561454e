"""mnistc: a PyTorch model compiler on xDSL.

Model file → importer → `nn` IR → passes → `cpu` loop/call IR → memory plan → C++ →
g++ → executable. `mnistc.driver` runs it end to end; each stage lives in the
sub-package named after it.
"""

__version__ = "0.1.0"


def compile(module, example_input, **options):
    """Export an in-memory `torch.nn.Module` with torch.export and compile it.

    Returns a `mnistc.runtime.CompiledModel`: call it on NumPy arrays of samples shaped
    like `example_input[0]`. A module of several inputs takes a tuple of example batches,
    one per input (each of any batch size: the compiled model runs any). Keyword options
    are those of `mnistc.driver.CompileOptions`.
    """
    import tempfile
    from pathlib import Path

    import torch

    from mnistc.driver import Compilation, CompileOptions, compile_model
    from mnistc.importers.torch_export import import_exported
    from mnistc.runtime import CompiledModel

    examples = example_input if isinstance(example_input, tuple | list) else (example_input,)
    program = torch.export.export(module.eval(), tuple(x[:1] for x in examples))
    compilation = Compilation.from_imported(import_exported(program))
    directory = Path(tempfile.mkdtemp(prefix="mnistc-"))
    library = directory / "libmodel.so"
    compile_model(compilation, library, CompileOptions(shared=True, **options))
    return CompiledModel(library)
