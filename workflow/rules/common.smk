# Input functions and settings: where every artifact lives (docs/architecture.md, the
# artifact layout) and, per rule, one `settings` param holding exactly what its output
# depends on (docs/architecture.md, the stale-only contract). A checkpoint's point (closerlook.points) is an epoch (int) or an optimizer step ("stepN",
# save_iterations): checkpoints/epoch020.pt or checkpoints/step000200.pt, tables e020 or
# step000200.

from dataclasses import asdict

from closerlook import points, replicates, resources, study_figures

RESULTS = f"{config['results_dir']}/{config['preset']}"
LOGS = f"{RESULTS}/logs"
CONDA_ENV = "../envs/closerlook.yaml"
# The official python batches (closerlook.data reads the same names).
CIFAR10_FILES = [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]


SEEDS = plan.replicates(config)
# The network each run reads (closerlook.replicates): runs with identical training are one
# network, trained once under the name of the run they pair with; a run keeps its own
# name elsewhere.
TRAINED = replicates.trained_map(config)
# runtime and mem_mb of each rule's jobs from the study's plan on the configured calibration
# (closerlook.resources; without one, each rule's own fallback or the profile's defaults)
REQUESTS = resources.rule_requests(config)


def planned_resources(rule, **uncalibrated):
    """What a rule's jobs ask the scheduler for: runtime and mem_mb from the plan, else
    `uncalibrated` (else the profile's default-resources). The runtime is that of a first
    try, times Snakemake's `attempt` on a retry (resources.attempt_runtime)."""
    requests = dict(REQUESTS.get(rule, uncalibrated))
    if "runtime" in requests:
        requests["runtime"] = retried_runtime(requests["runtime"])
    return requests


def retried_runtime(minutes):
    """A runtime resource that grows with the job's attempt."""

    def runtime(wildcards, attempt):
        return resources.attempt_runtime(minutes, attempt)

    return runtime


wildcard_constraints:
    run="[A-Za-z0-9_]+",
    seed=r"\d+",
    analysis="[A-Za-z0-9_]+",
    epoch=r"\d{3}",
    point=r"epoch\d{3}|step\d{6}",
    curve="[A-Za-z0-9_]+",


def run_settings(run):
    """The run's settings (training defaults + its own keys), replicate 0."""
    return plan.run_settings(config, run)


def train_settings(run, seed):
    """Exactly what one replicate's checkpoints depend on: its RunSettings (the torch seed
    is its seed group's base + the replicate index), its model and the data."""
    settings = plan.trained_settings(config, run, int(seed))
    return {
        "run": asdict(settings),
        "model": config["models"][settings.model],
        "data": config["data"],
    }


def training_code(run):
    """The user's module files a run's training imports (a python model's factory, a
    python schedule): inputs, so that editing one reruns that run and what depends on it.
    """
    return plan.run_sources(config, run)


def model_code(wildcards):
    """Input function: the user's module file that builds the model of `wildcards.run`."""
    return plan.model_sources(config, wildcards.run)


def curve_model_code(wildcards):
    """Input function: the module files that build the models a curve joins."""
    runs = [run for run, _ in plan.curve_endpoints(config, wildcards.curve)]
    return sorted({f for run in runs for f in plan.model_sources(config, run)})


def is_pattern(value):
    """Whether a path part is a wildcard pattern ("{point}") rather than a value."""
    return isinstance(value, str) and value.startswith("{")


def point_file_tag(point):
    """A point's file stem (epoch020, step000200); a wildcard pattern passes through."""
    return point if is_pattern(point) else points.file_tag(point)


def point_pair_tag(point):
    """A point in a pair table's name (e020, step000200); a pattern passes through."""
    return point if is_pattern(point) else points.pair_tag(point)


def run_dir(run, seed):
    """One replicate's folder: runs/{run}/seed{k}, of the run that trains `run`'s network."""
    return f"{RESULTS}/runs/{run if is_pattern(run) else TRAINED[run]}/seed{seed}"


def checkpoint(run, seed, point):
    """The checkpoint of a point (an epoch, or a step "stepN") of one replicate."""
    return f"{run_dir(run, seed)}/checkpoints/{point_file_tag(point)}.pt"


def saved_epochs(run):
    return plan.checkpoint_epochs(run_settings(run))


def saved_points(run):
    """Every checkpoint a trained run saves for itself and the runs identical to it: its
    epochs, then its steps (save_iterations)."""
    return plan.checkpoint_points(plan.trained_settings(config, run))


def activation(run, seed, point):
    return f"{run_dir(run, seed)}/activations/{point_file_tag(point)}.h5"


def metrics(run, seed):
    return f"{run_dir(run, seed)}/metrics.csv"


def all_metrics(runs):
    """metrics.csv of every replicate of `runs`, run-major (what figures and findings read)."""
    return [metrics(run, seed) for run in runs for seed in SEEDS]


