"""A finished study read back, for notebooks: ``closerlook.results.open("results/embedded")``.

It needs the results folder alone (docs/results.md): what the folder holds is listed from
the file names of the artifact layout (docs/architecture.md, points as closerlook.points
names them) and read with the library's readers (closerlook.activation_file,
closerlook.curve_file, findings.json as JSON). It reads no config and executes nothing
from the files: HDF5, CSV and JSON only; checkpoints are listed, never loaded.

Runs are the folders under runs/: runs with identical training share one network, stored
under the name of the run they pair with (closerlook.replicates.trained_run), and the
similarity tables name each run as its analysis does; such a name is found through the
source paths that the pair files record. Arrays keep the layout of the files: rows are
examples (probe images).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from closerlook import findings_doc, points
from closerlook.activation_file import ActivationFile, attribute_value
from closerlook.barriers import BARRIERS
from closerlook.curve_file import read_curve
from closerlook.tables import SHUFFLED

__all__ = ["Checkpoint", "CurveResult", "Findings", "Plane", "Results", "ResultsError", "open"]

_SEED = re.compile(r"^seed(\d+)$")
_SOURCE = re.compile(r"(?:^|/)runs/([^/]+)/seed\d+/")


class ResultsError(LookupError):
    """A name or a file the results folder does not hold; one line, listing what it has."""

    def __init__(self, message: str):
        super().__init__(" ".join(message.split()))


@dataclass(frozen=True, repr=False)
class Checkpoint:
    """A point of a run's training: after `epoch` epochs (0: the initialisation), or right
    after optimizer step `step` (1-based; closerlook.points). Exactly one is set."""

    epoch: int | None = None
    step: int | None = None

    def __post_init__(self) -> None:
        if (self.epoch is None) == (self.step is None):
            raise ValueError("a Checkpoint has an epoch or a step, exactly one of them")

    @classmethod
    def of(cls, point: Checkpoint | int | str) -> Checkpoint:
        """A checkpoint from an epoch (14), a step ("step200") or a file tag ("epoch014")."""
        if isinstance(point, Checkpoint):
            return point
        p = points.parse(point)
        return cls(step=points.step_number(p)) if points.is_step(p) else cls(epoch=int(p))

    @property
    def point(self) -> int | str:
        """The point as configs and tables name it: 14 or "step200"."""
        return self.epoch if self.step is None else points.step_point(self.step)

    @property
    def tag(self) -> str:
        """The stem of its files: epoch014, step000200."""
        return points.file_tag(self.point)

    def __str__(self) -> str:
        return points.label(self.point)

    def __repr__(self) -> str:
        return (
            f"Checkpoint(epoch={self.epoch})"
            if self.step is None
            else f"Checkpoint(step={self.step})"
        )


def _sort_key(c: Checkpoint) -> tuple[int, int]:
    """Epochs first, then steps, each ascending."""
    return (0, c.epoch) if c.step is None else (1, c.step)


@dataclass(frozen=True)
class Plane:
    """The loss plane of a curve: grid coordinates x (towards the second end) and y, and
    per metric a (len(x), len(y)) array indexed [x, y] (closerlook.curve_file)."""

    x: np.ndarray
    y: np.ndarray
    values: dict[str, np.ndarray]


@dataclass(frozen=True)
class CurveResult:
    """One curve file: metrics along the straight line and the fitted curve over t, their
    barriers (rows line, curve; columns error_train, error_val, loss_train, loss_val) and
    the loss plane."""

    name: str
    seed: int
    run_a: str
    a: Checkpoint
    run_b: str
    b: Checkpoint
    t: np.ndarray
    line: dict[str, np.ndarray]
    curve: dict[str, np.ndarray]
    barriers: pd.DataFrame
    plane: Plane


@dataclass(frozen=True)
class Findings:
    """findings.json as data: one row per claim (id, finding, verdict, effect, low, high,
    seeds, margin, reason), each paper finding's combined verdict, and the whole document."""

    claims: pd.DataFrame
    paper: dict[str, str]
    document: dict[str, Any] = field(repr=False)


def _names(what: str, names: list[str] | list[int]) -> str:
    listed = ", ".join(str(n) for n in names)
    return f"{what}: {listed}" if names else f"no {what} at all"


