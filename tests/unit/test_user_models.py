"""Networks a user brings (closerlook.usermodels, closerlook.usercheck): torchvision models
and factories of the user's own file, layers by module path, tuple outputs, freezing by
path, the module file as the config's `source`, and one-line config errors for every way
they go wrong."""

from __future__ import annotations

import copy
import textwrap

import numpy as np
import pytest
import torch
import torchvision
import yaml
from torch import nn

from closerlook import activations, cli, config, models, plan, similarity, train, usermodels
from closerlook.checkpoints import ResumeFolder
from closerlook.plan import RunSettings
from closerlook.provenance import sha256

from support import config_error, run_settings, small_digits

TV_LAYERS = ["layer1", "layer2", "layer3", "layer4", "fc"]

NETS = '''
from torch import nn


class Pair(nn.Module):
    """Returns (features, an auxiliary tensor): the layer's activation is the first."""

    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, 4, 3, padding=1)

    def forward(self, x):
        y = self.conv(x).relu()
        return y, y.sum()


class Net(nn.Module):
    def __init__(self, width, in_channels, num_classes):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()
        )
        self.pair = Pair(width)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 8 * 8, num_classes))

    def forward(self, x):
        y, _ = self.pair(self.body(x))
        return self.head(y), "aux"


def build(width=6, in_shape=(1, 8, 8), num_classes=10):
    return Net(width, in_shape[0], num_classes)


def not_a_module(**kwargs):
    return 42


def broken(**kwargs):
    raise RuntimeError("out of ideas")
'''


@pytest.fixture
def own(tmp_path, embedded_config):
    """A config beside a module file `nets_<test>.py` of the user's, model `mine` from it."""
    module = f"nets_{abs(hash(str(tmp_path))) % 10**8}"
    (tmp_path / f"{module}.py").write_text(NETS)
    cfg = copy.deepcopy(embedded_config)
    cfg["models"]["mine"] = {
        "arch": "python",
        "factory": f"{module}:build",
        "kwargs": {"width": 6},
        "layers": ["body.2", "pair", "head.1"],
    }
    cfg["runs"]["step"]["model"] = "mine"
    cfg["questions"].pop("rq4", None)  # its analyses compare sgdr (vgg_small) with step
    cfg["similarity"]["analyses"].pop("sgdr_vs_step")
    cfg["curves"]["connections"].pop("sgdr_vs_step")  # joins sgdr and step too
    return tmp_path, module, cfg


def validated(folder, cfg):
    return config.validate(cfg, search=[folder])


def test_a_factory_module_next_to_the_config_is_recorded_as_the_source(own):
    folder, module, cfg = own
    spec = validated(folder, cfg)["models"]["mine"]
    assert spec["source"].endswith(f"{module}.py")
    loaded = usermodels.build(spec, (1, 8, 8), 10)
    assert loaded.layer_names() == ["body.2", "pair", "head.1"]
    assert isinstance(loaded.layer("body.2"), nn.ReLU)


def test_layers_record_module_outputs_and_the_first_tensor_of_a_tuple(own):
    folder, _, cfg = own
    net = models.build(validated(folder, cfg)["models"]["mine"], (1, 8, 8), 10).eval()
    x = torch.randn(5, 1, 8, 8)
    seen: dict[str, torch.Tensor] = {}
    activations.capture(net, x, 5, lambda name, _row, out: seen.__setitem__(name, out.clone()))
    body = net.net.body(x)
    pair, _ = net.net.pair(body)
    assert torch.equal(seen["body.2"], body)
    assert torch.equal(seen["pair"], pair)  # not the tuple
    assert torch.equal(seen["head.1"], net(x))  # the logits: the first of (logits, "aux")


