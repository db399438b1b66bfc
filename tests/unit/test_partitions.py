"""Depth partitions with known answers: the output layer is never "deeper" unless the config
says so, (b) takes the frozen group (with the last stage where that is the logits alone),
and every partition comes with its sensitivity rows."""

from __future__ import annotations

import copy

import pytest

from closerlook import config, models, resolved
from closerlook.partitions import (
    OTHER,
    OUTPUT,
    PRIMARY,
    Partition,
    across_networks,
    distillation,
    halves,
    network,
    warmup,
)

EMBEDDED = {"arch": "vgg", "conv": [16, 16, "M", 32, 32, "M"], "fc": [64]}
VGG16 = {"arch": "vgg16", "fc": [4096, 4096], "dropout": 0.5}
RESNET18 = {"arch": "resnet18"}
USER = {
    "arch": "python",
    "factory": "my_nets:tiny",
    "layers": ["body.0", "body.2", "body.4", "head"],
}
CONVS = [f"conv{i}" for i in range(1, 14)]
BLOCKS = [f"block{s}_{b}" for s in range(1, 5) for b in (1, 2)]


def test_halves_leave_the_middle_layer_of_an_odd_count_out():
    p = halves(["a", "b", "c", "d", "e"], "x")
    assert (p.shallow, p.deeper) == (("a", "b"), ("d", "e"))
    assert p.means(["a", "b", "c", "d", "e"], [1, 2, 3, 4, 5]) == (1.5, 4.5)


def test_means_over_the_named_layers_in_any_order():
    p = Partition("x", ("conv1",), ("fc1", "logits"))
    assert p.means(["logits", "conv1", "fc1"], [5.0, 1.0, 3.0]) == (1.0, 4.0)
    assert all(v != v for v in p.means(["conv1"], [1.0]))  # a side without layers: NaN


@pytest.mark.parametrize(
    ("spec", "shallow", "deeper"),
    [
        (EMBEDDED, ["conv1", "conv2"], ["conv3", "conv4"]),
        (VGG16, CONVS[:6], CONVS[7:]),  # 13 conv layers: conv7 in neither half
        (RESNET18, ["conv1", *BLOCKS[:3]], BLOCKS[4:]),  # 9 feature layers: block2_2 in neither
        (USER, ["body.0"], ["body.4"]),
    ],
    ids=["embedded", "vgg16", "resnet18", "user"],
)
def test_finding_d_compares_the_feature_layers_without_the_output(spec, shallow, deeper):
    parts = across_networks(network(spec))
    assert (list(parts[PRIMARY].shallow), list(parts[PRIMARY].deeper)) == (shallow, deeper)
    output = models.layer_names(spec)[-1]
    assert output not in parts[PRIMARY].deeper
    assert output in parts[OUTPUT].deeper  # the sensitivity row counts it
    assert output not in parts[OTHER].deeper + parts[OTHER].shallow


def test_finding_c_halves_every_layer_but_the_output():
    parts = distillation(network(EMBEDDED))
    assert parts[PRIMARY].text() == "shallow conv1, conv2; deeper conv4, fc1"
    assert parts[OUTPUT].text() == "shallow conv1, conv2, conv3; deeper conv4, fc1, logits"
    assert parts[OTHER].text() == "shallow conv1, conv2; deeper conv3, conv4"
    vgg = distillation(network(VGG16))[PRIMARY]  # 15 layers but the logits: conv8 in neither
    assert vgg.shallow == tuple(CONVS[:7]) and vgg.deeper == (*CONVS[8:], "fc1", "fc2")


def test_finding_b_takes_the_frozen_group_and_the_last_stage_where_it_is_the_logits_alone():
    embedded = warmup(network(EMBEDDED), None)
    assert embedded[PRIMARY].deeper == ("fc1", "logits")
    assert embedded[OUTPUT].deeper == ("fc1",) and "logits" not in embedded[OUTPUT].shallow
    resnet = warmup(network(RESNET18), ["logits"])
    assert resnet[PRIMARY].deeper == ("block4_1", "block4_2", "logits")
    assert resnet[PRIMARY].shallow == ("conv1", *BLOCKS[:6])
    assert resnet[OUTPUT].deeper == ("block4_1", "block4_2")
    assert warmup(network(VGG16), None)[PRIMARY].deeper == ("fc1", "fc2", "logits")
    # a configured group without the output layer: the sensitivity row adds it
    own = warmup(network(EMBEDDED), ["conv4"])
    assert own[PRIMARY].deeper == ("conv4",) and own[OUTPUT].deeper == ("conv4", "logits")


def test_last_stages():
    assert models.last_stage(RESNET18) == ["block4_1", "block4_2"]
    assert models.last_stage(VGG16) == ["conv11", "conv12", "conv13"]
    assert models.last_stage(EMBEDDED) == ["conv3", "conv4"]
    assert models.last_stage(USER) == ["body.4"]


def test_the_config_resolves_every_question_and_include_output_counts_it(embedded_config):
    q = resolved.resolved_questions(config.validate(embedded_config))
    assert set(q["partitions"]) == {"rq2", "rq3", "rq4"}
    assert q["partitions"]["rq4"][PRIMARY]["deeper"] == ["conv3", "conv4"]
    assert q["partitions"]["rq2"][PRIMARY]["deeper"] == ["fc1", "logits"]
    cfg = copy.deepcopy(embedded_config)
    cfg["findings"]["include_output"] = True
    q = resolved.resolved_questions(config.validate(cfg))
    assert q["partitions"]["rq4"][PRIMARY]["deeper"] == ["conv4", "fc1", "logits"]
    assert q["partitions"]["rq3"][PRIMARY]["deeper"] == ["conv4", "fc1", "logits"]


def test_the_paper_preset_reads_resnet18s_warmup_on_the_last_stage_and_the_logits():
    import yaml

    from support import PAPER

    q = resolved.resolved_questions(config.validate(yaml.safe_load(PAPER.read_text())))
    assert q["partitions"]["rq2"][PRIMARY]["deeper"] == ["block4_1", "block4_2", "logits"]
    assert q["partitions"]["rq4"][PRIMARY]["deeper"] == CONVS[7:]
