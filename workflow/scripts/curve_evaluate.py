"""Evaluate a fitted curve: line, curve, barriers and loss plane (rule curve_evaluate)."""

from closerlook import config, curve_eval, data, logs, plan
from closerlook.device import limit_threads

logs.setup(snakemake.log[0])
limit_threads(snakemake.threads)
p = snakemake.params.settings
curve_eval.evaluate_curve_file(
    snakemake.input.bends,
    snakemake.output[0],
    data.load(p["data"]),
    plan.CurveEval(**p["eval"]),
    projections=dict(zip(p["labels"], snakemake.input.projected, strict=True)),
    provenance={"evaluation_config_hash": config.config_hash(p)},
    device=snakemake.config["device"],
)