def pair_table(analysis, seed, run_a, point_a, run_b, point_b):
    """One pair's table in seed k (e.g. run.e000--run.step000200.csv): run_a of
    seed k against run_b of seed k (of the partner k + 500 for an across_seeds analysis:
    `pair_activations`)."""
    return (
        f"{RESULTS}/similarity/{analysis}/seed{seed}/"
        f"{run_a}.{point_pair_tag(point_a)}--{run_b}.{point_pair_tag(point_b)}.csv"
    )


def pair_coefficients(analysis, seed, run_a, point_a, run_b, point_b):
    """The HDF5 file of one pair's coefficient vectors, beside its table."""
    return (
        pair_table(analysis, seed, run_a, point_a, run_b, point_b).removesuffix(".csv")
        + ".h5"
    )


def activation_settings():
    """Exactly what an activation dump depends on (besides its checkpoint): the probe set and
    the data it is drawn from."""
    return {"probe": config["probe"], "data": config["data"]}


def similarity_settings(wildcards):
    """Exactly what a pair's tables depend on (besides its two activation files): the
    similarity settings (no analyses), the partner's seed, the matrix measure or None.
    """
    return {
        "similarity": {
            k: v for k, v in config["similarity"].items() if k != "analyses"
        },
        "replicate_b": plan.partner_seed(config, wildcards.analysis, wildcards.seed),
        "matrix": plan.matrix_method(config, wildcards.analysis),
    }


def pair_activations(wildcards):
    """Input function: the two activation files of a pair, the second from the partner
    seed (the same seed, or the next one for an across_seeds analysis)."""
    w = wildcards
    partner = plan.partner_seed(config, w.analysis, w.seed)
    return {
        "a": activation(w.run_a, w.seed, points.parse(w.point_a)),
        "b": activation(w.run_b, partner, points.parse(w.point_b)),
    }


def analysis_pair_tables(wildcards):
    """Input function: the per-pair tables of one analysis, every seed."""
    return [
        pair_table(wildcards.analysis, seed, *pair)
        for seed in SEEDS
        for pair in plan.analysis_pairs(config, wildcards.analysis)
    ]


def similarity_table(analysis):
    return f"{RESULTS}/similarity/{analysis}.csv"


def analysis_pattern(matrix_only=False):
    """A wildcard regex of the configured analysis names (those with `matrix: true`);
    one that matches nothing when there are none."""
    names = [
        a
        for a in config["similarity"]["analyses"]
        if not matrix_only or plan.matrix_method(config, a)
    ]
    return "|".join(names) or "(?!)"


def similarity_matrix_table(analysis):
    """The tidy layer x layer table of one analysis, every pair and seed."""
    return f"{RESULTS}/similarity/{analysis}.matrix.csv"


def analysis_pair_coefficients(wildcards):
    """Input function: the HDF5 files of one analysis' pairs, every seed."""
    return [
        pair_coefficients(wildcards.analysis, seed, *pair)
        for seed in SEEDS
        for pair in plan.analysis_pairs(config, wildcards.analysis)
    ]


def curve_bends(curve, seed):
    """The fitted bends of a curve between seed k's endpoints, a checkpoint of their own."""
    return f"{RESULTS}/curves/{curve}/seed{seed}.pt"


def curve_file(curve, seed):
    return f"{RESULTS}/curves/{curve}/seed{seed}.h5"


def curve_files(curve):
    """A curve's evaluation in every seed."""
    return [curve_file(curve, seed) for seed in SEEDS]


def all_curves():
    return [f for c in config["curves"]["connections"] for f in curve_files(c)]


def curve_endpoint_checkpoints(wildcards):
    """Input function: the checkpoints (a, b) a curve of replicate k joins: of k, or of
    its partner k + 500 for an endpoint with `partner: true` (independent optima)."""
    (run_a, epoch_a), (run_b, epoch_b) = plan.curve_endpoints(config, wildcards.curve)
    seed_a, seed_b = plan.curve_replicates(config, wildcards.curve, wildcards.seed)
    return {
        "a": checkpoint(run_a, seed_a, epoch_a),
        "b": checkpoint(run_b, seed_b, epoch_b),
    }


def curve_projected(curve):
    """(label, run, epoch) of every saved checkpoint of the endpoints' runs, projected onto
    the curve's loss plane."""
    runs = dict.fromkeys(run for run, _ in plan.curve_endpoints(config, curve))
    return [(f"{run}.e{e:03d}", run, e) for run in runs for e in saved_epochs(run)]


def curve_projection_checkpoints(wildcards):
    """Input function: the checkpoints (of the same seed) projected onto a curve's plane."""
    seed = wildcards.seed
    return [checkpoint(run, seed, e) for _, run, e in curve_projected(wildcards.curve)]


