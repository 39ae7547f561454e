"""`mnistc report`: one self-contained HTML picture of a compiled model.

It holds what no single other tool shows together: the `nn` graph after optimisation
(fused ops marked, each node naming the source layers it came from), the memory plan as a
timeline of arena slots with the peak memory (weights, arena and kernel scratch), the
per-kernel profile (time, share, GFLOP/s by kernels/abi.py's FLOP formulas) as bars, and
the compile stages with their times. Everything is inline (SVG, CSS, a few lines of script):
no external file, script or style.
"""

from __future__ import annotations

import html
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from xdsl.dialects import func, memref, scf
from xdsl.dialects.builtin import FusedLoc
from xdsl.ir import Block, Operation

from mnistc import progress
from mnistc.dialects import cpu, nn
from mnistc.dialects.shapes import element_count, shape_of
from mnistc.ir import parse_ir
from mnistc.locations import from_attr
from mnistc.bench import FMA_PEAK_GFLOPS_PER_CORE
from mnistc.memory.plan_memory import last_use
from mnistc.memory import PlannedMemory
from mnistc.runtime import CompiledModel


@dataclass
class GraphNode:
    """One `nn` op as the report draws it."""

    index: int
    title: str
    detail: str
    sources: list[str]
    fused: bool
    inputs: list[int]


@dataclass
class Slot:
    """One arena slot: bytes [offset, offset + size) live from op `first` to op `last`."""

    name: str
    offset: int
    size: int
    first: int
    last: int


@dataclass
class ProfileRow:
    name: str
    seconds: float
    gflop: float


def _locations(loc) -> list:
    """The plain locations inside a (nested) fused location, in order."""
    if isinstance(loc, FusedLoc):
        return [plain for part in loc.locations.data for plain in _locations(part)]
    return [loc]


def source_layers(op: Operation) -> list[str]:
    """Every model location an op carries: several for ops fused into one."""
    names = []
    for part in _locations(op.location):
        location = from_attr(part)
        if location is not None:
            names.append(location.module or location.value or f"{location.file}:{location.line}")
    return list(dict.fromkeys(names))


def graph_nodes(module) -> list[GraphNode]:
    """The ops of the forward function but weights and constants, in program order."""
    function = next(op for op in module.ops if isinstance(op, func.FuncOp))
    arguments = function.body.block.args
    index: dict[object, int] = {argument: i for i, argument in enumerate(arguments)}
    nodes = [
        GraphNode(i, "input" if len(arguments) == 1 else f"input {i}", _shape_text(a.type), [], False, [])
        for i, a in enumerate(arguments)
    ]
    for op in function.body.block.ops:
        if isinstance(op, (nn.WeightOp, nn.SplatOp, func.ReturnOp)):
            continue
        sources = source_layers(op)
        activation = getattr(op, "activation", None)
        fused = len(sources) > 1 or activation is not None or getattr(op, "residual", None) is not None
        title = op.name.removeprefix("nn.")
        if getattr(op, "residual", None) is not None:
            title += " + add"
        if activation is not None:
            title += f" + {activation.data if hasattr(activation, 'data') else activation}"
        inputs = [index[v] for v in op.operands if v in index]
        node = GraphNode(len(nodes), title, _shape_text(op.results[0].type) if op.results else "", sources, fused, inputs)
        nodes.append(node)
        for result in op.results:
            index[result] = node.index
    return nodes


def _shape_text(type_) -> str:
    try:
        return "x".join(map(str, shape_of(type_)))
    except Exception:  # noqa: BLE001 - a type without a shape draws as nothing
        return ""


def _sample_loop_block(module) -> Block:
    function = next(op for op in module.ops if isinstance(op, func.FuncOp))
    loop = next(op for op in function.body.block.ops if isinstance(op, scf.ForOp))
    return loop.body.block


def memory_slots(module) -> list[Slot]:
    """The arena slots of the planned `cpu` IR with their live ranges (op indices)."""
    block = _sample_loop_block(module)
    index = {op: i for i, op in enumerate(block.ops)}
    slots = []
    for op in block.ops:
        if isinstance(op, cpu.ArenaSlotOp):
            size = 4 * element_count(shape_of(op.result.type))
            slots.append(Slot(op.result.name_hint or "buffer", op.offset.value.data, size, index[op], last_use(block, op.result, index)))
        elif isinstance(op, memref.AllocOp):
            raise ValueError("the module has no memory plan (compiled with -O0?)")
    return slots


