# Path helpers: where every artifact of DESIGN.md §4 lives, and what each rule depends on.

RESULTS = f"{config['results_dir']}/{config['preset']}"
LOGS = f"{RESULTS}/logs"
CONDA_ENV = "../envs/closerlook.yaml"


wildcard_constraints:
    run="[A-Za-z0-9_]+",
    analysis="[A-Za-z0-9_]+",
    epoch=r"\d{3}",


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


def figure_files(name):
    return [f"{RESULTS}/figures/{name}.{fmt}" for fmt in config["figures"]["formats"]]


def all_figures():
    files = figure_files("learning_curves")
    for analysis in config["similarity"]["analyses"]:
        files += figure_files(f"similarity_{analysis}")
    return files
