"""The study's figures, one registry: each entry names the figure, the runs, analyses and
curves it reads (a function of the validated config), its caption in the report
(workflow/report/<caption>) and its draw function (docs/architecture.md, figures and
findings).

workflow/rules/figures.smk makes one rule per entry, in the registry's order; the report
shows each figure under its research question (the name's prefix) with its caption. Adding
a figure is one `@study_figure(...)` entry with its draw function. The summary (RQ4) and
findings.md read the union of every figure's parts plus RQ4's own (`summary_parts`).

Every draw function takes the evidence (closerlook.evidence), the figure's parts, the run
colours and the claims' verdicts, and returns a matplotlib Figure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.figure import Figure

from closerlook import figures, path_plots, plan, plots, replicates, resolved
from closerlook.effects import accuracies as accuracies_at
from closerlook.effects import read_epoch
from closerlook.evidence import Evidence, final_accuracies
from closerlook.stats import mean_interval

Parts = dict[str, list[str]]  # "runs", "analyses", "curves" -> names
Verdicts = Sequence[tuple[str, str, str]]  # (claim id, verdict, reason) of every claim
Draw = Callable[[Evidence, Parts, Mapping[str, object], Verdicts], Figure]
SUMMARY = "rq4_summary"  # drawn whatever is configured; its parts are everyone's


@dataclass(frozen=True)
class StudyFigure:
    """One figure of the study: what it reads, how it is drawn, its caption file (under
    workflow/report, or an absolute path), and whether it depends on the config's questions
    and on the claims' verdicts (then also on the `findings` settings)."""

    name: str
    parts: Callable[[Mapping[str, Any]], Parts]
    draw: Draw
    caption: str
    questions: bool = False
    verdicts: bool = False

    @property
    def category(self) -> str:
        """The report's category: the research question, e.g. "RQ1"."""
        return self.name.split("_")[0].upper()


FIGURES: dict[str, StudyFigure] = {}


def study_figure(
    name: str,
    parts: Callable[[Mapping[str, Any]], Parts],
    caption: str | None = None,
    questions: bool = False,
    verdicts: bool = False,
) -> Callable[[Draw], Draw]:
    """Register the decorated draw function as figure `name` (caption `<name>.rst`)."""

    def register(draw: Draw) -> Draw:
        if name in FIGURES:
            raise ValueError(f"study figure {name!r} is registered twice")
        FIGURES[name] = StudyFigure(
            name, parts, draw, caption or f"{name}.rst", questions, verdicts
        )
        return draw

    return register


def draw(name: str, ev: Evidence, parts: Parts, colours: Mapping[str, object], verdicts=()):
    """Figure `name` drawn from its evidence."""
    return FIGURES[name].draw(ev, parts, colours, verdicts)


# ------------------------------------------------------------------ what a figure reads
def _have(names: Iterable[str], where: Mapping[str, Any]) -> list[str]:
    return [n for n in dict.fromkeys(names) if n in where]


def configured(
    config: Mapping[str, Any],
    runs: Iterable[str] = (),
    analyses: Iterable[str] = (),
    curves: Iterable[str] = (),
) -> Parts:
    """The parts named that the config has: runs, similarity analyses and curves."""
    return {
        "runs": _have(runs, config["runs"]),
        "analyses": _have(analyses, config["similarity"]["analyses"]),
        "curves": _have(curves, config["curves"]["connections"]),
    }


def _merge(union: Parts, parts: Mapping[str, Sequence[str]]) -> None:
    for kind, names in parts.items():
        union[kind] += [n for n in names if n not in union[kind]]


def pair_runs(config: Mapping[str, Any], parts: Parts) -> list[str]:
    """The runs of `parts`, then those of its analyses' pairs (in order, once each)."""
    runs = list(parts["runs"])
    for a in parts["analyses"]:
        for run_a, _, run_b, _ in plan.analysis_pairs(config, a):
            runs += [r for r in (run_a, run_b) if r not in runs]
    return runs


def curve_runs(config: Mapping[str, Any], parts: Parts) -> list[str]:
    """The runs of the endpoints of `parts`' curves (in order, once each)."""
    runs = [r for c in parts["curves"] for r, _ in plan.curve_endpoints(config, c)]
    return list(dict.fromkeys(runs))


def summary_parts(config: Mapping[str, Any]) -> Parts:
    """What the summary and findings.md read: every other figure's parts, RQ1's control
    (the step-decay drops) and its earlier restart curve, RQ4's own analyses and curves
    (findings (d) and (e), and (e)'s robustness), and the runs of every analysis' pairs."""
    union: Parts = {"runs": [], "analyses": [], "curves": []}
    for f in FIGURES.values():
        if f.name != SUMMARY:
            _merge(union, f.parts(config))
    rq4 = config["questions"]["rq4"]
    _merge(union, configured(config, analyses=[_rq1(config).get("control", "")]))
    _merge(union, configured(config, analyses=[rq4["independent"], rq4["heuristics"]]))
    rq1_curves = [_rq1(config).get("curve", ""), _rq1(config).get("earlier", "")]
    _merge(union, configured(config, curves=[*rq1_curves, rq4["curve"], *rq4["robustness"]]))
    union["runs"] = pair_runs(config, union)
    return union


