"""Evaluate a fitted curve: line, curve, barriers and loss plane (rule curve_evaluate)."""

from closerlook import config, curves, data, logs

logs.setup(snakemake.log[0])
p = snakemake.params.settings
s = p["settings"]
curves.evaluate_curve_file(
    snakemake.input.bends,
    snakemake.output[0],
    data.load(p["data"]),
    points=s["points"],
    bn_images=s["bn_images"],
    bn_batch_size=s["bn_batch_size"],
    grid=s["plane"]["grid"],
    margin=s["plane"]["margin"],
    projections=dict(zip(p["labels"], snakemake.input.projected, strict=True)),
    provenance={"evaluation_config_hash": config.config_hash(p)},
    device=snakemake.config["device"],
    seed=s["eval_seed"],
)
