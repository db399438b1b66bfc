"""The layer registry: network order, shapes, and the embedded preset's architecture."""

import pytest
import torch

from closerlook import models


def test_vgg_registry_in_network_order():
    net = models.vgg([16, 16, "M", 32, 32, "M"], [64], (1, 8, 8), 10)
    assert net.layer_names() == ["conv1", "conv2", "conv3", "conv4", "fc1", "logits"]
    assert net(torch.zeros(3, 1, 8, 8)).shape == (3, 10)


def test_registered_layer_outputs_have_the_expected_shapes():
    net = models.vgg([8, "M", 16], [], (3, 32, 32), 10).eval()
    shapes = {}
    for name in net.layer_names():
        net.layer(name).register_forward_hook(lambda m, i, o, n=name: shapes.update({n: o.shape}))
    net(torch.zeros(2, 3, 32, 32))
    assert shapes == {
        "conv1": (2, 8, 32, 32),
        "conv2": (2, 16, 16, 16),
        "logits": (2, 10),
    }


@pytest.mark.parametrize(
    ("spec", "n_conv", "n_fc"),
    [({"arch": "vgg11"}, 8, 2), ({"arch": "vgg16"}, 13, 2), ({"arch": "vgg", "conv": [4]}, 1, 1)],
)
def test_vgg_family_registry(spec, n_conv, n_fc):
    names = models.layer_names(spec)
    assert names == [
        *(f"conv{i}" for i in range(1, n_conv + 1)),
        *(f"fc{i}" for i in range(1, n_fc + 1)),
        "logits",
    ]


def test_vgg16_on_cifar_shapes_and_parameter_count():
    net = models.build({"arch": "vgg16"}, (3, 32, 32), 10)
    assert net.layer_names() == models.layer_names({"arch": "vgg16"})
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    # 13 conv layers (3x3, BN without conv bias) + 512-512-512-10 classifier
    widths = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    conv = sum(
        9 * c_in * c_out + 2 * c_out for c_in, c_out in zip([3, *widths], widths, strict=False)
    )
    fc = 512 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10
    assert sum(p.numel() for p in net.parameters()) == conv + fc


def test_resnet18_registry_shapes_and_size():
    net = models.build({"arch": "resnet18"}, (3, 32, 32), 10).eval()
    names = net.layer_names()
    assert names[0] == "conv1" and names[-1] == "logits" and len(names) == 10
    assert names == models.layer_names({"arch": "resnet18"})
    shapes = {}
    for name in names:
        net.layer(name).register_forward_hook(lambda m, i, o, n=name: shapes.update({n: o.shape}))
    net(torch.zeros(2, 3, 32, 32))
    assert shapes["conv1"] == (2, 64, 32, 32)
    assert shapes["block1_2"] == (2, 64, 32, 32)
    assert shapes["block2_1"] == (2, 128, 16, 16)
    assert shapes["block4_2"] == (2, 512, 4, 4)
    assert shapes["logits"] == (2, 10)
    # the CIFAR-10 ResNet-18 has 11.17M parameters
    assert sum(p.numel() for p in net.parameters()) == 11_173_962


def test_small_resnet_runs_on_digits():
    net = models.build({"arch": "resnet18", "width": 4}, (1, 8, 8), 10)
    assert net(torch.zeros(3, 1, 8, 8)).shape == (3, 10)


def test_layer_groups():
    groups = models.layer_groups({"arch": "vgg", "conv": [8, "M", 8], "fc": [16]})
    assert groups["features"] == ["conv1", "conv2"]
    assert groups["classifier"] == ["fc1", "logits"]
    assert groups["conv2"] == ["conv2"]
    assert models.layer_groups({"arch": "resnet18"})["classifier"] == ["logits"]
