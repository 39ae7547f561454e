"""The wheel holds every Python package of the tree: pyproject.toml lists them by hand
(the package-dir mapping of dialects/ and kernels/ rules out automatic discovery)."""

from __future__ import annotations

import re

from conftest import REPO

PACKAGE_ROOTS = {"mnistc": REPO / "mnistc", "mnistc.dialects": REPO / "dialects", "mnistc.kernels": REPO / "kernels"}


def _packages_in_tree() -> set[str]:
    found = set()
    for name, root in PACKAGE_ROOTS.items():
        for init in root.rglob("__init__.py"):
            relative = init.parent.relative_to(root).parts
            found.add(".".join((name, *relative)))
    return found


def test_pyproject_lists_every_package():
    text = (REPO / "pyproject.toml").read_text()
    listed = set(re.findall(r'^\s*"(mnistc[\w.]*)",$', text.split("[tool.setuptools]")[1].split("]")[0], re.MULTILINE))
    assert _packages_in_tree() == listed
