"""Fit one mode-connecting curve between two checkpoints (rule curve_fit)."""

from closerlook import config, curve_fit, data, logs, plan
from closerlook.device import limit_threads

logs.setup(snakemake.log[0])
limit_threads(snakemake.threads)
p = snakemake.params.settings
(run_a, epoch_a), (run_b, epoch_b) = p["endpoints"]
curve_fit.fit_between(
    snakemake.input.a,
    snakemake.input.b,
    snakemake.output[0],
    data.load(p["data"]),
    plan.CurveFit(**p["fit"]),
    provenance={
        "curve": snakemake.wildcards.curve,
        "run_a": run_a,
        "epoch_a": epoch_a,
        "run_b": run_b,
        "epoch_b": epoch_b,
        "replicate": p["replicates"][0],
        "replicate_b": p["replicates"][1],
        "config_hash": config.config_hash(p),
    },
    device=snakemake.config["device"],
)
