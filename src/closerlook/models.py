"""Networks with an ordered registry of named layers.

Every model is a :class:`LayeredNet`: a sequence of named stages run in order. The stages
whose outputs the study looks at — each conv block after its nonlinearity, each hidden
fully-connected layer after its nonlinearity, and the logits — are the *registered layers*,
in network order. Activation capture, layer freezing and the figures' layer axes all use
`layer_names()`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn


class LayeredNet(nn.Module):
    """A feed-forward network of named stages; `registered` lists the probed ones in order."""

    def __init__(self, stages: Sequence[tuple[str, nn.Module]], registered: Sequence[str]):
        super().__init__()
        self.stages = nn.ModuleDict(stages)
        self.registered = list(registered)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages.values():
            x = stage(x)
        return x

    def layer_names(self) -> list[str]:
        return list(self.registered)

    def layer(self, name: str) -> nn.Module:
        return self.stages[name]


def vgg(
    conv: Sequence[int | str],
    fc: Sequence[int],
    in_shape: tuple[int, int, int],
    num_classes: int,
    batch_norm: bool = True,
) -> LayeredNet:
    """VGG (Simonyan & Zisserman 2015): 3×3 conv blocks (conv, BN, ReLU) with 2×2 max-pools
    marked "M", then fully-connected layers and the logits."""
    channels, height, width = in_shape
    stages: list[tuple[str, nn.Module]] = []
    registered: list[str] = []
    n_conv = n_pool = 0
    for spec in conv:
        if spec == "M":
            n_pool += 1
            stages.append((f"pool{n_pool}", nn.MaxPool2d(2)))
            height, width = height // 2, width // 2
            continue
        n_conv += 1
        block = [nn.Conv2d(channels, int(spec), 3, padding=1, bias=not batch_norm)]
        if batch_norm:
            block.append(nn.BatchNorm2d(int(spec)))
        block.append(nn.ReLU(inplace=True))
        stages.append((f"conv{n_conv}", nn.Sequential(*block)))
        registered.append(f"conv{n_conv}")
        channels = int(spec)
    if height < 1 or width < 1:
        raise ValueError(f"too many pools for a {in_shape[1]}x{in_shape[2]} input")
    features = channels * height * width
    for i, width_fc in enumerate(fc, start=1):
        layers: list[nn.Module] = [nn.Flatten()] if i == 1 else []
        layers += [nn.Linear(features, width_fc), nn.ReLU(inplace=True)]
        stages.append((f"fc{i}", nn.Sequential(*layers)))
        registered.append(f"fc{i}")
        features = width_fc
    head: list[nn.Module] = [nn.Flatten()] if not fc else []
    stages.append(("logits", nn.Sequential(*head, nn.Linear(features, num_classes))))
    registered.append("logits")
    return LayeredNet(stages, registered)


def build(spec: Mapping[str, Any], in_shape: tuple[int, int, int], num_classes: int) -> LayeredNet:
    """The network a config's model mapping describes."""
    if spec["arch"] == "vgg":
        return vgg(
            spec.get("conv", [16, 16, "M", 32, 32, "M"]),
            spec.get("fc", [64]),
            in_shape,
            num_classes,
            spec.get("batch_norm", True),
        )
    raise ValueError(f"unknown architecture {spec['arch']!r}")
