"""Train one replicate of a run (rule train_<run>); progress lives in resume/ beside its
metrics.csv, outside the rule's outputs."""

from pathlib import Path

from closerlook import config, data, logs, plan, train
from closerlook.device import limit_threads

logs.setup(snakemake.log[0])
limit_threads(snakemake.threads)
s = snakemake.params.settings
run = plan.RunSettings(**s["run"])
teacher = snakemake.input.teacher
train.train_run(
    settings=run,
    model_spec=s["model"],
    data=data.load(s["data"]),
    # the outputs list the run's points in this order (epochs, then "stepN")
    checkpoints=dict(zip(plan.checkpoint_points(run), snakemake.output.checkpoints, strict=True)),
    metrics_path=snakemake.output.metrics,
    resume_dir=Path(snakemake.output.metrics).parent / "resume",
    device=snakemake.config["device"],
    config_hash=config.config_hash(s),
    teacher_checkpoint=teacher[0] if teacher else None,
)
