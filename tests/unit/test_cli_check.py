"""`closerlook check`: each model's parameter count and registered layers, built on the
dataset's input shape without its files; model keys of another architecture fail early."""

from __future__ import annotations

import copy

import pytest
import torch
import yaml

from closerlook import cli, config, data, models
from closerlook.cli import main

# VGG-16 on 32x32: 2 convs at 64, 2 at 128, 3 at 256, 3 and 3 at 512, a pool after each
# group; the authors' head of 4096, 4096 and the logits
VGG16_WIDTHS = [(64, 32)] * 2 + [(128, 16)] * 2 + [(256, 8)] * 3 + [(512, 4)] * 3 + [(512, 2)] * 3
VGG16_LAYERS = ", ".join(
    [*(f"conv{i} {c}x{s}x{s}" for i, (c, s) in enumerate(VGG16_WIDTHS, 1)), "fc1 4096"]
    + ["fc2 4096", "logits 10"]
)


def write(tmp_path, cfg: dict) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_check_prints_the_paper_vgg16_count_and_layers(repo, capsys):
    # the authors' head (vgg.py): 4096-4096 with Dropout; CIFAR-10 files need not exist
    assert main(["check", str(repo / "workflow/configs/paper.yaml")]) == 0
    out = capsys.readouterr().out
    assert f"  model vgg16: 33,642,442 parameters; layers: {VGG16_LAYERS}\n" in out
    resnet = "  model resnet18: 11,173,962 parameters; layers: conv1 64x32x32, block1_1 64x32x32,"
    assert resnet in out
    assert "block4_2 512x4x4, logits 10\n" in out


def test_check_prints_the_embedded_models(repo, capsys):
    assert main(["check", str(repo / "config.yaml")]) == 0
    out = capsys.readouterr().out
    layers = "conv1 16x8x8, conv2 16x8x8, conv3 32x4x4, conv4 32x4x4, fc1 64, logits 10"
    assert f"  model vgg_small: 25,370 parameters; layers: {layers}\n" in out


def test_summary_counts_match_a_real_build(embedded_config):
    cfg = config.validate(embedded_config)
    net = models.build(cfg["models"]["vgg_small"], (1, 8, 8), 10)
    n = sum(p.numel() for p in net.parameters())
    assert cli.model_summaries(cfg)[0].startswith(f"model vgg_small: {n:,} parameters")


def test_dataset_shapes_are_the_loaders():
    digits = data.load_digits()
    assert cli.DATASET_SHAPES["digits"] == (digits.image_shape, digits.num_classes)
    datasets = config.load_schema()["properties"]["data"]["properties"]["dataset"]["enum"]
    assert set(cli.DATASET_SHAPES) == set(datasets)


def test_dropout_on_resnet18_is_a_one_line_error(tmp_path, embedded_config, capsys):
    cfg = copy.deepcopy(embedded_config)
    cfg["models"]["res"] = {"arch": "resnet18", "dropout": 0.5}
    with pytest.raises(config.ConfigError, match=r"'models\.res\.dropout' does not apply"):
        config.validate(cfg)
    assert main(["check", write(tmp_path, cfg)]) == 2
    err = capsys.readouterr().err
    assert "'models.res.dropout'" in err and "vgg16" in err and err.count("\n") == 1


@pytest.mark.parametrize("dropout", [1, -0.5, "half"])
def test_dropout_outside_0_1_names_the_key(embedded_config, dropout):
    cfg = copy.deepcopy(embedded_config)
    cfg["models"]["vgg_small"]["dropout"] = dropout
    with pytest.raises(config.ConfigError, match=r"'models\.vgg_small\.dropout'"):
        config.validate(cfg)


def test_a_model_too_deep_for_the_images_is_a_config_error(tmp_path, embedded_config, capsys):
    cfg = copy.deepcopy(embedded_config)
    cfg["models"]["deep"] = {"arch": "vgg16"}  # five pools on 8x8 digits
    assert main(["check", write(tmp_path, cfg)]) == 2
    err = capsys.readouterr().err
    assert "'models.deep': too many pools for a 8x8 input" in err and err.count("\n") == 1


def test_summaries_leave_the_default_device(embedded_config):
    cfg = config.validate(embedded_config)
    before = torch.get_default_device()
    assert len(cli.model_summaries(cfg)) == len(cfg["models"])
    assert torch.get_default_device() == before