# ---- drawing


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def graph_svg(nodes: list[GraphNode]) -> str:
    """Nodes in a column, in program order; edges between neighbours straight, longer
    ones (residuals, concatenations) as arcs on the right, wider the longer they are."""
    height, width, gap = 46, 420, 14
    rows = [(n, 10 + i * (height + gap)) for i, n in enumerate(nodes)]
    y_of = {n.index: y for n, y in rows}
    parts = []
    for node, y in rows:
        for source in node.inputs:
            y0 = y_of[source] + height
            if source == node.index - 1:
                parts.append(f'<line class="edge" x1="{width / 2 + 10}" y1="{y0}" x2="{width / 2 + 10}" y2="{y}"/>')
            else:
                bulge = width + 20 + 12 * min(node.index - source, 20)
                parts.append(f'<path class="edge skip" d="M {width + 10} {y0 - height / 2} C {bulge} {y0 - height / 2}, '
                             f'{bulge} {y + height / 2}, {width + 10} {y + height / 2}"/>')  # fmt: skip
    for node, y in rows:
        css = "node fused" if node.fused else "node"
        sources = ", ".join(node.sources) or "(no source location)"
        parts.append(
            f'<g class="{css}" data-node="{node.index}"><title>{_esc(sources)}</title>'
            f'<rect x="10" y="{y}" width="{width}" height="{height}" rx="6"/>'
            f'<text x="20" y="{y + 18}" class="op">{_esc(node.title)}</text>'
            f'<text x="{width}" y="{y + 18}" class="shape" text-anchor="end">{_esc(node.detail)}</text>'
            f'<text x="20" y="{y + 36}" class="src">{_esc(sources[:70])}</text></g>'
        )
    total = 20 + len(nodes) * (height + gap)
    return f'<svg class="graph" width="{width + 300}" height="{total}" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'


def memory_svg(slots: list[Slot], ops: int) -> str:
    """Arena bytes (down) against op index (across): one box per slot while it lives."""
    width, height = 900, 320
    arena = max((s.offset + s.size for s in slots), default=1)
    x = lambda i: 60 + (width - 80) * i / max(ops, 1)  # noqa: E731
    y = lambda b: 20 + (height - 40) * b / arena  # noqa: E731
    parts = [f'<text x="5" y="15" class="axis">arena: {arena / 1024:.0f} KiB, {len(slots)} buffers</text>']
    for i, slot in enumerate(slots):
        hue = (i * 47) % 360
        parts.append(
            f'<rect class="slot" x="{x(slot.first):.1f}" y="{y(slot.offset):.1f}" '
            f'width="{max(x(slot.last + 1) - x(slot.first), 2):.1f}" height="{max(y(slot.offset + slot.size) - y(slot.offset), 1.5):.1f}" '
            f'fill="hsl({hue},60%,65%)"><title>{_esc(slot.name)}: {slot.size} bytes at {slot.offset}, '
            f"ops {slot.first}-{slot.last}</title></rect>"
        )  # fmt: skip
    return f'<svg class="memory" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'


def bars_table(rows: list[tuple[str, float, str]], unit: str) -> str:
    """A table of labelled bars, each as wide as its share of the largest value."""
    largest = max((v for _, v, _ in rows), default=0) or 1
    lines = [
        f'<tr><td class="label">{_esc(label)}</td><td class="bar"><div style="width:{100 * value / largest:.1f}%"></div></td>'
        f'<td class="num">{value:.{3 if unit == "s" else 1}f} {unit}</td><td class="num">{_esc(extra)}</td></tr>'
        for label, value, extra in rows
    ]  # fmt: skip
    return f'<table class="bars">{"".join(lines)}</table>'


