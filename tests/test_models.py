"""The layer registry: network order, shapes, and the embedded preset's architecture."""

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
