"""A network of your own for closerlook (workflow/configs/examples/own_network.yaml).

closerlook calls ``build(width=..., in_shape=..., num_classes=...)`` and looks at the
outputs of the module paths the config lists under ``layers`` (``body.0``, ``head``, ...).
Any ``torch.nn.Module`` works: closerlook hooks the named submodules, and its curves call
the module functionally, so nothing here needs to know about closerlook.
"""

from torch import nn


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 convolution, BatchNorm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()
    )


class SmallNet(nn.Module):
    """Two conv blocks with a pool between, global average pooling, a linear head."""

    def __init__(self, width: int, in_channels: int, num_classes: int):
        super().__init__()
        self.body = nn.Sequential(
            conv_block(in_channels, width),  # body.0
            nn.MaxPool2d(2),  # body.1
            conv_block(width, 2 * width),  # body.2
            nn.AdaptiveAvgPool2d(1),  # body.3
            nn.Flatten(),  # body.4
        )
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x):
        return self.head(self.body(x))


def build(width: int = 16, in_shape=(1, 8, 8), num_classes: int = 10) -> nn.Module:
    return SmallNet(width, in_shape[0], num_classes)
