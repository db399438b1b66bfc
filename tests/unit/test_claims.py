"""Every claim of the registry can go either way: hand-made evidence that supports it and
evidence that contradicts it, both checked. A claim added without both cases fails here."""

from __future__ import annotations

import numpy as np
import pytest

from closerlook import config, resolved
from closerlook.claims import CLAIMS, PAPER_FINDINGS
from closerlook.decision import CONTRADICTS, SUPPORTS
from closerlook.effects import Settings, depth_means
from closerlook.findings import evaluate

from support import JITTER, LAYERS, METHODS, ROBUSTNESS, SPIKE_AT, curve, metrics, paper_like

SEEDS = (0, 1, 2)


@pytest.fixture
def questions(embedded_config) -> dict:
    return resolved.resolved_questions(config.validate(embedded_config))


def set_values(ev, analysis: str, values) -> None:
    """Give every pair of `analysis` the per-layer `values` (a function of the old ones),
    in every seed and measure."""
    for by_seed in ev.profiles[analysis].values():
        for ps in by_seed.values():
            for p in ps:
                p.values = np.asarray(values(p.values), dtype=float)


def set_accuracy(ev, run: str, acc: float, **kw) -> None:
    ev.metrics[run] = {s: metrics(acc + JITTER[s], **kw) for s in ev.seeds}


def set_dip(ev, run: str, dip: float) -> None:
    """`run` spikes in RQ2's window too, its validation accuracy falling to `dip`."""
    acc = float(ev.metrics[run][ev.seeds[0]]["val_acc"].iloc[-1])
    set_accuracy(ev, run, acc, spike_at=SPIKE_AT, dip=dip)


def set_curve(ev, name: str, line_peak: float, curve_peak: float) -> None:
    epochs = next(iter(ev.curve_sets[name].values()))
    ends = (epochs.epoch_a, epochs.epoch_b)
    ev.curve_sets[name] = {s: curve(line_peak, curve_peak, epochs=ends) for s in ev.seeds}


def flat_lines(ev, *names: str) -> None:
    """No barrier on the line (nor the curve) of any of the curves `names`."""
    for name in names:
        set_curve(ev, name, 0.0105, 0.0105)


def distillation_gain(shallow: float, deep: float):
    def mutate(ev):
        for by_seed in ev.profiles["distillation"].values():
            for distilled, plain in by_seed.values():
                distilled.values = plain.values + np.array([shallow] * 3 + [deep] * 3)

    return mutate


SHALLOW_MOVED = np.array([0.6, 0.6, 0.6, 0.6, 0.9, 0.88])


def unchanged(ev) -> None:
    """The paper-shaped evidence as it is: every claim holds."""


# claim -> evidence that contradicts it (applied to the paper-shaped evidence); with one seed
# a value must lie farther than the margin beyond the bound (decision's one-seed rule)
CONTRADICTING = {
    "RQ1.1": lambda ev: flat_lines(ev, "sgdr_restarts", "sgdr_restarts_early"),
    "RQ1.2": lambda ev: set_curve(ev, "sgdr_restarts", 1.5, 1.0),  # the curve has a bump
    # a drop keeps the network far closer than a restart
    "RQ1.3": lambda ev: set_values(ev, "step_decay", lambda v: np.full_like(v, 0.99)),
    "RQ1.4": lambda ev: set_accuracy(ev, "sgdr", 0.80),
    # warmup dips lower than the run without it (which still spikes: the precondition holds)
    "RQ2.1": lambda ev: set_dip(ev, "large_batch_warmup", 0.02),
    # without warmup only the shallow layers move: warmup's gain is all shallow
    "RQ2.2": lambda ev: set_values(ev, "init_large_batch", lambda v: SHALLOW_MOVED),
    "RQ2.3": lambda ev: set_values(ev, "init_large_batch", lambda v: np.full_like(v, 0.99)),
    "RQ2.4": lambda ev: set_dip(ev, "large_batch_frozen", 0.05),
    "RQ2.5": lambda ev: set_accuracy(ev, "large_batch", 0.99, spike_at=SPIKE_AT),
    "RQ2.6": lambda ev: set_accuracy(ev, "large_batch_frozen", 0.80),
    "RQ3.1": distillation_gain(0.0, -0.1),
    "RQ3.2": distillation_gain(0.2, 0.05),
    "RQ3.3": lambda ev: set_accuracy(ev, "student_distill", 0.90),
    "RQ4.1": lambda ev: set_values(ev, "seed_to_seed", lambda v: v[::-1]),
    "RQ4.2": lambda ev: set_values(ev, "sgdr_vs_step", lambda v: v[::-1]),
    "RQ4.3": lambda ev: set_curve(ev, "seed_to_seed", 3.0, 1.0),
    # one robustness curve has a bump: the surface is not connected for every pair
    "RQ4.4": lambda ev: set_curve(ev, ROBUSTNESS[1], 3.0, 1.0),
}
# claim -> evidence that supports it
SUPPORTING = dict.fromkeys(CONTRADICTING, unchanged)


