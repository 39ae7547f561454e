"""`mnistc report`: one self-contained HTML page with the graph, the memory plan, the
profile and the compile stages, checked as parsed HTML and in a real headless browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
import torch
from conftest import save_traced

from mnistc.report import build_report

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class Block(torch.nn.Module):
    """conv-bn-relu twice with a residual add: fusions and a skip edge to draw."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.conv_mid = torch.nn.Conv2d(8, 8, 1)
        self.conv2 = torch.nn.Conv2d(8, 8, 3, padding=1)
        self.head = torch.nn.Linear(8 * 6 * 6, 5)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        z = torch.relu(self.conv2(torch.sigmoid(self.conv_mid(y))) + y)
        return self.head(z.flatten(1))


class Elements(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def having(self, tag: str, css: str) -> list[dict]:
        return [a for t, a in self.tags if t == tag and css in (a.get("class") or "").split()]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    directory = tmp_path_factory.mktemp("report")
    torch.manual_seed(0)
    model = save_traced(Block().eval(), torch.zeros(1, 3, 6, 6), directory / "block.pt")
    page = directory / "report.html"
    page.write_text(build_report(model, (3, 6, 6), runs=3))
    return page


def test_the_page_draws_the_fused_graph_with_source_layers(report):
    text = report.read_text()
    elements = Elements()
    elements.feed(text)
    nodes = elements.having("g", "node")
    fused = elements.having("g", "fused")
    assert len(nodes) >= 5 and len(fused) >= 3  # conv+bn+relu, conv+sigmoid, conv+add+relu
    assert "conv2d + relu" in text and "conv2d + add + relu" in text
    for layer in ("conv1 (Conv2d)", "bn1 (BatchNorm2d)", "conv2 (Conv2d)", "head (Linear)"):
        assert layer in text, layer
    assert elements.having("path", "skip"), "the residual edge"


def test_the_page_has_the_memory_plan_profile_and_stages(report):
    text = report.read_text()
    elements = Elements()
    elements.feed(text)
    assert len(elements.having("rect", "slot")) >= 2
    assert re.search(r"arena: \d+ KiB, \d+ buffers", text)
    peak = re.search(r"weights ([\d.]+) MB \+ arena ([\d.]+) MB \+ kernel scratch ([\d.]+) MB = ([\d.]+) MB", text)
    assert peak, "the planned peak memory"
    weights, arena, scratch, total = map(float, peak.groups())
    assert scratch > 0 and total == pytest.approx(weights + arena + scratch, abs=0.015)
    profile = re.search(r"Profile: .*?</table>", text, re.S).group(0)
    assert re.search(r"conv2d\w* -&gt; \w+", profile) and "GFLOP/s" in profile
    # GFLOP/s from kernels/abi.py's FLOPs: every convolution and the linear layer have one.
    rows = re.findall(r'<td class="label">([^<]*)</td>.*?<td class="num">([^<]*)</td></tr>', profile)
    rated = [label for label, extra in rows if "GFLOP/s" in extra]
    assert rated and all(label.startswith(("conv2d", "linear")) for label in rated)
    assert len(rated) == sum(label.startswith(("conv2d", "linear")) for label, _ in rows)
    stages = re.search(r"Compile stages.*?</table>", text, re.S).group(0)
    for stage in ("import block.pt", "pass fold-batch-norm", "pass plan-memory", "g++ model.cpp", "link"):
        assert stage in stages, stage


def test_the_page_is_self_contained(report):
    text = report.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#)""", text), "no external file"
    assert "<link" not in text and "@import" not in text and "url(" not in text


def _browser() -> str | None:
    return next((b for b in map(shutil.which, BROWSERS) if b), None)


@pytest.mark.skipif(_browser() is None, reason="no headless browser installed (.ci/run installs Debian's chromium)")
def test_a_real_browser_renders_it(report, tmp_path):
    """Chromium loads the page, runs its script and sees every node and slot."""
    result = subprocess.run(
        [_browser(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
         "--dump-dom", report.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    elements = Elements()
    elements.feed(report.read_text())
    body = re.search(r"<body[^>]*>", result.stdout).group(0)
    assert 'data-rendered="yes"' in body
    assert f'data-nodes="{len(elements.having("g", "node"))}"' in body
    assert f'data-slots="{len(elements.having("rect", "slot"))}"' in body