def question_parts(config: Mapping[str, Any]) -> dict[str, Parts]:
    """What each figure draws, limited to what is configured: figure name -> parts. A
    figure whose parts are all missing is left out; the summary never is."""
    parts = {name: f.parts(config) for name, f in FIGURES.items()}
    return {n: p for n, p in parts.items() if n == SUMMARY or any(p.values())}


def run_colours(config: Mapping[str, Any], runs: Iterable[str]) -> dict[str, str]:
    """Each run's colour in every figure: `figures.colours`, else the tab10 colour ("C0" to
    "C9") of its position in `runs`."""
    order = list(config["runs"])
    overrides = config["figures"].get("colours", {})
    return {r: overrides.get(r, f"C{order.index(r) % 10}" if r in order else "0.3") for r in runs}


def run_periods(config: Mapping[str, Any], runs: Iterable[str]) -> dict[str, list]:
    """Each run's warmup and freeze periods, run -> [(kind, first epoch, last epoch)], kind
    "warmup" or "frozen"; runs with neither are left out."""
    out = {}
    for run in runs:
        if run not in config["runs"]:
            continue
        r = plan.run_settings(config, run)
        spans = [("warmup", 0, r.warmup_epochs)] if r.warmup_epochs else []
        if r.freeze and r.freeze.get("epochs"):
            spans.append(("frozen", 0, r.freeze["epochs"]))
        if spans:
            out[run] = spans
    return out


def run_objectives(config: Mapping[str, Any], runs: Iterable[str]) -> dict[str, str]:
    """The training objective of each run that is not trained on cross-entropy alone: run ->
    its objective in words (a distilled run's, with its temperature and weight)."""
    out = {}
    for run in runs:
        d = plan.run_settings(config, run).distill if run in config["runs"] else None
        if d:
            t, a = d["temperature"], d["alpha"]
            out[run] = f"distillation objective (T = {t:g}, α = {a:g})"
    return out


