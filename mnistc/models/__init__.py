"""Models the project ships: the classic MNIST CNN, its training and its data."""
