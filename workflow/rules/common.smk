# Path helpers: where every artifact of DESIGN.md §4 lives, and what each rule depends on.

RESULTS = f"{config['results_dir']}/{config['preset']}"
LOGS = f"{RESULTS}/logs"
CONDA_ENV = "../envs/closerlook.yaml"
# The official python batches (closerlook.data reads the same names).
CIFAR10_FILES = [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]


wildcard_constraints:
    run="[A-Za-z0-9_]+",
    analysis="[A-Za-z0-9_]+",
    epoch=r"\d{3}",
    curve="[A-Za-z0-9_]+",


def run_settings(run):
    """The run's full settings (training defaults + its own keys)."""
    return study.run_config(config, run)


def train_params(run):
    """Exactly the config that a run's checkpoints depend on."""
    settings = run_settings(run)
    return {
        "run": settings,
        "model": config["models"][settings["model"]],
        "data": config["data"],
    }


def epoch_tag(epoch):
    """Three-digit epoch for file names; a wildcard pattern passes through."""
    return f"{epoch:03d}" if isinstance(epoch, int) else epoch


def checkpoint(run, epoch):
    return f"{RESULTS}/runs/{run}/checkpoints/epoch{epoch_tag(epoch)}.pt"


def saved_epochs(run):
    return study.checkpoint_epochs(run_settings(run))


def activation(run, epoch):
    return f"{RESULTS}/runs/{run}/activations/epoch{epoch_tag(epoch)}.h5"


def metrics(run):
    return f"{RESULTS}/runs/{run}/metrics.csv"


def pair_table(analysis, run_a, epoch_a, run_b, epoch_b):
    return (
        f"{RESULTS}/similarity/{analysis}/"
        f"{run_a}.e{epoch_tag(epoch_a)}--{run_b}.e{epoch_tag(epoch_b)}.csv"
    )


def pair_coefficients(analysis, run_a, epoch_a, run_b, epoch_b):
    """The HDF5 file of one pair's coefficient vectors, beside its table."""
    return (
        pair_table(analysis, run_a, epoch_a, run_b, epoch_b).removesuffix(".csv")
        + ".h5"
    )


def analysis_pair_tables(wildcards):
    """Input function: the per-pair tables of one analysis."""
    return [
        pair_table(wildcards.analysis, *pair)
        for pair in study.analysis_pairs(config, wildcards.analysis)
    ]


def similarity_table(analysis):
    return f"{RESULTS}/similarity/{analysis}.csv"


def curve_bends(curve):
    """The fitted bends of a curve, a checkpoint of their own."""
    return f"{RESULTS}/curves/{curve}.pt"


def curve_file(curve):
    return f"{RESULTS}/curves/{curve}.h5"


def all_curves():
    return [curve_file(c) for c in config["curves"]["connections"]]


def curve_endpoint_checkpoints(wildcards):
    """Input function: the checkpoints (a, b) a curve joins."""
    ends = study.curve_endpoints(config, wildcards.curve)
    return {"a": checkpoint(*ends[0]), "b": checkpoint(*ends[1])}


def curve_projected(curve):
    """(label, run, epoch) of every saved checkpoint of the endpoints' runs, projected onto
    the curve's loss plane."""
    runs = dict.fromkeys(run for run, _ in study.curve_endpoints(config, curve))
    return [(f"{run}.e{e:03d}", run, e) for run in runs for e in saved_epochs(run)]


def curve_projection_checkpoints(wildcards):
    """Input function: the checkpoints projected onto a curve's loss plane."""
    return [checkpoint(run, e) for _, run, e in curve_projected(wildcards.curve)]


def curve_fit_params(wildcards):
    """Exactly the config a curve's bends depend on."""
    return {
        "endpoints": study.curve_endpoints(config, wildcards.curve),
        "fit": study.curve_settings(config, wildcards.curve),
        "data": config["data"],
    }


def curve_eval_params(wildcards):
    """Exactly the config a curve's evaluation depends on (not the fit's settings)."""
    settings = {k: v for k, v in config["curves"].items() if k != "connections"}
    return {
        "settings": settings,
        "data": config["data"],
        "labels": [label for label, _, _ in curve_projected(wildcards.curve)],
    }


def figure_files(name):
    return [f"{RESULTS}/figures/{name}.{fmt}" for fmt in config["figures"]["formats"]]


def all_figures():
    files = figure_files("learning_curves")
    for analysis in config["similarity"]["analyses"]:
        files += figure_files(f"similarity_{analysis}")
    return files + all_curves()


def teacher_checkpoint(run):
    """The teacher checkpoint a distilled run reads (a DAG edge), or nothing."""
    t = study.teacher(config, run)
    return [checkpoint(*t)] if t else []


def cifar10_files():
    """The official python batches of CIFAR-10 under data.data_dir."""
    root = config["data"]["data_dir"].rstrip("/")
    return [f"{root}/{name}" for name in CIFAR10_FILES]


def dataset_files():
    """Files a training job reads: the CIFAR-10 batches, or nothing (digits ship with
    scikit-learn)."""
    return cifar10_files() if config["data"]["dataset"] == "cifar10" else []
