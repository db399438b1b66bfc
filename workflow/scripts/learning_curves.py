"""Training loss, validation accuracy and learning rate per epoch, the mean over seeds with
its 95% t-interval (rule learning_curves)."""

from closerlook import figures, logs
from closerlook.results import read_metrics

logs.setup(snakemake.log[0])
runs, seeds = list(snakemake.params.runs), list(snakemake.params.seeds)
paths = list(snakemake.input.metrics)  # run-major: every seed of the first run, then the next
if len(paths) != len(runs) * len(seeds):
    raise ValueError(f"{len(paths)} metrics files for {len(runs)} runs x {len(seeds)} seeds")
frames = {
    run: {seed: read_metrics(paths[i * len(seeds) + k]) for k, seed in enumerate(seeds)}
    for i, run in enumerate(runs)
}
fig = figures.learning_curves(frames, snakemake.params.colours)
figures.save(fig, snakemake.output, snakemake.params.dpi)
