"""Preconditions (manipulation checks) with known answers: each one, failing, makes its
claims not testable here, and holding again, lets them be decided; the early-training
instability numbers they read, computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from closerlook import config, findings, instability, resolved
from closerlook.claims import CLAIMS
from closerlook.decision import NOT_TESTABLE, SUPPORTS
from closerlook.effects import Settings
from closerlook.preconditions import PRECONDITIONS, measure, restart_rises

from support import JITTER, METHODS, RESTARTS, ROBUSTNESS, SPIKE_AT, curve, metrics, paper_like

SEEDS = (0, 1, 2)


@pytest.fixture
def questions(embedded_config) -> dict:
    return resolved.resolved_questions(config.validate(embedded_config))


def frame(val_loss, val_acc=None) -> pd.DataFrame:
    n = len(val_loss)
    return pd.DataFrame(
        {
            "epoch": np.arange(n),
            "val_loss": val_loss,
            "val_acc": val_acc if val_acc is not None else np.linspace(0.1, 0.9, n),
            "diverged": False,
        }
    )


def test_the_spike_and_the_lowest_accuracy_by_hand():
    # the module's example: 2.3, 1.0, 0.5, 1.6, 0.4 in the window (2, 4]: epoch 3 at 2.2
    df = frame([2.3, 1.0, 0.5, 1.6, 0.4], [0.1, 0.5, 0.8, 0.3, 0.9])
    w = instability.Window(2, 4)
    assert instability.loss_spike(df, w) == (pytest.approx(2.2), 3)
    assert instability.lowest_accuracy(df, w) == (0.3, 3)
    # a falling loss never rises above its best: the largest "rise" is negative
    rise, at = instability.loss_spike(frame([2.0, 1.0, 0.5, 0.25]), instability.Window(1, 3))
    assert (rise, at) == (pytest.approx(-0.5), 2)
    # a non-finite loss is an unbounded spike
    assert (
        instability.loss_spike(frame([2.0, 1.0, np.nan]), instability.Window(1, 2))[0] == math.inf
    )


def test_the_onset_is_the_first_epoch_past_the_threshold():
    # best 0.5 after epoch 2; epoch 3 rises by 60%, epoch 4 by 300%: onset at 4 for a
    # threshold of 100%, at 3 for 50%, none for 400%
    df = frame([2.3, 1.0, 0.5, 0.8, 2.0, 0.4])
    w = instability.Window(2, 5)
    assert instability.spike_onset(df, w, 1.0) == 4
    assert instability.spike_onset(df, w, 0.5) == 3
    assert instability.spike_onset(df, w, 4.0) is None


def test_the_window_follows_the_warmup_period():
    assert instability.window(30, 3, 0.25) == instability.Window(3, 7)
    assert instability.window(200, 20, 0.25) == instability.Window(20, 50)
    assert instability.window(10, 5, 0.25) == instability.Window(5, 6)  # at least one epoch
    assert instability.Window(3, 7).text() == "epochs 4–7"


def test_the_embedded_window(questions):
    assert questions["rq2"]["window"] == [5, 7]


def test_every_precondition_is_named_by_a_claim_and_every_claim_names_known_ones():
    named = {p for c in CLAIMS.values() for p in c.requires}
    assert named == set(PRECONDITIONS)


def stable(ev):
    ev.metrics["large_batch"] = {s: metrics(0.9 + JITTER[s]) for s in ev.seeds}


def flat_restart_line(ev):
    ev.curve_sets["sgdr_restarts"] = {s: curve(0.0105, 0.0105) for s in ev.seeds}


def flat_robust_line(ev):
    """One of the robustness curves' lines has no barrier: the smallest decides."""
    ev.curve_sets[ROBUSTNESS[0]] = {s: curve(0.0105, 0.0105, epochs=(30, 30)) for s in ev.seeds}


def restarts_stay(ev):
    """SGDR's learning rate restarts but its training loss keeps falling."""
    ev.metrics["sgdr"] = {s: metrics(0.93 + JITTER[s]) for s in ev.seeds}
    for df in ev.metrics["sgdr"].values():
        df.loc[df["epoch"].isin(RESTARTS), "lr"] = 0.0005


def flat_independent_line(ev):
    ev.curve_sets["seed_to_seed"] = {s: curve(0.0105, 0.0105, epochs=(30, 30)) for s in ev.seeds}


def weak_teacher(ev):
    ev.metrics["teacher"] = {s: metrics(0.95 + JITTER[s]) for s in ev.seeds}


def warmup_spikes_too(ev):
    ev.metrics["large_batch_warmup"] = {
        s: metrics(0.96 + JITTER[s], spike_at=SPIKE_AT) for s in ev.seeds
    }


def read_before_the_spike(ev):
    for analysis in ("init_large_batch", "init_large_batch_warmup"):
        for by_seed in ev.profiles[analysis].values():
            for s, ps in by_seed.items():
                by_seed[s] = [p for p in ps if p.epoch_b == 5]


