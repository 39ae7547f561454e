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


class ConvBnNet(nn.Module):
    """Conv + BatchNorm (+ folding), relu6, hardswish, avg pooling, BN1d after linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding="same", bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2)
        self.bn2 = nn.BatchNorm2d(8)
        self.pool = nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False, padding=1)
        self.fc = nn.Linear(8 * 3 * 3, 6)
        self.bn3 = nn.BatchNorm1d(6)

    def forward(self, x):
        x = F.relu6(self.bn1(self.conv1(x)))
        x = F.hardswish(self.bn2(self.conv2(x)))
        x = self.pool(x)
        return self.bn3(self.fc(x.flatten(1)))


class ResidualNet(nn.Module):
    """ResNet basic blocks: residual add + relu, 1x1 projection shortcut, global pooling."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.a = nn.Conv2d(8, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 8, 3, padding=1)
        self.down = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.project = nn.Conv2d(8, 16, 1, stride=2)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = self.stem(x)
        x = F.relu(self.b(F.relu(self.a(x))) + x)
        x = F.relu(self.project(x) + self.down(x))
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


class ActivationZoo(nn.Module):
    """Every standalone activation, leaky_relu and elu fused, gelu both ways, SiLU both
    ways (F.silu, and x * sigmoid(x), which canonicalize folds), mean over H,W."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(2, 4, 3)
        self.c2 = nn.Conv2d(4, 4, 1)
        self.fc = nn.Linear(4, 8)

    def forward(self, x):
        x = F.leaky_relu(self.c1(x), 0.1)
        x = F.elu(self.c2(x), alpha=0.7)
        x = F.silu(x) - x * torch.sigmoid(x) * 0.5
        x = torch.sigmoid(x) + torch.tanh(x) * F.gelu(x) - 0.0
        x = F.gelu(x, approximate="tanh") + F.hardtanh(x, -0.5, 0.5)
        x = x.mean([2, 3])
        return torch.sigmoid(self.fc(x))


class ConcatNet(nn.Module):
    """Inception-style branches concatenated along channels; per-channel scale and shift."""

    def __init__(self) -> None:
        super().__init__()
        self.b1 = nn.Conv2d(3, 4, 1)
        self.b2 = nn.Conv2d(3, 6, 3, padding=1)
        self.b3 = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(3, 2, 1))
        self.scale = nn.Parameter(torch.rand(1, 12, 1, 1) + 0.5)
        self.shift = nn.Parameter(torch.randn(12, 1, 1))
        self.head = nn.Conv2d(12, 4, 1)

    def forward(self, x):
        x = torch.cat([self.b1(x), F.relu(self.b2(x)), self.b3(x)], dim=1)
        x = x * self.scale + self.shift
        x = self.head(x)
        return F.adaptive_avg_pool2d(x, (2, 3)).reshape(x.shape[0], -1)


class DepthwiseSeparable(nn.Module):
    """MobileNet-style: depthwise 3x3 + pointwise 1x1, hardswish, SE-like sigmoid gating."""

    def __init__(self) -> None:
        super().__init__()
        self.dw = nn.Conv2d(6, 6, 3, padding=1, groups=6, bias=False)
        self.bn = nn.BatchNorm2d(6)
        self.pw = nn.Conv2d(6, 10, 1)
        self.gate = nn.Linear(10, 10)
        self.out = nn.Linear(10, 3)

    def forward(self, x):
        x = F.hardswish(self.bn(self.dw(x)))
        x = self.pw(x)
        g = torch.sigmoid(self.gate(x.mean([2, 3]))).view(-1, 10, 1, 1)
        x = x * g
        return F.softmax(self.out(F.adaptive_avg_pool2d(x, 1).flatten(1)), dim=1)


class MatmulMLP(nn.Module):
    """Linear forms: x @ W (constant), torch.addmm, F.linear, x.view(-1, n)."""

    def __init__(self) -> None:
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(48, 20) * 0.2)
        self.b2 = nn.Parameter(torch.randn(16))
        self.w2 = nn.Parameter(torch.randn(20, 16) * 0.2)
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        x = x.view(-1, 48)
        x = F.elu(torch.matmul(x, self.w1))
        x = F.alpha_dropout(torch.addmm(self.b2, x, self.w2), 0.1, self.training)
        return F.log_softmax(F.leaky_relu(self.fc(x)), dim=1)


class LeNet(nn.Module):
    """LeNet-5 on 1x32x32: tanh, average pooling, x.view(-1, 16*5*5)."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.c2 = nn.Conv2d(6, 16, 5)
        self.f1 = nn.Linear(400, 120)
        self.f2 = nn.Linear(120, 84)
        self.f3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.avg_pool2d(torch.tanh(self.c1(x)), 2)
        x = F.avg_pool2d(torch.tanh(self.c2(x)), 2)
        x = x.view(-1, 16 * 5 * 5)
        x = torch.tanh(self.f2(torch.tanh(self.f1(x))))
        return self.f3(x)


