"""Training loss, validation accuracy and learning rate per epoch (rule learning_curves)."""

import pandas as pd

from closerlook import figures, logs

logs.setup(snakemake.log[0])
runs = snakemake.params.runs
curves = {run: pd.read_csv(path) for run, path in zip(runs, snakemake.input.metrics, strict=True)}
fig = figures.learning_curves(curves, runs)
figures.save(fig, snakemake.output, snakemake.params.dpi)