def curve_fit_settings(wildcards):
    """Exactly what a curve's bends depend on: its endpoints, their seeds, its CurveFit."""
    return {
        "endpoints": plan.curve_endpoints(config, wildcards.curve),
        "replicates": plan.curve_replicates(config, wildcards.curve, wildcards.seed),
        "replicate": int(wildcards.seed),
        "fit": asdict(plan.curve_fit(config, wildcards.curve)),
        "data": config["data"],
    }


def curve_eval_settings(wildcards):
    """Exactly what a curve's evaluation depends on (not the fit's settings): its CurveEval
    and the labels of the projected checkpoints."""
    return {
        "eval": asdict(plan.curve_eval(config, wildcards.curve)),
        "data": config["data"],
        "labels": [label for label, _, _ in curve_projected(wildcards.curve)],
    }


def figure_files(name):
    return [f"{RESULTS}/figures/{name}.{fmt}" for fmt in config["figures"]["formats"]]


def all_figures():
    files = figure_files("learning_curves")
    for analysis, a in config["similarity"]["analyses"].items():
        files += figure_files(f"similarity_{analysis}")
        if a.get("matrix"):  # the layer x layer heatmap (closerlook.layer_matrix)
            files += figure_files(f"similarity_{analysis}_matrix")
    return (
        files
        + all_curves()
        + study_figures_drawn()
        + [findings_file(), findings_json(), findings_html()]
    )


def teacher_checkpoint(run):
    """Input function factory: the checkpoint of the same seed of a distilled run's teacher
    (a DAG edge), or nothing."""
    t = plan.teacher(config, run)

    def inputs(wildcards):
        return [checkpoint(t[0], wildcards.seed, t[1])] if t else []

    return inputs


def cifar10_files():
    """The official python batches of CIFAR-10 under data.data_dir."""
    root = config["data"]["data_dir"].rstrip("/")
    return [f"{root}/{name}" for name in CIFAR10_FILES]


def dataset_files():
    """Files a training job reads: the CIFAR-10 batches, or nothing (digits ship with
    scikit-learn)."""
    return cifar10_files() if config["data"]["dataset"] == "cifar10" else []


# ----------------------------------------------------------------- figures and findings
FIGURE_CAPTIONS = "../report"


def findings_file():
    return f"{RESULTS}/findings.md"


def findings_json():
    return f"{RESULTS}/findings.json"


def findings_html():
    """findings.md rendered for the report (closerlook.findings_html)."""
    return f"{RESULTS}/findings.html"


def learning_curves_settings():
    """Exactly what the learning curves depend on: the runs, their colours and training
    objectives, the seeds."""
    return {
        "runs": list(config["runs"]),
        "seeds": SEEDS,
        "colours": study_figures.run_colours(config, config["runs"]),
        "objectives": study_figures.run_objectives(config, config["runs"]),
        "dpi": config["figures"]["dpi"],
    }


def similarity_figure_settings(analysis):
    """Exactly what an analysis' per-layer figure depends on: the measures, the colours of
    its pairs' runs, the figure settings."""
    runs = study_figures.pair_runs(
        config, study_figures.configured(config, analyses=[analysis])
    )
    return {
        "measures": plan.measures(config),
        "colours": study_figures.run_colours(config, runs),
        "dpi": config["figures"]["dpi"],
    }


def matrix_figure_settings(analysis):
    return {
        "measure": plan.matrix_method(config, analysis),
        "dpi": config["figures"]["dpi"],
    }


def reported_figure(name, caption, category, subcategory=None):
    """A figure in every format, the raster/vector ones shown in the report with `caption`
    (a file under workflow/report/) under `category`; `name` may hold wildcards."""
    if not Path(caption).is_absolute():
        caption = f"{FIGURE_CAPTIONS}/{caption}"
    files = []
    for path in figure_files(name):
        fmt = path.rsplit(".", 1)[1]
        if fmt != "pdf":  # the report shows images; the PDF stays a plain output
            path = report(
                path,
                caption=caption,
                category=category,
                subcategory=subcategory,
                labels={"figure": name, "format": fmt},
            )
        files.append(path)
    return files


def study_figure_files(name):
    """A figure of the study's registry, under its research question with its caption."""
    figure = study_figures.FIGURES[name]
    return reported_figure(name, figure.caption, figure.category)


def study_inputs(name):
    """Input function factory: metrics, similarity tables and curve files of a figure of
    the registry."""

    def inputs(wildcards):
        p = study_figures.FIGURES[name].parts(config)
        return {
            "metrics": all_metrics(p["runs"]),
            "tables": [similarity_table(a) for a in p["analyses"]],
            "curves": [f for c in p["curves"] for f in curve_files(c)],
        }

    return inputs


def study_figures_drawn():
    """Every figure of the registry the configured questions can draw."""
    return [
        f for name in study_figures.question_parts(config) for f in figure_files(name)
    ]
