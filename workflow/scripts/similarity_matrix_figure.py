"""Layer x layer similarity of one analysis as heatmaps, one per compared pair, each the
mean over the table's seeds (rule similarity_matrix_figure)."""

import pandas as pd

from closerlook import figures, layer_matrix, logs

logs.setup(snakemake.log[0])
table = pd.read_csv(snakemake.input.table)
title = snakemake.wildcards.analysis.replace("_", " ")
fig = layer_matrix.matrix_figure(table, snakemake.params.method, title)
figures.save(fig, snakemake.output, snakemake.params.dpi)