class VGGish(nn.Module):
    """Stacked 3x3 conv/BN/relu blocks with max pooling, ceil_mode, dropout2d, a classifier."""

    def __init__(self) -> None:
        super().__init__()
        layers, channels = [], 3
        for width in (8, 16):
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True)]
            channels = width
        self.features = nn.Sequential(*layers, nn.Dropout2d(0.2))
        self.pool = nn.AdaptiveAvgPool2d(3)
        self.classifier = nn.Sequential(nn.Linear(16 * 3 * 3, 32), nn.ReLU(), nn.Dropout(), nn.Linear(32, 10))

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class PaddedPReLUNet(nn.Module):
    """Explicit padding (F.pad and nn.ZeroPad2d) before convolutions, PReLU per channel and shared."""

    def __init__(self) -> None:
        super().__init__()
        self.pad = nn.ZeroPad2d((1, 2, 0, 1))
        self.conv1 = nn.Conv2d(2, 6, 3)
        self.act1 = nn.PReLU(6, init=0.2)
        self.conv2 = nn.Conv2d(6, 4, 3, stride=2)
        self.act2 = nn.PReLU()
        self.fc = nn.Linear(4 * 3 * 4, 3)

    def forward(self, x):
        x = self.act1(self.conv1(self.pad(x)))
        x = self.act2(self.conv2(F.pad(x, (1, 1, 2, 0), value=0.5)))
        return self.fc(x.flatten(1))


class SqueezeExcite(nn.Module):
    """torchvision's SqueezeExcitation: global pool, 1x1 conv, ReLU, 1x1 conv, gate, and
    the input scaled per channel, the scale on the left as torchvision writes it."""

    def __init__(self, channels: int, squeezed: int, gate: nn.Module) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeezed, 1)
        self.fc2 = nn.Conv2d(squeezed, channels, 1)
        self.gate = gate

    def forward(self, x):
        scale = F.adaptive_avg_pool2d(x, 1)
        return self.gate(self.fc2(F.relu(self.fc1(scale)))) * x