# precondition -> how to make it fail, and the claims that then are not testable
FAILING = {
    "no_warmup_unstable": (stable, ["RQ2.1", "RQ2.2", "RQ2.3", "RQ2.4", "RQ2.5", "RQ2.6"]),
    "warmup_stable": (warmup_spikes_too, ["RQ2.2", "RQ2.3", "RQ2.4", "RQ2.6"]),
    "read_after_instability": (read_before_the_spike, ["RQ2.2", "RQ2.3"]),
    "restart_line_barrier": (flat_restart_line, ["RQ1.2"]),
    "independent_line_barrier": (flat_independent_line, ["RQ4.3"]),
    "robust_line_barrier": (flat_robust_line, ["RQ4.4"]),
    "restarts_move": (restarts_stay, ["RQ1.3"]),
    "teacher_better": (weak_teacher, ["RQ3.1", "RQ3.2", "RQ3.3"]),
}


@pytest.mark.parametrize("seeds", [(0,), SEEDS], ids=["1 seed", "3 seeds"])
@pytest.mark.parametrize("name", list(PRECONDITIONS))
def test_a_failing_precondition_makes_its_claims_not_testable_and_back(name, seeds, questions):
    assert set(FAILING) == set(PRECONDITIONS)
    fail, claims = FAILING[name]
    ev = paper_like(questions, seeds=seeds, methods=METHODS)
    assert measure(name, ev, Settings()).holds is True
    before = {cid: findings.evaluate(CLAIMS[cid], ev, Settings()) for cid in claims}
    assert {f.verdict for f in before.values()} == {SUPPORTS}
    fail(ev)
    check = measure(name, ev, Settings())
    assert check.holds is False and "fails" in check.text()
    for cid in claims:
        f = findings.evaluate(CLAIMS[cid], ev, Settings())
        assert f.verdict == NOT_TESTABLE, (cid, f.reason)
        assert f.reason.startswith("not testable here: it needs ") and f.verdict_cell() == (
            "not testable here"
        )
        assert set(f.by_method.values()) <= {NOT_TESTABLE}
        assert name in [k.name for k in f.checks]


def test_the_spike_threshold_decides_the_precondition(questions):
    ev = paper_like(questions, seeds=SEEDS)
    # SPIKE_AT triples the validation loss over its best: a relative rise of 2
    assert measure("no_warmup_unstable", ev, Settings()).value == pytest.approx(2.0)
    assert measure("no_warmup_unstable", ev, Settings(spike=1.99)).holds is True
    assert measure("no_warmup_unstable", ev, Settings(spike=2.01)).holds is False
    assert SPIKE_AT == 6


def test_a_diverged_run_without_warmup_is_unstable(questions):
    ev = paper_like(questions, seeds=SEEDS)
    ev.metrics["large_batch"] = {s: metrics(0.1, diverged_at=2) for s in SEEDS}
    check = measure("no_warmup_unstable", ev, Settings())
    assert check.holds is True and check.value == math.inf


def test_a_precondition_that_cannot_be_measured_leaves_the_claim_to_decide(questions):
    ev = paper_like(questions, seeds=SEEDS)
    del ev.curve_sets["sgdr_restarts"]
    check = measure("restart_line_barrier", ev, Settings())
    assert check.holds is None and "not configured" in check.detail
    f = findings.evaluate(CLAIMS["RQ1.2"], ev, Settings())
    assert f.verdict == "inconclusive" and "not configured" in f.reason


def test_the_restart_rise_by_hand():
    # the learning rate rises after epochs 2 and 6; the training loss from 0.1 to 0.25 (a
    # rise of 1.5) and from 0.05 to 0.06 (0.2): the smallest, 0.2, decides
    df = pd.DataFrame(
        {
            "epoch": range(8),
            "lr": [0.05, 0.03, 0.001, 0.05, 0.03, 0.01, 0.001, 0.05],
            "train_loss": [2.3, 0.5, 0.1, 0.25, 0.2, 0.1, 0.05, 0.06],
        }
    )
    rises = restart_rises(df)
    assert rises == {2: pytest.approx(1.5), 6: pytest.approx(0.2)}


def test_the_restarts_move_precondition_reads_the_smallest_rise(questions):
    ev = paper_like(questions, seeds=SEEDS)
    check = measure("restarts_move", ev, Settings())
    assert check.value == pytest.approx(2.0) and check.holds is True  # support: 3x the loss
    assert measure("restarts_move", ev, Settings(spike=2.01)).holds is False


def test_every_restart_curve_needs_a_line_barrier(questions):
    ev = paper_like(questions, seeds=SEEDS)
    assert measure("restart_line_barrier", ev, Settings()).holds is True
    ev.curve_sets["sgdr_restarts_early"] = {s: curve(0.0105, 0.0105) for s in ev.seeds}
    check = measure("restart_line_barrier", ev, Settings())
    assert check.holds is False and "sgdr_restarts_early" in check.detail
