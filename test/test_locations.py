"""Model locations in the IR (mnistc/locations.py): every imported op carries one, and it
survives printing, parsing, the import cache, the passes and the lowering."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import save_scripted
from xdsl.dialects.builtin import FusedLoc

import mnistc
from mnistc import dialects
from mnistc.dialects import nn
from mnistc.driver import OPTIMISATION_PIPELINE, Compilation
from mnistc.importers import import_model
from mnistc.importers.cache import import_model_cached
from mnistc.importers.torch_export import import_exported
from mnistc.ir import parse_ir, print_ir
from mnistc.locations import ModelLocation, from_attr
from mnistc.tools import mnistc_opt
from mnistc.verify import first_diverging_layer

SHAPE = (2, 8, 8)


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 4, 3)

    def forward(self, x):
        return torch.relu(self.conv(x))  # CONV LINE


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.block, self.fc = Block(), torch.nn.Linear(4 * 6 * 6, 5)

    def forward(self, x):
        return self.fc(torch.flatten(self.block(x), 1))


CONV_LINE = next(
    i for i, line in enumerate(inspect.getsource(inspect.getmodule(Block)).splitlines(), 1)
    if line.endswith("# CONV LINE")
)  # fmt: skip


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return save_scripted(Net(), tmp_path_factory.mktemp("loc") / "net.pt")


def _conv(module) -> nn.Conv2DOp:
    return next(op for op in module.walk() if isinstance(op, nn.Conv2DOp))


def _assert_at_the_conv(location: ModelLocation | None) -> None:
    assert location is not None and location.module == "block.conv (Conv2d)"
    assert location.describe().startswith("module block.conv (Conv2d), ")


def _assert_at_the_relu(location: ModelLocation | None) -> None:
    """torch.relu in Block.forward: the module and the line in this file."""
    assert location is not None and location.module == "block (Block)"
    assert Path(location.file).name == "test_locations.py" and location.line == CONV_LINE
    assert location.describe() == f"module block (Block), {location.file}:{CONV_LINE}"


def test_every_imported_op_has_a_location(model_file):
    module = import_model(model_file, SHAPE).module
    ops = [op for op in module.walk() if op.name.startswith("nn.")]
    assert ops and all(ModelLocation.of(op) is not None for op in ops)
    conv = _conv(module)
    _assert_at_the_conv(ModelLocation.of(conv))
    assert ModelLocation.of(conv).value  # the TorchScript value it computes
    _assert_at_the_relu(ModelLocation.of(next(op for op in module.walk() if isinstance(op, nn.ReluOp))))


def test_locations_survive_printing_and_parsing(model_file):
    module = import_model(model_file, SHAPE).module
    text = print_ir(module)
    assert 'loc("%' in text and '"block.conv (Conv2d)"(' in text
    parsed = parse_ir(text)
    ours = [ModelLocation.of(op) for op in module.walk()]
    assert [ModelLocation.of(op) for op in parsed.walk()] == ours
    assert print_ir(parsed) == text


def test_locations_survive_the_import_cache(model_file, tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTC_CACHE_DIR", str(tmp_path / "cache"))
    first = print_ir(import_model_cached(model_file, SHAPE).module)
    monkeypatch.setattr("mnistc.importers.cache.import_model", lambda *a: pytest.fail("not a hit"))
    hit = import_model_cached(model_file, SHAPE).module
    assert print_ir(hit) == first
    _assert_at_the_conv(ModelLocation.of(_conv(hit)))


def test_passes_and_lowering_keep_the_location(model_file):
    compilation = Compilation.from_imported(import_model(model_file, SHAPE))
    compilation.run("nn-optimised", OPTIMISATION_PIPELINE)
    conv = _conv(compilation.module)
    assert conv.fused_activation() is not None  # the relu was fused into a new conv op
    _assert_at_the_conv(ModelLocation.of(conv))
    assert isinstance(conv.location, FusedLoc)  # the conv's location, then the relu's
    _assert_at_the_relu(from_attr(conv.location.locations.data[1]))
    compilation.run("loops", "convert-nn-to-cpu,pack-weights,fuse-conv-max-pool")
    calls = [op for op in compilation.module.walk() if op.name == "cpu.call"]
    assert calls and all(ModelLocation.of(op) is not None for op in calls)
    _assert_at_the_conv(ModelLocation.of(calls[0]))


def test_torch_export_locations():
    torch.manual_seed(0)
    program = torch.export.export(Net().eval(), (torch.rand(1, *SHAPE),))
    module = import_exported(program).module
    _assert_at_the_conv(ModelLocation.of(_conv(module)))
    _assert_at_the_relu(ModelLocation.of(next(op for op in module.walk() if isinstance(op, nn.ReluOp))))


def test_per_pass_names_the_layer_from_a_cached_import(model_file, tmp_path, monkeypatch):
    """The divergence is found from the locations in the IR of a cache hit."""
    from mnistc.importers.torchscript import freeze, load_torchscript

    monkeypatch.setenv("MNISTC_CACHE_DIR", str(tmp_path / "cache"))
    import_model_cached(model_file, SHAPE)
    imported = import_model_cached(model_file, SHAPE)
    weight = _conv(imported.module).weight.owner
    corrupted = imported.weights.read(weight.offset.value.data, nn.shape_of(weight.result)) * 1.5
    weight.offset = type(weight.offset)(imported.weights.append(corrupted), weight.offset.type)
    frozen = freeze(load_torchscript(model_file)[0])
    sample = np.random.default_rng(0).random((1, *SHAPE), dtype=np.float32)
    divergence = first_diverging_layer(frozen, imported, sample, 1e-4, 1e-4)
    assert divergence is not None and divergence.startswith("nn.conv2d")
    assert "module block.conv (Conv2d)" in divergence


def test_mnistc_opt_names_the_model_location_of_a_wrong_op(tmp_path, capsys):
    source = tmp_path / "bad.mlir"
    source.write_text(
        "func.func @forward(%input: tensor<1x3x8x8xf32>) -> tensor<1x4x6x6xf32> {\n"
        '  %w = nn.weight "w" offset 0 : tensor<4x1x3x3xf32>\n'
        "  %0 = nn.conv2d %input, %w stride [1, 1] padding [0, 0] dilation [1, 1] groups 1"
        " : tensor<1x3x8x8xf32>, tensor<4x1x3x3xf32> -> tensor<1x4x6x6xf32>"
        ' loc("%x.3"("conv1 (Conv2d)"("model.py":12:0)))\n'
        "  func.return %0 : tensor<1x4x6x6xf32>\n}\n"
    )
    with pytest.raises(SystemExit) as exit_:
        mnistc_opt.main([str(source)])
    assert exit_.value.code == 1
    error = capsys.readouterr().err
    assert f"{source}:3: weight expects 1 input channels" in error
    assert "from the model at: module conv1 (Conv2d), model.py:12" in error


def _imports(path: Path, package: dict[str, Path]) -> set[str]:
    """The mnistc modules a source file imports, at any level of the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = {f"{node.module}.{a.name}" for a in node.names} & set(package)
            found |= names or {node.module}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found & set(package)


def test_no_import_cycle():
    """No cycle among mnistc's modules, counting imports inside functions, except the
    dialect loading its canonicalization patterns when asked for them (xDSL's idiom)."""
    root = Path(mnistc.__file__).parent
    package = {}
    for base, prefix in ((root, "mnistc"), (Path(dialects.__file__).parent, "mnistc.dialects")):
        for path in base.rglob("*.py"):
            parts = path.relative_to(base).with_suffix("").parts
            package[".".join((prefix, *parts)).removesuffix(".__init__")] = path
    edges = {name: _imports(path, package) for name, path in package.items()}
    for name in edges:
        if name.startswith("mnistc.dialects."):
            edges[name] = {e for e in edges[name] if not e.startswith("mnistc.transforms.canonicalization")}
    state: dict[str, int] = {}

    def visit(name: str, stack: list[str]) -> None:
        state[name] = 1
        for other in sorted(edges[name]):
            assert state.get(other) != 1, "import cycle: " + " -> ".join([*stack, other])
            if other not in state:
                visit(other, [*stack, other])
        state[name] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
