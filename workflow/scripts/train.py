"""Train one run (rule train_<run>)."""

import torch

from closerlook import data, logs, train

logs.setup(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
teacher = snakemake.input.teacher
train.train_run(
    run=p.settings["run"],
    model_spec=p.settings["model"],
    data=data.load(p.settings["data"]),
    checkpoints=dict(zip(p.epochs, snakemake.output.checkpoints, strict=True)),
    metrics_path=snakemake.output.metrics,
    resume_dir=p.resume_dir,
    device=snakemake.config["device"],
    config_hash=p.config_hash,
    teacher_checkpoint=teacher[0] if teacher else None,
)
