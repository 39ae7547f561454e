"""xDSL dialects of mnistc: `nn` (tensor operators) and `cpu` (the loop/call level)."""
