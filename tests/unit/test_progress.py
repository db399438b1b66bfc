"""Progress of the long jobs: one line per unit of work with an ETA (closerlook.logs),
in the similarity, curve and activation steps' logs."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest
import torch
from artifacts import activation_file

from closerlook import activations, checkpoints, compare, curve_eval, curve_fit, logs, models, plan
from closerlook import data as datasets
from closerlook.data import Dataset, Split

pytestmark = pytest.mark.usefixtures("one_thread")
ETA = r"ETA \d+:\d\d:\d\d$"


def lines(caplog, prefix: str) -> list[str]:
    """The messages that start with `prefix`, in order."""
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(prefix)]


def counts(found: list[str], prefix: str) -> list[str]:
    """The "done/total" of each line."""
    return [line.removeprefix(prefix).split()[0] for line in found]


# ------------------------------------------------------------------------- the helper
def test_eta_is_hours_minutes_seconds():
    assert logs.eta(2.0, 3) == "0:00:06"
    assert logs.eta(61.0, 60) == "1:01:00"
    assert logs.eta(float("nan"), 3) == "?"
    assert logs.eta(5.0, 0) == "0:00:00"


def test_progress_counts_units_after_a_resume_and_estimates_from_its_own(caplog, monkeypatch):
    clock = iter([100.0, 104.0, 108.0, 116.0])  # made at 100; units end at 104, 108, 116
    monkeypatch.setattr(logs.time, "perf_counter", lambda: next(clock))
    with caplog.at_level("INFO"):
        p = logs.Progress("curve epoch", 10, logging.getLogger("closerlook.x"), done=4)
        p.step("a")
        p.step("b")
        p.step(units=2)
    assert [r.getMessage() for r in caplog.records] == [
        "curve epoch 5/10 a ETA 0:00:20",  # 4 s per unit, 5 left
        "curve epoch 6/10 b ETA 0:00:16",
        "curve epoch 8/10 ETA 0:00:08",  # 16 s for 4 units
    ]


# ------------------------------------------------------------------------- similarity_pair
def test_similarity_logs_every_layer_and_measure_with_its_eta(tmp_path, caplog):
    rng = np.random.default_rng(0)
    conv, fc = rng.standard_normal((60, 3, 4, 4)), rng.standard_normal((60, 5))
    a = activation_file(tmp_path / "a.h5", "sgdr", 2, {"conv1": conv, "fc1": fc})
    b = activation_file(
        tmp_path / "b.h5", "sgdr", 6, {"conv1": conv + 0.1, "fc1": fc @ rng.random((5, 5))}
    )
    with caplog.at_level("INFO", logger="closerlook.similarity"):
        pair = compare.compare_pair(a, b, "x", ["svcca", "cka"], device="cpu")
    found = lines(caplog, "similarity ")
    assert counts(found, "similarity ") == [f"{k}/8" for k in range(1, 9)]
    labels = [line.split()[2:4] for line in found]
    assert labels == [
        [layer, m] for layer in ("conv1", "fc1")
        for m in ("svcca", "cka", "svcca_shuffled", "cka_shuffled")
    ]  # fmt: skip
    for line, (layer, label) in zip(found, labels, strict=True):
        assert re.search(ETA, line), line
        assert float(line.split()[4]) == pytest.approx(pair.results[(layer, label)].value, abs=1e-4)
    assert found[-1].endswith("ETA 0:00:00")


# ------------------------------------------------------------------------- activations
def test_an_activation_dump_logs_every_batch(tmp_path, caplog):
    torch.manual_seed(0)
    net = models.vgg([4, "M", 8], [6], (1, 8, 8), 3)
    images = torch.randn(40, 1, 8, 8)
    with caplog.at_level("INFO", logger="closerlook.activations"):
        activations.dump(net, images, np.zeros(40), np.arange(40), tmp_path / "a.h5", {}, 16)
    found = lines(caplog, "activation batch ")
    assert counts(found, "activation batch ") == ["1/3", "2/3", "3/3"]
    assert [line.split()[3] for line in found] == ["16", "32", "40"]
    assert all("of 40 probe images" in line and re.search(ETA, line) for line in found)


# ------------------------------------------------------------------------- curves
@pytest.fixture(scope="module")
def small() -> Dataset:
    digits = datasets.load_digits()
    return Dataset(
        "digits",
        Split(digits.train.images[:128], digits.train.labels[:128]),
        Split(digits.val.images[:64], digits.val.labels[:64]),
        10,
    )


def saved_net(path, seed: int):
    torch.manual_seed(seed)
    net = models.vgg([4, "M"], [8], (1, 8, 8), 10)
    spec = {"arch": "vgg", "conv": [4, "M"], "fc": [8]}
    ckpt = {"model": net.state_dict(), "model_spec": spec, "in_shape": [1, 8, 8]}
    checkpoints.save({**ckpt, "num_classes": 10}, path)
    return path


def test_curve_fit_and_evaluation_log_every_epoch_and_point(tmp_path, small, caplog):
    a, b = saved_net(tmp_path / "a.pt", 0), saved_net(tmp_path / "b.pt", 1)
    fit = plan.CurveFit(epochs=3, lr=0.05, batch_size=64, kind="polychain", n_bends=3)
    with caplog.at_level("INFO", logger="closerlook.curves"):
        curve_fit.fit_between(a, b, tmp_path / "c.pt", small, fit, {"curve": "c"}, "cpu")
        settings = plan.CurveEval(points=3, grid=2, bn_images=64)
        curve_eval.evaluate_curve_file(tmp_path / "c.pt", tmp_path / "c.h5", small, settings)
    epochs = lines(caplog, "curve epoch ")
    assert counts(epochs, "curve epoch ") == ["1/3", "2/3", "3/3"]
    assert all(
        re.search(r"train_loss [\d.]+ train_acc [\d.]+ \([\d.]+s\) " + ETA, e) for e in epochs
    )
    points = lines(caplog, "curve evaluation point ")
    assert counts(points, "curve evaluation point ") == [f"{k}/10" for k in range(1, 11)]
    what = [line.split()[4] for line in points]
    assert what == ["line"] * 3 + ["curve"] * 3 + ["plane"] * 4
    assert "line t 0.500 val_loss" in points[1] and "plane (1, 0) val_loss" in points[8]
    assert all(re.search(ETA, line) for line in points)
