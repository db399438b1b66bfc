"""The plan's sizes and times against known answers: a checkpoint and an activation file
as closerlook writes them, times from a hand-made calibration worked out by hand, the
similarity cost formulas on small cases; calibration files round-trip and bad ones are
refused in one line; `closerlook plan` prints its table and its JSON keys."""

from __future__ import annotations

import copy
import dataclasses
import json

import h5py
import pytest
import torch

from closerlook import (
    activations,
    calibration,
    config,
    cost,
    jobs,
    models,
    resources,
    sizes,
    train,
)
from closerlook.calibration import Calibration, CalibrationError, Throughput
from closerlook.cli import main
from closerlook.data import Dataset, Split
from closerlook.train import RunSettings

from support import run_settings

pytestmark = pytest.mark.usefixtures("one_thread")

CIFAR = (3, 32, 32)


def fake_cifar(n: int) -> Dataset:
    g = torch.Generator().manual_seed(0)
    split = Split(torch.randn(n, *CIFAR, generator=g), torch.arange(n) % 10)
    return Dataset("cifar10", split, split, 10)


def test_checkpoint_bytes_match_a_written_resnet18_checkpoint(tmp_path):
    """ResNet-18 (11.2 M weights) trained one step: weights, momentum, buffers, metrics."""
    spec = {"arch": "resnet18"}
    settings = RunSettings(**run_settings(model="resnet18", epochs=1, batch_size=8))
    path = tmp_path / "epoch001.pt"
    train.train_run(
        settings, spec, fake_cifar(8), {1: path}, tmp_path / "m.csv", tmp_path / "r", "cpu"
    )
    predicted = sizes.checkpoint_bytes(sizes.network_shapes(spec, CIFAR))
    assert predicted == pytest.approx(path.stat().st_size, rel=0.01)


def test_activation_bytes_are_the_datasets_of_a_written_file(tmp_path):
    """The layers' datasets and the probe header of a real dump, byte for byte."""
    spec = {"arch": "vgg", "conv": [4, "M", 8], "fc": [6], "batch_norm": True}
    net = models.build(spec, (1, 8, 8), 10).eval()
    n = 37
    images = torch.randn(n, 1, 8, 8)
    path = tmp_path / "a.h5"
    for dtype in ("float32", "float16"):
        storage = activations.Storage(dtype=dtype)
        activations.dump(
            net, images, torch.zeros(n).numpy(), torch.arange(n).numpy(), path, {}, 16, storage
        )
        with h5py.File(path) as f:
            stored = sum(f["layers"][k].nbytes for k in f["layers"])
            stored += f["probe"]["indices"].nbytes + f["probe"]["labels"].nbytes
        probe = {"size": n, "dtype": dtype}
        assert sizes.activation_bytes(sizes.network_shapes(spec, (1, 8, 8)), probe) == stored


def test_layer_shapes_are_those_of_a_real_forward_pass():
    spec = {"arch": "resnet18"}
    net = models.build(spec, CIFAR, 10).eval()
    seen = {}
    activations.capture(
        net, torch.randn(2, *CIFAR), 2, lambda k, _r, out: seen.__setitem__(k, out.shape[1:])
    )
    shapes = sizes.network_shapes(spec, CIFAR)
    assert shapes.layers == {k: tuple(v) for k, v in seen.items()}
    assert shapes.parameters == sum(p.numel() for p in net.parameters())


# ---------------------------------------------------------------- times, worked by hand
def hand_calibration(spec: dict, in_shape: list[int]) -> Calibration:
    """100 training and 1000 inference images/s at batch 32, 1 s per job start, and disks
    fast enough to ignore."""
    return Calibration(
        device="cpu",
        machine="by hand",
        measured="never",
        torch="-",
        threads=1,
        job_overhead_s=1.0,
        light_job_s=0.5,
        write_bytes_per_s=1e30,
        read_bytes_per_s=1e30,
        curve_epoch_ratio=1.5,
        host_base_bytes=1000,
        measure_ops_per_s={"cka": 1e6},
        throughputs=[Throughput(spec, in_shape, 32, 32, 100.0, 1000.0)],
    )


