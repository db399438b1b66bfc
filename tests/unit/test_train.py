"""Training: frozen layers, gradient accumulation, distillation, divergence, resume."""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from closerlook import checkpoints, models, sgd, train
from closerlook.data import Dataset

from support import SMALL, run_settings, train_small, without_time

pytestmark = pytest.mark.usefixtures("one_thread")


def fit(tmp: Path, digits: Dataset, run: dict, saved=(0, 3), **kwargs):
    return train_small(tmp, digits, run, saved, config_hash="h", **kwargs)


# ------------------------------------------------------------------------- freezing
def test_frozen_parameters_do_not_move_while_the_others_do():
    torch.manual_seed(0)
    net = models.build(SMALL, (1, 8, 8), 10)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    train.set_frozen(net, set(models.layer_groups(SMALL)["classifier"]))
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 10, (16,))
    for _ in range(3):
        sgd.sgd_step(net, opt, x, y, lr=0.1)
    after = net.state_dict()
    for key in before:
        if key.startswith(("stages.fc1", "stages.logits")):
            assert torch.equal(before[key], after[key]), key
        elif "weight" in key and "conv" in key:
            assert not torch.equal(before[key], after[key]), key


def test_freeze_for_the_first_epochs_then_train(tmp_path, digits):
    run = run_settings(freeze={"layers": ["classifier"], "epochs": 1}, epochs=2)
    _, ck = fit(tmp_path, digits, run, saved=(0, 1, 2))
    w = {e: c["model"]["stages.logits.0.weight"] for e, c in ck.items()}
    assert torch.equal(w[0], w[1])
    assert not torch.equal(w[1], w[2])
    assert not torch.equal(
        ck[0]["model"]["stages.conv1.0.weight"], ck[1]["model"]["stages.conv1.0.weight"]
    )


def test_frozen_at():
    groups = models.layer_groups(SMALL)
    freeze = {"layers": ["classifier", "conv1"], "epochs": 2}
    assert train.frozen_at(freeze, 1, groups) == {"conv1", "fc1", "logits"}
    assert train.frozen_at(freeze, 2, groups) == set()
    assert train.frozen_at({"layers": ["features"]}, 150, groups) == {"conv1", "conv2"}
    assert train.frozen_at(None, 0, groups) == set()


# ------------------------------------------------------------------------- accumulation
def test_gradient_accumulation_equals_the_full_batch_update():
    # without BatchNorm, summing the weighted micro-batch gradients is the full-batch gradient
    spec = {**SMALL, "batch_norm": False}
    x, y = torch.randn(24, 1, 8, 8), torch.randint(0, 10, (24,))
    nets = []
    for accumulation in (1, 4):
        torch.manual_seed(0)
        net = models.build(spec, (1, 8, 8), 10)
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
        for _ in range(2):
            loss, correct = sgd.sgd_step(net, opt, x, y, 0.1, accumulation=accumulation)
        nets.append(net)
    for a, b in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------- distillation
def test_distillation_with_alpha_zero_is_plain_training(tmp_path, digits):
    _, teacher = fit(tmp_path / "t", digits, run_settings(epochs=1, seed=3), saved=(0, 1))
    plain, _ = fit(tmp_path / "p", digits, run_settings(epochs=1), saved=(0, 1))
    distill = {"teacher": {"run": "t"}, "temperature": 4.0, "alpha": 0.0}
    student, ck = fit(
        tmp_path / "s",
        digits,
        run_settings(epochs=1, distill=distill),
        saved=(0, 1),
        teacher_checkpoint=tmp_path / "t" / "epoch001.pt",
    )
    assert without_time(student.metrics) == without_time(plain.metrics)
    assert ck[1]["provenance"]["teacher_checkpoint"].endswith("epoch001.pt")
    # with alpha > 0 the teacher changes the result
    moved, _ = fit(
        tmp_path / "s2",
        digits,
        run_settings(epochs=1, distill={**distill, "alpha": 0.9}),
        saved=(0, 1),
        teacher_checkpoint=tmp_path / "t" / "epoch001.pt",
    )
    assert moved.metrics[-1]["train_loss"] != plain.metrics[-1]["train_loss"]


