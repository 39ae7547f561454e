"""Runs the lit/FileCheck suite (test/filecheck) as part of pytest."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_filecheck_suite():
    lit = shutil.which("lit", path=str(Path(sys.executable).parent)) or shutil.which("lit")
    assert lit, "lit is not installed (pip install -e '.[test]')"
    result = subprocess.run(
        [lit, "-sv", str(REPO / "test" / "filecheck")], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert "Passed" in result.stdout and "Failed" not in result.stdout