def test_torchvision_resnet18_by_name_has_torchvisions_parameters_and_shapes():
    spec = {"arch": "torchvision", "name": "resnet18", "layers": TV_LAYERS}
    net = models.build(spec, (3, 32, 32), 10).eval()
    reference = torchvision.models.resnet18(num_classes=10)
    assert sum(p.numel() for p in net.parameters()) == sum(
        p.numel() for p in reference.parameters()
    )
    seen: dict[str, tuple[int, ...]] = {}
    activations.capture(
        net, torch.zeros(2, 3, 32, 32), 2, lambda n, _r, out: seen.__setitem__(n, out.shape)
    )
    # the ImageNet stem (stride 2, then a stride-2 max-pool) takes 32x32 to 8x8
    assert seen == {
        "layer1": (2, 64, 8, 8),
        "layer2": (2, 128, 4, 4),
        "layer3": (2, 256, 2, 2),
        "layer4": (2, 512, 1, 1),
        "fc": (2, 10),
    }


def test_check_prints_the_resolved_layers_with_their_shapes(own, capsys):
    folder, _, cfg = own
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert cli.main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    n = 1 * 6 * 9 + 6 + 2 * 6 + 6 * 4 * 9 + 4 + 256 * 10 + 10  # conv, BN, conv, linear
    assert f"  model mine: {n:,} parameters; layers: body.2 6x8x8, pair 4x8x8, head.1 10\n" in out


# ----------------------------------------------------------------- errors, one line each
def test_a_layer_path_the_network_lacks_names_the_key_and_the_closest_paths(own):
    folder, _, cfg = own
    cfg["models"]["mine"]["layers"] = ["body.2", "paer"]
    message = config_error_in(folder, cfg)
    assert message.startswith("'models.mine.layers.1' is 'paer', not a module of the network")
    assert "closest: pair" in message


