"""Per-layer similarity of one analysis, one panel per measure, each pair's mean over the
table's seeds with its 95% t-interval, in its run's colour (rule similarity_figure)."""

import pandas as pd

from closerlook import logs, plots

logs.setup(snakemake.log[0])
s = snakemake.params.settings
table = pd.read_csv(snakemake.input.table)
title = snakemake.wildcards.analysis.replace("_", " ")
fig = plots.draw_layer_similarity(table, s["measures"], title, s["colours"])
plots.save(fig, snakemake.output, s["dpi"])
