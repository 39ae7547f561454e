"""Front ends: model files → `nn` dialect (see `mnistc.importers.torchscript`)."""
