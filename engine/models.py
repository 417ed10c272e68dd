"""ResNet9, ResNet18 (CIFAR variant) and the seed notebook's lighter ResNet18.

Every model takes ``width`` so tests and quick runs can train narrow copies.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

NUM_CLASSES = 10


def _ch(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


def conv_bn(c_in: int, c_out: int, pool: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class Residual(nn.Module):
    """x + f(x): the notebook's residual of two conv-BN-ReLU blocks."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(channels, channels), conv_bn(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNet9(nn.Module):
    """The classic CIFAR-10 ResNet9 (about 6.57M parameters at width 1)."""

    def __init__(self, num_classes: int = NUM_CLASSES, width: float = 1.0,
                 logit_scale: float = 1.0):
        super().__init__()
        self.logit_scale = logit_scale
        c64, c128, c256, c512 = (_ch(c, width) for c in (64, 128, 256, 512))
        self.features = nn.Sequential(
            conv_bn(3, c64),
            conv_bn(c64, c128, pool=True),
            Residual(c128),
            conv_bn(c128, c256, pool=True),
            conv_bn(c256, c512, pool=True),
            Residual(c512),
        )
        self.classifier = nn.Sequential(
            nn.MaxPool2d(4), nn.Flatten(), nn.Dropout(0.2), nn.Linear(c512, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x)) * self.logit_scale


class BasicBlock(nn.Module):
    """He et al.'s basic block with a 1x1 projection when the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet18 for 32x32 inputs: 3x3 stem, no max-pool (about 11.17M parameters)."""

    def __init__(self, num_classes: int = NUM_CLASSES, width: float = 1.0,
                 logit_scale: float = 1.0):
        super().__init__()
        self.logit_scale = logit_scale
        widths = [_ch(c, width) for c in (64, 128, 256, 512)]
        self.stem = nn.Sequential(
            nn.Conv2d(3, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        layers: list[nn.Module] = []
        c_in = widths[0]
        for i, c_out in enumerate(widths):
            stride = 1 if i == 0 else 2
            layers += [BasicBlock(c_in, c_out, stride), BasicBlock(c_out, c_out)]
            c_in = c_out
        self.layers = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(c_in, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(self.stem(x))) * self.logit_scale


class ResNet18Seed(nn.Module):
    """The seed notebook's lighter "ResNet18", kept so its runs can be reproduced."""

    def __init__(self, num_classes: int = NUM_CLASSES, width: float = 1.0,
                 logit_scale: float = 1.0):
        super().__init__()
        self.logit_scale = logit_scale
        c64, c128, c256, c512 = (_ch(c, width) for c in (64, 128, 256, 512))
        self.features = nn.Sequential(
            conv_bn(3, c64, pool=True), Residual(c64),
            conv_bn(c64, c128, pool=True), Residual(c128),
            conv_bn(c128, c256, pool=True), Residual(c256),
            conv_bn(c256, c512), Residual(c512),
        )
        self.classifier = nn.Sequential(nn.AvgPool2d(4), nn.Flatten(), nn.Linear(c512, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x)) * self.logit_scale


MODEL_REGISTRY: dict[str, Callable[..., nn.Module]] = {
    "resnet9": ResNet9,
    "resnet18": ResNet18,
    "resnet18-seed": ResNet18Seed,
}


def build_model(name: str, width: float = 1.0, num_classes: int = NUM_CLASSES,
                logit_scale: float = 1.0) -> nn.Module:
    """``logit_scale`` multiplies the output (Page's ResNet9 uses 0.125): with a large
    SGD learning rate, unscaled logits blow the loss up in the first steps."""
    try:
        factory = MODEL_REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; "
                         f"choose one of: {', '.join(MODEL_REGISTRY)}") from None
    return factory(num_classes=num_classes, width=width, logit_scale=logit_scale)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