_STYLE = """
body { font: 14px system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
.node rect { fill: #eef3fb; stroke: #6b8cc7; } .node.fused rect { fill: #fdf0dc; stroke: #d08b24; }
.op { font-weight: 600; } .shape, .src { fill: #555; font-size: 12px; }
.edge { stroke: #888; fill: none; } .edge.skip { stroke: #b55; }
.slot { stroke: #333; stroke-width: 0.3; } .axis { font-size: 12px; fill: #555; }
table.bars { border-collapse: collapse; } .bars td { padding: 2px 8px; }
.bars .bar { width: 360px; } .bars .bar div { background: #6b8cc7; height: 12px; }
.bars .label { font-family: monospace; font-size: 12px; } .num { text-align: right; font-variant-numeric: tabular-nums; }
"""

_SCRIPT = """
// Marks the page as drawn, with what it drew: the headless-browser test reads these.
document.body.dataset.nodes = document.querySelectorAll('g.node').length;
document.body.dataset.slots = document.querySelectorAll('rect.slot').length;
document.body.dataset.rendered = 'yes';
"""


def memory_summary(memory: PlannedMemory) -> str:
    """The plan's peak: weights plus one arena and one kernel scratch per thread."""
    mb = lambda b: f"{b / 1e6:.2f} MB"  # noqa: E731
    return (
        f'<p class="peak">peak memory on one thread: weights {mb(memory.weights)} + arena '
        f"{mb(memory.arena)} + kernel scratch {mb(memory.scratch)} = {mb(memory.peak(1))}; "
        f"each further thread adds its own arena and scratch, {mb(memory.arena + memory.scratch)}</p>"
    )


def render(model_name: str, nodes, slots, ops: int, profile: list[ProfileRow], stages, memory: PlannedMemory) -> str:
    total = sum(r.seconds for r in profile) or 1.0
    profile_rows = [
        (r.name, r.seconds * 1e6, f"{100 * r.seconds / total:.1f}%" + (f", {r.gflop / r.seconds:.1f} GFLOP/s" if r.gflop and r.seconds else ""))
        for r in profile
    ]  # fmt: skip
    stage_rows = [(name, seconds, "") for name, seconds in stages]
    fused = sum(n.fused for n in nodes)
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>mnistc report: {_esc(model_name)}</title>
<style>{_STYLE}</style></head>
<body>
<h1>mnistc report: {_esc(model_name)}</h1>
<h2>Graph after optimisation ({len(nodes)} nodes, {fused} fused; hover a node for its source layers)</h2>
{graph_svg(nodes)}
<h2>Memory plan: arena slots over the ops of one sample</h2>
{memory_summary(memory)}
{memory_svg(slots, ops)}
<h2>Profile: batch 1, one thread, per kernel call (total {total * 1e3:.3f} ms; GFLOP/s against a peak of about {FMA_PEAK_GFLOPS_PER_CORE:.0f} per core)</h2>
{bars_table(profile_rows, "us")}
<h2>Compile stages</h2>
{bars_table(stage_rows, "s")}
<script>{_SCRIPT}</script>
</body></html>
"""


def build_report(model: str | Path, sample_shape=None, runs: int = 20) -> str:
    """Compile `model` (timing each stage), profile it, and draw the report."""
    from mnistc.driver import Compilation, CompileOptions, compile_model

    with progress.reporting("quiet") as reporter, tempfile.TemporaryDirectory(prefix="mnistc-report-") as scratch:
        compilation = Compilation.import_file(model, sample_shape)
        compilation.run_to("cpp")
        library = Path(scratch) / "libmodel.so"
        compile_model(compilation, library, CompileOptions(shared=True))
        compiled = CompiledModel(library)
        compiled.set_num_threads(1)
        rng = np.random.default_rng(0)
        inputs = tuple(rng.random((1, *shape), dtype=np.float32) for shape in compiled.input_shapes)
        measured = compiled.profile(inputs, runs)
        flops = compiled.call_flops()
        memory = compiled.planned_memory()
    nodes = graph_nodes(parse_ir(compilation.stages["nn-optimised"]))
    slots = memory_slots(compilation.module)
    profile = [ProfileRow(name, seconds, f / 1e9) for (name, seconds), f in zip(measured, flops)]
    ops = len(list(_sample_loop_block(compilation.module).ops))
    return render(Path(model).name, nodes, slots, ops, profile, reporter.timings, memory)
