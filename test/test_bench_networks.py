"""`mnistc bench --quick`: the network benchmark runs end to end and reports its rows.

It times nothing that is asserted: performance is measured by running the benchmark by
hand, never by a timed test.
"""

from __future__ import annotations

import re

import pytest

from mnistc.bench_networks import QUICK_NETWORK, have_requirements
from mnistc.tools.mnistc import main

pytestmark = [
    pytest.mark.slow,  # two compiles of a torchvision network; .ci/run installs the bench extra
    pytest.mark.skipif(
        have_requirements() is not None, reason=f"network benchmark: {have_requirements()}"
    ),
]


def test_quick_run_reports_the_network_with_positive_times_and_a_summary(capsys):
    assert main(["bench", "--quick", "--rounds", "2", "--configs", "64-b1-t1"]) == 0
    out = capsys.readouterr().out
    assert "== 3x64x64, batch 1, 1 thread ==" in out
    times = r"([\d.]+)/([\d.]+)"
    row = rf"^{QUICK_NETWORK} +(\S+) +{times} +{times} .* (yes|NO \(.*\))$"
    rows = re.findall(row, out, re.M)
    assert len(rows) == 1, out
    gflop, ort_p50, ort_p90, mnistc_p50, mnistc_p90, correct = rows[0]
    assert float(gflop) > 0
    assert 0 < float(ort_p50) <= float(ort_p90)
    assert 0 < float(mnistc_p50) <= float(mnistc_p90)
    assert correct == "yes"
    summary = rf"^summary: geometric mean ORT/mnistc [\d.]+ over 1 networks; worst {QUICK_NETWORK} "
    assert re.search(summary, out, re.M)
    assert "skipped: none" in out
