"""Step checkpoints (`save_iterations`): the weights right after the N-th optimizer step,
mid-epoch, sealed and with provenance; the same training with and without them; resume."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from closerlook import (
    activations,
    checkpoints,
    compare,
    evidence,
    models,
    points,
    schedules,
    sgd,
    train,
)
from closerlook.data import Dataset
from closerlook.provenance import sha256

from support import SMALL, run_settings, train_small, without_time

pytestmark = pytest.mark.usefixtures("one_thread")

# 320 digits in batches of 32: 10 steps per epoch
PER_EPOCH = 10
# a rate that changes at every step and a warmup, so that the step's position matters
SCHEDULE = {"kind": "cosine", "lr_max": 0.05, "lr_min": 0.001, "per": "iteration"}


def settings(**overrides):
    return run_settings(schedule=SCHEDULE, warmup_epochs=1, flip=True, **overrides)


def fit(tmp: Path, dataset: Dataset, run: dict, saved=(0, 3), **kwargs):
    return train_small(tmp, dataset, run, saved, **kwargs)


def by_hand(dataset: Dataset, run: dict, n_steps: int) -> torch.nn.Module:
    """The network after `n_steps` SGD steps of `run`, replaying train_run's draws: the
    seeded model, then per epoch one permutation and one augmentation draw."""
    torch.manual_seed(run["seed"])
    generator = torch.Generator().manual_seed(run["seed"])
    net = models.build(SMALL, dataset.image_shape, dataset.num_classes)
    opt = torch.optim.SGD(
        net.parameters(), lr=0.0, momentum=run["momentum"], weight_decay=run["weight_decay"]
    )
    lr_at = schedules.from_config(run["schedule"], run["epochs"], run["warmup_epochs"])
    augment = sgd.Augment(sgd.crop_padding(8), run["flip"])
    n, bs = len(dataset.train), run["batch_size"]
    done, epoch = 0, 0
    while done < n_steps:
        net.train()
        perm = torch.randperm(n, generator=generator)
        oy, ox, mirror = augment.draw(n, generator, torch.device("cpu"))
        for i in range(min(PER_EPOCH, n_steps - done)):
            rows = slice(i * bs, (i + 1) * bs)
            x = dataset.train.images[perm[rows]]
            x = sgd.crop_flip(x, augment.padding, oy[rows], ox[rows], mirror[rows])
            sgd.sgd_step(
                net, opt, x, dataset.train.labels[perm[rows]], lr_at(epoch + i / PER_EPOCH)
            )
            done += 1
        epoch += 1
    return net


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_a_step_checkpoint_holds_the_weights_after_exactly_that_step(tmp_path, digits):
    run = settings(save_iterations=[15])
    _, ck = fit(tmp_path, digits, run, saved=(0, 3, "step15"))
    assert_same_weights(ck["step15"]["model"], by_hand(digits, run, 15).state_dict())
    # and not those of the step before or after
    key = "stages.logits.0.weight"
    for other in (14, 16):
        assert not torch.equal(
            ck["step15"]["model"][key], by_hand(digits, run, other).state_dict()[key]
        )


def test_a_step_at_an_epoch_end_is_that_epochs_checkpoint(tmp_path, digits):
    _, ck = fit(tmp_path, digits, settings(), saved=(0, 2, 3, "step20", "step30"))
    assert_same_weights(ck["step20"]["model"], ck[2]["model"])
    assert_same_weights(ck["step30"]["model"], ck[3]["model"])


def test_a_step_checkpoint_is_sealed_with_its_step_and_fractional_epoch(tmp_path, digits):
    _, ck = fit(tmp_path, digits, settings(), saved=(0, 3, "step15"), config_hash="h")
    c = ck["step15"]
    assert (c["point"], c["step"], c["epoch"]) == ("step15", 15, 1.5)
    assert c["schedule"]["step"] == 15 and c["schedule"]["epoch"] == 1.5
    assert not c["diverged"] and "placeholder" not in c
    p = c["provenance"]
    assert (p["point"], p["step"], p["epoch"], p["run"], p["config_hash"]) == (
        "step15",
        15,
        1.5,
        "r",
        "h",
    )
    assert "closerlook_version" in p and "created" in p
    assert checkpoints.model_from_checkpoint(c).layer_names() == models.layer_names(SMALL)
    # epoch checkpoints keep their layout
    assert ck[3]["epoch"] == 3 and "point" not in ck[3] and "point" not in ck[3]["provenance"]


def test_the_trajectory_is_the_same_with_and_without_step_checkpoints(tmp_path, digits):
    plain, ref = fit(tmp_path / "plain", digits, settings(), saved=(0, 1, 3))
    steps = ("step1", "step5", "step15", "step20", "step29")
    saved, ck = fit(tmp_path / "steps", digits, settings(), saved=(0, 1, 3, *steps))
    assert without_time(saved.metrics) == without_time(plain.metrics)
    assert saved.step == plain.step == 30
    for epoch in (0, 1, 3):
        assert_same_weights(ck[epoch]["model"], ref[epoch]["model"])
        momenta = [ck[epoch]["optimizer"]["state"], ref[epoch]["optimizer"]["state"]]
        assert momenta[0].keys() == momenta[1].keys()
        for i in momenta[0]:
            assert_same_weights(momenta[0][i], momenta[1][i])
        assert torch.equal(ck[epoch]["rng"]["generator"], ref[epoch]["rng"]["generator"])


class Crash(RuntimeError):
    pass


def crash_at_the_end_of_epoch(monkeypatch, epoch: int) -> None:
    """Make train_run fail at the end of `epoch` (in its evaluation), after that epoch's
    steps but before its resume state: like a kill mid-epoch."""
    calls = {"n": 0}
    evaluate = sgd.evaluate

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == epoch + 1:  # the first evaluation is of the initialisation
            raise Crash(f"killed in epoch {epoch}")
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(train, "evaluate", failing)  # train_run's own name for it


def test_resume_keeps_a_step_checkpoint_written_before_the_kill(tmp_path, digits, monkeypatch):
    saved = (0, 3, "step15")
    reference, ref = fit(tmp_path / "ref", digits, settings(), saved=saved)

    work = tmp_path / "killed"
    with monkeypatch.context() as m:
        crash_at_the_end_of_epoch(m, 2)
        with pytest.raises(Crash):
            fit(work, digits, settings(), saved=saved)
    snapshot = work / "resume" / "step000015.pt"
    assert checkpoints.load_checkpoint(work / "resume" / "last.pt")["schedule"]["epoch"] == 1
    written = sha256(snapshot), snapshot.stat().st_ino  # the run resumes before step 15

    resumed, ck = fit(work, digits, settings(), saved=saved)
    final = work / "step000015.pt"  # published by a hard link to the snapshot
    assert (sha256(final), final.stat().st_ino) == written, "the step checkpoint was rewritten"
    assert without_time(resumed.metrics) == without_time(reference.metrics)
    assert_same_weights(ck["step15"]["model"], ref["step15"]["model"])
    assert_same_weights(ck[3]["model"], ref[3]["model"])
    assert not (work / "resume").exists()


def test_resume_starts_over_when_a_passed_step_checkpoint_is_lost(
    tmp_path, digits, monkeypatch, caplog
):
    saved = (0, 3, "step15")
    _, ref = fit(tmp_path / "ref", digits, settings(), saved=saved)
    work = tmp_path / "killed"
    with monkeypatch.context() as m:
        crash_at_the_end_of_epoch(m, 3)
        with pytest.raises(Crash):
            fit(work, digits, settings(), saved=saved)
    assert checkpoints.load_checkpoint(work / "resume" / "last.pt")["schedule"]["step"] == 20
    (work / "resume" / "step000015.pt").unlink()
    with caplog.at_level("WARNING", logger="closerlook.train"):
        _, ck = fit(work, digits, settings(), saved=saved)
    assert "lacks the snapshot of step 15; starting over" in caplog.text
    assert_same_weights(ck["step15"]["model"], ref["step15"]["model"])


def test_steps_never_reached_by_a_diverged_run_are_placeholders(tmp_path, digits):
    run = run_settings(epochs=3, schedule={"kind": "constant", "lr": 1e8, "per": "epoch"})
    state, ck = fit(tmp_path, digits, run, saved=(0, 3, "step5", "step25"))
    assert state.diverged and state.epoch == 1
    for step in (5, 25):
        c = ck[f"step{step}"]
        assert c["diverged"] and c["placeholder"]
        assert (c["point"], c["step"], c["epoch"]) == (f"step{step}", step, step / PER_EPOCH)
        assert f"placeholder for step {step}" in c["provenance"]["note"]
        assert c["provenance"]["diverged_at_epoch"] == 1


def test_a_step_beyond_the_run_is_refused(tmp_path, digits):
    with pytest.raises(ValueError, match=r"step 31 is beyond the run's 30 steps"):
        fit(tmp_path, digits, settings(), saved=(0, 3, "step31"))


def test_a_step_checkpoints_activations_compare_under_its_name(tmp_path, digits):
    _, _ = fit(tmp_path, digits, settings(), saved=(0, 3, "step15"))
    data_config = {"dataset": "digits", "val_fraction": 0.25, "split_seed": 0}
    probe = {"split": "val", "size": 60, "seed": 0, "batch_size": 32, "dtype": "float32"}
    probe.update(compression="none", compression_level=1)
    files = {
        p: activations.dump_checkpoint(
            tmp_path / f"{points.file_tag(p)}.pt",
            tmp_path / f"{points.file_tag(p)}.h5",
            data_config,
            probe,
            epoch=p,
            device="cpu",
        )
        for p in (0, "step15")
    }
    pair = compare.compare_pair(files[0], files["step15"], "init", ["svcca"], device="cpu")
    assert set(pair.table["epoch_a"]) == {0} and set(pair.table["epoch_b"]) == {"step15"}
    compare.write_table(pair.table, tmp_path / "pair.csv")
    table = compare.concat_tables([tmp_path / "pair.csv"], tmp_path / "init.csv")
    (profile,) = evidence.layer_profiles(pd.read_csv(tmp_path / "init.csv"), "svcca")
    assert (profile.epoch_a, profile.epoch_b) == (0, "step15") and len(table) > 0
    assert profile.label() == "r: epoch 0 vs step 15"
    assert all(math.isfinite(v) for v in profile.values)
