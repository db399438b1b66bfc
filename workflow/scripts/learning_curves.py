"""Training loss, validation accuracy and learning rate per epoch, the mean over seeds with
its 95% t-interval; a distilled run's training loss is its distillation objective (rule
learning_curves)."""

from closerlook import logs, plots
from closerlook.evidence import metrics_frame

logs.setup(snakemake.log[0])
s = snakemake.params.settings
runs, seeds = s["runs"], s["seeds"]
paths = list(snakemake.input.metrics)  # run-major: every seed of the first run, then the next
if len(paths) != len(runs) * len(seeds):
    raise ValueError(f"{len(paths)} metrics files for {len(runs)} runs x {len(seeds)} seeds")
frames = {
    run: {seed: metrics_frame(paths[i * len(seeds) + k]) for k, seed in enumerate(seeds)}
    for i, run in enumerate(runs)
}
fig = plots.learning_curves(frames, s["colours"], s["objectives"])
plots.save(fig, snakemake.output, s["dpi"])