def test_training_time_is_epochs_times_images_over_the_rate(embedded_config):
    cfg = config.validate(
        {**embedded_config, "training": {**embedded_config["training"], "batch_size": 32}}
    )
    run = "step"
    s = cost.plan.run_settings(cfg, run)
    spec, in_shape = cfg["models"][s.model], [1, 8, 8]
    ctx = cost.Context(
        cfg, hand_calibration(spec, in_shape), (1, 8, 8), {"train": 1000, "val": 500}
    )
    # 1 s start + epochs x 1000 / 100 training + (epochs + 1) x 500 / 1000 evaluation
    expected = 1.0 + s.epochs * 10.0 + (s.epochs + 1) * 0.5
    assert cost.train_cost(ctx, run).seconds == pytest.approx(expected)
    # the curve fit: its epochs at the calibrated 1.5x a plain epoch
    curve = next(iter(cfg["curves"]["connections"]))
    fit = cost.plan.curve_fit(cfg, curve)
    cal = hand_calibration(cfg["models"][cost.plan.curve_model(cfg, curve)], in_shape)
    ctx = cost.Context(cfg, cal, (1, 8, 8), {"train": 1000, "val": 500})
    assert cost.curve_fit_cost(ctx, curve).seconds == pytest.approx(1.0 + 1.5 * fit.epochs * 10.0)


def test_similarity_ops_on_small_cases():
    # CKA of 10 examples, 3 and 4 features: the 3 x 4 cross product (10*3*4) beats the
    # 10 x 10 Grams (100 * 7); plus the centring, 10 * 7
    assert calibration.similarity_ops("cka", (10, 3), (10, 4)) == 10 * 3 * 4 + 10 * 7
    # SVCCA of 5 images of 2 x 2 maps with 3 and 3 channels: 20 datapoints of 6 features
    assert calibration.similarity_ops("svcca", (5, 3, 2, 2), (5, 3, 2, 2)) == 20 * 36 + 216
    with pytest.raises(CalibrationError, match="no cost model"):
        calibration.similarity_ops("nope", (1, 1), (1, 1))


# ---------------------------------------------------------------------- calibration file
def test_calibration_round_trips(tmp_path):
    shipped = calibration.load(calibration.DEFAULT_CALIBRATION)
    shipped.save(tmp_path / "c.json")
    assert calibration.load(tmp_path / "c.json") == shipped
    assert shipped.device == "cpu" and "2 cores" in shipped.machine


