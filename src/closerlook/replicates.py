"""The study's design of replicates: which torch seed each replicate of a run trains with,
which runs are paired on purpose, which runs are one network, and which replicate is the
independent partner of another.

- **Independent by default.** Every run is its own *seed group* and trains seeds
  base + k (k = 0, 1, ... the replicate), with base = `training.seed` + 1000 · g for the
  g-th group in config order, or the run's own `seed`. Two groups never share a seed, so
  runs compared across heuristics share neither initialisation nor data order (their
  similarity is not inflated where the shared initialisation lingers: the shallow layers).
- **Paired on purpose.** A run with `pair_with: <run>` joins that run's group and trains
  its seeds: a paired design (same initialisation and data order in replicate k), the
  right one for a contrast of one change (warmup or not; distillation or not).
- **One network.** Runs whose training is identical (settings, model, seed) are one
  network: it is trained once, under the first such run's name (`trained_run`), saving
  every checkpoint any of them needs; each run keeps its own name in tables, figures and
  findings.
- **Independent partners.** An across-seeds comparison or curve of replicate k reads its
  second network from its partner, replicate k + 500 (folder seed{500+k}), trained for it
  and used by no other pair, so that no two pairs share a network (Student-t intervals
  assume independent pairs); raising `seeds` later adds pairs without re-pairing old ones.

See docs/architecture.md, "replicates".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from closerlook.config import ConfigError

# Seeds between two groups' bases: a group trains at most this many replicates.
STRIDE = 1000
# The replicate index of replicate k's independent partner is k + PARTNER.
PARTNER = 500
# A run's keys that say how it is saved or designed, not what it trains.
NOT_TRAINING = ("save_epochs", "save_iterations", "pair_with", "seed")


def paired_root(config: Mapping[str, Any], run: str) -> str:
    """The run whose seeds `run` trains: follow `pair_with` to a run without one."""
    runs, seen = config["runs"], [run]
    while runs[seen[-1]].get("pair_with"):
        nxt = runs[seen[-1]]["pair_with"]
        if nxt not in runs:
            raise ConfigError(
                f"'runs.{seen[-1]}.pair_with' is {nxt!r}; allowed values: {', '.join(runs)}"
            )
        if nxt in seen:
            raise ConfigError(
                f"'runs.{run}.pair_with' goes round in a circle ({' -> '.join([*seen, nxt])}); "
                "pair each run with a run that has no pair_with"
            )
        seen.append(nxt)
    return seen[-1]


def groups(config: Mapping[str, Any]) -> dict[str, list[str]]:
    """Seed groups in config order: root -> its runs (the root first)."""
    out: dict[str, list[str]] = {}
    for run in config["runs"]:
        out.setdefault(paired_root(config, run), []).append(run)
    return {root: sorted(runs, key=lambda r: r != root) for root, runs in out.items()}


def seed_base(config: Mapping[str, Any], run: str) -> int:
    """The torch seed of replicate 0 of `run`: its group root's own `seed`, else
    `training.seed` + STRIDE · (the group's index in config order)."""
    root = paired_root(config, run)
    own = config["runs"][root].get("seed")
    if own is not None:
        return int(own)
    return int(config["training"].get("seed", 0)) + STRIDE * list(groups(config)).index(root)


def partner(replicate: int) -> int:
    """The replicate an independent comparison of replicate k reads its second network from:
    k + PARTNER, trained for it; pairs (0, 500), (1, 501), ... share no network, and do not
    change when `seeds` grows."""
    return int(replicate) + PARTNER


def replicate_indices(config: Mapping[str, Any]) -> list[int]:
    """Every replicate a run may train: 0 .. seeds−1 and their independent partners."""
    n = int(config["seeds"])
    return [*range(n), *(partner(k) for k in range(n))]


def training_key(config: Mapping[str, Any], run: str) -> str:
    """What a run's checkpoints depend on, as text: its settings without how they are saved,
    its model, its seed base and its teacher's own training (teachers form no cycle:
    closerlook.checks)."""
    keys = {**config["training"], **config["runs"][run]}
    keys = {k: v for k, v in keys.items() if k not in NOT_TRAINING}
    keys["model_spec"] = config["models"].get(keys.get("model"), {})
    keys["seed_base"] = seed_base(config, run)
    teacher = (keys.get("distill") or {}).get("teacher")
    if teacher and teacher.get("run") in config["runs"]:
        keys["distill"] = {
            **keys["distill"],
            "teacher": {**teacher, "run": training_key(config, teacher["run"])},
        }
    return json.dumps(keys, sort_keys=True, default=str)


def trained_map(config: Mapping[str, Any]) -> dict[str, str]:
    """run -> the run whose training makes its network, often itself: among the runs whose
    training is identical (`training_key`, computed once per run), the one their seed group
    pairs with, else the first in config order."""
    keys = {r: training_key(config, r) for r in config["runs"]}
    out = {}
    for run, key in keys.items():
        root = paired_root(config, run)
        if keys[root] == key:  # identical runs share a seed group, so its root
            out[run] = root
        else:
            out[run] = next(r for r in keys if keys[r] == key)
    return out


def trained_run(config: Mapping[str, Any], run: str) -> str:
    """The run whose training makes `run`'s network (`trained_map`)."""
    return trained_map(config)[run]


def trained_runs(config: Mapping[str, Any]) -> list[str]:
    """The distinct networks of the study, by the name they are trained under."""
    return list(dict.fromkeys(trained_map(config).values()))


def aliases(config: Mapping[str, Any], trained: str) -> list[str]:
    """Every run whose network `trained` makes (itself first)."""
    others = [r for r, t in trained_map(config).items() if r != trained and t == trained]
    return [trained, *others]


def check_seeds(config: Mapping[str, Any]) -> None:
    """Raise ConfigError where two groups of runs would train the same seed, or a run paired
    with another also sets its own seed."""
    for run, keys in config["runs"].items():
        if keys.get("pair_with") and "seed" in keys:
            raise ConfigError(
                f"'runs.{run}' has both pair_with and seed; a paired run trains the seeds of "
                f"'{keys['pair_with']}': remove its seed"
            )
    if int(config["seeds"]) > PARTNER:
        raise ConfigError(f"'seeds' is {config['seeds']}; allowed: 1 to {PARTNER}")
    taken: dict[int, str] = {}
    for root in groups(config):
        base = seed_base(config, root)
        for seed in (base + k for k in replicate_indices(config)):
            other = taken.setdefault(seed, root)
            if other != root:
                raise ConfigError(
                    f"'runs.{other}' and 'runs.{root}' would both train torch seed {seed}: "
                    f"pair them on purpose with 'runs.{root}.pair_with: {other}', or give "
                    f"their 'seed' values at least {STRIDE} apart"
                )


def design(config: Mapping[str, Any]) -> list[str]:
    """The design in words, one line per seed group (findings.md and `closerlook plan`)."""
    n = int(config["seeds"])
    lines = []
    for root, runs in groups(config).items():
        base = seed_base(config, root)
        what = "paired (same initialisation and data order)" if len(runs) > 1 else "independent"
        lines.append(f"{', '.join(runs)}: {what}, torch seeds {base} + k for replicate k")
    for trained in trained_runs(config):
        same = aliases(config, trained)
        if len(same) > 1:
            lines.append(f"{', '.join(same)}: identical training, one network (trained once)")
    lines.append(
        f"across-seed pairs: replicate k against its partner, replicate k + {PARTNER} "
        f"(k = 0 to {n - 1}; disjoint pairs)"
    )
    return lines
