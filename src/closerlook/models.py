"""Networks with an ordered registry of named layers.

Every model is a :class:`LayeredNet`: a sequence of named stages run in order. The stages
whose outputs the study looks at — each conv block (or residual block) after its
nonlinearity, each hidden fully-connected layer (its Dropout, if any, then Linear) after its
nonlinearity, and the logits — are the *registered layers*, in network order. Activation
capture, layer freezing and the figures' layer axes all use `layer_names()`.

Architectures (the `arch` of a config's model):

- ``vgg``: a VGG-style net of any widths (`conv`, with "M" for a max-pool, and `fc`);
- ``vgg11``, ``vgg16``: the CIFAR-10 variants of VGG-11 and VGG-16 with BatchNorm
  (Simonyan & Zisserman 2015; by default two 512-wide fully-connected layers without
  Dropout; the authors' vgg.py (akhileshgotmare/sgdr) has two 4096-wide ones, each after a
  Dropout(0.5): `fc: [4096, 4096]`, `dropout: 0.5`, as in the paper preset);
- ``resnet18``: the CIFAR-10 ResNet-18 (He et al. 2016; 3×3 stem, four stages of two basic
  blocks, global average pooling);
- ``torchvision``, ``python``: a network the user brings, its layers named by module path
  (closerlook.usermodels).

Layers are grouped for freezing: ``features`` (every conv or residual block), ``classifier``
(the fully-connected layers and the logits), and every registered layer on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

ARCHITECTURES = ("vgg", "vgg11", "vgg16", "resnet18", "torchvision", "python")
# Architectures whose layers are module paths of a user's network (closerlook.usermodels).
PATH_ARCHITECTURES = ("torchvision", "python")

# Conv widths ("M": 2×2 max-pool) and hidden fully-connected widths of the named VGGs.
VGG_LAYOUTS: dict[str, tuple[list[int | str], list[int]]] = {
    "vgg": ([16, 16, "M", 32, 32, "M"], [64]),
    "vgg11": ([64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"], [512, 512]),
    "vgg16": (
        [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
        [512, 512],
    ),
}

# Residual blocks per stage of ResNet-18; stage s has width · 2^(s-1) channels.
RESNET18_BLOCKS = (2, 2, 2, 2)


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


# ------------------------------------------------------------------------- VGG
def vgg(
    conv: Sequence[int | str],
    fc: Sequence[int],
    in_shape: tuple[int, int, int],
    num_classes: int,
    batch_norm: bool = True,
    dropout: float = 0.0,
) -> LayeredNet:
    """VGG (Simonyan & Zisserman 2015): 3×3 conv blocks (conv, BN, ReLU) with 2×2 max-pools
    marked "M", then fully-connected layers and the logits; `dropout` > 0 puts a Dropout
    before every hidden Linear, as in the authors' vgg.py (akhileshgotmare/sgdr)."""
    stages, registered, features = _vgg_features(conv, in_shape, batch_norm)
    head, head_names = _vgg_classifier(features, fc, num_classes, dropout)
    return LayeredNet([*stages, *head], [*registered, *head_names])


def _vgg_features(
    conv: Sequence[int | str], in_shape: tuple[int, int, int], batch_norm: bool
) -> tuple[list[tuple[str, nn.Module]], list[str], int]:
    """The conv blocks and pools of a VGG, their registered names, and the flattened width."""
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
    return stages, registered, channels * height * width


def _vgg_classifier(
    features: int, fc: Sequence[int], num_classes: int, dropout: float
) -> tuple[list[tuple[str, nn.Module]], list[str]]:
    """Stages fc1 … fcN ([Flatten], [Dropout], Linear, ReLU) and logits ([Flatten], Linear):
    the authors' vgg.py head is Dropout, Linear, ReLU, Dropout, Linear, ReLU, Linear."""
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), not {dropout!r}")
    stages: list[tuple[str, nn.Module]] = []
    for i, width_fc in enumerate(fc, start=1):
        layers: list[nn.Module] = [nn.Flatten()] if i == 1 else []
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [nn.Linear(features, width_fc), nn.ReLU(inplace=True)]
        stages.append((f"fc{i}", nn.Sequential(*layers)))
        features = width_fc
    head: list[nn.Module] = [nn.Flatten()] if not fc else []
    stages.append(("logits", nn.Sequential(*head, nn.Linear(features, num_classes))))
    return stages, [name for name, _ in stages]


