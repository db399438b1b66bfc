"""SIGKILL at random points: training, activation dumps and curve fitting resume or rerun
to the same result, and no declared output is ever incomplete."""

from __future__ import annotations

import random
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from closerlook import activation_file, checkpoints, curves
from closerlook.provenance import IntegrityError

import jobs

KILLS = 2  # random kill points per job kind


def outputs_are_complete(folder: Path) -> None:
    """Every declared output of the training job that exists is whole: each checkpoint
    loads (its seal matches) and holds its epoch; metrics.csv, written last, lists every
    epoch and appears only once every checkpoint is there."""
    for epoch in jobs.EPOCHS:
        path = jobs.checkpoint(folder, epoch)
        if path.exists():
            assert checkpoints.load_checkpoint(path)["epoch"] == epoch
    metrics = folder / "metrics.csv"
    if metrics.exists():
        assert [int(r["epoch"]) for r in checkpoints.read_metrics(metrics)] == list(range(7))
        assert all(jobs.checkpoint(folder, e).exists() for e in jobs.EPOCHS)


def same_run(folder: Path, reference: Path) -> None:
    rows = [
        {k: v for k, v in r.items() if k != "seconds"}
        for r in checkpoints.read_metrics(folder / "metrics.csv")
    ]
    ref = [
        {k: v for k, v in r.items() if k != "seconds"}
        for r in checkpoints.read_metrics(reference / "metrics.csv")
    ]
    assert rows == ref
    for epoch in jobs.EPOCHS:
        got = checkpoints.load_checkpoint(jobs.checkpoint(folder, epoch))["model"]
        want = checkpoints.load_checkpoint(jobs.checkpoint(reference, epoch))["model"]
        assert all(torch.equal(got[k], want[k]) for k in want), epoch
    assert not (folder / "resume").exists()


def kill_at_random(child, kind: str, folder: Path, rng: random.Random, check) -> None:
    """Start `kind` KILLS times, SIGKILL it a random time into its work (up to as long as
    the uninterrupted job took), and check the outputs after each kill."""
    for _ in range(KILLS):
        c = child(kind, folder)
        time.sleep(rng.uniform(0, jobs.SECONDS[kind]))
        assert c.kill() in (0, -signal.SIGKILL)
        check(folder)


@pytest.mark.slow
def test_training_killed_at_random_points_resumes_to_the_same_run(made, tmp_path, child):
    folder = tmp_path / "killed"
    kill_at_random(child, "train", folder, random.Random(9), outputs_are_complete)
    child("train", folder).finish()
    same_run(folder, made)


def test_a_kill_while_the_resume_state_is_removed_leaves_a_run_that_completes(
    made, tmp_path, monkeypatch
):
    """The finished run is killed halfway through deleting its resume folder; the rerun
    must not trust what is left of it."""
    folder = tmp_path / "run"

    remove = shutil.rmtree

    def killed_halfway(path, ignore_errors=False):
        if not Path(path).exists():  # a fresh start clears the folder: not the point here
            return remove(path, ignore_errors=ignore_errors)
        assert not (Path(path) / "last.pt").exists(), "the resume state must go first"
        for snap in sorted(Path(path).glob("epoch*.pt"))[:1]:
            snap.unlink()
        raise KeyboardInterrupt  # stands for the kill: nothing after this runs

    monkeypatch.setattr(checkpoints.shutil, "rmtree", killed_halfway)
    with pytest.raises(KeyboardInterrupt):
        jobs.train_job(folder)
    monkeypatch.undo()
    outputs_are_complete(folder)
    for epoch in jobs.EPOCHS:  # the workflow deletes the outputs of an incomplete job
        jobs.checkpoint(folder, epoch).unlink()
    (folder / "metrics.csv").unlink()
    jobs.train_job(folder)
    same_run(folder, made)


