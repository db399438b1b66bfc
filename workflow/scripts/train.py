"""Train one run (rule train_<run>)."""

from closerlook import data, logs, train

logs.setup(snakemake.log[0])
p = snakemake.params
train.train_run(
    run=p.settings["run"],
    model_spec=p.settings["model"],
    data=data.load(p.settings["data"]),
    checkpoints=dict(zip(p.epochs, snakemake.output.checkpoints, strict=True)),
    metrics_path=snakemake.output.metrics,
    resume_dir=p.resume_dir,
    device=snakemake.config["device"],
    config_hash=p.config_hash,
)
