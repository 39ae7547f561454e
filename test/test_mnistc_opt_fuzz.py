"""A fixed-seed fuzz of `mnistc-opt`: mutants of the lit inputs must each get a result or
one clear error (exit 0 or 1) in well under a second, never an internal error (exit 3), a
traceback or a hang."""

from __future__ import annotations

import contextlib
import io
import random
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from conftest import save_scripted
from xdsl.utils.mlir_lexer import MLIRLexer

from mnistc.driver import (
    LOWERING_PIPELINE,
    OPTIMISATION_PIPELINE,
    CompileOptions,
    compile_to_stage,
    cpu_optimisation_pipeline,
)
from mnistc.parsing import LINEAR_STRING_LITERAL, XDSL_STRING_LITERAL
from mnistc.tools.mnistc_opt import main

FILECHECK = Path(__file__).parent / "filecheck"
SEED = 9
MUTANTS = 300
TIME_LIMIT = 2.0
"""Seconds per case: generous for inputs of a few KiB, short of any exponential blow-up."""
WEIGHT_FILE_BYTES = 1 << 16
WEIGHTS_OUT = ["--weights-out", "out.weights.bin"]
"""Where the passes that add weights may write them."""

DEFAULT_PIPELINE = [
    "-p",
    f"{OPTIMISATION_PIPELINE},{LOWERING_PIPELINE},{cpu_optimisation_pipeline()}",
    "-t",
    "cpp",
    *WEIGHTS_OUT,
]
INSERTIONS = ('"', '"', "\\", "{", "}", "(", ")", "<", ">", "[", "]", "%", "@", ":", "x", "\n", "//")


class Hang(BaseException):
    """Raised by the alarm; a BaseException, so the tool's `except Exception` lets it by."""


def mutate(text: str, rng: random.Random) -> str:
    """One or two random edits: change a number (shapes, offsets, params: the passes see
    those), replace, delete or insert characters, cut a span or the tail, duplicate a line."""
    for _ in range(rng.randint(1, 2)):
        i = rng.randrange(len(text) + 1)
        match rng.randrange(8):
            case 0 | 1 | 2 if digits := [m.start() for m in re.finditer(r"\d", text)]:
                j = rng.choice(digits)
                text = text[:j] + rng.choice("0123456789") * rng.choice((1, 1, 2, 12)) + text[j + 1 :]
            case 3 if text:
                text = text[: min(i, len(text) - 1)] + chr(rng.randrange(32, 127)) + text[i + 1 :]
            case 4:
                text = text[:i] + rng.choice(INSERTIONS) * rng.choice((1, 1, 2, 40)) + text[i:]
            case 5:
                text = text[:i] + text[i + rng.randint(1, 200) :]
            case 6:
                text = text[:i]
            case _:
                lines = text.splitlines(keepends=True) or [""]
                j = rng.randrange(len(lines))
                text = "".join(lines[: j + 1] + lines[j:])
    return text


@dataclass
class LitInput:
    name: str
    text: str
    """The input without its RUN and CHECK comments."""
    pipelines: list[list[str]]
    """Its RUN lines' `-p` and `-t` options, the default pipeline, and none."""
    weight_files: list[str]


def lit_inputs() -> list[LitInput]:
    """Every .mlir under test/filecheck."""
    inputs = []
    for path in sorted(FILECHECK.rglob("*.mlir")):
        lines = path.read_text().splitlines(keepends=True)
        pipelines = [[], ["--print-op-generic"], DEFAULT_PIPELINE]
        for line in lines:
            if "RUN:" in line and (spec := re.search(r"-p '?([\w{}=,-]+)'?", line)):
                target = ["-t", "cpp"] if "-t cpp" in line else []
                pipelines.append(["-p", spec[1], *target, *WEIGHTS_OUT])
        text = "".join(line for line in lines if not line.lstrip().startswith("//"))
        weight_files = sorted(set(re.findall(r'"([\w.]+\.bin)"', text)))
        inputs.append(LitInput(str(path.relative_to(FILECHECK)), text, pipelines, weight_files))
    return inputs