@pytest.mark.parametrize("cid", list(CLAIMS))
def test_every_claim_has_a_supporting_and_a_contradicting_case(cid):
    assert cid in SUPPORTING and cid in CONTRADICTING, f"{cid}: give both cases"


@pytest.mark.parametrize("seeds", [(0,), SEEDS], ids=["1 seed", "3 seeds"])
@pytest.mark.parametrize("cid", list(CLAIMS))
def test_a_claim_goes_either_way(cid, seeds, questions):
    for cases, expected in ((SUPPORTING, SUPPORTS), (CONTRADICTING, CONTRADICTS)):
        ev = paper_like(questions, seeds=seeds, methods=METHODS)
        cases[cid](ev)
        f = evaluate(CLAIMS[cid], ev, Settings())
        assert f.verdict == expected, (cid, f.reason, f.numbers)
        assert f.one_seed == (len(seeds) == 1)
        if CLAIMS[cid].similarity:
            assert f.by_method == dict.fromkeys(METHODS, expected), f.method_reasons


def test_every_paper_finding_is_tested_by_some_claim():
    assert {c.paper for c in CLAIMS.values()} == set(PAPER_FINDINGS) == set("abcde")


def test_rq3_roles_not_list_order_decide(questions):
    ev = paper_like(questions, seeds=SEEDS, methods=METHODS)
    before = {cid: evaluate(CLAIMS[cid], ev, Settings()) for cid in ("RQ3.1", "RQ3.2")}
    for by_seed in ev.profiles["distillation"].values():
        for seed, ps in by_seed.items():
            by_seed[seed] = ps[::-1]  # the students listed the other way round
    for cid, f in before.items():
        after = evaluate(CLAIMS[cid], ev, Settings())
        assert (after.verdict, after.effect) == (f.verdict, f.effect) == (SUPPORTS, f.effect)


def test_rq2_deeper_layers_are_the_configured_group(questions):
    assert questions["rq2"]["deeper_layers"] == ["fc1", "logits"]
    f = evaluate(CLAIMS["RQ2.3"], paper_like(questions, seeds=SEEDS), Settings())
    assert "deeper fc1, logits" in f.numbers and "initialisation vs epoch 7" in f.numbers
    # STEADY - FALLING in fc1 and logits: 0.5 and 0.58, above the floor 0.05: / 0.95
    assert f.effect.mean == pytest.approx(0.54 / 0.95)
    assert f.partition.deeper == ("fc1", "logits")


def test_depth_means_by_name_or_by_halves():
    assert depth_means(["a", "b", "c", "d", "e"], [1, 2, 3, 4, 5]) == (1.5, 4.5)
    assert depth_means(LAYERS, [1, 1, 1, 1, 3, 5], deeper=["fc1", "logits"]) == (1.0, 4.0)
    assert all(np.isnan(depth_means(["a"], [1.0])))
    assert all(np.isnan(depth_means(["a", "b"], [1.0, 2.0], deeper=["a", "b"])))
