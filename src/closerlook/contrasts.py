"""The similarity contrasts the claims read, all on similarity above its noise floor
(closerlook.noise_floor) and on named depth partitions (closerlook.partitions): warmup's
gain in similarity to initialisation, distillation's gain in similarity to the teacher,
shallow minus deeper layers across networks, and a restart against a step-decay drop over
windows of the same length.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from closerlook import instability, points
from closerlook.effects import (
    Measured,
    NotMeasured,
    Settings,
    check_runs,
    floor_values,
    fmt_layers,
    pairs_of,
    partition,
)
from closerlook.evidence import Evidence, LayerProfile, diverged_epoch


def _mean_floor(p: LayerProfile) -> float:
    return float(np.nanmean(floor_values(p)))


# ------------------------------------------------------------------------- RQ2: warmup
def instability_epoch(ev: Evidence, s: Settings) -> int | None:
    """The onset of the no-warmup run's instability: in each seed the first epoch of RQ2's
    window whose validation loss rises above its best earlier value by more than
    `s.spike` (closerlook.instability), or the epoch it diverged; the latest over seeds, or
    None where a seed has no such epoch."""
    q = ev.questions.get("rq2", {})
    run, w = q.get("no_warmup", {}).get("run"), q.get("window")
    if run not in ev.metrics or not w:
        return None
    window = instability.Window(*w)
    at = []
    for seed in ev.seeds:
        df = ev.metrics[run][seed]
        gone = diverged_epoch(df)
        onset = instability.spike_onset(df, window, s.spike)
        at.append(gone if gone is not None and (onset is None or gone < onset) else onset)
    return None if any(e is None for e in at) else max(at)


def read_point(ev: Evidence, s: Settings, analysis: str, method: str | None):
    """The compared point of RQ2's similarity to initialisation: the first later epoch of
    `analysis` at or after the instability (the end of the window when none is known),
    else its last one."""
    profiles = ev.mean_profiles(analysis, method)
    if not profiles:
        raise NotMeasured(f"analysis '{analysis}' has no {method} values")
    later = [p.epoch_b for p in profiles]
    epochs = [e for e in later if isinstance(e, int)]
    target = instability_epoch(ev, s)
    if target is None:
        return later[0]
    after = [e for e in epochs if e >= target]
    return min(after) if after else later[-1]


def warmup_gains(ev: Evidence, s: Settings, method: str | None) -> Measured:
    """seed -> (shallow, deeper) gain of warmup in similarity to initialisation (with minus
    without warmup), read at `read_point`, as `effects`' two-tuples; and the numbers."""
    q = ev.questions["rq2"]
    nw, w = q["no_warmup"], q["warmup"]
    at = read_point(ev, s, nw["analysis"], method)
    by = {}
    for role in (nw, w):
        seeds = pairs_of(ev, role["analysis"], method)
        found = {seed: [p for p in ps if p.epoch_b == at] for seed, ps in seeds.items()}
        if not all(found.values()):
            raise NotMeasured(f"analysis '{role['analysis']}' has no pair at {points.label(at)}")
        by[role["run"]] = {seed: ps[0] for seed, ps in found.items()}
    first = by[nw["run"]][ev.seeds[0]]
    part = partition(ev, "rq2", first.layers, s)
    numbers = f"{method} above its floor, initialisation vs {points.label(at)}; {part.text()}"
    for _, run, analysis in ev.rq2_setups():
        for p in ev.mean_profiles(analysis, method):
            if p.epoch_b == at:
                sh, dp = part.means(p.layers, floor_values(p))
                numbers += f"; {run} ({points.label(p.epoch_b)}): shallow {sh:.3f}, deeper {dp:.3f}"
    check_runs(ev, [nw["run"], w["run"]], s, numbers)
    gains = {}
    for seed in ev.seeds:
        pw, pn = by[w["run"]][seed], by[nw["run"]][seed]
        (sw, dw), (sn, dn) = (part.means(p.layers, floor_values(p)) for p in (pw, pn))
        gains[seed] = (sw - sn, dw - dn)
    return Measured(gains, numbers, partition=part)