class MobileV3Like(nn.Module):
    """MobileNetV3's pieces at toy size, odd channel counts: a hardswish stem; an inverted
    residual block with a hardsigmoid-gated squeeze-excite; one with SiLU written
    x * sigmoid(x) (as ONNX exports it) and a sigmoid gate (EfficientNet's); a hardswish
    head and classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.stem, self.bn0 = nn.Conv2d(3, 13, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(13)
        self.dw1, self.bn1 = nn.Conv2d(13, 13, 3, padding=1, groups=13, bias=False), nn.BatchNorm2d(13)
        self.se1 = SqueezeExcite(13, 5, nn.Hardsigmoid())
        self.pw1, self.bn2 = nn.Conv2d(13, 13, 1, bias=False), nn.BatchNorm2d(13)
        self.expand = nn.Conv2d(13, 24, 1)
        self.dw2 = nn.Conv2d(24, 24, 5, stride=2, padding=2, groups=24)
        self.se2 = SqueezeExcite(24, 6, nn.Sigmoid())
        self.pw2 = nn.Conv2d(24, 11, 1)
        self.head = nn.Conv2d(11, 32, 1)
        self.fc1, self.fc2 = nn.Linear(32, 20), nn.Linear(20, 10)

    def forward(self, x):
        x = F.hardswish(self.bn0(self.stem(x)))
        x = self.bn2(self.pw1(self.se1(F.relu(self.bn1(self.dw1(x)))))) + x
        y = self.dw2(F.hardswish(self.expand(x)))
        x = self.pw2(self.se2(y * torch.sigmoid(y)))
        x = F.adaptive_avg_pool2d(F.hardswish(self.head(x)), 1).flatten(1)
        x = F.dropout(F.hardswish(self.fc1(x)), 0.2, self.training)
        return self.fc2(x)


class ShuffleBlock(nn.Module):
    """ShuffleNetV2's unit (channel split, a branch, concatenation, channel shuffle), then
    a strided slice, an expanded gate and a channels-last permute of run-time tensors."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.branch = nn.Sequential(nn.Conv2d(4, 4, 1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1, groups=4))
        self.gate = nn.Conv2d(8, 8, 1)
        self.fc = nn.Linear(8 * 8 * 4, 5)

    def forward(self, x):
        a, b = self.stem(x).chunk(2, dim=1)
        x = torch.cat([a, self.branch(b)], dim=1)
        n, c, h, w = x.size()
        x = x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
        x = x[:, :, 1:, ::2]
        x = x * torch.sigmoid(self.gate(x.mean((2, 3), keepdim=True))).expand_as(x)
        return self.fc(x.permute(0, 2, 3, 1).flatten(1))


MODELS.update(
    {
        "conv_bn": (ConvBnNet, (3, 11, 9)),
        "residual": (ResidualNet, (3, 12, 12)),
        "residual_17x13": (ResidualNet, (3, 17, 13)),
        "vggish_odd": (VGGish, (3, 11, 9)),
        "activation_zoo": (ActivationZoo, (2, 7, 6)),
        "concat": (ConcatNet, (3, 8, 10)),
        "depthwise_separable": (DepthwiseSeparable, (6, 9, 9)),
        "matmul_mlp": (MatmulMLP, (3, 4, 4)),
        "lenet": (LeNet, (1, 32, 32)),
        "vggish": (VGGish, (3, 10, 10)),
        "padded_prelu": (PaddedPReLUNet, (2, 7, 6)),
        "mobile_v3_like": (MobileV3Like, (3, 17, 15)),
        "shuffle_block": (ShuffleBlock, (3, 9, 7)),
    }
)


