"""Training loss, validation accuracy and learning rate per epoch (rule learning_curves)."""

from closerlook import figures, logs
from closerlook.results import read_metrics

logs.setup(snakemake.log[0])
runs = snakemake.params.runs
curves = {run: read_metrics(path) for run, path in zip(runs, snakemake.input.metrics, strict=True)}
fig = figures.training_curves(curves, snakemake.params.colours)
figures.save(fig, snakemake.output, snakemake.params.dpi)