def test_a_resume_state_missing_a_snapshot_starts_over(made, tmp_path, child):
    folder = tmp_path / "run"
    c = child("train", folder)
    deadline = time.monotonic() + 60
    while (
        not (folder / "resume" / "epoch002.pt").exists()
        or not (folder / "resume" / "last.pt").exists()
    ):
        assert time.monotonic() < deadline and c.proc.poll() is None
        time.sleep(0.005)
    c.kill()
    (folder / "resume" / "epoch002.pt").unlink()
    jobs.train_job(folder)
    same_run(folder, made)


def activations_are_complete(folder: Path) -> None:
    path = folder / "activations.h5"
    if path.exists():
        with activation_file.ActivationFile(path) as f:
            assert len(f.probe) == jobs.PROBE["size"]
            for layer in f.layer_names():
                assert np.isfinite(f.read(layer)).all()


def same_activations(path: Path, reference: Path) -> None:
    with activation_file.ActivationFile(path) as f, activation_file.ActivationFile(reference) as g:
        assert f.layer_names() == g.layer_names()
        for layer in f.layer_names():
            np.testing.assert_array_equal(f.read(layer), g.read(layer))


@pytest.mark.slow
def test_dumps_killed_while_writing_and_at_random_rerun_to_the_same_file(made, tmp_path, child):
    folder = tmp_path / "run"
    shutil.copytree(made / "checkpoints", folder / "checkpoints")
    c = child("dump", folder)
    deadline = time.monotonic() + 60
    while not list(folder.glob(".activations.h5.tmp-*")):
        assert time.monotonic() < deadline and c.proc.poll() is None, "the dump ended unseen"
        time.sleep(0.001)
    assert c.kill() == -signal.SIGKILL  # while the file is being written
    assert not (folder / "activations.h5").exists()
    kill_at_random(child, "dump", folder, random.Random(3), activations_are_complete)
    child("dump", folder).finish()
    same_activations(folder / "activations.h5", made / "activations.h5")


def curve_is_complete(folder: Path) -> None:
    if (folder / "curve.pt").exists():
        curve, obj = curves.load_curve(folder / "curve.pt")
        assert len(obj["history"]["epoch"]) == 4


@pytest.mark.slow
def test_curve_fits_killed_at_random_points_rerun_to_the_same_curve(made, tmp_path, child):
    folder = tmp_path / "killed"
    shutil.copytree(made / "checkpoints", folder / "checkpoints")
    kill_at_random(child, "curve", folder, random.Random(5), curve_is_complete)
    child("curve", folder).finish()
    got, _ = curves.load_curve(folder / "curve.pt")
    want, _ = curves.load_curve(made / "curve.pt")
    assert torch.equal(got.bends(), want.bends())
    assert not (folder / "curve.resume").exists()


def test_a_killed_curve_fit_resumes_from_its_last_epoch(made, tmp_path, child):
    """Killed after an epoch, the fit continues from its progress (the epochs before keep
    their recorded times) and ends with the bends and history of an uninterrupted fit."""
    folder = tmp_path / "killed"
    shutil.copytree(made / "checkpoints", folder / "checkpoints")
    progress = folder / "curve.resume" / "last.pt"
    c = child("curve", folder)
    deadline = time.monotonic() + 120
    while not progress.exists():
        assert time.monotonic() < deadline and c.proc.poll() is None, "no epoch finished"
        time.sleep(0.005)
    c.kill()
    kept = checkpoints.load_checkpoint(progress)["history"]
    assert 1 <= len(kept["epoch"]) < 4
    child("curve", folder).finish()
    got, obj = curves.load_curve(folder / "curve.pt")
    want, ref = curves.load_curve(made / "curve.pt")
    assert torch.equal(got.bends(), want.bends())
    assert obj["history"]["seconds"][: len(kept["seconds"])] == kept["seconds"]  # resumed
    for k in ("epoch", "train_loss", "train_acc"):
        assert obj["history"][k] == ref["history"][k]
    assert not (folder / "curve.resume").exists()


def test_a_truncated_curve_file_is_refused(made, tmp_path):
    path = tmp_path / "curve.pt"
    path.write_bytes((made / "curve.pt").read_bytes()[:1000])
    with pytest.raises(IntegrityError, match="rerun snakemake"):
        curves.load_curve(path)