class Results:
    """Read access to one results folder (results/{preset}); see :func:`open`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise ResultsError(f"{self.path}: no such results folder")
        self._aliases: dict[str, str] | None = None

    def __repr__(self) -> str:
        return f"Results({str(self.path)!r})"

    @property
    def preset(self) -> str:
        return self.path.name

    # ------------------------------------------------------------------ runs
    def runs(self) -> list[str]:
        """The trained runs (folders under runs/), sorted by name."""
        folder = self.path / "runs"
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def _run_folder(self, run: str) -> str:
        """The runs/ folder of `run`: its own, or the one of the network it reads."""
        runs, aliases = self.runs(), self.aliases()
        if run in runs:
            return run
        if run in aliases:
            return aliases[run]
        names = sorted({*runs, *aliases})
        raise ResultsError(f"no run {run!r} in {self.path}; {_names('runs', names)}")

    def aliases(self) -> dict[str, str]:
        """Run names of the similarity tables that read another run's network -> that run."""
        if self._aliases is None:
            found: dict[str, str] = {}
            for pair in sorted(self.path.glob("similarity/*/seed*/*.h5")):
                with h5py.File(pair, "r") as f:
                    attrs = {k: attribute_value(v) for k, v in f.attrs.items()}
                for side in ("a", "b"):
                    m = _SOURCE.search(str(attrs.get(f"source_{side}", "")).replace("\\", "/"))
                    run = attrs.get(f"run_{side}")
                    if m and run and run != m.group(1):
                        found[str(run)] = m.group(1)
            self._aliases = found
        return dict(self._aliases)

    def seeds(self, run: str) -> list[int]:
        """The seeds (replicates k) of `run`, ascending."""
        folder = self.path / "runs" / self._run_folder(run)
        return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _SEED.match(p.name)))

    def _seed_folder(self, run: str, seed: int) -> Path:
        folder = self.path / "runs" / self._run_folder(run) / f"seed{seed}"
        if not folder.is_dir():
            raise ResultsError(
                f"run {run!r} has no seed {seed}; {_names('seeds', self.seeds(run))}"
            )
        return folder

    def _points(self, run: str, seed: int, kind: str, suffix: str) -> list[Checkpoint]:
        found = self._seed_folder(run, seed).glob(f"{kind}/*{suffix}")
        return sorted((Checkpoint.of(p.stem) for p in found), key=_sort_key)

    def checkpoints(self, run: str, seed: int = 0) -> list[Checkpoint]:
        """The saved checkpoints of one seed of `run`: epochs, then steps, ascending."""
        return self._points(run, seed, "checkpoints", ".pt")

    def activations(self, run: str, seed: int = 0) -> list[Checkpoint]:
        """The checkpoints of one seed of `run` whose activations were dumped."""
        return self._points(run, seed, "activations", ".h5")

    def metrics(self, run: str, seed: int = 0) -> pd.DataFrame:
        """metrics.csv of one seed of `run`: one row per epoch (0: before training)."""
        return pd.read_csv(self._seed_folder(run, seed) / "metrics.csv")

    # ------------------------------------------------------------------ activations
    def activation_path(self, run: str, at: Checkpoint | int | str, seed: int = 0) -> Path:
        """The activation file of `run` at checkpoint `at` (an epoch, "stepN" or a
        Checkpoint) of `seed`."""
        point = Checkpoint.of(at)
        path = self._seed_folder(run, seed) / "activations" / f"{point.tag}.h5"
        if not path.is_file():
            have = [str(c) for c in self.activations(run, seed)]
            raise ResultsError(
                f"no activations of run {run!r} seed {seed} at {point}; {_names('dumped', have)}"
            )
        return path

    def layers(self, run: str, at: Checkpoint | int | str, seed: int = 0) -> list[str]:
        """The layers of an activation file, in network order."""
        with ActivationFile(self.activation_path(run, at, seed)) as f:
            return f.layer_names()

    def activation(
        self,
        run: str,
        layer: str,
        at: Checkpoint | int | str,
        seed: int = 0,
        rows: slice | np.ndarray | None = None,
    ) -> np.ndarray:
        """Layer `layer` of `run` at checkpoint `at` of `seed` as an array whose rows are
        the probe examples: (N, C, H, W) for a conv map, (N, features) for a dense layer
        (all N rows, or `rows`)."""
        with ActivationFile(self.activation_path(run, at, seed)) as f:
            if layer not in f.layer_names():
                raise ResultsError(
                    f"{f.path} has no layer {layer!r}; {_names('layers', f.layer_names())}"
                )
            return f.read(layer, rows)

    # ------------------------------------------------------------------ similarity
    def analyses(self) -> list[str]:
        """The similarity analyses with a table (similarity/{analysis}.csv)."""
        found = (self.path / "similarity").glob("*.csv")
        return sorted(p.stem for p in found if not p.name.endswith(".matrix.csv"))

    def _table(self, analysis: str) -> pd.DataFrame:
        path = self.path / "similarity" / f"{analysis}.csv"
        if not path.is_file():
            raise ResultsError(
                f"no similarity analysis {analysis!r} in {self.path}; "
                f"{_names('analyses', self.analyses())}"
            )
        return pd.read_csv(path, dtype={"epoch_a": str, "epoch_b": str})

    def methods(self, analysis: str) -> list[str]:
        """The measures of an analysis, without their shuffled baselines."""
        return _measures(self._table(analysis))

    def similarity(self, analysis: str, method: str | None = None) -> pd.DataFrame:
        """An analysis's table: one row per (seed, pair, layer, method) with the value and
        its shuffled baseline side by side (columns `value`, `baseline`); each side's
        checkpoint as `epoch_a`/`step_a`, `epoch_b`/`step_b` (integers, one of each pair
        empty); `layer` an ordered categorical in network order, so that sorting, groupby
        and pivot keep conv2 before conv10. Only `method`'s rows when given."""
        table = self._table(analysis)
        methods = _measures(table)
        if method is not None and method not in methods:
            raise ResultsError(
                f"analysis {analysis!r} has no measure {method!r}; {_names('measures', methods)}"
            )
        return _wide_table(table, [method] if method else methods)

    # ------------------------------------------------------------------ curves, findings
    def curves(self) -> list[str]:
        """The curves with at least one evaluated seed (curves/{curve}/seed{k}.h5)."""
        return sorted({p.parent.name for p in self.path.glob("curves/*/seed*.h5")})

    def curve(self, name: str, seed: int = 0) -> CurveResult:
        """The evaluated curve `name` of `seed`: line, curve, barriers and plane."""
        if name not in self.curves():
            raise ResultsError(
                f"no curve {name!r} in {self.path}; {_names('curves', self.curves())}"
            )
        path = self.path / "curves" / name / f"seed{seed}.h5"
        if not path.is_file():
            have = sorted(
                int(m.group(1)) for p in path.parent.glob("seed*.h5") if (m := _SEED.match(p.stem))
            )
            raise ResultsError(f"curve {name!r} has no seed {seed}; {_names('seeds', have)}")
        ev = read_curve(path)
        barriers = pd.DataFrame.from_dict(ev.barriers, orient="index")[list(BARRIERS)]
        return CurveResult(
            name, seed, ev.run_a, Checkpoint.of(ev.epoch_a), ev.run_b, Checkpoint.of(ev.epoch_b),
            ev.t, ev.paths["line"], ev.paths["curve"], barriers,
            Plane(ev.plane_x, ev.plane_y, ev.plane),
        )  # fmt: skip

    def findings(self) -> Findings:
        """findings.json (written by `snakemake findings`, part of `make figures`)."""
        path = self.path / "findings.json"
        if not path.is_file():
            raise ResultsError(f"no findings.json in {self.path}; `make figures` writes it")
        doc = findings_doc.load(path)
        rows = [_claim_row(c) for c in doc.get("claims", [])]
        paper = {k: v["verdict"] for k, v in doc.get("findings", {}).items()}
        return Findings(pd.DataFrame(rows), paper, doc)