class SmallNet(torch.nn.Module):
    """Convolution, batch norm, pooling, residual add and linear: most passes apply."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.fc = torch.nn.Linear(4 * 4 * 4, 10)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        y = torch.nn.functional.max_pool2d(y + self.conv(x), 2)
        return self.fc(torch.nn.functional.dropout(y.flatten(1), training=False))


def imported_model(directory: Path) -> LitInput:
    """`mnistc compile --emit nn -O0` of a small network, its weights in `directory`."""
    torch.manual_seed(0)
    model = save_scripted(SmallNet(), directory / "small.pt")
    text, weights = compile_to_stage(
        model, "nn", CompileOptions(sample_shape=(1, 8, 8), optimise=False), "small.weights.bin"
    )
    weights.save(directory / "small.weights.bin")
    return LitInput("small.pt --emit nn", text, [DEFAULT_PIPELINE, []], [])


def run_opt(path: Path, args: list[str]) -> tuple[int, str, float]:
    """Run `mnistc-opt` in this process under an alarm: exit code, stderr, seconds."""

    def on_alarm(signum, frame):
        raise Hang

    stdout, stderr = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, on_alarm)
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = main([str(path), *args])
            except SystemExit as e:
                code = e.code
    except Hang:
        code = "timeout"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return code, stderr.getvalue(), time.perf_counter() - start


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Passes read weight files, and --weights-out writes one, relative to the working
    directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_fuzz_mnistc_opt(in_tmp):
    rng = random.Random(SEED)
    inputs = lit_inputs()
    assert len(inputs) >= 20
    small = imported_model(in_tmp)
    (in_tmp / "small.mlir").write_text(small.text)
    code, stderr, _ = run_opt(in_tmp / "small.mlir", DEFAULT_PIPELINE)
    assert code == 0, stderr  # unmutated, it goes through the whole pipeline
    inputs += [small] * 5  # as likely as five lit inputs together
    failures, codes = [], {0: 0, 1: 0}
    for case in range(MUTANTS):
        source = rng.choice(inputs)
        args = rng.choice(source.pipelines)
        for name in source.weight_files:  # zeros, enough for every offset the inputs use
            (in_tmp / name).write_bytes(bytes(WEIGHT_FILE_BYTES))
        path = in_tmp / f"case{case}.mlir"
        path.write_text(mutate(source.text, rng))
        code, stderr, _ = run_opt(path, args)
        if code not in (0, 1) or "Traceback" in stderr or "internal error" in stderr:
            failures.append(f"case {case} ({source.name}, {args}): exit {code}\n{stderr[-600:]}")
            continue
        if code == 1:
            assert stderr.startswith("mnistc-opt: error: "), stderr
        codes[code] += 1
        path.unlink()
    assert not failures, "\n\n".join(failures[:5])
    # Most mutants are refused (a changed digit in a type makes its uses disagree), but
    # some still parse, verify and run their pipeline.
    assert codes[0] >= MUTANTS // 60 and codes[1] >= MUTANTS // 2, codes


@pytest.mark.parametrize(
    "text, message",
    [
        ('builtin.module attributes {x = "' + "a" * 40, "closing string literal"),
        ('builtin.module attributes {x = "' + "ab\\n" * 20_000, "closing string literal"),
        ("builtin.module attributes {x = " + "[" * 5000, "nests too deeply"),
        ("builtin.module attributes {x = " + "(" * 5000, "nests too deeply"),
        ('"builtin.module"() ({' * 2000, "nests too deeply"),
    ],
    ids=["unterminated-40", "unterminated-escapes", "brackets", "parens", "regions"],
)
def test_pathological_input_is_refused_quickly(in_tmp, text, message):
    path = in_tmp / "bad.mlir"
    path.write_text("// a comment\n" + text)
    code, stderr, seconds = run_opt(path, [])
    assert code == 1, stderr
    assert stderr.startswith(f"mnistc-opt: error: {path}"), stderr
    assert message in stderr
    assert seconds < 1.0


def test_linear_string_literal_matches_what_xdsl_matches():
    """The replacement accepts exactly xDSL's literals, and is the one installed."""
    xdsl_pattern = re.compile(XDSL_STRING_LITERAL)
    rng = random.Random(SEED)
    alphabet = 'ab"\\\n\vnt0F\x7f\u00e9'
    for _ in range(20_000):
        text = '"' + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        expected = xdsl_pattern.match(text)
        actual = LINEAR_STRING_LITERAL.match(text)
        assert (actual and actual.group()) == (expected and expected.group()), repr(text)
    assert MLIRLexer._unescaped_characters_regex is LINEAR_STRING_LITERAL
