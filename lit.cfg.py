"""lit configuration: FileCheck tests under test/filecheck, run with the current Python's tools."""

import os
import sys

import lit.formats

config.name = "mnistc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir"]
config.excludes = ["Inputs", ".venv", "venv", "build"]

# The tools (mnistc-opt, filecheck) of the Python environment running lit come first.
config.environment["PATH"] = os.pathsep.join(
    [os.path.dirname(sys.executable), os.environ.get("PATH", "")]
)
config.substitutions.append(("%python", sys.executable))
