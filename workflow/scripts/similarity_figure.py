"""Per-layer similarity of one analysis, one panel per measure, each pair's mean over the
table's seeds with its 95% t-interval (rule similarity_figure)."""

import pandas as pd

from closerlook import figures, logs

logs.setup(snakemake.log[0])
table = pd.read_csv(snakemake.input.table)
title = snakemake.wildcards.analysis.replace("_", " ")
fig = figures.layer_similarity(table, snakemake.params.methods, title)
figures.save(fig, snakemake.output, snakemake.params.dpi)