def settings(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Exactly the config figure `name` depends on: what it reads, the colours of its runs
    (and of its analyses' pairs), the measures (primary first), the seeds, the figure
    settings and, where it uses them, the questions (with the runs' warmup and freeze
    periods) and the findings' thresholds."""
    f, p = FIGURES[name], FIGURES[name].parts(config)
    runs = pair_runs(config, p)
    out = {
        "name": name,
        "module": f.draw.__module__,  # the job imports it, so that the entry is registered
        "parts": p,
        "colours": run_colours(config, [*runs, *curve_runs(config, p)]),
        "measures": plan.measures(config),
        "seeds": plan.replicates(config),
        "dpi": config["figures"]["dpi"],
    }
    if f.questions or f.verdicts:
        out["questions"] = resolved.resolved_questions(config)
        out["questions"]["periods"] = run_periods(config, runs)
    if f.verdicts:
        out["findings"] = config["findings"]
    return out


def findings_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """Exactly the config findings.md depends on (no figure settings)."""
    return {
        "parts": summary_parts(config),
        "questions": resolved.resolved_questions(config),
        "measures": plan.measures(config),
        "seeds": plan.replicates(config),
        "findings": config["findings"],
        "preset": config["preset"],
        "synthetic_data": bool(config["data"].get("synthetic")),
        "design": replicates.design(config),
    }


# ------------------------------------------------------------------ the figures
def _rq1(config: Mapping[str, Any]) -> dict[str, Any]:
    return config["questions"]["rq1"]


def _rq2(config: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    return plan.rq2_setups(config["questions"])


@study_figure("rq1_training", lambda c: configured(c, runs=_rq1(c)["runs"]), questions=True)
def rq1_training(ev: Evidence, parts: Parts, colours, verdicts) -> Figure:
    """Loss, accuracy and learning rate of SGDR, step decay and cosine (RQ1), and the
    accuracies RQ1 compares, each at the epoch it is read at (questions.rq1.read_epochs)."""
    metrics = {r: ev.mean_metrics(r) for r in parts["runs"]}
    compared, shown = {}, dict(colours)
    for r in parts["runs"]:
        e = read_epoch(ev, r)
        key = f"{r} (epoch {e or int(metrics[r]['epoch'].max())})"
        compared[key] = mean_interval(list(accuracies_at(ev, r, e).values()))
        shown[key] = colours.get(r, plots.GREY)
    return plots.training_curves(
        metrics, shown, title="RQ1: SGDR, step decay and cosine",
        compared=("validation accuracy at the compared epochs", compared),
    )  # fmt: skip


@study_figure("rq1_line_and_curve", lambda c: configured(c, curves=[_rq1(c)["curve"]]))
def rq1_line_and_curve(ev: Evidence, parts: Parts, colours, verdicts) -> Figure:
    """Error and loss along line and curve between SGDR restarts, with their barriers
    (Gotmare et al. Fig. 2; closerlook.barriers)."""
    first = ev.curve
    colour = colours.get(first.run_a, plots.GREY) if first is not None else plots.GREY
    return path_plots.line_and_curve(ev.curves, colour)


@study_figure("rq1_loss_plane", lambda c: configured(c, curves=[_rq1(c)["curve"]]))
def rq1_loss_plane(ev: Evidence, parts: Parts, colours, verdicts) -> Figure:
    """The loss plane of the first seed (Gotmare et al. Fig. 3)."""
    return path_plots.loss_plane(ev.curve, min(ev.curves), colours.get(ev.curve.run_a, "red"))


def _restart_parts(config: Mapping[str, Any]) -> Parts:
    """The restarts analysis, then its reference across seeds (questions.rq1.reference)."""
    rq1 = _rq1(config)
    parts = configured(config, analyses=[rq1["restarts"]])
    parts["analyses"] += configured(config, analyses=[rq1.get("reference", "")])["analyses"]
    return parts


@study_figure("rq1_restart_cca", _restart_parts)
def rq1_restart_cca(ev: Evidence, parts: Parts, colours, verdicts) -> Figure:
    """Per-layer similarity across SGDR restarts, next to two independent networks."""
    restarts, *rest = parts["analyses"]
    reference = rest[0] if rest else None
    first = ev.mean_profiles(restarts, ev.method)
    run = first[0].run_a if first else ""

    def drawn(m: str) -> plots.Profiles:
        others = ev.mean_profiles(reference, m) if reference else []
        return figures.restarts(ev.mean_profiles(restarts, m), colours) + figures.reference(others)

    by_method = {m: drawn(m) for m in ev.measures}
    return plots.layer_profile_panels(by_method, f"RQ1: {run} across restarts")


@study_figure(
    "rq2_warmup",
    lambda c: configured(c, runs=[run for _, run, _ in _rq2(c)]),
    questions=True,
)
def rq2_warmup(ev: Evidence, parts: Parts, colours, verdicts) -> Figure:
    """Validation accuracy and learning rate of the warmup setups (Gotmare et al. Fig. 4a, b),
    the warmup and freeze periods shaded."""
    setups = [(role, run) for role, run, _ in ev.rq2_setups() if run in ev.metrics]
    metrics = {figures.role_name(run, role): ev.mean_metrics(run) for role, run in setups}
    shown = {figures.role_name(run, role): colours.get(run, plots.GREY) for role, run in setups}
    return plots.training_curves(
        metrics, {**colours, **shown}, ("val_acc", "lr"), title="RQ2: warmup setups",
        periods=ev.questions.get("periods", {}),
    )  # fmt: skip


@study_figure(
    "rq2_warmup_cca",
    lambda c: configured(c, analyses=[analysis for _, _, analysis in _rq2(c)]),
    questions=True,
)
def rq2_warmup_cca(ev: Evidence, parts: Parts, colours, verdicts) -> Figure:
    """Initialisation against the end of warmup, per layer (Gotmare et al. Fig. 4c)."""
    by_method = {m: figures.warmup(ev, colours, m) for m in ev.measures}
    return plots.layer_profile_panels(by_method, "RQ2: initialisation vs end of warmup")


@study_figure(
    "rq3_distillation_cca",
    lambda c: configured(c, analyses=[c["questions"]["rq3"]["analysis"]]),
)
def rq3_distillation_cca(ev: Evidence, parts: Parts, colours, verdicts) -> Figure:
    """The teacher against both students, per layer (Gotmare et al. Fig. 6)."""
    (analysis,) = parts["analyses"]
    by_method = {
        m: figures.distillation(ev.mean_profiles(analysis, m), colours) for m in ev.measures
    }
    return plots.layer_profile_panels(by_method, "RQ3: teacher vs student")


@study_figure(SUMMARY, summary_parts, questions=True, verdicts=True)
def rq4_summary(ev: Evidence, parts: Parts, colours, verdicts) -> Figure:
    """RQ4 on one page: accuracies, the barrier, RQ1–RQ3 under the primary measure, verdicts."""
    q, m = ev.questions, ev.method
    restarts = figures.restarts(ev.mean_profiles(q["rq1"]["restarts"], m), colours)
    distilled = figures.distillation(ev.mean_profiles(q["rq3"]["analysis"], m), colours)
    panels = [
        ("RQ1: CCA across SGDR restarts", restarts),
        ("RQ2: CCA initialisation vs end of warmup", figures.warmup(ev, colours, m)),
        ("RQ3: CCA teacher vs students", distilled),
    ]
    accuracies = {
        r: mean_interval(list(final_accuracies(frames).values()))
        for r, frames in ev.metrics.items()
    }
    return figures.summary(accuracies, colours, ev.curves, panels, m, verdicts)
