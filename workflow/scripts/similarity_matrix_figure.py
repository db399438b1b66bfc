"""Layer x layer similarity of one analysis as heatmaps, one per compared pair, each the
mean over the table's seeds (rule similarity_matrix_figure)."""

import pandas as pd

from closerlook import layer_matrix, logs, plots

logs.setup(snakemake.log[0])
s = snakemake.params.settings
table = pd.read_csv(snakemake.input.table)
title = snakemake.wildcards.analysis.replace("_", " ")
fig = layer_matrix.matrix_figure(table, s["measure"], title)
plots.save(fig, snakemake.output, s["dpi"])