# ------------------------------------------------------------------------- RQ3: distillation
def distillation_gains(ev: Evidence, s: Settings, method: str | None) -> Measured:
    """seed -> (shallow, deeper) gain of distillation in similarity to the teacher, and the
    numbers with the output layer's gain on its own; the students are named by role
    (questions.rq3.distilled / plain)."""
    q = ev.questions["rq3"]
    a, roles = q["analysis"], (q.get("distilled"), q.get("plain"))
    by_seed = pairs_of(ev, a, method)

    def by_role(ps):
        found = {p.run_b: p for p in ps}
        if not all(r in found for r in roles):
            raise NotMeasured(f"analysis '{a}' has no pair for the distilled and plain students")
        return [found[r] for r in roles]

    distilled, plain = by_role(ev.mean_profiles(a, method))
    gain = floor_values(distilled) - floor_values(plain)
    part = partition(ev, "rq3", distilled.layers, s)
    sh, dp = part.means(distilled.layers, gain)
    output = distilled.layers[-1]
    teacher = distilled.run_a if distilled.run_a == "teacher" else f"teacher {distilled.run_a}"
    numbers = (
        f"{method} (above its floor in brackets), {teacher} (epoch "
        f"{distilled.epoch_a}); {distilled.run_b}: {fmt_layers(distilled)}; {plain.run_b}: "
        f"{fmt_layers(plain)}; {part.text()}; gain shallow {sh:+.3f}, deeper {dp:+.3f}; the "
        f"output layer {output} on its own: {gain[-1]:+.3f}"
    )
    check_runs(ev, [distilled.run_a, *roles], s, numbers)
    gains = {}
    for seed, ps in by_seed.items():
        d, p = by_role(ps)
        gains[seed] = part.means(d.layers, floor_values(d) - floor_values(p))
    return Measured(gains, numbers, partition=part)


# ------------------------------------------------------------------------- RQ4: depth
def shallow_minus_deeper(ev: Evidence, s: Settings, method: str | None, key: str, last: bool):
    """Shallow minus deeper-layer similarity above the floor of one pair of analysis
    questions.rq4.<key> (its last pair with `last`, else its first), per seed."""
    a = ev.questions.get("rq4", {}).get(key)
    if not a:
        raise NotMeasured(f"questions.rq4.{key} names no analysis")
    which = -1 if last else 0
    by_seed = pairs_of(ev, a, method)
    p = ev.mean_profiles(a, method)[which]
    part = partition(ev, "rq4", p.layers, s)
    sh, dp = part.means(p.layers, floor_values(p))
    numbers = (
        f"{method} above its floor, {p.label()}: {part.text()}; shallow {sh:.3f}, deeper "
        f"{dp:.3f} [raw (above floor): {fmt_layers(p)}]"
    )
    check_runs(ev, list(dict.fromkeys([p.run_a, p.run_b])), s, numbers)
    effects = {}
    for seed, ps in by_seed.items():
        sh, dp = part.means(ps[which].layers, floor_values(ps[which]))
        effects[seed] = sh - dp
    return Measured(effects, numbers, partition=part)


# ------------------------------------------------------------------------- RQ1: restarts
def _windows(ps: Sequence[LayerProfile], allowed: Sequence[Sequence[int]] | None) -> dict:
    """window length -> pairs of `ps` whose two epochs are that far apart (only the pairs
    listed in `allowed`, when given)."""
    keep = None if allowed is None else {tuple(x) for x in allowed}
    out: dict[int, list[LayerProfile]] = {}
    for p in ps:
        if not (isinstance(p.epoch_a, int) and isinstance(p.epoch_b, int)):
            continue
        if keep is None or (p.epoch_a, p.epoch_b) in keep:
            out.setdefault(p.epoch_b - p.epoch_a, []).append(p)
    return out


def restart_against_drop(ev: Evidence, s: Settings, method: str | None) -> Measured:
    """Similarity above the floor across a restart minus across a step-decay drop over a
    window of the same length (mean over layers, over the windows of each length, then over
    the lengths both have), per seed; the independent networks' similarity as context."""
    q = ev.questions["rq1"]
    control = q.get("control")
    if not control:
        raise NotMeasured("questions.rq1.control names no analysis of step-decay drops")
    restarts, drops = pairs_of(ev, q["restarts"], method), pairs_of(ev, control, method)
    allowed = q.get("restart_windows")
    effects, lengths = {}, set()
    for seed in ev.seeds:
        r, d = _windows(restarts[seed], allowed), _windows(drops[seed], q.get("drop_windows"))
        both = sorted(set(r) & set(d))
        if not both:
            raise NotMeasured(
                f"no restart window of '{q['restarts']}' matches a drop window "
                f"of '{control}' in length"
            )
        lengths.update(both)
        effects[seed] = float(
            np.mean(
                [
                    np.mean([_mean_floor(p) for p in r[k]])
                    - np.mean([_mean_floor(p) for p in d[k]])
                    for k in both
                ]
            )
        )
    numbers = f"{method} above its floor (mean over layers); windows of {sorted(lengths)} epochs"
    for name in (q["restarts"], control):
        ps = _windows(ev.mean_profiles(name, method), None)
        numbers += "; " + ", ".join(
            f"{p.run_a} {p.epoch_a} → {p.epoch_b}: {_mean_floor(p):.3f}"
            for k in sorted(lengths)
            for p in ps.get(k, [])
        )
    reference = q.get("reference")
    if reference and reference in ev.profiles:
        ref = ev.mean_profiles(reference, method)
        numbers += "; context, independent networks: " + ", ".join(
            f"{points.label(p.epoch_a)} {_mean_floor(p):.3f}" for p in ref
        )
    check_runs(ev, [restarts[ev.seeds[0]][0].run_a, drops[ev.seeds[0]][0].run_a], s, numbers)
    return Measured(effects, numbers)