# ------------------------------------------------------------------------- ResNet
class BasicBlock(nn.Module):
    """y = ReLU(BN(conv(ReLU(BN(conv(x))))) + shortcut(x)) (He et al. 2016, Fig. 2); the
    shortcut is a strided 1×1 conv with BN where the shape changes, else the identity."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.residual = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.residual(x) + self.shortcut(x))


def resnet18(in_shape: tuple[int, int, int], num_classes: int, width: int = 64) -> LayeredNet:
    """ResNet-18 for small images: 3×3 stem, stages of 2 basic blocks at widths
    w, 2w, 4w, 8w (stride 2 from the second stage on), global average pool, logits."""
    stages: list[tuple[str, nn.Module]] = [
        (
            "conv1",
            nn.Sequential(
                nn.Conv2d(in_shape[0], width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ),
        )
    ]
    registered = ["conv1"]
    c_in = width
    for s, n_blocks in enumerate(RESNET18_BLOCKS, start=1):
        c_out = width * 2 ** (s - 1)
        for b in range(1, n_blocks + 1):
            stride = 2 if (s > 1 and b == 1) else 1
            stages.append((f"block{s}_{b}", BasicBlock(c_in, c_out, stride)))
            registered.append(f"block{s}_{b}")
            c_in = c_out
    stages.append(("pool", nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())))
    stages.append(("logits", nn.Linear(c_in, num_classes)))
    registered.append("logits")
    return LayeredNet(stages, registered)


# ------------------------------------------------------------------------- from config
def vgg_layout(spec: Mapping[str, Any]) -> tuple[list[int | str], list[int]]:
    """(conv, fc) of a VGG-family spec: the named layout, with `conv`/`fc` overriding it."""
    conv, fc = VGG_LAYOUTS[spec["arch"]]
    return list(spec.get("conv", conv)), list(spec.get("fc", fc))


def layer_names(spec: Mapping[str, Any]) -> list[str]:
    """The registered layers of the network a spec describes, without building it."""
    arch = spec["arch"]
    if arch in PATH_ARCHITECTURES:
        return list(spec["layers"])
    if arch in VGG_LAYOUTS:
        conv, fc = vgg_layout(spec)
        n_conv = sum(1 for c in conv if c != "M")
        return [f"conv{i}" for i in range(1, n_conv + 1)] + [
            *(f"fc{i}" for i in range(1, len(fc) + 1)),
            "logits",
        ]
    if arch == "resnet18":
        blocks = [
            f"block{s}_{b}" for s, n in enumerate(RESNET18_BLOCKS, 1) for b in range(1, n + 1)
        ]
        return ["conv1", *blocks, "logits"]
    raise ValueError(f"unknown architecture {arch!r}; allowed: {', '.join(ARCHITECTURES)}")


def layer_groups(spec: Mapping[str, Any]) -> dict[str, list[str]]:
    """Named groups of registered layers, for freezing: ``features``, ``classifier`` and every
    layer by its own name (a path model's groups: closerlook.usermodels.layer_groups)."""
    if spec["arch"] in PATH_ARCHITECTURES:
        from closerlook import usermodels

        return usermodels.layer_groups(spec)
    names = layer_names(spec)
    classifier = [n for n in names if n.startswith("fc") or n == "logits"]
    groups = {
        "features": [n for n in names if n not in classifier],
        "classifier": classifier,
    }
    groups.update({n: [n] for n in names})
    return groups


def last_stage(spec: Mapping[str, Any]) -> list[str]:
    """The registered layers of the network's last stage before the classifier: ResNet-18's
    fourth stage (block4_1, block4_2), a VGG's conv layers after its second-to-last
    max-pool, a user network's last feature layer."""
    arch = spec["arch"]
    features = layer_groups(spec)["features"]
    if arch == "resnet18":
        return [n for n in features if n.startswith(f"block{len(RESNET18_BLOCKS)}_")]
    if arch in VGG_LAYOUTS:
        conv, _ = vgg_layout(spec)
        stages = "".join("M" if c == "M" else "c" for c in conv).split("M")
        return features[-len([s for s in stages if s][-1]) :]
    return features[-1:]


def build(spec: Mapping[str, Any], in_shape: tuple[int, int, int], num_classes: int) -> LayeredNet:
    """The network a config's model mapping describes (a user's network: a
    closerlook.usermodels.PathNet, which has the same interface)."""
    arch = spec["arch"]
    if arch in PATH_ARCHITECTURES:
        from closerlook import usermodels

        return usermodels.build(spec, in_shape, num_classes)  # type: ignore[return-value]
    if arch in VGG_LAYOUTS:
        conv, fc = vgg_layout(spec)
        return vgg(
            conv, fc, in_shape, num_classes, spec.get("batch_norm", True), spec.get("dropout", 0.0)
        )
    if arch == "resnet18":
        return resnet18(in_shape, num_classes, spec.get("width", 64))
    raise ValueError(f"unknown architecture {arch!r}; allowed: {', '.join(ARCHITECTURES)}")
