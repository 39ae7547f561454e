"""The classic MNIST CNN (PyTorch's examples/mnist) and its training.

`python -m mnistc.models.mnist_cnn --data DIR` (or `mnistc train`) retrains the copy
the project ships as `mnistc/models/mnist_cnn.pt`.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mnistc.models import BUNDLED_MODEL
from mnistc.models.mnist_data import HELD_OUT_SLICE, TRAIN_SLICE, load_mnist

SAMPLE_SHAPE = (1, 28, 28)


class MnistCNN(nn.Module):
    """conv(1->32) relu, conv(32->64) relu, max_pool 2, dropout, fc 9216->128 relu, dropout, fc 128->10, log_softmax."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def _random_shift(images: torch.Tensor, generator: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Translate each image by up to `max_shift` pixels: cheap augmentation for 8,000 images."""
    padded = F.pad(images, (max_shift,) * 4)[:, 0]
    n = images.shape[0]
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(28)[None])[:, :, None]
    cols = (dx[:, None] + torch.arange(28)[None])[:, None, :]
    return padded[torch.arange(n)[:, None, None], rows, cols][:, None]


def accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        predictions = model(torch.from_numpy(images)).argmax(1).numpy()
    return float((predictions == labels).mean())


def train(data_dir: str | Path, epochs: int = 12, seed: int = 0, log=print) -> MnistCNN:
    """Train on images 0-7999 with Adam and a cosine schedule; return the model in eval mode."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    images, labels = load_mnist(data_dir)
    x = torch.from_numpy(images[TRAIN_SLICE])
    y = torch.from_numpy(labels[TRAIN_SLICE])
    model = MnistCNN()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = 64
    steps = epochs * ((len(x) + batch - 1) // batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=2e-3, total_steps=steps)
    for epoch in range(epochs):
        model.train()
        start = time.time()
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for i in range(0, len(x), batch):
            idx = order[i : i + batch]
            optimiser.zero_grad()
            loss = F.nll_loss(model(_random_shift(x[idx], generator)), y[idx])
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(idx)
        held_out = accuracy(model, images[HELD_OUT_SLICE], labels[HELD_OUT_SLICE])
        log(
            f"epoch {epoch + 1}/{epochs}: loss {total / len(x):.4f}, "
            f"held-out accuracy {held_out:.4f} ({time.time() - start:.0f} s)"
        )
    return model.eval()


def export(model: nn.Module, path: str | Path) -> None:
    """Save as TorchScript (scripted, eval mode, sample shape recorded) for `mnistc compile`."""
    from mnistc.importers.torchscript import save_with_shape

    save_with_shape(torch.jit.script(model.eval()), path, SAMPLE_SHAPE)


def load_bundled() -> torch.jit.ScriptModule:
    return torch.jit.load(str(BUNDLED_MODEL), map_location="cpu")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="directory with MNIST's idx files")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("-o", "--output", default=str(BUNDLED_MODEL))
    args = parser.parse_args()
    export(train(args.data, args.epochs), args.output)
    print(f"wrote {args.output}")