def test_a_distilled_run_needs_its_teacher(tmp_path, digits):
    distill = {"teacher": {"run": "t"}, "temperature": 4.0, "alpha": 0.9}
    with pytest.raises(ValueError, match="teacher"):
        fit(tmp_path, digits, run_settings(distill=distill))


# ------------------------------------------------------------------------- divergence
def test_a_huge_learning_rate_is_recorded_as_diverged(tmp_path, digits, caplog):
    run = run_settings(epochs=4, schedule={"kind": "constant", "lr": 1e8, "per": "epoch"})
    with caplog.at_level("WARNING", logger="closerlook.train"):
        state, ck = fit(tmp_path, digits, run, saved=(0, 2, 4))
    assert state.diverged and state.epoch == 1
    assert "DIVERGED in epoch 1" in caplog.text
    rows = checkpoints.read_metrics(tmp_path / "metrics.csv")
    assert [r["diverged"] for r in rows] == ["False", "True"]
    assert math.isnan(float(rows[1]["val_acc"]))
    assert not ck[0]["diverged"]
    for epoch in (2, 4):  # never reached: placeholders that say so
        c = ck[epoch]
        assert c["diverged"] and c["placeholder"]
        assert c["epoch"] == epoch and c["provenance"]["epoch"] == epoch
        assert c["provenance"]["diverged_at_epoch"] == 1
        assert f"placeholder for epoch {epoch}" in c["provenance"]["note"]
    assert not (tmp_path / "resume").exists()


def test_a_non_finite_validation_loss_is_recorded_as_diverged(tmp_path, digits, caplog):
    """Training steps stay finite, but the network maps a validation image to infinity."""
    import dataclasses

    val = dataclasses.replace(digits.val, images=digits.val.images.clone())
    val.images[0] = math.inf
    blown = dataclasses.replace(digits, val=val)
    with caplog.at_level("WARNING", logger="closerlook.train"):
        state, ck = fit(tmp_path, blown, run_settings(epochs=3), saved=(0, 3))
    assert state.diverged and state.epoch == 1
    assert "non-finite validation loss" in caplog.text
    rows = checkpoints.read_metrics(tmp_path / "metrics.csv")
    assert [r["diverged"] for r in rows] == ["False", "True"]
    assert ck[3]["diverged"] and ck[3]["placeholder"]


# ------------------------------------------------------------------------- checkpoints
def test_checkpoints_hold_state_and_provenance(tmp_path, digits):
    _, ck = fit(tmp_path, digits, run_settings(epochs=2), saved=(0, 1, 2))
    c = ck[1]
    assert c["epoch"] == 1 and not c["diverged"]
    assert set(c) >= {"model", "optimizer", "schedule", "rng", "provenance", "metrics"}
    assert c["schedule"]["step"] == 10  # 320 images in batches of 32
    assert c["provenance"]["run"] == "r" and c["provenance"]["config_hash"] == "h"
    assert "closerlook_version" in c["provenance"]
    net = checkpoints.model_from_checkpoint(ck[2])
    assert net.layer_names() == models.layer_names(SMALL)


# ------------------------------------------------------------------------- resume
RESUME_SCRIPT = """
import sys, torch
torch.set_num_threads(int(sys.argv[2]))
import test_train as t
from pathlib import Path
from support import small_digits
digits = small_digits()
t.fit(Path(sys.argv[1]), digits, t.run_settings(epochs=6), saved=(0, 2, 6))
"""


