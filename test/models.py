"""Small PyTorch models for the tests: the forms people write, the ops mnistc supports."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from mnistc.models.mnist_cnn import MnistCNN


class FunctionalCNN(nn.Module):
    """F.* forms, x.view(x.size(0), -1), padding, stride, dilation, no-bias conv, softmax."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.conv2 = nn.Conv2d(8, 6, (3, 2), padding=(2, 1), dilation=(2, 1))
        self.fc = nn.Linear(6 * 4 * 5, 7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv1(x))
        x = F.max_pool2d(self.conv2(x).relu(), 2, ceil_mode=True)
        x = x.view(x.size(0), -1)
        return F.softmax(F.dropout(self.fc(x), 0.3, self.training), dim=-1)


class SequentialMLP(nn.Module):
    """nn.Sequential nesting, nn.Flatten, reshape with -1, relu in place, no-bias linear."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Flatten(),
            nn.Sequential(nn.Linear(2 * 5 * 5, 32), nn.ReLU(inplace=True), nn.Dropout(0.1)),
            nn.Linear(32, 16, bias=False),
            nn.ReLU(),
        )
        self.head = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.body(x.reshape(x.shape[0], -1))
        return F.log_softmax(self.head(x), 1)


class GroupedConvNet(nn.Module):
    """Grouped and depthwise convolutions, max pooling with padding, a 1x1 conv."""

    def __init__(self) -> None:
        super().__init__()
        self.expand = nn.Conv2d(2, 8, 1)
        self.grouped = nn.Conv2d(8, 8, 3, padding=1, groups=4)
        self.depthwise = nn.Conv2d(8, 8, 3, stride=2, groups=8)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.fc = nn.Linear(8 * 2 * 2, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.expand(x))
        x = F.relu(self.grouped(x))
        x = self.pool(F.relu(self.depthwise(x)))
        return self.fc(torch.flatten(x, 1))


# name → (constructor, sample shape)
MODELS = {
    "mnist_cnn": (MnistCNN, (1, 28, 28)),
    "functional_cnn": (FunctionalCNN, (3, 15, 17)),
    "sequential_mlp": (SequentialMLP, (2, 5, 5)),
    "grouped_conv": (GroupedConvNet, (2, 9, 9)),
}


def build(name: str, seed: int = 0) -> tuple[nn.Module, tuple[int, ...]]:
    torch.manual_seed(seed)
    constructor, shape = MODELS[name]
    return constructor().eval(), shape
