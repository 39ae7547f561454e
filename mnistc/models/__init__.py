"""Models the project ships: the classic MNIST CNN, its training and its data."""

from pathlib import Path

BUNDLED_MODEL = Path(__file__).with_name("mnist_cnn.pt")
"""The trained default model (TorchScript), produced by `mnistc train`. Importing this
module does not import torch."""