class MathNet(nn.Module):
    """Issue 12's ops: sub, div, max and min broadcasting between run-time tensors
    ([3, 1, 5] with [1, 4, 1] per sample) and with a constant, reductions over any dims (kept or not,
    max.dim's values), layer norm with and without affine, group norm, instance norm (with
    the sample's statistics, and with running ones), the activations and element-wise math,
    glu; ranks 2 to 4. `for_onnx`: no glu and group norm, which ONNX's
    exporter decomposes, no instance norm with running statistics, which it cannot export
    with a dynamic batch, and amax for max.dim (whose indices it exports as an ArgMax).
    """

    def __init__(self, for_onnx: bool = False) -> None:
        super().__init__()
        self.for_onnx = for_onnx
        self.ln = nn.LayerNorm([4, 5])
        self.ln_plain = nn.LayerNorm(5, elementwise_affine=False)
        self.gn_weight = nn.Parameter(torch.rand(3) + 0.5)
        self.gn_bias = nn.Parameter(torch.randn(3))
        self.floor = nn.Parameter(torch.randn(5))
        self.fc = nn.Linear(5, 6)
        self.inorm = nn.InstanceNorm2d(3, affine=True)
        self.inorm_running = nn.InstanceNorm2d(3, track_running_stats=True)
        with torch.no_grad():
            self.inorm.weight.copy_(torch.rand(3) + 0.5)
            self.inorm.bias.copy_(torch.randn(3))
            self.inorm_running.running_mean.copy_(torch.randn(3))
            self.inorm_running.running_var.copy_(torch.rand(3) + 0.5)

    def forward(self, x):
        a = x.amax(dim=2, keepdim=True)
        b = x.mean(dim=(1, 3), keepdim=True)
        y = (a - b) / (b.abs() + 1.5)
        y = torch.maximum(y, x * 0.5) - torch.minimum(x, self.floor)
        y = self.ln(y) + self.ln_plain(x) + self.inorm(x)
        if not self.for_onnx:
            y = y - self.inorm_running(x)
        if not self.for_onnx:
            y = torch.group_norm(y, 3, self.gn_weight, self.gn_bias, 1e-5)
        u = F.mish(y) + F.softplus(y, 2.0, 3.0) + F.softsign(y) + F.selu(y) + F.celu(y, 0.7)
        v = torch.exp(-y.abs()) + torch.log(y.abs() + 1) + torch.sqrt(y.abs()) - torch.rsqrt(y * y + 1)
        z = u + v + torch.reciprocal(y.abs() + 2) + y.pow(3) * 0.1 + (-y).abs().pow(1.5)
        s = z.sum(dim=1)
        m = s.amax(dim=2) if self.for_onnx else s.max(dim=2).values
        r = s.amin(dim=1) + z.mean(dim=(1, 2))
        if not self.for_onnx:
            r = r + F.glu(z, dim=2).sum(dim=[1, 2])
        return torch.cat([m, self.fc(r)], dim=1)


MODELS["math"] = (MathNet, (3, 4, 5))


def randomise_batch_norm(module: nn.Module, seed: int = 0) -> None:
    """Give batch norms non-trivial statistics, as a trained model has."""
    generator = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=generator) * 0.3)
            m.running_var.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=generator) * 0.2)


def build(name: str, seed: int = 0) -> tuple[nn.Module, tuple[int, ...]]:
    torch.manual_seed(seed)
    constructor, shape = MODELS[name]
    model = constructor().eval()
    with torch.no_grad():
        randomise_batch_norm(model, seed)
    return model, shape


# decoders: 1-D layers, transposed convolutions, resizing, edge padding (issue 12)


