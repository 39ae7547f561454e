"""A fixed-seed fuzz of each front end: damaged copies of a tiny TorchScript, .pt2 and ONNX
model go through `mnistc compile --emit nn`. Each must compile (exit 0) or be refused
with one `mnistc: error:` message (exit 1): never an internal error (exit 3), a traceback,
a signal or a hang.

The mutants run in a worker process, in-process one after the other (torch is imported
once), each under an alarm and with file descriptor 2 captured, so that torch's C++ and
logging output is seen too. A worker that dies names the mutant it was running; the
mutants after it go to a fresh worker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from faulty_models import (
    SAMPLE_SHAPE,
    entry_names,
    flip_bytes,
    rewrite_zip,
    save_exported,
    save_onnx,
    save_torchscript,
    tiny_onnx,
)

SEED = 9
MUTANTS_PER_FRONT_END = 30
SECONDS_PER_MUTANT = 20
SHAPE_FLAG = ",".join(map(str, SAMPLE_SHAPE))

ZIP_DAMAGES = ("empty", "truncate", "flip", "drop", "flip file", "truncate file")


def zip_mutants(original: Path, folder: Path, rng: np.random.Generator) -> list[tuple[str, Path]]:
    """Emptied, truncated, byte-flipped and dropped entries; flipped and cut archives."""
    names = entry_names(original)
    data = original.read_bytes()
    mutants = []
    for i in range(MUTANTS_PER_FRONT_END):
        damage = ZIP_DAMAGES[i % len(ZIP_DAMAGES)]
        target = folder / f"{i:02d}{original.suffix}"
        if damage == "flip file":
            target.write_bytes(flip_bytes(data, rng, int(rng.integers(1, 8))))
            mutants.append((f"{damage}", target))
            continue
        if damage == "truncate file":
            target.write_bytes(data[: int(rng.integers(len(data)))])
            mutants.append((f"{damage}", target))
            continue
        entry = names[int(rng.integers(len(names)))]
        cut = rng.uniform()
        change = {
            "empty": lambda content: b"",
            "truncate": lambda content: content[: int(len(content) * cut)],
            "flip": lambda content: flip_bytes(content, rng, int(rng.integers(1, 4))),
            "drop": lambda content: None,
        }[damage]
        rewrite_zip(original, target, lambda name, content: change(content) if name == entry else content)
        mutants.append((f"{damage} {entry}", target))
    return mutants


ONNX_DAMAGES = (
    "retype", "attribute", "dims", "raw_data", "attribute", "input", "flip file", "attribute",
    "truncate file", "attribute",
)  # fmt: skip
CONV_ATTRIBUTES = (
    ("strides", [1, 0]), ("dilations", [0, 1]), ("group", 0), ("pads", [0, 0, 0, -1]),
    ("kernel_shape", [0, 0]), ("strides", [-1, 1]), ("group", -1), ("pads", [-1, -1, -1, -1]),
    ("strides", [1]), ("dilations", [-2, 1]), ("group", 3), ("kernel_shape", [3]),
    ("strides", [1, 1, 1]), ("pads", [9, 9, 9, 9]), ("group", 2**40), ("strides", [2**40, 1]),
)  # fmt: skip
"""Taken in turn: every attribute mutant is a different out-of-range value."""


def onnx_mutants(folder: Path, rng: np.random.Generator) -> list[tuple[str, Path]]:
    """Retyped initializers, changed dims, cut raw_data, out-of-range Conv attributes,
    missing inputs, and flipped or cut files."""
    from onnx import TensorProto, helper

    intact = save_onnx(folder / "intact.onnx").read_bytes()
    mutants = []
    attributes = iter(CONV_ATTRIBUTES)
    for i in range(MUTANTS_PER_FRONT_END):
        damage = ONNX_DAMAGES[i % len(ONNX_DAMAGES)]
        target = folder / f"{i:02d}.onnx"
        model = tiny_onnx()
        initializer = model.graph.initializer[int(rng.integers(len(model.graph.initializer)))]
        if damage == "retype":
            initializer.data_type = int(rng.choice(list(TensorProto.DataType.values())))
            description = f"{initializer.name} as type {initializer.data_type}"
        elif damage == "dims":
            dims = list(initializer.dims)
            dims[int(rng.integers(len(dims)))] = int(rng.choice([-1, 0, 1, 2, 7, 1000]))
            initializer.dims[:] = dims
            description = f"{initializer.name} dims {dims}"
        elif damage == "raw_data":
            initializer.raw_data = initializer.raw_data[: int(rng.integers(len(initializer.raw_data)))]
            description = f"{initializer.name} raw_data cut"
        elif damage == "attribute":
            name, value = next(attributes)
            conv = model.graph.node[0]
            kept = [a for a in conv.attribute if a.name != name]
            del conv.attribute[:]
            conv.attribute.extend([*kept, helper.make_attribute(name, value)])
            description = f"Conv {name}={value}"
        elif damage == "input":
            node = model.graph.node[int(rng.integers(len(model.graph.node)))]
            node.input[int(rng.integers(len(node.input)))] = "missing"
            description = f"{node.name} input missing"
        if damage == "flip file":
            target.write_bytes(flip_bytes(intact, rng, int(rng.integers(1, 8))))
            description = damage
        elif damage == "truncate file":
            target.write_bytes(intact[: int(rng.integers(len(intact)))])
            description = damage
        else:
            save_onnx(target, model)
        mutants.append((description, target))
    return mutants


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, list[dict]]:
    """Every mutant's outcome, by front end (built and run once for the three tests)."""
    folder = tmp_path_factory.mktemp("fuzz")
    rng = np.random.default_rng(SEED)
    mutants: dict[str, list[tuple[str, Path]]] = {}
    for suffix, save in (("pt", save_torchscript), ("pt2", save_exported)):
        (folder / suffix).mkdir()
        mutants[suffix] = zip_mutants(save(folder / f"intact.{suffix}"), folder / suffix, rng)
    (folder / "onnx").mkdir()
    mutants["onnx"] = onnx_mutants(folder / "onnx", rng)
    jobs = [(suffix, description, path) for suffix, items in mutants.items() for description, path in items]
    results = _run_workers(jobs, folder)
    by_front_end: dict[str, list[dict]] = {suffix: [] for suffix in mutants}
    for (suffix, description, path), result in zip(jobs, results, strict=True):
        by_front_end[suffix].append({"mutant": f"{path.name} ({description})", **result})
    return by_front_end