@pytest.mark.parametrize(
    "text, says",
    [
        ("{not json", "not a readable calibration"),
        ('{"kind": "something else"}', "not a closerlook calibration"),
        ('{"kind": "closerlook-calibration", "device": "cpu"}', "fields differ"),
    ],
)
def test_a_bad_calibration_is_refused_in_one_line(text, says, tmp_path, repo, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    with pytest.raises(CalibrationError, match=says):
        calibration.load(bad)
    assert main(["plan", str(repo / "config.yaml"), "--calibration", str(bad)]) == 2
    err = capsys.readouterr().err
    assert says in err and str(bad) in err and err.count("\n") == 1


def test_an_unmeasured_model_names_the_command_to_run():
    shipped = calibration.load(calibration.DEFAULT_CALIBRATION)
    with pytest.raises(CalibrationError, match="closerlook calibrate CONFIG"):
        shipped.train_seconds({"arch": "vgg16", "fc": [7]}, [3, 32, 32], 100, 1000)


# ---------------------------------------------------------------------- closerlook plan
def test_plan_json_has_every_rule_and_total(repo, capsys):
    assert main(["plan", str(repo / "config.yaml"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    counts = jobs.study_jobs(config.load(repo / "config.yaml")).counts()
    assert {k: r["jobs"] for k, r in report["rules"].items()} == counts
    keys = {"jobs", "seconds_per_job", "bytes_per_job", "peak_host_bytes", "peak_gpu_bytes"}
    assert all(keys <= set(r) for r in report["rules"].values())
    disk = report["totals"]["disk_bytes"]
    assert set(disk) == {*cost.KINDS, "total"}
    assert disk["total"] == sum(v for k, v in disk.items() if k != "total")
    assert {"gpu_hours", "cpu_hours"} <= set(report["totals"])
    assert report["device"]["kind"] == "cpu" and report["totals"]["gpu_hours"] == 0


def test_plan_prints_a_row_per_rule_and_the_totals(repo, capsys):
    assert main(["plan", str(repo / "workflow/configs/paper.yaml")]) == 0
    out = capsys.readouterr().out
    assert "train_sgdr" in out and "similarity_pair" in out and "curve_fit" in out
    # 219 jobs with step_decay over the saved epochs and one RQ2 reading; per seed (3) the
    # drop windows instead (4 consecutive pairs -> 3 windows: -1 pair; step's dumps
    # {0, 60, 120, 150, 200} -> {60, 62, 120, 123, 150, 154, 200}: +2) and a second RQ2
    # reading (epoch 30 or step 300: +1 pair and +1 dump in each of 4 analyses): 219 + 3 x 9
    # = 246; independent replicates: sgdr's partners 3-5 (+2 trainings, their 4 cycle ends
    # dumped: +12, less the 4 of seed 3 and the 3 already dumped as seeds 1-2 before: +5
    # dumps net of the plain student's 3 last epochs, now the step run's), the plain student
    # trained once as the step run (-3), 3 more curves (+9 fits, +9 evaluations): 268
    assert "\ntotal: 268 jobs," and "\ndisk: " in out and "\nlargest file: " in out


def test_a_missing_config_is_refused(tmp_path, capsys):
    assert main(["plan", str(tmp_path / "none.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_calibration_fields_are_plain_data():
    """Nothing in a calibration file is code: every field is a number, string, list or dict."""
    for f in dataclasses.fields(Calibration):
        assert f.type in {"str", "int", "float", "dict[str, float]", "list[Throughput]"}


# ------------------------------------------------------------------ requests from the plan
def test_requests_are_the_prediction_times_the_safety_factor():
    # 10 min x 2 = 20 min; 1.5 GB x 2 = 3000 MB; short jobs ask for 5 min and 1000 MB
    assert resources.requests(600.0, 1_500_000_000, 2.0) == {"runtime": 20, "mem_mb": 3000}
    assert resources.requests(601.0, 1_500_000_001, 2.0) == {"runtime": 21, "mem_mb": 3001}
    assert resources.requests(1.0, 1000, 3.0) == {"runtime": 5, "mem_mb": 1000}


def test_a_retry_asks_for_the_first_tries_runtime_times_the_attempt():
    assert [resources.attempt_runtime(240, a) for a in (1, 2, 3, 4)] == [240, 480, 720, 960]
    assert resources.attempt_runtime(5, 0) == 5  # never less than a first try


def test_rule_requests_follow_the_configured_calibration(embedded_config, capsys):
    cfg = config.validate(embedded_config)
    assert resources.calibration_path("cpu-2core") == calibration.DEFAULT_CALIBRATION
    study = cost.study_cost(cfg, calibration.load(calibration.DEFAULT_CALIBRATION))
    slowest = max(j.seconds for j in study.rules["activations"].jobs)
    requested = resources.rule_requests(cfg)["activations"]["runtime"]
    assert requested == max(5, -(-2 * slowest // 60))
    assert resources.rule_requests({**cfg, "resources": {"calibration": None}}) == {}
    with pytest.raises(config.ConfigError, match="resources.calibration.*no-such"):
        resources.rule_requests({**cfg, "resources": {"calibration": "no-such.json"}})
    # a model the calibration never measured: the profile's requests, with a warning
    other = copy.deepcopy(cfg)
    other["models"]["vgg_small"]["fc"] = [33]
    assert resources.rule_requests(other) == {}
    assert "resources from the profile, not the plan" in capsys.readouterr().err