class KeywordSpotter(nn.Module):
    """A 1-D CNN on MFCC-like features [N, 40, 98]: conv1d (stride, 'same', dilation,
    groups), batch_norm1d on [N, C, L] and [N, C], relu, max/avg/adaptive pooling in 1-D."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(40, 32, 5, stride=2, padding=2)
        self.bn1 = nn.BatchNorm1d(32)
        self.conv2 = nn.Conv1d(32, 24, 3, padding="same", dilation=2, groups=2)
        self.bn2 = nn.BatchNorm1d(24)
        self.fc = nn.Linear(24, 12)
        self.bn3 = nn.BatchNorm1d(12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool1d(F.relu(self.bn1(self.conv1(x))), 3, stride=2, padding=1)
        x = F.avg_pool1d(F.relu(self.bn2(self.conv2(x))), 2, ceil_mode=True)
        return self.bn3(self.fc(F.adaptive_avg_pool1d(x, 1).flatten(1)))


class ConvAutoencoder(nn.Module):
    """Strided conv2d down, conv_transpose2d up (output_padding, groups, a fused
    activation), sigmoid out."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
        )  # fmt: skip
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1, groups=2),
            nn.ReLU(),
            nn.ConvTranspose2d(8, 1, 3, stride=2, padding=1, output_padding=1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class SmallUNet(nn.Module):
    """Down convolutions, up by bilinear interpolation, nearest upsampling and a
    transposed convolution, skip connections concatenated along channels, reflection
    and replication padding. (Resizing by scale factors: the sizes ONNX computes for
    `size=` from the input's run-time shape are the front ends' work.)"""

    def __init__(self) -> None:
        super().__init__()
        self.enc1 = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(3, 8, 3), nn.ReLU())
        self.enc2 = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())
        self.down = nn.Conv2d(16, 16, 3, stride=2, padding=1)
        self.bottom = nn.Sequential(nn.ReplicationPad2d((1, 1, 0, 2)), nn.Conv2d(16, 16, (3, 3), padding=(0, 0)))
        self.dec2 = nn.Conv2d(32, 16, 3, padding=1)
        self.up1 = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.dec1 = nn.Conv2d(16, 8, 3, padding=1)
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)  # [8, 20, 20]
        e2 = self.enc2(F.max_pool2d(e1, 2))  # [16, 10, 10]
        b = torch.relu(self.bottom(self.down(e2)))  # [16, 5, 5]
        u2 = F.interpolate(b, scale_factor=2.0, mode="bilinear", align_corners=False)
        d2 = torch.relu(self.dec2(torch.cat([u2, e2], dim=1)))
        d1 = torch.relu(self.dec1(torch.cat([self.up1(d2), e1], dim=1)))
        out = self.head(d1)
        out = out + F.interpolate(F.avg_pool2d(out, 4), scale_factor=4.0, mode="nearest")
        coarse = F.avg_pool2d(out, 5)
        return out + F.interpolate(coarse, scale_factor=5.0, mode="bilinear", align_corners=True)


MODELS.update(
    {
        "keyword_spotter": (KeywordSpotter, (40, 98)),
        "conv_autoencoder": (ConvAutoencoder, (1, 28, 28)),
        "small_unet": (SmallUNet, (3, 20, 20)),
    }
)


# transformers (a tiny ViT) and an MLP-Mixer, defined in the package
# (mnistc/models/transformers.py) since the network benchmark builds them too

from mnistc.models.transformers import MLPMixer, TinyViT  # noqa: E402

MODELS.update({"tiny_vit": (TinyViT, (3, 32, 32)), "mlp_mixer": (MLPMixer, (3, 32, 32))})


# recurrent layers: LSTM and GRU


class LstmClassifier(nn.Module):
    """A two-layer bidirectional LSTM over [T, F] feature frames (batch first), the last
    step's outputs and the final states of the top layer into a linear head."""

    def __init__(self, features: int = 40, hidden: int = 32, classes: int = 10) -> None:
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, num_layers=2, batch_first=True, bidirectional=True, dropout=0.1)
        self.head = nn.Linear(4 * hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, (h_n, c_n) = self.lstm(x)
        return self.head(torch.cat([out[:, -1], h_n[-2] + c_n[-1], out[:, 0, -h_n.size(2):]], dim=1))


class GruClassifier(nn.Module):
    """A time-major two-layer GRU (batch_first=False) with a learned initial state, then
    a one-directional GRU; the last step into a linear head."""

    def __init__(self, features: int = 40, hidden: int = 32, classes: int = 10) -> None:
        super().__init__()
        self.gru = nn.GRU(features, hidden, num_layers=2)
        self.h0 = nn.Parameter(torch.randn(2, 1, hidden) * 0.5)
        self.top = nn.GRU(hidden, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq = x.transpose(0, 1)  # [T, N, F]
        out, _ = self.gru(seq, self.h0.expand(-1, x.size(0), -1).contiguous())
        out, h_n = self.top(out.transpose(0, 1))
        return self.head(out[:, -1]) + h_n[0].sum(dim=1, keepdim=True)


MODELS.update(
    {
        "lstm_classifier": (LstmClassifier, (20, 40)),
        "gru_classifier": (GruClassifier, (20, 40)),
    }
)