def test_resume_after_a_kill_ends_like_an_uninterrupted_run(tmp_path, digits):
    reference, ref_ck = fit(tmp_path / "ref", digits, run_settings(epochs=6), saved=(0, 2, 6))

    work = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    args = [str(work), str(torch.get_num_threads())]
    proc = subprocess.Popen([sys.executable, "-c", RESUME_SCRIPT, *args], env=env)
    try:
        deadline = time.monotonic() + 120
        while not (work / "resume" / "epoch002.pt").exists():
            assert proc.poll() is None, "the training process ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (work / "metrics.csv").exists(), "killed too late: the run had finished"
    killed_after = checkpoints.load_checkpoint(work / "resume" / "last.pt")["schedule"]["epoch"]
    assert 1 <= killed_after < 6  # killed between epoch 2's snapshot and its resume state, or later

    resumed, ck = fit(work, digits, run_settings(epochs=6), saved=(0, 2, 6))
    assert without_time(resumed.metrics) == without_time(reference.metrics)
    for key, value in ref_ck[6]["model"].items():
        assert torch.equal(value, ck[6]["model"][key]), key


# ------------------------------------------------------------------------- augmentation
def test_crop_and_flip_by_hand():
    x = torch.arange(3 * 1 * 4 * 4, dtype=torch.float32).reshape(3, 1, 4, 4)
    oy, ox = torch.tensor([0, 2, 1]), torch.tensor([1, 0, 2])
    mirror = torch.tensor([False, True, True])
    out = sgd.crop_flip(x, 1, oy, ox, mirror)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    for i in range(3):
        window = padded[i, :, oy[i] : oy[i] + 4, ox[i] : ox[i] + 4]
        expected = window.flip(-1) if mirror[i] else window
        assert torch.equal(out[i], expected)


def random_crop_flip(x, padding, flip, generator):
    """One augmentation draw applied to `x`, as an epoch of training does."""
    return sgd.crop_flip(x, padding, *sgd.Augment(padding, flip).draw(len(x), generator, x.device))


def test_random_crop_flip_is_reproducible_from_the_generator():
    x = torch.randn(16, 3, 8, 8)
    a = random_crop_flip(x, 2, True, torch.Generator().manual_seed(3))
    b = random_crop_flip(x, 2, True, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_flips_are_about_half_and_crops_keep_the_shape():
    x = torch.randn(2000, 3, 8, 8)
    out = random_crop_flip(x, 0, True, torch.Generator().manual_seed(0))
    flipped = (out == x.flip(3)).flatten(1).all(1) & ~(out == x).flatten(1).all(1)
    assert 900 < int(flipped.sum()) < 1100
    assert torch.equal(random_crop_flip(x, 0, False, torch.Generator()), x)
    assert random_crop_flip(x, 2, True, torch.Generator()).shape == x.shape


# ------------------------------------------------------------------------- progress
def test_metrics_are_written_after_every_epoch_and_each_epoch_logs_its_eta(
    tmp_path, digits, monkeypatch, caplog
):
    """While a run trains, resume/metrics.csv holds every epoch done so far (rewritten
    after each); its own metrics.csv comes last, when the run is done."""
    seen: list[tuple[list[str], bool]] = []
    save_epoch = checkpoints.ResumeFolder.save_epoch

    def watched(folder, snap, epoch):
        save_epoch(folder, snap, epoch)
        rows = checkpoints.read_metrics(folder.live_metrics)
        seen.append(([r["epoch"] for r in rows], (tmp_path / "metrics.csv").exists()))

    monkeypatch.setattr(checkpoints.ResumeFolder, "save_epoch", watched)
    with caplog.at_level("INFO", logger="closerlook.train"):
        state, _ = fit(tmp_path, digits, run_settings(epochs=3), saved=(0, 3))
    assert seen == [([str(e) for e in range(k + 1)], False) for k in range(4)]
    final = checkpoints.read_metrics(tmp_path / "metrics.csv")
    assert [r["epoch"] for r in final] == ["0", "1", "2", "3"]
    lines = [r.getMessage() for r in caplog.records if " epoch " in r.getMessage()]
    assert [line.split(" epoch ")[1].split()[0] for line in lines] == ["1/3", "2/3", "3/3"]
    assert all(re.search(r"img/s ETA \d+:\d\d:\d\d$", line) for line in lines), lines
    assert lines[-1].endswith("ETA 0:00:00")
