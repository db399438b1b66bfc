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


# The authors' VGG-16 (vgg.py of akhileshgotmare/sgdr): 13 conv blocks, then Dropout,
# Linear 512-4096, ReLU, Dropout, Linear 4096-4096, ReLU, Linear 4096-10.
AUTHORS_VGG16 = {"arch": "vgg16", "fc": [4096, 4096], "dropout": 0.5}
VGG16_CONV = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]


def copied(source: torch.nn.Module, target: torch.nn.Module) -> torch.nn.Module:
    """`target` with the parameters and buffers of `source`, in module order."""
    with torch.no_grad():
        for a, b in zip(source.state_dict().values(), target.state_dict().values(), strict=True):
            b.copy_(a)
    return target


def test_dropout_layers_only_in_the_head_and_only_when_positive():
    for dropout, expected in ((0.0, 0), (0.3, 2)):
        spec = {"arch": "vgg", "conv": [4, "M", 8], "fc": [16, 12], "dropout": dropout}
        net = models.build(spec, (1, 8, 8), 10)
        where = [n for n, m in net.named_modules() if isinstance(m, torch.nn.Dropout)]
        assert where == [f"stages.fc{i}.{1 if i == 1 else 0}" for i in range(1, expected + 1)]
        assert all(m.p == dropout for m in net.modules() if isinstance(m, torch.nn.Dropout))
        # Dropout is not registered: the same layers, each still ending in its ReLU
        assert (
            net.layer_names()
            == models.layer_names(spec)
            == models.layer_names({**spec, "dropout": 0.0})
        )
        assert all(isinstance(net.layer(f"fc{i}")[-1], torch.nn.ReLU) for i in (1, 2))


def test_dropout_is_inactive_in_eval_mode():
    torch.manual_seed(0)
    spec = {"arch": "vgg", "conv": [4, "M", 8], "fc": [16, 12]}
    with_dropout = models.build({**spec, "dropout": 0.5}, (1, 8, 8), 10)
    plain = copied(with_dropout, models.build(spec, (1, 8, 8), 10))
    x = torch.randn(6, 1, 8, 8)
    with_dropout.train(), plain.train()
    assert not torch.equal(with_dropout(x), plain(x))  # active while training
    with_dropout.eval(), plain.eval()
    out = with_dropout(x)
    assert torch.equal(out, with_dropout(x))
    assert torch.equal(out, plain(x))


def test_no_dropout_keeps_the_checkpoint_layout():
    keys = models.build({"arch": "vgg16"}, (3, 32, 32), 10).state_dict().keys()
    assert {"stages.fc1.1.weight", "stages.fc2.0.weight", "stages.logits.0.weight"} <= set(keys)


@pytest.fixture(scope="module")
def authors_vgg16() -> models.LayeredNet:
    return models.build(AUTHORS_VGG16, (3, 32, 32), 10)


def test_authors_vgg16_head_in_the_authors_order(authors_vgg16):
    head = [
        m
        for name in ("fc1", "fc2", "logits")
        for m in authors_vgg16.layer(name)
        if not isinstance(m, torch.nn.Flatten)
    ]
    kinds = [torch.nn.Dropout, torch.nn.Linear, torch.nn.ReLU] * 2 + [torch.nn.Linear]
    assert [type(m) for m in head] == kinds
    assert [(m.in_features, m.out_features) for m in head if isinstance(m, torch.nn.Linear)] == [
        (512, 4096),
        (4096, 4096),
        (4096, 10),
    ]
    assert [m.p for m in head if isinstance(m, torch.nn.Dropout)] == [0.5, 0.5]
    convs = [f"conv{i}" for i in range(1, 14)]
    assert authors_vgg16.layer_names() == [*convs, "fc1", "fc2", "logits"]
    assert authors_vgg16.eval()(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_authors_vgg16_parameter_count_in_closed_form(authors_vgg16):
    # 3x3 convs without bias (BatchNorm follows; 2 parameters per channel), then the head
    ins = [3, *VGG16_CONV[:-1]]
    conv = sum(9 * c_in * c_out + 2 * c_out for c_in, c_out in zip(ins, VGG16_CONV, strict=True))
    widths = [512, 4096, 4096, 10]
    fc = sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))
    n = sum(p.numel() for p in authors_vgg16.parameters())
    assert n == conv + fc == 33_642_442
    # the authors' vgg.py also gives each conv a bias before its BatchNorm (redundant, as
    # BatchNorm subtracts the mean): 33,646,666 parameters there
    assert n + sum(VGG16_CONV) == 33_646_666


@pytest.mark.parametrize("dropout", [-0.1, 1.0])
def test_dropout_outside_0_1_is_refused(dropout):
    with pytest.raises(ValueError, match="dropout must be in"):
        models.vgg([4], [8], (1, 8, 8), 10, dropout=dropout)