def _claim_row(c: dict[str, Any]) -> dict[str, Any]:
    """One claim of findings.json as a row: its interval as `low`, `high`."""
    low, high = c.get("interval") or [None, None]
    return {
        **{k: c.get(k) for k in ("id", "finding", "verdict", "effect")},
        "low": low,
        "high": high,
        **{k: c.get(k) for k in ("seeds", "margin", "reason")},
    }


def _measures(table: pd.DataFrame) -> list[str]:
    """The measures of a similarity table, without their shuffled baselines."""
    return [m for m in table["method"].drop_duplicates() if not m.endswith(SHUFFLED)]


def _split_points(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    """A column of points ("14", "step200") as nullable integer epochs and steps."""
    parsed = [Checkpoint.of(v) for v in column]
    epochs = pd.array([c.epoch for c in parsed], dtype="Int64")
    steps = pd.array([c.step for c in parsed], dtype="Int64")
    return pd.Series(epochs, index=column.index), pd.Series(steps, index=column.index)


def _network_order(table: pd.DataFrame) -> list[str]:
    """Layer names ordered by their index in the pairs (layer_index: network order)."""
    first = table.sort_values("layer_index", kind="stable").drop_duplicates("layer")
    return list(first["layer"])


def _wide_table(table: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """The rows of `methods` with their baselines (method + SHUFFLED) as a column."""
    key = ["seed", "seed_b", "run_a", "epoch_a", "run_b", "epoch_b", "layer"]
    key = [k for k in key if k in table.columns]
    base = table[table["method"].isin([m + SHUFFLED for m in methods])]
    base = base.assign(method=base["method"].str.removesuffix(SHUFFLED))
    base = base[[*key, "method", "value"]].rename(columns={"value": "baseline"})
    out = table[table["method"].isin(methods)].merge(base, on=[*key, "method"], how="left")
    pair = ["run_a", "epoch_a", "run_b", "epoch_b"]
    out["_pair"] = out.groupby(pair, sort=False).ngroup()  # the pairs in the table's order
    for side in ("a", "b"):
        epochs, steps = _split_points(out[f"epoch_{side}"])
        out[f"epoch_{side}"] = epochs
        out.insert(out.columns.get_loc(f"epoch_{side}") + 1, f"step_{side}", steps)
    out["layer"] = pd.Categorical(out["layer"], _network_order(table), ordered=True)
    order = [k for k in ("seed", "seed_b") if k in out.columns]
    out = out.sort_values([*order, "_pair", "layer"], kind="stable")
    columns = [c for c in out.columns if c not in ("_pair", "baseline")]
    where = columns.index("value") + 1
    return out[[*columns[:where], "baseline", *columns[where:]]].reset_index(drop=True)


def open(path: str | Path) -> Results:
    """Open a results folder (results/{preset}) for reading; see :class:`Results`."""
    return Results(path)