def test_a_torchvision_layer_path_error_names_the_closest(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["data"] = {"dataset": "cifar10"}
    cfg["models"]["tv"] = {"arch": "torchvision", "name": "resnet18", "layers": ["layer2.1.conv3"]}
    message = config_error(cfg)
    assert "'models.tv.layers.0' is 'layer2.1.conv3'" in message
    assert "layer2.1.conv1" in message and "layer2.1.conv2" in message


def test_an_unknown_torchvision_model_names_the_closest(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["data"] = {"dataset": "cifar10"}
    cfg["models"]["tv"] = {"arch": "torchvision", "name": "resnet19", "layers": ["fc"]}
    message = config_error(cfg)
    assert message.startswith("'models.tv.name': ValueError: torchvision has no")
    assert "resnet18" in message


def test_a_factory_module_that_is_nowhere_is_one_line(own):
    folder, _, cfg = own
    cfg["models"]["mine"]["factory"] = "nowhere_nets:build"
    message = config_error_in(folder, cfg)
    assert message.startswith("'models.mine.factory' is 'nowhere_nets:build', but there is no")
    assert "nowhere_nets.py" in message and str(folder) in message


@pytest.mark.parametrize(
    ("function", "says"),
    [
        ("not_a_module", "returned int, not a torch.nn.Module"),
        ("broken", "raised RuntimeError: out of ideas"),
        ("missing", "has no function 'missing'"),
    ],
)
def test_a_factory_that_gives_no_module_is_one_line(own, function, says):
    folder, module, cfg = own
    cfg["models"]["mine"]["factory"] = f"{module}:{function}"
    message = config_error_in(folder, cfg)
    assert message.startswith(f"'models.mine.factory': {module}:{function}")
    assert says in message


def test_a_module_that_fails_to_import_is_one_line(own):
    folder, module, cfg = own
    (folder / f"{module}.py").write_text("import not_installed_anywhere\n" + NETS)
    message = config_error_in(folder, cfg)
    assert message.startswith(f"'models.mine.factory': cannot import {module}:build")
    assert "ModuleNotFoundError: No module named 'not_installed_anywhere'" in message


def test_an_input_the_network_cannot_take_names_the_dataset_shape(embedded_config):
    cfg = copy.deepcopy(embedded_config)  # digits: 1-channel 8x8 images
    cfg["models"]["tv"] = {"arch": "torchvision", "name": "resnet18", "layers": TV_LAYERS}
    cfg["runs"]["cosine"]["model"] = "tv"
    message = config_error(cfg)
    assert message.startswith("'models.tv' cannot take the digits images (1x8x8, C x H x W)")
    assert "3 channels" in message


def test_keys_of_another_kind_of_model_are_refused(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["models"]["tv"] = {"arch": "torchvision", "layers": ["fc"]}
    assert config_error(cfg) == "'models.tv.name' is missing; arch 'torchvision' needs name, layers"
    cfg["models"]["tv"] = {"arch": "vgg", "layers": ["fc"]}
    assert config_error(cfg).startswith("'models.tv.layers' does not apply to arch 'vgg'")


def config_error_in(folder, cfg) -> str:
    with pytest.raises(config.ConfigError) as info:
        validated(folder, cfg)
    message = str(info.value)
    assert "\n" not in message, message
    return message


# ----------------------------------------------------------------- freezing by path
def test_a_module_path_freezes_that_module_and_everything_under_it(own):
    folder, _, cfg = own
    cfg["runs"]["step"]["freeze"] = {"layers": ["pair"], "epochs": 1}
    spec = validated(folder, cfg)["models"]["mine"]
    net = models.build(spec, (1, 8, 8), 10)
    groups = models.layer_groups(spec)
    assert groups["classifier"] == ["head.1"] and groups["features"] == ["body.2", "pair"]
    train.set_frozen(net, train.frozen_at({"layers": ["pair"]}, 0, groups))
    frozen = {n for n, p in net.named_parameters() if not p.requires_grad}
    assert frozen == {"net.pair.conv.weight", "net.pair.conv.bias"}
    train.set_frozen(net, train.frozen_at({"layers": ["classifier"]}, 0, groups))
    assert {n for n, p in net.named_parameters() if not p.requires_grad} == {
        "net.head.1.weight",
        "net.head.1.bias",
    }


def test_a_freeze_path_the_network_lacks_is_one_line(own):
    folder, _, cfg = own
    cfg["runs"]["step"]["freeze"] = {"layers": ["heads"]}
    message = config_error_in(folder, cfg)
    assert message.startswith("'runs.step.freeze.layers.0' is 'heads', not a module")
    assert "head" in message and "(or a group: features, classifier" in message


# ----------------------------------------------------------------- stale-only inputs
def test_the_module_file_is_an_input_of_the_runs_of_that_model_only(own):
    folder, module, cfg = own
    valid = validated(folder, cfg)
    source = valid["models"]["mine"]["source"]
    assert plan.run_sources(valid, "step") == [source]
    assert plan.model_sources(valid, "step") == [source]
    assert plan.run_sources(valid, "sgdr") == []


# ----------------------------------------------------------------- any output shape
def test_a_sequence_output_is_compared_flattened():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(40, 5, 3)), rng.normal(size=(40, 5, 3))
    flat = similarity.layer_similarity(a.reshape(40, -1), b.reshape(40, -1), "cka").value
    assert similarity.layer_similarity(a, b, "cka").value == pytest.approx(flat)
    assert similarity.layer_similarity(a, b, "svcca").value == pytest.approx(
        similarity.layer_similarity(a.reshape(40, -1), b.reshape(40, -1), "svcca").value
    )


def test_the_example_config_validates(repo):
    valid = config.load(repo / "workflow/configs/examples/own_network.yaml")
    assert valid["models"]["mine"]["source"].endswith("examples/my_nets.py")
    assert valid["runs"]["cyclic"]["schedule"]["source"].endswith("examples/my_schedules.py")
    text = textwrap.dedent((repo / "workflow/configs/examples/my_nets.py").read_text())
    assert "closerlook" not in text.split('"""')[2]  # the module needs nothing of closerlook


def test_the_module_files_digest_is_recorded_and_guards_resuming(own, tmp_path):
    folder, module, cfg = own
    spec = validated(folder, cfg)["models"]["mine"]
    settings = RunSettings(**run_settings(model="mine", epochs=1))

    def resume_hash():
        run = train.set_up(
            settings, spec, small_digits(), ResumeFolder.of({}, tmp_path / "r", 10, 1),
            torch.device("cpu"), "hash", None,
        )  # fmt: skip
        assert run.meta["provenance"]["model_source_sha256"] == sha256(spec["source"])
        return run.meta["resume_hash"]

    before = resume_hash()
    with open(spec["source"], "a") as f:
        f.write("# edited: a resumed run must not continue the old network's state\n")
    assert resume_hash() != before