def _run_workers(jobs: list[tuple[str, str, Path]], folder: Path) -> list[dict]:
    """Run the mutants in worker processes; a worker that dies (signal, alarm) costs only
    the mutant it was running, recorded with the way it died."""
    results: list[dict] = []
    env = {**os.environ, "MNISTC_CACHE_DIR": str(folder / "cache")}
    while len(results) < len(jobs):
        pending = [str(path) for _, _, path in jobs[len(results) :]]
        worker = subprocess.run(
            [sys.executable, __file__, *pending], capture_output=True, text=True, env=env,
            timeout=SECONDS_PER_MUTANT * len(pending) + 60, cwd=folder,
        )  # fmt: skip
        started = 0
        for line in worker.stdout.splitlines():
            if line.startswith("{"):
                results.append(json.loads(line))
            elif line.startswith("start "):
                started += 1
        if len(results) < len(jobs) and worker.returncode != 0:
            how = f"worker died with {worker.returncode}" + (
                f" ({signal.Signals(-worker.returncode).name})" if worker.returncode < 0 else ""
            )
            results.append({"code": how, "stderr": worker.stderr[-2000:], "seconds": 0})
        elif len(results) < len(jobs):
            raise AssertionError(f"worker stopped early: {worker.stderr[-2000:]}")
    return results


@pytest.mark.parametrize("front_end", ["pt", "pt2", "onnx"])
def test_mutants_compile_or_fail_cleanly(front_end, outcomes):
    failures = []
    for outcome in outcomes[front_end]:
        problem = _problem(outcome)
        if problem:
            failures.append(f"{outcome['mutant']}: {problem}\n{outcome['stderr'][-1500:]}")
    assert not failures, f"{len(failures)} of {len(outcomes[front_end])} mutants:\n" + "\n".join(failures)


def test_mutants_are_varied(outcomes):
    """The fuzz is only worth its time if it exercises both refusals and successes."""
    codes = [o["code"] for results in outcomes.values() for o in results]
    assert codes.count(1) >= 30 and codes.count(0) >= 3, codes


def _problem(outcome: dict) -> str | None:
    code, err = outcome["code"], outcome["stderr"]
    if code not in (0, 1):
        return f"exit {code}"
    if "Traceback" in err or "internal error" in err:
        return "traceback or internal error"
    if outcome["seconds"] > SECONDS_PER_MUTANT:
        return f"took {outcome['seconds']:.1f} s"
    if code == 1 and (not err.startswith("mnistc: error: ") or err.count("mnistc: error:") != 1):
        return "not one clear error message"
    if code == 0 and ("error" in err.lower() or not outcome["compiled"]):
        return "exit 0 without a module, or with an error message"
    return None


def _run_one(path: str) -> dict:
    """`mnistc compile PATH --emit nn` in this process, with fd 2 captured."""
    from mnistc.tools.mnistc import main

    output = Path(path).with_suffix(".mlir")
    with tempfile.TemporaryFile(mode="w+b") as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        start = time.monotonic()
        try:
            code = main(["compile", path, "--emit", "nn", "--input-shape", SHAPE_FLAG, "-o", str(output)])
        except SystemExit as e:
            code = e.code
        except BaseException as e:  # noqa: BLE001 (an escaped exception is what we look for)
            import traceback

            traceback.print_exc()
            code = f"escaped {type(e).__name__}"
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        seconds = time.monotonic() - start
        captured.seek(0)
        err = captured.read().decode(errors="replace")
    compiled = output.is_file() and "func.func @forward" in output.read_text(errors="replace")
    return {"code": code, "stderr": err, "seconds": seconds, "compiled": compiled}


def _worker(paths: list[str]) -> None:
    """Run each mutant under an alarm; the default SIGALRM action ends a hung worker."""
    for path in paths:
        print(f"start {path}", flush=True)
        signal.alarm(SECONDS_PER_MUTANT)
        result = _run_one(path)
        signal.alarm(0)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    _worker(sys.argv[1:])
