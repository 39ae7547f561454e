"""mnistc: a PyTorch model compiler on xDSL.

Model file → importer → `nn` IR → passes → `cpu` loop/call IR → memory plan → C++ →
g++ → executable. `mnistc.driver` runs it end to end; each stage lives in the
sub-package named after it.
"""

__version__ = "0.1.0"
