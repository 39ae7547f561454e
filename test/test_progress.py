"""Progress on stderr (issue 14, item 3): slow steps shown, -v every step, -q nothing."""

from __future__ import annotations

import io
import re
import time

import pytest

from mnistc import progress
from mnistc.tools.mnistc import main


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_steps(mode: str, stream, slow_s: float, monkeypatch, sleep_s: float = 0.0) -> None:
    monkeypatch.setattr(progress, "SLOW_STEP_S", slow_s)
    with progress.reporting(mode, stream):
        with progress.step("import model.pt"):
            time.sleep(sleep_s)
        with progress.step("pass dce"):
            pass


def test_the_library_is_silent_by_default(capsys):
    with progress.step("import model.pt"):
        pass
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("mode, slow_s, expected", [
    ("quiet", 0.0, []),
    ("normal", 1e9, []),
    ("normal", 0.0, ["import model.pt", "pass dce"]),
    ("verbose", 1e9, ["import model.pt", "pass dce"]),
])  # fmt: skip
def test_which_steps_are_reported(mode, slow_s, expected, monkeypatch):
    stream = io.StringIO()
    run_steps(mode, stream, slow_s, monkeypatch)
    assert re.findall(r"^mnistc: (.*): [\d.]+ s$", stream.getvalue(), re.M) == expected


def test_a_slow_step_is_announced_while_it_runs_on_a_terminal(monkeypatch):
    terminal = Terminal()
    run_steps("normal", terminal, 0.01, monkeypatch, sleep_s=0.3)
    out = terminal.getvalue()
    assert out.startswith("mnistc: import model.pt ...\rmnistc: import model.pt: "), out
    assert "pass dce" not in out  # fast: neither announced nor timed


def test_not_on_a_terminal_a_slow_step_is_one_clean_line(monkeypatch):
    stream = io.StringIO()
    run_steps("normal", stream, 0.01, monkeypatch, sleep_s=0.3)
    assert re.fullmatch(r"mnistc: import model\.pt: [\d.]+ s\n", stream.getvalue())


def test_a_failing_step_leaves_the_line_to_the_error(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(progress, "SLOW_STEP_S", 0.01)
    with pytest.raises(ValueError), progress.reporting("normal", terminal):
        with progress.step("import bad.pt"):
            time.sleep(0.3)
            raise ValueError("corrupt")
    assert terminal.getvalue() == "mnistc: import bad.pt ...\r\033[K"


def test_compile_verbose_times_every_step_and_quiet_prints_nothing(tmp_path, capsys):
    assert main(["compile", "-o", str(tmp_path / "m"), "-v"]) == 0
    err = capsys.readouterr().err
    steps = re.findall(r"^mnistc: (.*): [\d.]+ s$", err, re.M)
    assert steps[0] == "import mnist_cnn.pt"
    assert {"pass fold-batch-norm", "pass convert-nn-to-cpu", "pass plan-memory", "emit C++",
            "g++ model.cpp", "link"} <= set(steps)  # fmt: skip
    assert main(["compile", "-o", str(tmp_path / "m"), "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_verbose_and_quiet_together_are_refused(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["compile", "-o", "m", "-v", "-q"])
    assert exit.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
